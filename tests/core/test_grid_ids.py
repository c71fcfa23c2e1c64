"""The window's one search path: core.browse.grid_ids is the engine's answer, in each order."""

from __future__ import annotations

import numpy as np
import pytest

from core import browse
from core.browse import Order, Scope
from core.db.store import Status
from core.db.tagstore import Scored
from core.library import Library
from core.search.orders import RANKED

# path, mtime, capture date (None: no EXIF date), scores
_PHOTOS = [
    ("b/Zebra.jpg", 5, "2021-05-01T10:00:00", {"cat": 0.9}),
    ("a/apple.jpg", 9, None, {"dog": 0.9}),
    ("a/Beach.jpg", 9, "2021-05-01T10:00:00", {"cat": 0.8, "dog": 0.7}),  # ties: date, mtime
    ("c/old.jpg", 1, "1999-12-31T23:59:59", {}),
    ("c/none.jpg", 3, None, {"cat": 0.05}),
    ("d/gone.jpg", 20, "2030-01-01T00:00:00", {"cat": 0.9}),  # its file is gone
    ("d/broken.jpg", 7, None, {}),  # unreadable
    ("d/waiting.jpg", 8, "2020-01-01T00:00:00", {}),  # queued for tags
]

#: The display orders as SQL once wrote them: the reference the engine's orders must equal.
_REFERENCE = {
    Order.TAKEN: "taken_at IS NULL, taken_at DESC, mtime_ns DESC, id DESC",
    Order.TAKEN_OLDEST: "taken_at IS NULL, taken_at, mtime_ns, id",
    Order.NEWEST: "mtime_ns DESC, id DESC",
    Order.NAME: "path COLLATE NOCASE, id",
}


@pytest.fixture
def album(library: Library) -> dict[str, int]:
    ids = library.label_ids()
    out = {}
    for path, mtime, taken, scores in _PHOTOS:
        pid = library.store.add_photo(path, 100, mtime)
        out[path.split("/")[1].split(".")[0]] = pid
        if scores or path != "d/waiting.jpg":
            library.store.record_scores(
                [
                    Scored(
                        pid,
                        10,
                        10,
                        taken,
                        f"h{pid}",
                        np.array(list(scores.values()) or [0.0]),
                        None,
                    )
                ],
                [ids[n] for n in scores] or [ids["cat"]],
                "fake@1",
                0,
            )
    with library.store.db.write() as db:
        db.conn.execute(
            "UPDATE photos SET taken_at = ? WHERE id = ?", ("2020-01-01T00:00:00", out["waiting"])
        )
    library.store.mark_missing([out["gone"]])
    library.store.record_error(out["broken"], "truncated image")
    return out


def _reference(library: Library, order: Order, where: str) -> list[int]:
    rows = library.store.db.query(
        f"SELECT id FROM photos WHERE {where} ORDER BY {_REFERENCE[order]}"
    )
    return [r[0] for r in rows]


@pytest.mark.parametrize("order", RANKED)
def test_the_album_in_each_order_equals_sql_order_by(
    library: Library, album: dict, order: Order
) -> None:
    shown = browse.grid_ids(library, order=order).tolist()
    assert shown == _reference(library, order, "status != 'missing'")
    assert album["gone"] not in shown and album["broken"] in shown


@pytest.mark.parametrize("order", RANKED)
def test_a_search_in_the_window_is_the_command_line_search(
    library: Library, album: dict, order: Order
) -> None:
    for query in ("animal", "cat -dog", "path:a", "-cat", "untagged"):
        window = browse.grid_ids(library, query, order=order).tolist()
        assert window == library.search_ids(query, order).tolist(), query
    assert set(browse.grid_ids(library, "animal").tolist()) == {
        album["Zebra"],
        album["apple"],
        album["Beach"],
    }


def test_scopes(library: Library, album: dict) -> None:
    def ids(**kw: object) -> set[int]:
        return set(browse.grid_ids(library, **kw).tolist())

    assert ids(scope=Scope.ERRORS) == {album["broken"]}
    assert ids(scope=Scope.ERRORS, query="path:d") == {album["broken"]}
    assert ids(scope=Scope.UNTAGGED) == {album["old"], album["none"]}
    assert ids(scope=Scope.REVIEW) == {album["Zebra"], album["apple"], album["Beach"]}
    assert ids(scope=Scope.LABEL, label_id=library.label_id("dog")) == {
        album["apple"],
        album["Beach"],
    }
    assert ids(scope=Scope.LABEL, label_id=library.label_id("animal"), query="-dog") == {
        album["Zebra"]
    }
    with pytest.raises(ValueError, match="label_id"):
        browse.grid_ids(library, scope=Scope.LABEL)
    counts = browse.scope_counts(library)
    assert (counts.review, counts.untagged, counts.errors) == (3, 2, 1)


def test_orders_are_one_enum_with_their_labels() -> None:
    from app.gui.actions import SORT_ORDERS

    assert [o for o, _ in SORT_ORDERS] == list(Order)
    assert dict(SORT_ORDERS)[Order.NAME] == "File name" == Order.NAME.label
    assert Order.parse("oldest") is Order.TAKEN_OLDEST
    with pytest.raises(ValueError, match="known: taken"):
        Order.parse("sideways")


def test_rows_by_id_keep_the_order_asked_and_leave_unknown_ids_out(
    library: Library, album: dict
) -> None:
    wanted = [album["old"], 999_999, album["Zebra"], album["broken"]]
    rows = browse.grid_rows_by_ids(library, np.array(wanted))
    assert [r.id for r in rows] == [album["old"], album["Zebra"], album["broken"]]
    assert rows[2].status == Status.ERROR and rows[2].error == "truncated image"
    assert rows[1].needs_review and not rows[0].needs_review
    many = browse.grid_rows_by_ids(library, [album["old"]] * 2000)  # no bound-variable limit
    assert len(many) == 2000
