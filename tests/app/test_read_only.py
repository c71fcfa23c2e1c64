"""Read-only albums and interrupted exports: clear messages, nothing lost, nothing left over.

A real read-only mount is made with a user namespace (``unshare -rm``: a bind mount of the
album, remounted read-only, seen only by the command under test); where the kernel or the
sandbox does not allow that, those tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.library import Library
from core.media.sidecars import remove_stale_temps
from tests.core.test_paths import index_with_fake_model

ROOT = Path(__file__).resolve().parents[2]


def read_only(album: Path, *argv: str) -> subprocess.CompletedProcess:
    """``albumtag ARGV`` with ``album`` mounted read-only for it alone."""
    mount = f"mount --bind '{album}' '{album}' && mount -o remount,bind,ro '{album}' '{album}'"
    command = f'{mount} && exec "$@"'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", command, "sh", sys.executable, "-m", "app", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def album(tmp_path_factory, real_photo_paths) -> Path:
    root = tmp_path_factory.mktemp("readonly") / "album"
    root.mkdir()
    for name in ("chelsea", "rocket"):
        shutil.copy2(real_photo_paths[name], root / real_photo_paths[name].name)
    with Library(root) as library:
        index_with_fake_model(library)
        library.set_verdicts(library.store.photos(), confirm=["animal"])
    if shutil.which("unshare") is None or read_only(root, "--help").returncode != 0:
        pytest.skip("cannot mount read-only here (no user namespaces)")
    return root


def test_an_indexed_read_only_album_can_be_searched_and_says_why_edits_are_off(album):
    done = read_only(album, "search", str(album), "animal")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ["chelsea.png", "rocket.jpg"]
    assert done.stderr.strip() == (
        "albumtag: the album is read-only (read-only file system): searching works, edits are off"
    )
    with Library(album) as library:  # nothing changed, and the album still opens for writing
        assert library.store.db.read_only is None
        assert len(library.search("animal")) == 2


READ_ONLY = (
    "albumtag: the album is read-only (read-only file system): searching works, edits are off"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["tag", "{album}", "rocket.jpg", "-animal"],
        ["index", "{album}", "--no-faces"],
        ["labels", "{album}", "--add", "grandma"],
        ["undo", "{album}"],
        ["models", "{album}", "--rollback"],
        ["train", "{album}"],
    ],
    ids=lambda argv: argv[0] + (" " + argv[2] if argv[0] in ("labels", "models") else ""),
)
def test_an_edit_of_a_read_only_album_stops_with_one_line(album, argv):
    """Each edit says why in one line and exits 2 (they printed two lines; train exited 1
    with "internal error: OSError: [Errno 30] Read-only file system")."""
    done = read_only(album, *(arg.format(album=album) for arg in argv))
    assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", READ_ONLY)
    with Library(album) as library:
        assert len(library.search("animal")) == 2
        assert [label.name for label in library.store.labels() if label.name == "grandma"] == []


def test_export_to_a_read_only_album_reports_each_photo_without_a_traceback(album):
    done = read_only(album, "export-xmp", str(album))
    # exit status 2: no photo could be exported (tests/app/test_cli_export_status.py)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "Wrote 0 sidecars" in done.stdout
    assert "chelsea.png: " in done.stdout and "rocket.jpg: " in done.stdout
    assert "Read-only file system" in done.stdout
    assert not list(album.glob("*.xmp")) and not list(album.glob(".albumtag-*"))


def test_a_killed_exports_temporary_files_are_removed_by_the_next_export(album, tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)  # a process that has exited: its files are leftovers
    leftovers = [album / f".albumtag-{dead}-1234.tmp", album / f".rocket.jpg.albumtag-{dead}-99"]
    mine = album / f".albumtag-{os.getpid()}-1.tmp"  # a live process's file stays
    for path in [*leftovers, mine]:
        path.write_bytes(b"\0" * 3_000_000)
    with Library(album) as library:
        report = library.export_xmp()
    assert report.written == 2 and not report.errors
    assert not any(p.exists() for p in leftovers) and mine.exists()
    mine.unlink()
    assert remove_stale_temps(album) == 0


WINDOW = r"""
import sys, time
from PySide6.QtCore import QSettings
from app.gui.launcher import application
from app.gui.main_window import MainWindow
from app.gui.settings import AppSettings

app = application()
window = MainWindow(AppSettings(QSettings(sys.argv[2], QSettings.Format.IniFormat)))
window.show()
window.open_album(sys.argv[1])
end = time.monotonic() + 120
while time.monotonic() < end and "read-only" not in window.windowTitle():
    app.processEvents()
    time.sleep(0.02)
for _ in range(100):  # a moment more: an index run would have started by now
    app.processEvents()
    time.sleep(0.02)
print(window.windowTitle())
print(window.status.message.text().strip())
print(window.session.is_indexing)
window.shutdown()
"""


def test_the_window_opens_a_read_only_album_and_says_why_edits_are_off(album, tmp_path):
    """It showed the album without a word, started indexing it, and said why only when an
    edit failed."""
    settings = tmp_path / "settings.ini"
    done = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f"mount --bind '{album}' '{album}' && mount -o remount,bind,ro '{album}' '{album}'"
            ' && exec "$@"',
            "sh",
            sys.executable,
            "-c",
            WINDOW,
            str(album),
            str(settings),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    title, status, indexing = done.stdout.splitlines()[-3:]
    assert title == "album (read-only) — albumtag"
    assert status == (
        "The album is read-only (read-only file system): searching works, edits are off"
    )
    assert indexing == "False"
