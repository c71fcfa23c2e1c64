"""papers: see README "How it is built"."""
