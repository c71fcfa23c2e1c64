"""search: see README "How it is built"."""
