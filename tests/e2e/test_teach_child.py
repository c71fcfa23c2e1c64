"""Teach mode's child (``python -m trainer teach``): a label refitted live from the database.

Real photos, the real default model, the real subprocess: the test stores verdicts in the
album database as the window does, asks the child to refit, and reads its JSON answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.library import Library
from tests.mimi_album import MIMI, build_indexed_album

pytestmark = pytest.mark.slow

OTHERS = ["imagenet/imagenet_00_243.jpg", "imagenet/imagenet_16_251.jpg"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, real_photo_paths: dict[str, Path]) -> Path:
    return build_indexed_album(tmp_path_factory.mktemp("teach") / "album", real_photo_paths)


@pytest.fixture
def album(indexed: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(indexed, tmp_path / "album"))


class Child:
    def __init__(self, album: Path, label: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trainer", "teach", str(album), "--label", label],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def read(self) -> dict:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def ask(self, cmd: str) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd}) + "\n")
        self.proc.stdin.flush()
        return self.read()


def _judge(album: Path, confirm: list[str], reject: list[str] = ()) -> None:
    with Library(album) as library:
        if confirm:
            library.set_verdicts([library.photo(p) for p in confirm], confirm=["Mimi"])
        if reject:
            library.set_verdicts([library.photo(p) for p in reject], reject=["Mimi"])


def test_the_child_refits_from_new_verdicts_and_ranks_look_alikes_first(album: Path) -> None:
    with Library(album) as library:
        library.create_label("Mimi")
        ids = {p: library.photo(p).id for p in MIMI + OTHERS}
    _judge(album, MIMI[:1])
    child = Child(album, "Mimi")
    try:
        ready = child.read()
        assert ready == {"event": "ready", "label": "Mimi", "photos": 31}
        first = child.ask("refit")
        assert first["event"] == "fitted" and (first["confirmed"], first["rejected"]) == (1, 0)
        assert ids[MIMI[0]] not in first["queue"] and len(first["queue"]) == 30
        assert len(first["scores"]) == 30 and 0.0 < first["threshold"] < 1.0
        assert first["copies_only"]  # one photo of a label of yours: near copies only
        copies = first["queue"][: first["likely"]]  # Mimi's other photos are edits of this one
        assert copies and set(copies) <= {ids[p] for p in MIMI}

        _judge(album, MIMI[1:5], OTHERS)
        second = child.ask("refit")
        assert (second["confirmed"], second["rejected"]) == (5, 2)
        assert len(second["queue"]) == 31 - 7
        top = set(second["queue"][:3])
        unseen = {ids[p] for p in MIMI[5:]}
        assert top & unseen, (second["queue"][:5], unseen)  # a look-alike comes first
        assert second["likely"] >= 1 and not second["copies_only"]
        assert second["seconds"] > 0.0  # how fast: benchmarks/bench_one_label.py, not a test
        assert child.ask("nonsense")["event"] == "error"
        assert child.ask("quit") == {"event": "bye"}
        assert child.proc.wait(10) == 0
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()
        for stream in (child.proc.stdin, child.proc.stdout, child.proc.stderr):
            if stream:
                stream.close()


def test_an_unknown_label_is_an_error_line_and_exit_status_2(album: Path) -> None:
    child = Child(album, "Nobody")
    try:
        assert child.read() == {"event": "error", "message": "no label called 'Nobody'"}
        assert child.proc.wait(10) == 2
    finally:
        for stream in (child.proc.stdin, child.proc.stdout, child.proc.stderr):
            if stream:
                stream.close()


def test_a_label_confirmed_on_few_photos_spreads_no_further_than_its_cap(album: Path) -> None:
    """Teach mode and the retrain report say when the spread cap holds a label back (a cap of
    0.5 k^2 here, 2 photos at k=2, so that it binds in an album of 31)."""
    from core.training_events import done, done_text
    from trainer.album.residual import sampled, train_residual
    from trainer.album.run import gather
    from trainer.album.targets import TargetConfig
    from trainer.album.teach import Teacher
    from trainer.learning.residual_fit import ResidualConfig

    two = ["imagenet/imagenet_00_243.jpg", "imagenet/imagenet_04_949.jpg"]  # a dog, a fruit
    with Library(album) as library:
        library.create_label("Mine")
        library.set_verdicts([library.photo(p) for p in two], confirm=["Mine"])
        tight = ResidualConfig(spread_cap=0.5)
        free = Teacher(library, "Mine").refit()  # 16 allowed: the estimates decide
        assert free.spread_cap is None and free.likely > 2
        fit = Teacher(library, "Mine", tight).refit()
        assert fit.spread_cap == 2 and fit.event()["spread_cap"] == 2
        assert fit.likely == 2 and not fit.copies_only
        assert fit.queue[:2] == free.queue[:2]  # its two most alike photos, no more
        run = train_residual(library, gather(library, sampled(TargetConfig())), tight)
    row = next(r for r in run.labels if r["label"] == "Mine")
    assert row["spread_cap"] == 2 and row["tagged_after"] == 2 + 2  # and the two confirmed
    text = done_text(done(1, True, "better", {}, {}, labels=run.labels))
    assert "Mine tags at most 2 photos you have not judged, its most alike" in text


def test_teach_mode_lets_go_of_the_descriptors_once_it_has_read_them(album: Path) -> None:
    """The album's cached descriptors (about 5,000 float32 numbers a photo) are dropped once
    the normalised features, the prior's column and the prototype features are computed;
    refits go on from what was kept."""
    from trainer.album.teach import Teacher

    with Library(album) as library:
        library.create_label("Mimi")
        library.set_verdicts([library.photo(p) for p in MIMI[:2]], confirm=["Mimi"])
        mine = Teacher(library, "Mimi")
        assert mine.data.features.shape[0] == 31  # a prototype will read them
        first = mine.refit()
        assert mine.data.features.shape[0] == 0 and mine.features is not None
        library.set_verdicts([library.photo(p) for p in MIMI[2:4]], confirm=["Mimi"])
        again = mine.refit()
        assert again.confirmed == 4 and again.queue[0] in {library.photo(p).id for p in MIMI}
        assert first.confirmed == 2
        known = Teacher(library, "cat")  # the prior scores it: never a prototype
        assert known.data.features.shape[0] == 0
        library.set_verdicts([library.photo(MIMI[0])], confirm=["cat"])
        assert known.refit().confirmed >= 1
