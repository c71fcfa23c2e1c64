"""people: see README "How it is built"."""
