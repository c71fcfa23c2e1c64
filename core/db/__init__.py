"""db: see README "How it is built"."""
