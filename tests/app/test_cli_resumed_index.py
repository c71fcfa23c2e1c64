"""``albumtag index`` after a killed run: the photos the killed run left pending are tagged and
reported as resumed, not as "unchanged" (it said "52 tagged … 60 unchanged" of 60 files).

A real album of 60 small real photos, the real command line and model; the first run is
SIGKILLed (no handler, ``finally`` or rollback runs) as it is about to store its third batch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from app.cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 60
BATCH = 4
KILLED_AT_CALL = 3  # two batches stored, then the kill

#: ``albumtag ARGV`` in a child that SIGKILLs itself on the KILL_AT-th call of
#: ``TagStore.record_scores`` (where a batch's tags are stored), before it stores anything.
KILLED_RUN = r"""
import os, signal, sys
from core.db.tagstore import TagStore
real, calls = TagStore.record_scores, []

def record_scores(*args, **kwargs):
    calls.append(1)
    if len(calls) == int(os.environ["KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

TagStore.record_scores = record_scores
from app.cli.cli import main
sys.exit(main(sys.argv[1:]))
"""


def small_photos(folder: Path, sources: list[Path], count: int) -> None:
    """``count`` small JPEGs made from real photos (cycling through them, each turned a
    different way so no two files are the same)."""
    folder.mkdir(parents=True)
    for i in range(count):
        with Image.open(sources[i % len(sources)]) as img:
            small = img.convert("RGB")
        small.thumbnail((160, 160))
        turns = (i // len(sources)) % 4
        small.rotate(90 * turns, expand=True).save(folder / f"p{i:02d}.jpg", quality=85)


def statuses(album: Path) -> dict[str, int]:
    db = sqlite3.connect(album / ".albumtag" / "album.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return dict(db.execute("SELECT status, COUNT(*) FROM photos GROUP BY status").fetchall())
    finally:
        db.close()


@pytest.mark.slow
def test_a_run_after_a_killed_index_reports_the_photos_it_resumed(
    tmp_path, capsys, real_photo_paths
):
    album = tmp_path / "album"
    small_photos(album, sorted(real_photo_paths.values()), PHOTOS)
    index = ["index", str(album), "--no-faces", "--batch-size", str(BATCH), "--workers", "1"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, *index],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KILL_AT": str(KILLED_AT_CALL)},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done = (KILLED_AT_CALL - 1) * BATCH
    assert statuses(album) == {"ok": done, "pending": PHOTOS - done}

    # meanwhile one photo the killed run tagged and one it left pending change, two arrive
    db = sqlite3.connect(album / ".albumtag" / "album.db")
    tagged_before = {name for (name,) in db.execute("SELECT path FROM photos WHERE status = 'ok'")}
    db.close()
    done_one = sorted(tagged_before)[0]
    pending_one = sorted({f"p{i:02d}.jpg" for i in range(PHOTOS)} - tagged_before)[0]
    for name in (done_one, pending_one):
        with Image.open(album / name) as img:
            img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(album / name, quality=85)
    for name in ("new1.jpg", "new2.jpg"):
        with Image.open(album / done_one) as img:
            img.resize((100, 80)).save(album / name, quality=80 if name == "new1.jpg" else 70)

    code = main(index)
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    resumed = PHOTOS - done - 1  # the pending photo that changed counts as changed
    line = (
        rf"Indexed {PHOTOS + 2} photo files in [\d.]+ s: {resumed + 2 + 2} tagged "
        rf"\([\d.]+ photos/s\), 0 re-scored, {resumed} resumed from an interrupted run, "
        rf"{done - 1} unchanged, 0 moved, 0 missing, 0 errors\."
    )
    assert re.fullmatch(line, out.strip()), out
    assert statuses(album) == {"ok": PHOTOS + 2}

    code = main([*index, "--json"])  # nothing left over: no "resumed" any more
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {k: summary[k] for k in ("tagged", "resumed", "unchanged", "new", "changed")} == {
        "tagged": 0,
        "resumed": 0,
        "unchanged": PHOTOS + 2,
        "new": 0,
        "changed": 0,
    }
