"""pipeline: see README "How it is built"."""
