"""The grid's sort orders: one enum, the words a menu shows for each, and how the engine puts
a whole album in each order.

An order is computed once per album state as a permutation of the present photos' ids (the
engine keeps it and its rank array): mostly from a covering index scan in SQLite and numpy,
not by sorting the whole photos table. At a million photos the file-date order is one scan
of the ``photos_mtime`` index (about 0.1 s); the capture-date orders sort only the dated
photos in SQL and take the undated ones from that file-date order.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np


class Order(StrEnum):
    """How a grid sorts its photos (the values are what settings and the CLI store)."""

    TAKEN = "taken"  # EXIF capture date, newest first; photos without one last
    TAKEN_OLDEST = "taken-oldest"  # capture date, oldest first; photos without one last
    NEWEST = "newest"  # file modification time, newest first
    NAME = "name"  # path, A to Z (case-insensitive)
    TEACHES = "teaches"  # what an answer would teach most first (core.search.review)

    @property
    def label(self) -> str:
        """The words a menu shows for this order."""
        return _LABELS[self]

    @classmethod
    def parse(cls, value: str | Order) -> Order:
        """An order from its value or a known alias (``oldest``); ValueError names the known."""
        value = _ALIASES.get(str(value), value)
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(o.value for o in cls)
            raise ValueError(f"unknown order {value!r}; known: {known}") from None


_LABELS = {
    Order.TAKEN: "Date taken, newest first",
    Order.TAKEN_OLDEST: "Date taken, oldest first",
    Order.NEWEST: "File date, newest first",
    Order.NAME: "File name",
    Order.TEACHES: "What an answer would teach most (Needs review's order)",
}
_ALIASES = {"oldest": Order.TAKEN_OLDEST.value}

#: The orders a rank array can give (TEACHES is ranked by core.search.review on top of NEWEST).
RANKED = (Order.TAKEN, Order.TAKEN_OLDEST, Order.NEWEST, Order.NAME)

#: ids as one SQL statement's ``id`` column, in the statement's order.
Concat = Callable[[str], np.ndarray]


def album_order(order: Order, concat: Concat, present: np.ndarray) -> np.ndarray:
    """Ids of the ``present`` photos (sorted ids) in ``order``."""
    order = Order.parse(order)
    if order == Order.TEACHES:
        order = Order.NEWEST
    if order == Order.NAME:
        return _keep(concat("SELECT id FROM photos ORDER BY path COLLATE NOCASE, id"), present)
    # Newest file first is a covering scan of the mtime index, backwards: (mtime_ns, rowid).
    newest = _keep(concat("SELECT id FROM photos ORDER BY mtime_ns DESC, id DESC"), present)
    if order == Order.NEWEST:
        return newest
    direction = "DESC" if order == Order.TAKEN else "ASC"
    dated = _keep(
        concat(
            f"SELECT id FROM photos WHERE taken_at IS NOT NULL ORDER BY "
            f"taken_at {direction}, mtime_ns {direction}, id {direction}"
        ),
        present,
    )
    undated = newest if order == Order.TAKEN else newest[::-1]
    if len(dated):
        undated = undated[~_member(dated, undated)]
    return np.concatenate([dated, undated]) if len(dated) else np.ascontiguousarray(undated)


def _member(ids: np.ndarray, of: np.ndarray) -> np.ndarray:
    """For each id of ``of``: whether it is one of ``ids``."""
    size = int(max(ids.max(initial=0), of.max(initial=0))) + 1
    mask = np.zeros(size, dtype=bool)
    mask[ids] = True
    member: np.ndarray = mask[of]
    return member


def _keep(ordered: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``ordered`` without the ids that are not in ``present``, order kept."""
    if not len(ordered) or not len(present):
        return ordered[:0]
    kept: np.ndarray = ordered[_member(present, ordered)]
    return kept


__all__ = ["RANKED", "Order", "album_order"]
