"""learning: see README "How it is built"."""
