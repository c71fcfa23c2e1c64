"""The indexer's controls while it runs: how many workers go at once (Indexer.set_workers),
a newer screen taking back decodes already queued (Indexer.show_first), the model loading
while the folder is scanned, and a summary that survives the trip through JSON."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import core.pipeline.indexer
from core.db.store import PhotoOrder, Status
from core.db.tagstore import TagStore
from core.pipeline.indexer import Indexer, IndexSummary, Progress
from core.pipeline.scanner import reconcile
from core.threads import Pace
from tests.core.test_indexer import store, tagger  # noqa: F401 - fixtures
from tests.fakes import FakeTagger, fake_model


class Running:
    """Counts decodes running at once; the first ``meet`` decodes wait for each other."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, meet: int = 0) -> None:
        self.now = self.most = 0
        self.order: list[str] = []
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(meet, timeout=20) if meet else None
        real = core.pipeline.indexer.decode

        def decode(path, **kwargs):
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
                self.order.append(Path(path).name)
                first = len(self.order) <= meet
            try:
                if first and self._barrier is not None:
                    self._barrier.wait()  # only passes if ``meet`` decodes run together
                return real(path, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1

        monkeypatch.setattr(core.pipeline.indexer, "decode", decode)


def test_every_worker_runs_at_once_when_allowed(
    real_album: Path, store: TagStore, tagger: FakeTagger, monkeypatch
) -> None:
    running = Running(monkeypatch, meet=2)  # would time out (an error per photo) with one
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=2, batch_size=4)
    summary = indexer.run()
    assert summary.errors == 0 and running.most == 2
    assert not store.photos(Status.PENDING)


def test_set_workers_holds_a_run_to_fewer_workers(
    real_album: Path, store: TagStore, tagger: FakeTagger, monkeypatch
) -> None:
    running = Running(monkeypatch)
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=3, batch_size=4)
    indexer.set_workers(1)
    summary = indexer.run()
    assert summary.tagged > 10 and running.most == 1 and indexer.pace.most == 1
    indexer.set_workers(99)
    assert indexer.pace.limit == 3  # never more than the pool has
    indexer.set_workers(0)
    assert indexer.pace.limit == 1  # never none: the run always moves on


def test_stepping_back_mid_run_takes_effect_for_the_next_tasks(
    real_album: Path, store: TagStore, tagger: FakeTagger, monkeypatch
) -> None:
    running = Running(monkeypatch, meet=2)
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=2, batch_size=2)
    before: list[int] = []

    def progress(p: Progress) -> None:
        if p.phase == "tag" and p.done == 4:
            before.append(running.most)
            indexer.set_workers(1)
        elif p.phase == "tag" and p.done == 8:
            # photos 5-8 were queued (two batches ahead) when the limit changed, and may have
            # been running two at a time; every decode started after them waits its turn
            running.most = running.now

    summary = indexer.run(progress)
    assert summary.errors == 0 and summary.tagged > 16
    assert before == [2] and running.most == 1


def test_a_new_screen_takes_back_the_queued_decodes(
    real_album: Path, store: TagStore, tagger: FakeTagger, monkeypatch
) -> None:
    """One worker, two batches of two queued ahead: when the user scrolls, the photos on the
    new screen are decoded right after the one decode already running, not after the queue."""
    reconcile(real_album, store)
    queue = store.photos(Status.PENDING, order=PhotoOrder.NEWEST_FILE)
    names = [Path(p.path).name for p in queue]
    shown = [queue[-1].id, queue[-2].id]
    asked = threading.Event()
    second = threading.Event()
    seen: list[str] = []
    real = core.pipeline.indexer.decode

    def decode(path, **kwargs):
        seen.append(Path(path).name)
        if len(seen) == 2:  # the second photo's decode runs until the user has scrolled
            second.set()
            assert asked.wait(20)
        return real(path, **kwargs)

    monkeypatch.setattr(core.pipeline.indexer, "decode", decode)
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=1, batch_size=2)

    def progress(p: Progress) -> None:
        if p.phase == "tag" and p.done == 1 and not asked.is_set():
            assert second.wait(20)  # photo 2 is being decoded; 3 and 4 are queued, not started
            indexer.show_first(shown)
            asked.set()

    indexer.run(progress)
    assert seen[:4] == [names[0], names[1], names[-1], names[-2]]
    assert sorted(seen) == sorted(names)  # the decodes taken back are done later, once each
    assert seen[4:6] == [names[2], names[3]]  # in their old turn
    assert not store.photos(Status.PENDING)


def test_the_model_loads_while_the_folder_is_scanned(
    real_album: Path, store: TagStore, tagger: FakeTagger, monkeypatch
) -> None:
    scanned = threading.Event()
    loaded_during_scan: list[bool] = []
    real_reconcile = core.pipeline.indexer.reconcile

    def slow_reconcile(root, store_):
        report = real_reconcile(root, store_)
        assert loaded.wait(20), "the model was not loading during the scan"
        scanned.set()
        return report

    loaded = threading.Event()

    def model():
        loaded_during_scan.append(not scanned.is_set())
        loaded.set()
        return fake_model(store, tagger)

    monkeypatch.setattr(core.pipeline.indexer, "reconcile", slow_reconcile)
    summary = Indexer(real_album, store, model, batch_size=8).run()
    assert loaded_during_scan == [True] and summary.tagged > 10
    # an album with nothing waiting does not load the model at all
    calls: list[int] = []
    Indexer(real_album, store, lambda: calls.append(1) or fake_model(store, tagger)).run()
    assert calls == []


def test_a_summary_survives_json(real_album: Path, store: TagStore, tagger: FakeTagger) -> None:
    (real_album / "home" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    summary = Indexer(real_album, store, lambda: fake_model(store, tagger)).run()
    back = IndexSummary.from_record(json.loads(json.dumps(summary.as_record())))
    assert back == summary
    assert back.errors == 1 and back.error_reasons == summary.error_reasons
    assert back.as_dict() == summary.as_dict()


def test_pace_waits_for_a_free_slot() -> None:
    pace = Pace(1)
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        order.append("first in")
        inside.set()
        assert release.wait(10)
        order.append("first out")

    t = threading.Thread(target=pace.run, args=(first,))
    t.start()
    assert inside.wait(10)
    second = threading.Thread(target=pace.run, args=(lambda: order.append("second"),))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the slot, not running
    pace.set_limit(2)  # raising the limit lets it go at once
    second.join(10)
    assert order == ["first in", "second"]
    release.set()
    t.join(10)
    assert pace.most == 2


def test_the_screen_goes_to_the_model_without_waiting_for_a_full_batch(
    real_album: Path, store: TagStore, tagger: FakeTagger
) -> None:
    reconcile(real_album, store)
    queue = store.photos(Status.PENDING, order=PhotoOrder.NEWEST_FILE)
    shown = [queue[-1].id, queue[-5].id, queue[-9].id]
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), workers=2, batch_size=8)
    indexer.show_first(shown)
    indexer.run()
    assert tagger.batches[0] == 3  # the screen alone, not padded to 8 with the next photos
    assert sum(tagger.batches) == len(queue) and max(tagger.batches) == 8
