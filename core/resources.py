"""Where the shipped assets live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """The folder holding the vocabulary, the ImageNet mapping and the face detector's weights.

    A wheel carries it as ``core/assets``; a checkout (and an editable install) has it at the
    repository's top level.
    """
    for candidate in (_HERE / "assets", _HERE.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("albumtag's assets folder is missing from this installation")
