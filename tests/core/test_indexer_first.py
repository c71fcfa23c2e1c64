"""The photos a viewer shows are tagged first: Indexer.show_first moves them up the queue."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.pipeline.indexer
from core.db.store import PhotoOrder, Status
from core.pipeline.indexer import Indexer
from core.pipeline.scanner import reconcile
from tests.core.test_indexer import store, tagger  # noqa: F401 - fixtures
from tests.fakes import fake_model


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = core.pipeline.indexer.decode

    def counting(path, **kwargs):
        seen.append(Path(path).name)  # the test photos' names are unique
        return real(path, **kwargs)

    monkeypatch.setattr(core.pipeline.indexer, "decode", counting)
    return seen


def test_photos_shown_first_are_decoded_before_the_rest(real_album, store, tagger, decodes):
    indexer = Indexer(real_album, store, lambda: fake_model(store, tagger), batch_size=2, workers=1)
    reconcile(real_album, store)
    queue = store.photos(Status.PENDING, order=PhotoOrder.NEWEST_FILE)
    assert len(queue) >= 6
    shown = [queue[-1].id, queue[-3].id, 999_999]  # the last of the queue; an unknown id
    indexer.show_first(shown)
    indexer.run()
    names = [Path(p.path).name for p in queue]
    expected = [names[-1], names[-3]]
    assert decodes[:2] == expected
    rest = [n for n in names if n not in expected]
    assert decodes[2:] == rest  # the others keep their order, each decoded once
    assert not store.photos(Status.PENDING)


def test_a_new_screen_replaces_the_one_asked_before_while_the_queue_runs(store, tagger):
    from core.db.store import PhotoRow

    indexer = Indexer(Path("."), store, lambda: fake_model(store, tagger))
    rows = [
        PhotoRow(i, f"{i}.jpg", 1, 1, None, None, None, None, "pending", None, None)
        for i in range(1, 9)
    ]
    order = indexer._in_order(rows)
    assert [next(order).id for _ in range(2)] == [1, 2]
    indexer.show_first([7, 8, 2])  # 2 is done already
    assert next(order).id == 7
    indexer.show_first([5])  # the user scrolled on: 8 is no longer wanted first
    assert [r.id for r in order] == [5, 3, 4, 6, 8]
