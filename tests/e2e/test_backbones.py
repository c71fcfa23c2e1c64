"""Switching the album to another packaged backbone with `index --model NAME` (issue 13, item 4).

The switch needs no checkpoint, makes a new model version, re-tags every photo with the new
backbone (its own input size and features) and keeps every user verdict; switching back does too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli.cli import main
from core.library import Library

pytestmark = pytest.mark.slow

LITE0 = "tf_efficientnet_lite0@579344248a93"  # ids start with name@weights' sha256
LITE1 = "tf_efficientnet_lite1@77cc7160d37b"


def backbones(library: Library) -> list[str]:
    """Each model version's backbone, as the name@sha prefix of its id."""
    return [m.backbone[: len(LITE0)] for m in library.store.models()]


def has(library: Library, path: str) -> set[str]:
    return {v.label for v in library.tags(library.photo(path)) if v.has}


def index(capsys: pytest.CaptureFixture[str], album: Path, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["index", str(album), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_verdicts_survive_switching_to_lite1_and_back(tmp_path, real_photo_paths, capsys):
    album = tmp_path / "album"
    album.mkdir()
    names = ["chelsea", "coffee", "rocket", "astronaut", "imagenet_00_243", "imagenet_01_559"]
    for name in names:
        src = real_photo_paths[name]
        shutil.copy2(src, album / f"{name}{src.suffix}")
    assert index(capsys, album)["tagged"] == len(names)
    with Library(album) as library:
        chelsea, rocket = library.photo("chelsea.png"), library.photo("rocket.jpg")
        library.create_label("Whiskers", parent="cat")
        library.set_verdicts([chelsea], confirm=["Whiskers"], reject=["cat"])
        library.set_verdicts([rocket], confirm=["beach"])
        before = sorted(library.store.verdict_rows())
        assert backbones(library) == [LITE0]

    # --model with a packaged backbone's name alone: no --checkpoint
    assert index(capsys, album, "--model", "tf_efficientnet_lite1")["tagged"] == len(names)
    with Library(album) as library:  # reopened without a choice: the album remembers lite1
        model = library.model()
        assert model.backbone_id.startswith(LITE1) and model.input_size == 240
        assert backbones(library) == [LITE0, LITE1]
        assert sorted(library.store.verdict_rows()) == before
        assert len(library.store.features(model.backbone_id)[0]) == len(names)
        chelsea_tags = has(library, "chelsea.png")
        assert "cat" not in chelsea_tags  # a rejected tag never comes back on its own
        assert "Whiskers" not in chelsea_tags  # confirmed child of a rejected parent is blocked
        assert "animal" in chelsea_tags  # the new backbone's own evidence still counts
        assert "beach" in has(library, "rocket.jpg")
        assert has(library, "coffee.png") & {"coffee", "espresso", "drink"}

    back = index(capsys, album, "--model", "tf_efficientnet_lite0")
    assert back["tagged"] + back["rescored"] == len(names)  # Lite0's cached features may serve
    with Library(album) as library:
        assert library.model().backbone_id.startswith(LITE0)
        assert backbones(library) == [LITE0, LITE1, LITE0]
        assert sorted(library.store.verdict_rows()) == before
        assert "cat" not in has(library, "chelsea.png")
        assert "beach" in has(library, "rocket.jpg")
