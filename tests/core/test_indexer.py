"""The indexer on real photo files, a real SQLite store and real thumbnails (fake model)."""

from __future__ import annotations

import os
import shutil
import threading
import time
import zlib
from pathlib import Path

import pytest

import core.pipeline.indexer
from core.db.store import Status
from core.db.tagstore import TagStore, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.media.thumbnails import ThumbnailCache
from core.pipeline.indexer import Indexer
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
    real = core.pipeline.indexer.decode

    def counting(path, **kwargs):
        seen.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(core.pipeline.indexer, "decode", counting)
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


def test_moved_file_keeps_id_tags_and_verdicts_without_decoding(
    indexer, store, real_album, decodes
):
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
    visible = {p.path for p in store.photos(Status.OK)}
    assert "home/rocket.jpg" not in visible
    for p in store.photos(Status.OK):
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
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

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

    errors = {p.path: p.error for p in store.photos(Status.ERROR)}
    assert set(errors) == {
        f"bad/{n}"
        for n in (
            "empty.jpg",
            "truncated.jpg",
            "notes.jpg",
            "bomb.png",
            "broken link.jpg",
            "loop.jpg",
            "pipe.jpg",
        )
    }
    assert "empty" in errors["bad/empty.jpg"]
    assert "truncated" in errors["bad/truncated.jpg"]
    assert "not an image" in errors["bad/notes.jpg"]
    assert "too large" in errors["bad/bomb.png"]
    assert "broken symbolic link" in errors["bad/broken link.jpg"]
    assert "loop" in errors["bad/loop.jpg"]
    assert "not a regular file" in errors["bad/pipe.jpg"]
    ok = {p.path for p in store.photos(Status.OK)}
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


class _Watched:
    """Counts decodes in flight; the tagger notes, at each call, its thread, torch's thread
    count there and how many decodes were running."""

    def __init__(self, monkeypatch, tagger: FakeTagger) -> None:
        import torch

        self.lock = threading.Lock()
        self.in_flight = 0
        self.calls: list[tuple[str, int, int]] = []
        real_decode, real_run = core.pipeline.indexer.decode, tagger.run

        def decode(path, **kwargs):
            with self.lock:
                self.in_flight += 1
            try:
                time.sleep(0.01)  # long enough that a decode beside the model is caught
                return real_decode(path, **kwargs)
            finally:
                with self.lock:
                    self.in_flight -= 1

        def run(batch):
            time.sleep(0.02)
            with self.lock:
                self.calls.append(
                    (threading.current_thread().name, torch.get_num_threads(), self.in_flight)
                )
            return real_run(batch)

        monkeypatch.setattr(core.pipeline.indexer, "decode", decode)
        monkeypatch.setattr(tagger, "run", run)


def test_on_a_cpu_the_model_runs_in_the_workers_on_one_core(real_album, store, tagger, monkeypatch):
    watched = _Watched(monkeypatch, tagger)
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=2, batch_size=2)
    assert indexer.schedule(indexer.model) == ("shared", 2)
    summary = indexer.run()
    assert summary.tagged == photo_count(real_album) - summary.errors
    assert len(watched.calls) >= 3
    assert {name.split("_")[0] for name, _, _ in watched.calls} == {"albumtag-decode"}
    assert {threads for _, threads, _ in watched.calls} == {1}


def test_on_a_gpu_the_model_runs_beside_the_decoders(real_album, store, tagger, monkeypatch):
    watched = _Watched(monkeypatch, tagger)
    indexer = Indexer(
        real_album,
        store,
        lambda: fake_model(store, tagger),
        workers=2,
        batch_size=2,
        pipeline="overlap",
    )
    summary = indexer.run()
    assert summary.tagged == photo_count(real_album) - summary.errors
    assert {name for name, _, _ in watched.calls} == {threading.current_thread().name}
    assert max(in_flight for _, _, in_flight in watched.calls) > 0


def test_both_schedules_store_the_same_tags(real_album, tmp_path):
    results = []
    for pipeline in ("shared", "overlap"):
        store = TagStore(tmp_path / pipeline / "album.db")
        animal = store.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
        store.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.55)
        store.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.55)
        tagger = FakeTagger()
        Indexer(
            real_album,
            store,
            lambda s=store, t=tagger: fake_model(s, t),
            batch_size=3,
            pipeline=pipeline,
        ).run()
        tags = {
            p.path: (sorted(store.tags_of(p.id)), sorted(store.evidence(p.id)))
            for p in store.photos(Status.OK)
        }
        results.append(tags)
        assert sorted(tagger.batches, reverse=True)[0] == 3
        store.close()
    assert results[0] == results[1] and len(results[0]) >= 10


def test_the_schedule_follows_the_device(store, tagger):
    cpu = Indexer(Path("."), store, lambda: fake_model(store, tagger))
    assert cpu.schedule(cpu.model) == ("shared", core.pipeline.indexer.CPU_BATCH)

    class OnGpu:
        type = "cuda"

    tagger.backbone.device = OnGpu()
    gpu = Indexer(Path("."), store, lambda: fake_model(store, tagger))
    assert gpu.schedule(gpu.model) == ("overlap", core.pipeline.indexer.DEVICE_BATCH)
    chosen = Indexer(
        Path("."), store, lambda: fake_model(store, tagger), batch_size=5, pipeline="shared"
    )
    assert chosen.schedule(chosen.model) == ("shared", 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pipeline": "fastest"}, "pipeline must be one of auto, shared, overlap"),
        ({"batch_size": 0}, "batch size must be at least 1"),
    ],
)
def test_bad_settings_are_refused(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Indexer(Path("."), store, lambda: None, **kwargs)
