"""album: see README "How it is built"."""
