"""``albumtag export-xmp``'s exit status: 0 when every photo was exported, 2 (with one line on
stderr) when any photo could not be, some or all; the report lists each failure either way.

Real albums (real photos, a real SQLite store indexed with the fake model); the failures are
real ones: sidecars that are symbolic links (albumtag never writes through a link) and an
album on a read-only mount.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli.cli import main
from core.library import Library
from tests.app.test_read_only import read_only
from tests.core.test_paths import index_with_fake_model

PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg")


@pytest.fixture
def album(tmp_path: Path, real_photo_paths) -> Path:
    """Three real photos, indexed, each with a confirmed tag to write."""
    root = tmp_path / "album"
    root.mkdir()
    for name in PHOTOS:
        shutil.copy2(real_photo_paths[Path(name).stem], root / name)
    with Library(root) as library:
        index_with_fake_model(library)
        library.set_verdicts(library.store.photos(), confirm=["beach"])
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def link_sidecar(album: Path, photo: str) -> None:
    """``photo``'s sidecar is a link to a file inside the album: albumtag refuses to write it."""
    notes = album / "notes.txt"
    if not notes.exists():
        notes.write_text("not a sidecar\n", encoding="utf-8")
    (album / f"{photo}.xmp").symlink_to(notes.name)


def test_an_export_that_writes_every_photo_exits_0(album, capsys):
    assert run(capsys, "export-xmp", str(album)) == (0, "Wrote 3 sidecars.\n", "")
    assert run(capsys, "export-xmp", str(album)) == (
        0,
        "Wrote 0 sidecars, 3 already up to date.\n",
        "",
    )
    assert all((album / f"{name}.xmp").is_file() for name in PHOTOS)


def test_an_export_where_some_photos_fail_exits_2_and_lists_them(album, capsys):
    link_sidecar(album, "coffee.png")
    code, out, err = run(capsys, "export-xmp", str(album))
    assert code == 2
    assert out.splitlines() == [
        "Wrote 2 sidecars, 1 could not be written.",
        f"  coffee.png: {album}/coffee.png.xmp: is a symbolic link; "
        "albumtag does not write through links",
    ]
    assert err == "albumtag: 1 of 3 photos could not be exported\n"
    assert (album / "chelsea.png.xmp").is_file() and (album / "rocket.jpg.xmp").is_file()
    assert (album / "notes.txt").read_text(encoding="utf-8") == "not a sidecar\n"
    # the same with --json: the report on stdout, the status and the line on stderr
    code, out, err = run(capsys, "export-xmp", str(album), "--json")
    data = json.loads(out)
    assert (code, data["written"], data["unchanged"], list(data["errors"])) == (
        2,
        0,
        2,
        ["coffee.png"],
    )
    assert err == "albumtag: 1 of 3 photos could not be exported\n"


def test_an_export_where_every_photo_fails_exits_2_and_lists_each(album, capsys):
    for name in PHOTOS:
        link_sidecar(album, name)
    code, out, err = run(capsys, "export-xmp", str(album))
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == "Wrote 0 sidecars, 3 could not be written."
    assert [line.split(":")[0].strip() for line in lines[1:]] == list(PHOTOS)
    assert all("symbolic link" in line for line in lines[1:])
    assert err == "albumtag: none of the 3 photos could be exported\n"
    # one photo asked for by name, and it fails
    code, out, err = run(capsys, "export-xmp", str(album), "rocket.jpg")
    assert (code, err) == (2, "albumtag: the photo could not be exported\n")
    assert out.startswith("Wrote 0 sidecars, 1 could not be written.\n  rocket.jpg: ")


def test_photos_with_nothing_to_write_do_not_fail_an_export(album, capsys):
    with Library(album) as library:
        library.set_verdicts(library.store.photos(), clear=["beach"])
    assert run(capsys, "export-xmp", str(album)) == (
        0,
        "Wrote 0 sidecars, 3 with nothing to write.\n",
        "",
    )


def test_an_export_onto_a_read_only_disk_exits_2_and_lists_every_photo(album):
    if shutil.which("unshare") is None or read_only(album, "--help").returncode != 0:
        pytest.skip("cannot mount read-only here (no user namespaces)")
    done = read_only(album, "export-xmp", str(album))
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Wrote 0 sidecars, 3 could not be written."
    assert [line.split(":")[0].strip() for line in lines[1:]] == list(PHOTOS)
    assert all("Read-only file system" in line for line in lines[1:])
    assert done.stderr.splitlines() == [
        "albumtag: the album is read-only (read-only file system): searching works, edits are off",
        "albumtag: none of the 3 photos could be exported",
    ]
    assert not list(album.glob("*.xmp"))
