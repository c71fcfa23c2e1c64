"""What keeps search fast at a million photos: cached terms and mask ordering, still correct."""

from __future__ import annotations

import numpy as np
import pytest

from core.db.store import Status
from core.db.tagstore import VerdictChange
from core.labels.policy import CONFIRMED
from core.search import engine as search
from core.search.engine import ORDERS, SearchEngine
from tests.core.test_search import QUERIES, label_resolver, store  # noqa: F401 - the fixture


@pytest.mark.parametrize("order", list(ORDERS))
def test_a_large_result_filtered_through_the_display_order_equals_sorting_its_ranks(
    store, order, monkeypatch
):
    from core.search.query import parse_query

    engine = SearchEngine(store.db)
    ids = engine.evaluate(parse_query("-beach", label_resolver(store)))
    assert len(ids) >= search._MASK_SHARE * len(engine.universe())
    rank, _ = engine._rank(order)
    expected = ids[np.argsort(rank[ids], kind="stable")]
    monkeypatch.setattr(search, "_MASK_FLOOR", 0)  # the fixture's album is small
    assert engine.ordered(ids, order).tolist() == expected.tolist()
    with_hidden = np.sort(np.concatenate([ids, [1, 2]]))  # missing photos: not visible
    assert engine.ordered(with_hidden, order).tolist() == [*expected.tolist(), 1, 2]


def test_terms_are_looked_up_once_until_the_album_changes(store, monkeypatch):
    engine = SearchEngine(store.db)
    labels = label_resolver(store)
    calls: list[str] = []
    concat = engine._concat
    monkeypatch.setattr(
        engine, "_concat", lambda sql, params=(): (calls.append(sql), concat(sql, params))[1]
    )
    first = engine.search("dog beach", labels).tolist()
    looked_up = len(calls)
    assert engine.search("beach dog", labels).tolist() == first  # same terms: no lookup
    assert engine.search("dog", labels).tolist() and len(calls) == looked_up
    before = set(engine.search("beach", labels).tolist())
    target = next(p.id for p in store.photos(Status.OK) if p.id not in before)
    beach = {r.name: r.id for r in store.labels()}["beach"]
    store.set_verdicts([VerdictChange(target, beach, CONFIRMED)])
    try:
        assert set(engine.search("beach", labels).tolist()) == before | {target}
    finally:
        store.undo()
    assert set(engine.search("beach", labels).tolist()) == before


def test_a_full_term_cache_starts_over_and_answers_the_same(store, monkeypatch):
    labels = label_resolver(store)
    expected = {q: SearchEngine(store.db).search(q, labels).tolist() for q in QUERIES}
    monkeypatch.setattr(search, "TERM_CACHE_IDS", 150)
    engine = SearchEngine(store.db)
    for _ in range(2):
        for q in QUERIES:
            assert engine.search(q, labels).tolist() == expected[q]
    held = engine._snapshot()
    assert held.term_ids <= 150 and sum(len(v) for v in held.terms.values()) == held.term_ids


def test_inside_a_write_the_search_reads_the_uncommitted_state_and_keeps_nothing(store):
    engine = SearchEngine(store.db)
    labels = label_resolver(store)
    before = set(engine.search("beach", labels).tolist())
    target = next(p.id for p in store.photos(Status.OK) if p.id not in before)
    beach = {r.name: r.id for r in store.labels()}["beach"]
    with store.db.write():
        store.set_verdicts([VerdictChange(target, beach, CONFIRMED)])  # nested: a savepoint
        assert set(engine.search("beach", labels).tolist()) == before | {target}
        store.undo()
        assert set(engine.search("beach", labels).tolist()) == before
    assert set(engine.search("beach", labels).tolist()) == before


def test_and_not_takes_away_instead_of_building_the_complement(store, monkeypatch):
    labels = label_resolver(store)
    engine = SearchEngine(store.db)
    expected = set(engine.search("animal", labels).tolist()) - set(
        engine.search("dog", labels).tolist()
    )
    calls: list[tuple[int, int]] = []
    minus = search._minus
    monkeypatch.setattr(
        search, "_minus", lambda a, b: (calls.append((len(a), len(b))), minus(a, b))[1]
    )
    assert set(engine.search("animal -dog", labels).tolist()) == expected
    universe = len(engine.universe())
    assert calls and all(a < universe for a, _ in calls)  # never the whole album minus dog
