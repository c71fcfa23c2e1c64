"""The indexer on real photo files, a real SQLite store and real thumbnails (fake model)."""

from __future__ import annotations

import os
import shutil
import threading
import zlib
from pathlib import Path

import pytest

import core.indexer
from core.indexer import Indexer
from core.policy import CONFIRMED, REJECTED
from core.tagstore import TagStore, VerdictChange
from core.thumbnails import ThumbnailCache
from tests.fakes import FakeTagger, fake_model


@pytest.fixture
def store(tmp_path: Path) -> TagStore:
    s = TagStore(tmp_path / "data" / "album.db")
    animal = s.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
    s.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.55)
    s.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.55)
    yield s
    s.close()


@pytest.fixture
def tagger() -> FakeTagger:
    return FakeTagger()


@pytest.fixture
def indexer(real_album: Path, store: TagStore, tagger: FakeTagger, tmp_path: Path) -> Indexer:
    thumbs = ThumbnailCache(tmp_path / "data" / "thumbs")
    return Indexer(real_album, store, lambda: fake_model(store, tagger), thumbs, batch_size=8)


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every path the indexer decodes, in order."""
    seen: list[str] = []
    real = core.indexer.decode

    def counting(path, **kwargs):
        seen.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(core.indexer, "decode", counting)
    return seen


def photo_count(real_album: Path) -> int:
    return sum(1 for p in real_album.rglob("*") if p.is_file())


def test_first_index_tags_every_photo_and_makes_thumbnails(indexer, store, real_album):
    summary = indexer.run()
    n = photo_count(real_album)
    assert summary.tagged == n == summary.scan.new
    assert summary.errors == 0 and not summary.cancelled
    photos = store.photos()
    assert len(photos) == n and {p.status for p in photos} == {"ok"}
    for p in photos:
        assert p.width > 0 and p.height > 0 and p.content_hash
        assert indexer.thumbnails.get(p.path, p.size, p.mtime_ns) is not None
    chelsea = store.photo_by_path("home/chelsea.png")
    assert chelsea.width == 451 and chelsea.height == 300  # full size, not the draft size


def test_unchanged_folder_decodes_nothing(indexer, store, decodes, tagger):
    indexer.run()
    first = len(decodes)
    tagger.batches.clear()
    summary = indexer.run()
    assert len(decodes) == first
    assert tagger.batches == []
    assert summary.tagged == 0 and summary.scan.unchanged == summary.scan.files


def test_modified_file_is_retagged_and_keeps_its_verdicts(indexer, store, real_album, decodes):
    indexer.run()
    target = real_album / "home" / "coffee.png"
    photo = store.photo_by_path("home/coffee.png")
    beach = {r.name: r.id for r in store.labels()}["beach"]
    store.set_verdicts([VerdictChange(photo.id, beach, REJECTED)])
    decodes.clear()
    shutil.copyfile(real_album / "home" / "astronaut.png", target)
    os.utime(target, ns=(photo.mtime_ns + 10**9, photo.mtime_ns + 10**9))
    summary = indexer.run()
    assert summary.scan.changed == 1 and summary.tagged == 1
    assert decodes == ["coffee.png"]
    after = store.photo_by_path("home/coffee.png")
    assert after.id == photo.id and after.content_hash != photo.content_hash
    assert (beach, None, REJECTED) in [(r[0], None, r[2]) for r in store.evidence(photo.id)]


def test_moved_file_keeps_id_tags_and_verdicts_without_decoding(indexer, store, real_album,
                                                                decodes):
    indexer.run()
    photo = store.photo_by_path("home/chelsea.png")
    cat = {r.name: r.id for r in store.labels()}["cat"]
    store.set_verdicts([VerdictChange(photo.id, cat, CONFIRMED)])
    tags_before = store.tags_of(photo.id)
    (real_album / "moved here").mkdir()
    (real_album / "home" / "chelsea.png").rename(real_album / "moved here" / "Chelsea 2.png")
    decodes.clear()
    summary = indexer.run()
    assert summary.scan.moved == 1 and summary.scan.new == 0 and decodes == []
    moved = store.photo_by_path("moved here/Chelsea 2.png")
    assert moved.id == photo.id and moved.status == "ok"
    assert store.tags_of(photo.id) == tags_before
    assert store.photo_by_path("home/chelsea.png") is None


def test_deleted_file_disappears_without_touching_others(indexer, store, real_album):
    indexer.run()
    before = {p.path: store.tags_of(p.id) for p in store.photos()}
    (real_album / "home" / "rocket.jpg").unlink()
    summary = indexer.run()
    assert summary.scan.missing == 1
    visible = {p.path for p in store.photos("status = 'ok'")}
    assert "home/rocket.jpg" not in visible
    for p in store.photos("status = 'ok'"):
        assert store.tags_of(p.id) == before[p.path]


def test_missing_photo_comes_back_with_its_verdicts(indexer, store, real_album):
    indexer.run()
    photo = store.photo_by_path("home/rocket.jpg")
    beach = {r.name: r.id for r in store.labels()}["beach"]
    store.set_verdicts([VerdictChange(photo.id, beach, CONFIRMED)])
    src = real_album / "home" / "rocket.jpg"
    keep = src.read_bytes()
    stat = src.stat()
    src.unlink()
    indexer.run()
    src.write_bytes(keep)
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = indexer.run()
    assert summary.scan.returned == 1 and summary.tagged == 0
    back = store.photo_by_path("home/rocket.jpg")
    assert back.id == photo.id and back.status == "ok"
    assert any(r[0] == beach and r[2] == CONFIRMED for r in store.evidence(photo.id))


def _bomb_png(path: Path, width: int = 30000, height: int = 30000) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    row = b"\x00" + b"\x00" * 3 * width
    idat = zlib.compressobj(9).compress(row * 64)  # the header is what counts
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat))


def test_bad_files_are_recorded_and_good_files_still_tagged(indexer, store, real_album):
    good = photo_count(real_album) + 2  # and the two odd names below
    bad = real_album / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    jpeg = (real_album / "home" / "rocket.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (bad / "notes.jpg").write_text("this is not a photo\n")
    _bomb_png(bad / "bomb.png")
    (bad / "broken link.jpg").symlink_to(bad / "does-not-exist.jpg")
    (bad / "loop.jpg").symlink_to(bad / "loop.jpg")
    (bad / "folder loop").symlink_to(real_album)
    os.mkfifo(bad / "pipe.jpg")
    odd = real_album / "odd names ü"
    odd.mkdir()
    shutil.copyfile(real_album / "home" / "chelsea.png", odd / "Katze mit Leerzeichen ß.png")
    shutil.copyfile(real_album / "home" / "coffee.png", odd / "カフェ.png")

    summary = indexer.run()

    errors = {p.path: p.error for p in store.photos("status = 'error'")}
    assert set(errors) == {f"bad/{n}" for n in ("empty.jpg", "truncated.jpg", "notes.jpg",
                                                "bomb.png", "broken link.jpg", "loop.jpg",
                                                "pipe.jpg")}
    assert "empty" in errors["bad/empty.jpg"]
    assert "truncated" in errors["bad/truncated.jpg"]
    assert "not an image" in errors["bad/notes.jpg"]
    assert "too large" in errors["bad/bomb.png"]
    assert "broken symbolic link" in errors["bad/broken link.jpg"]
    assert "loop" in errors["bad/loop.jpg"]
    assert "not a regular file" in errors["bad/pipe.jpg"]
    ok = {p.path for p in store.photos("status = 'ok'")}
    assert "odd names ü/Katze mit Leerzeichen ß.png" in ok and "odd names ü/カフェ.png" in ok
    assert len(ok) == good  # the folder loop adds nothing
    assert summary.errors + summary.scan.errors == 7 and not summary.cancelled
    assert store.integrity_check() == "ok"


def test_cancel_stops_between_batches_and_a_rerun_finishes(indexer, store, real_album):
    cancel = threading.Event()

    def progress(p):
        if p.phase == "tag" and p.done >= 8:
            cancel.set()

    summary = indexer.run(progress, cancel)
    assert summary.cancelled
    assert 0 < summary.tagged < photo_count(real_album)
    assert store.count_photos().get("pending", 0) > 0
    rerun = indexer.run()
    assert not rerun.cancelled
    assert summary.tagged + rerun.tagged == photo_count(real_album)
    assert store.count_photos() == {"ok": photo_count(real_album)}


def test_newest_photos_are_tagged_first(indexer, store, real_album):
    newest = real_album / "home" / "rocket.jpg"
    os.utime(newest, (2_000_000_000, 2_000_000_000))
    order: list[str] = []
    indexer.run(lambda p: order.append(p.current) if p.phase == "tag" else None)
    assert order[0] == "home/rocket.jpg"
