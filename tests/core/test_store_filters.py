"""The store's typed filters: photos by status, order, staleness and ids; one IN-ids helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.db.store import IN_IDS, PhotoOrder, Status, Store, id_list


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "album.db")
    s.add_photo("b.jpg", 1, 30, status="ok")
    s.add_photo("a.jpg", 1, 10, status="pending")
    s.add_photo("c.jpg", 1, 20, status="error", error="truncated")
    s.add_photo("d.jpg", 1, 40, status="missing")
    yield s
    s.close()


def _paths(rows) -> list[str]:
    return [r.path for r in rows]


def test_photos_leave_missing_ones_out_unless_asked(store: Store) -> None:
    assert _paths(store.photos()) == ["b.jpg", "a.jpg", "c.jpg"]
    assert _paths(store.photos(tuple(Status))) == ["b.jpg", "a.jpg", "c.jpg", "d.jpg"]
    assert _paths(store.photos(Status.ERROR)) == ["c.jpg"]
    assert _paths(store.photos("missing")) == ["d.jpg"]


def test_orders_are_named_not_written_in_sql(store: Store) -> None:
    assert _paths(store.photos(order=PhotoOrder.PATH)) == ["a.jpg", "b.jpg", "c.jpg"]
    assert _paths(store.photos(order=PhotoOrder.NEWEST_FILE)) == ["b.jpg", "c.jpg", "a.jpg"]
    with pytest.raises(ValueError):
        store.photos(order="mtime_ns DESC; DROP TABLE photos")  # type: ignore[arg-type]


def test_a_where_clause_is_not_a_status(store: Store) -> None:
    with pytest.raises(ValueError, match="not a photo status"):
        store.photos("status = 'ok'")
    with pytest.raises(ValueError, match="not a photo status"):
        store.mark_pending("1")


def test_stale_for_keeps_photos_another_version_scored(store: Store) -> None:
    ok = store.photos(Status.OK)[0]
    assert _paths(store.photos(Status.OK, stale_for=3)) == ["b.jpg"]  # never scored
    with store.db.write() as db:
        db.execute("UPDATE photos SET model_version = 3 WHERE id = ?", (ok.id,))
    assert store.photos(Status.OK, stale_for=3) == []
    assert _paths(store.photos(Status.OK, stale_for=4)) == ["b.jpg"]


def test_mark_pending_queues_only_the_statuses_named(store: Store) -> None:
    store.mark_pending((Status.OK, Status.ERROR))
    assert sorted(_paths(store.photos(Status.PENDING))) == ["a.jpg", "b.jpg", "c.jpg"]
    assert store.photos(Status.ERROR) == []
    assert _paths(store.photos(Status.MISSING)) == ["d.jpg"]
    assert store.photos(Status.PENDING, ids=[3])[0].error is None


def test_ids_beyond_sqlites_variable_limit_in_one_statement(tmp_path: Path) -> None:
    store = Store(tmp_path / "big.db")
    try:
        with store.db.write() as db:
            db.conn.executemany(
                "INSERT INTO photos (path, size, mtime_ns, status, added_at) "
                "VALUES (?, 1, 1, 'ok', '')",
                [(f"{i:05}.jpg",) for i in range(5000)],
            )
        wanted = np.arange(4000, 0, -3, dtype=np.int64)  # numpy ids, past 999, any order
        rows = store.photos_by_ids(wanted)
        assert [r.id for r in rows] == wanted.tolist()  # in the order asked
        assert store.photos_by_ids([0, 99999]) == []
        found = store.db.query(
            f"SELECT COUNT(*) FROM photos WHERE id {IN_IDS}", (id_list(range(1, 3001)),)
        )
        assert found[0][0] == 3000
    finally:
        store.close()
