"""The labelled photoset's photos for tests that need real, labelled photographs."""

from __future__ import annotations

import os

import pytest

from benchmarks.photoset import Photo, load_photoset


def fetched_photos(at_least: int) -> list[Photo]:
    """The photoset's photos on disk; skips the test when fewer than ``at_least`` are (fails
    it in CI, whose set-up fetches them)."""
    fetched = [p for p in load_photoset(require_files=False) if p.path.is_file()]
    if len(fetched) < at_least:
        message = "photoset not fetched: run python -m benchmarks.photoset.fetch"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return fetched
