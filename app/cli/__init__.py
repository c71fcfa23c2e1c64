"""The ``albumtag`` command line: ``cli`` (the subcommands), ``output`` (text and JSON),
``progress`` (a terminal progress bar), ``watch`` (``index --watch``) and ``trainrun`` (the
trainer as a subprocess, which the window uses too).

The entry point is :func:`app.cli.cli.main` (``albumtag``, ``python -m app``).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``from app.cli import main`` still works, without importing the subcommands until then."""
    if name == "main":
        from app.cli.cli import main

        return main
    raise AttributeError(f"module 'app.cli' has no attribute {name!r}")
