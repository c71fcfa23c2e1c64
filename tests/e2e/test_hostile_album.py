"""A hostile album, generated here (nothing binary is committed), indexed beside good photos.

Every case of the issue "Hostile albums" that lives in files is in it: a name that is not
UTF-8, a 1x100000 PNG, 3,000 keywords in one sidecar, a 255-byte name, links out of the album
(to a folder, to ``/``, to a file, as a sidecar), a corrupt TIFF, a flat keyword with level
separators, photos named like tag edits, and the older hostile files (a decompression bomb, a
truncated JPEG, an empty file, a named pipe). The real command line indexes it with the real
model in a child process that records every file it opens or lists outside the album (Python
audit hooks), then exports XMP and searches. Asserted: every good photo is tagged, every bad
one is recorded with a reason, no traceback, the database is intact, peak memory stays under
2 GB, and nothing outside the album is read or written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from core.pipeline.scanner import OUTSIDE_LINK
from tests.core.test_corrupt_tiff import corrupt_tiff
from tests.core.test_indexer import _bomb_png
from tests.core.test_keyword_import import sidecar_with
from tests.core.test_links import EVIL_XMP, snapshot
from tests.core.test_sidecar_safety import FLAT_XMP, LONG_NAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LATIN1 = os.fsdecode(b"caf\xe9.png")
MEMORY_CAP_MB = 2000

CHILD = r"""
import contextlib, io, json, os, sys
outside, album, report = sys.argv[1:4]
touched = []

def audit(event, args):
    if event in ("open", "os.scandir", "os.listdir", "os.remove", "os.rename") and args:
        path = args[0]
        if isinstance(path, (str, bytes)) and os.path.realpath(os.fsdecode(path)).startswith(
                outside):
            touched.append([event, os.fsdecode(path)])

sys.addaudithook(audit)
from app.cli.cli import main
results = {}
for name, argv in (("index", ["index", album, "--json", "--no-faces"]),
                   ("export", ["export-xmp", album, "--json", "--include-model"]),
                   ("search", ["search", album, "--json", "animal OR -animal"])):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    results[name] = {"code": code, "out": out.getvalue()}
results["touched"] = touched
# VmHWM: this process's own peak (getrusage's ru_maxrss survives exec, so a large parent
# such as a whole pytest run would be counted too)
with open("/proc/self/status") as status:
    results["peak_mb"] = next(int(line.split()[1]) for line in status
                              if line.startswith("VmHWM:")) // 1024
with open(report, "w") as file:
    json.dump(results, file)
"""

GOOD = [
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "caf\\xe9.png",
    "strip.png",
    LONG_NAME,
    "+x.png",
    "-x.png",
    "=x.png",
    "keywords.jpg",
    "pipe.jpg",
    "cat link.png",
]
BAD = {
    "outside link.png": OUTSIDE_LINK,
    "corrupt.tif": "corrupt image",
    "bomb.png": "image too large",
    "truncated.jpg": "truncated image",
    "empty.jpg": "empty file",
    "pipe fifo.jpg": "not a regular file",
}


def hostile_album(tmp_path: Path, photos: dict[str, Path]) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy2(photos["coffee"], outside / "secret.png")
    (outside / "evil.xmp").write_text(EVIL_XMP, encoding="utf-8")
    album = tmp_path / "album"
    album.mkdir()
    for name in ("chelsea", "coffee", "rocket"):  # good photos
        shutil.copy2(photos[name], album / photos[name].name)
    for name in (LATIN1, LONG_NAME, "+x.png", "-x.png", "=x.png"):  # odd names
        shutil.copy2(photos["chelsea"], album / name)
    Image.new("RGB", (1, 100_000), (40, 90, 200)).save(album / "strip.png", optimize=True)
    shutil.copy2(photos["rocket"], album / "keywords.jpg")
    (album / "keywords.jpg.xmp").write_text(sidecar_with(3_000), encoding="utf-8")
    shutil.copy2(photos["rocket"], album / "pipe.jpg")
    (album / "pipe.jpg.xmp").write_text(FLAT_XMP.format("pipe|split|me"), encoding="utf-8")
    (album / "to outside").symlink_to(outside)
    (album / "to root").symlink_to("/")
    (album / "outside link.png").symlink_to(outside / "secret.png")
    (album / "cat link.png").symlink_to("chelsea.png")
    (album / "coffee.png.xmp").symlink_to(outside / "evil.xmp")
    corrupt_tiff(album / "corrupt.tif")
    _bomb_png(album / "bomb.png")
    jpeg = (album / "rocket.jpg").read_bytes()
    (album / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (album / "empty.jpg").write_bytes(b"")
    os.mkfifo(album / "pipe fifo.jpg")
    return album, outside


def test_a_hostile_album_is_indexed_safely_beside_good_photos(tmp_path, real_photo_paths):
    album, outside = hostile_album(tmp_path, real_photo_paths)
    before = snapshot(outside)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(outside.resolve()), str(album), str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    results = json.loads(report.read_text())

    index = results["index"]
    assert index["code"] == 0 and "Traceback" not in index["out"]
    summary = json.loads(index["out"])
    errors = {e["path"]: e["reason"] for e in summary["error_photos"]}
    assert set(errors) == set(BAD)
    for path, reason in BAD.items():
        assert errors[path].startswith(reason), (path, errors[path])
    assert summary["tagged"] == len(GOOD)
    assert summary["links_not_followed"] == ["to outside", "to root"]
    assert any("keywords not imported" in w for w in summary["warnings"])

    db = sqlite3.connect(album / ".albumtag" / "album.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute(
        "SELECT COUNT(*) FROM photos WHERE status = 'ok' AND model_version IS NOT NULL"
    ).fetchone()[0] == len(GOOD)
    assert not db.execute(
        "SELECT 1 FROM labels WHERE name IN ('split', 'me', 'from outside')"
    ).fetchall()
    db.close()

    export = results["export"]
    assert export["code"] == 0 and "Traceback" not in export["out"]
    exported = json.loads(export["out"])
    assert "symbolic link" in exported["errors"]["coffee.png"]
    assert "no sidecar possible" in exported["errors"][LONG_NAME]
    search = results["search"]
    assert search["code"] == 0
    assert {p["path"] for p in json.loads(search["out"])} == set(GOOD)

    assert results["touched"] == []  # nothing outside the album opened or listed
    assert snapshot(outside) == before  # nor written
    assert results["peak_mb"] < MEMORY_CAP_MB, results["peak_mb"]
