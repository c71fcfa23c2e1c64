"""labels: see README "How it is built"."""
