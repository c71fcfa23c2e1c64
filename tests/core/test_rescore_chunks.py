"""Re-scoring from cached features, chunk by chunk: the next chunk is scored on a worker thread
while this one is written, and the album ends up exactly as when it is done in one chunk.

Real photo files indexed into a real SQLite store with a fake model (version 0); a second fake
version with other scores becomes active and ``Indexer.rescore`` re-scores every photo.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.db.tagstore import BULK_CACHE_KIB, TagStore, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.pipeline.indexer import Indexer, IndexSummary, Progress
from tests.fakes import FakeTagger, fake_model


class Shifted(FakeTagger):
    """Another version's scores, remembering the threads it scored on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def score_features(self, features: np.ndarray) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return np.clip(0.7 * super().score_features(features) + 0.2, 0, 1).astype(np.float32)


def _store(path: Path) -> TagStore:
    store = TagStore(path)
    animal = store.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
    store.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.55)
    store.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.55)
    return store


def _writer_cache(store: TagStore) -> int:
    with store.db.write() as db:
        return int(db.conn.execute("PRAGMA cache_size").fetchone()[0])


def _rescored(album: Path, data: Path, chunk: int, monkeypatch) -> tuple:
    store = _store(data / "album.db")
    try:
        Indexer(album, store, lambda: fake_model(store), batch_size=8).run()
        ids = sorted(p.id for p in store.photos(("ok",)))
        labels = {r.name: r.id for r in store.labels()}
        store.set_verdicts(
            [
                VerdictChange(ids[1], labels["cat"], CONFIRMED),
                VerdictChange(ids[5], labels["beach"], REJECTED),
            ]
        )
        cache = _writer_cache(store)
        during: list[int] = []
        record = store.record_rescored

        def watched(*args, **kwargs):
            during.append(_writer_cache(store))
            return record(*args, **kwargs)

        monkeypatch.setattr(store, "record_rescored", watched)
        log = store.db.query("SELECT * FROM verdict_log ORDER BY id")
        tagger = Shifted()
        monkeypatch.setattr(Indexer, "RESCORE_CHUNK", chunk)
        seen: list[Progress] = []
        summary = IndexSummary()
        model = fake_model(store, tagger, version=1)  # registered and active
        indexer = Indexer(album, store, lambda: model)
        indexer.rescore(summary, seen.append, threading.Event())
        assert summary.rescored == len(ids)
        assert [p.done for p in seen] == [min(len(ids), chunk * (i + 1)) for i in range(len(seen))]
        assert set(during) == {-BULK_CACHE_KIB} and cache != -BULK_CACHE_KIB
        assert _writer_cache(store) == cache  # the bulk cache is given back
        assert not store.photos(("ok",), stale_for=1)
        assert store.db.query("SELECT * FROM verdict_log ORDER BY id") == log
        return (
            store.db.query(
                "SELECT photo_id, label_id, score, verdict, source FROM photo_labels "
                "ORDER BY photo_id, label_id"
            ),
            store.db.query("SELECT * FROM photo_tags ORDER BY label_id, photo_id"),
            store.db.query("SELECT id, tagged, model_version FROM photos ORDER BY id"),
            len(log),
            tagger.threads,
        )
    finally:
        store.close()


def test_chunks_scored_ahead_on_a_worker_equal_one_chunk(real_album, tmp_path, monkeypatch):
    *one, threads_one = _rescored(real_album, tmp_path / "one", 10_000, monkeypatch)
    *many, threads_many = _rescored(real_album, tmp_path / "many", 4, monkeypatch)
    assert many == one
    labels, tags, photos, log = many
    assert tags  # the new scores put some on
    assert log == 2 and all(version == 1 for _, _, version in photos)
    assert any(score is not None and score > 0.2 for _, _, score, *_ in labels)
    assert len(threads_many) == -(-len(photos) // 4)  # one scoring call per chunk
    assert {name.rsplit("_", 1)[0] for name in threads_many + threads_one} == {"albumtag-rescore"}


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_cancel_stops_between_chunks(real_album, tmp_path, monkeypatch, chunk):
    store = _store(tmp_path / "album.db")
    try:
        Indexer(real_album, store, lambda: fake_model(store)).run()
        total = len(store.photos(("ok",)))
        monkeypatch.setattr(Indexer, "RESCORE_CHUNK", chunk)
        cancel = threading.Event()
        summary = IndexSummary()
        model = fake_model(store, Shifted(), version=1)
        indexer = Indexer(real_album, store, lambda: model)
        indexer.rescore(summary, lambda p: cancel.set(), cancel)  # cancelled after one chunk
        assert summary.rescored == chunk
        assert len(store.photos(("ok",), stale_for=1)) == total - chunk
    finally:
        store.close()


def test_photos_without_cached_features_are_queued_to_decode_again(
    real_album, tmp_path, monkeypatch
):
    store = _store(tmp_path / "album.db")
    try:
        Indexer(real_album, store, lambda: fake_model(store)).run()
        ids = sorted(p.id for p in store.photos(("ok",)))
        gone = ids[:3] + ids[7:8]  # the whole first chunk and one photo of the third
        with store.db.write() as db:
            db.conn.executemany("DELETE FROM features WHERE photo_id = ?", [(p,) for p in gone])
        monkeypatch.setattr(Indexer, "RESCORE_CHUNK", 3)
        summary = IndexSummary()
        model = fake_model(store, Shifted(), version=1)
        Indexer(real_album, store, lambda: model).rescore(
            summary, lambda p: None, threading.Event()
        )
        assert summary.rescored == len(ids) - len(gone)
        assert sorted(p.id for p in store.photos(("pending",))) == gone
        assert not store.photos(("ok",), stale_for=1)
    finally:
        store.close()
