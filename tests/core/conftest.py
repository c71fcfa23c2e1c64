"""Fixtures shared by the engine's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.library import Library


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """An empty album whose store has a model version 0 on a fake backbone (no torch)."""
    album = tmp_path / "album"
    album.mkdir()
    lib = Library(album)
    lib.store.add_model(0, "fake@1", None, {}, {}, activate=True)
    yield lib
    lib.close()
