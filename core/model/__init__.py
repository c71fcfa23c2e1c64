"""model: see README "How it is built"."""
