"""media: see README "How it is built"."""
