"""``python -m app`` and the ``albumtag`` command."""

from __future__ import annotations

import sys

from app.cli.cli import main

if __name__ == "__main__":
    sys.exit(main())
