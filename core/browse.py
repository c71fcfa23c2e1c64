"""Read-side queries for browsing an album: grid rows, sidebar counts, a selection's tags.

What a photo grid, a tag sidebar and an inspector ask the store for, in a few indexed queries
each, so that a window over 100,000 photos never builds one object per photo per label. Pure
reads; nothing here writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from core.db.store import IN_IDS, LabelRow, Status, id_list
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.paths import from_db, readable
from core.search import review
from core.search.orders import Order
from core.search.query import Everything, parse_query

logger = logging.getLogger(__name__)

#: A photo needs review when the model put a tag on it that no verdict supports.
_NEEDS_REVIEW = (
    "EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id "
    "AND t.direct = 1 AND t.verified = 0)"
)
_UNTAGGED = "NOT EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id)"


class Scope(StrEnum):
    """Which part of the album a view shows before any search is applied."""

    ALL = "all"
    REVIEW = "review"  # photos with a model tag nobody has confirmed
    UNTAGGED = "untagged"
    ERRORS = "errors"  # photos that could not be read
    LABEL = "label"  # photos carrying one label (its subtree included)


class GridRow(NamedTuple):
    """One photo as a grid shows it: enough to find its thumbnail and draw its badges.

    A named tuple, because a grid of 100,000 photos makes 100,000 of them per query.
    """

    id: int
    path: str
    size: int
    mtime_ns: int
    status: str  # 'pending', 'ok' or 'error'
    error: str | None
    needs_review: int  # 1 when the model put a tag on it that nobody confirmed, else 0
    rating: int = 0  # 0-5 stars (0 when nobody rated it)
    flag: int = 0  # 1 pick, -1 reject, 0 none (core.db.ratings)

    @property
    def name(self) -> str:
        """The file name as a person reads it (undecodable bytes as ``\\xNN``)."""
        return readable(self.path.rsplit("/", 1)[-1])

    @property
    def shown_path(self) -> str:
        """The path as a person reads it (see :func:`core.paths.readable`)."""
        return readable(self.path)


@dataclass(frozen=True)
class ScopeCounts:
    """How many photos each scope holds."""

    all: int = 0
    review: int = 0
    untagged: int = 0
    errors: int = 0
    pending: int = 0


@dataclass(frozen=True)
class TagSummary:
    """One label over a set of photos: how many carry it, what the model and the user said."""

    label_id: int
    label: str
    path: tuple[str, ...]  # root first, the label last
    threshold: float
    photos: int  # photos summarised
    has: int  # photos that carry the tag (hierarchy included)
    direct: int  # photos where the label itself is on
    verified: int  # photos where a confirmation supports it
    confirmed: int
    rejected: int
    by_user: int  # photos where the user added it (no model score behind it)
    score: float | None  # mean model score over photos with a score
    learns_from_examples: bool = False  # prior-blind: only the user's examples teach it

    @property
    def suggested(self) -> int:
        """Photos where the tag is on only because the model said so."""
        return self.direct - self.verified


def grid_ids(
    library: Library,
    query: str = "",
    scope: Scope = Scope.ALL,
    label_id: int | None = None,
    order: Order = Order.NEWEST,
    *,
    sidebar: str = "",
) -> np.ndarray:
    """Ids of the photos a grid shows for a scope and a search, in ``order``.

    Evaluated by the search engine (:mod:`core.search.engine`), as the command line's search
    is: term ids as sorted arrays, set algebra, and the album's cached display order. The whole
    album (``Scope.ALL`` with no search) includes photos that could not be read; a search or a
    label lists the photos that carry tags (tagged ones, and ones queued for re-tagging, which
    keep theirs); Needs review and Untagged list tagged photos only.

    Raises:
        QueryError: the search cannot be parsed (positions refer to ``query`` itself).
        ValueError: ``Scope.LABEL`` without a label, or an unknown order.
    """
    engine = library.search_engine
    node = parse_query(query, library.resolver(), sidebar)  # a folder's term, if chosen
    order = Order.parse(order)
    scope = Scope(scope)
    if scope == Scope.ERRORS:
        within = engine.status_ids(Status.ERROR)
    elif scope == Scope.ALL and isinstance(node, Everything):
        within = engine.present()
    elif scope == Scope.REVIEW:
        within = engine.needs_review()
    elif scope == Scope.UNTAGGED:
        within = engine.untagged()
    elif scope == Scope.LABEL:
        if label_id is None:
            raise ValueError("Scope.LABEL needs a label_id")
        within = engine.carrying(int(label_id))
    else:
        within = engine.universe()
    ids = engine.evaluate(node, within) if not isinstance(node, Everything) else within
    ranked = engine.ordered(ids, order)
    if order == Order.TEACHES:  # what an answer would teach most first, then newest
        ranked = np.asarray(review.rank(library.store, ranked.tolist()), dtype=np.int64)
    return ranked


def grid_rows(
    library: Library,
    query: str = "",
    scope: Scope = Scope.ALL,
    label_id: int | None = None,
    order: Order = Order.NEWEST,
    *,
    limit: int | None = None,
) -> list[GridRow]:
    """The rows of :func:`grid_ids` (the first ``limit`` of them when given).

    Raises:
        QueryError: the search cannot be parsed (positions refer to ``query`` itself).
    """
    ids = grid_ids(library, query, scope, label_id, order)
    return grid_rows_by_ids(library, ids[:limit] if limit else ids)


def grid_rows_by_ids(library: Library, photo_ids: Sequence[int] | np.ndarray) -> list[GridRow]:
    """Fresh grid rows of some photos (in the order given; unknown ids are left out)."""
    if not len(photo_ids):
        return []
    by_id = {r.id: r for r in _rows(library, f"p.id {IN_IDS}", [id_list(photo_ids)])}
    return [row for i in photo_ids if (row := by_id.get(int(i))) is not None]


def _rows(library: Library, where: str, params: Sequence[object]) -> list[GridRow]:
    sql = (
        f"SELECT p.id, p.path, p.size, p.mtime_ns, p.status, p.error, "
        f"p.status = 'ok' AND {_NEEDS_REVIEW}, COALESCE(p.rating, 0), "
        f"COALESCE(p.flag, 0) FROM photos p WHERE {where}"
    )
    rows = list(map(GridRow._make, library.store.db.query(sql, params)))
    return [r if r.path.__class__ is str else r._replace(path=from_db(r.path)) for r in rows]


def scope_counts(library: Library) -> ScopeCounts:
    """How many photos each scope of the sidebar holds."""
    by_status = library.store.count_photos()
    one = library.store.db.query
    review = one(f"SELECT COUNT(*) FROM photos p WHERE p.status = 'ok' AND {_NEEDS_REVIEW}")
    untagged = one(f"SELECT COUNT(*) FROM photos p WHERE p.status = 'ok' AND {_UNTAGGED}")
    visible = sum(n for status, n in by_status.items() if status != "missing")
    return ScopeCounts(
        visible,
        review[0][0],
        untagged[0][0],
        by_status.get("error", 0),
        by_status.get("pending", 0),
    )


def tag_summary(library: Library, photo_ids: Sequence[int]) -> list[TagSummary]:
    """Every label any of the photos carries, has a score above the floor or a verdict for.

    Sorted as an inspector lists them: carried tags first, then by score.
    """
    evidence: dict[int, list[float]] = {}  # label → [n scored, score sum, conf, rej, user]
    tags: dict[int, list[int]] = {}  # label → [has, direct, verified]
    query = library.store.db.query
    ids = id_list(photo_ids)
    for lid, scored, total, conf, rej, user in query(
        "SELECT label_id, COUNT(score), TOTAL(score), SUM(verdict = ?), "
        "SUM(verdict = ?), SUM(source = 'user' AND score IS NULL) FROM photo_labels "
        f"WHERE photo_id {IN_IDS} GROUP BY label_id",
        (CONFIRMED, REJECTED, ids),
    ):
        evidence[lid] = [scored, total, conf, rej, user]
    for lid, has, direct, verified in query(
        "SELECT label_id, COUNT(*), SUM(direct), SUM(verified) FROM photo_tags "
        f"WHERE photo_id {IN_IDS} GROUP BY label_id",
        (ids,),
    ):
        tags[lid] = [has, direct, verified]
    labels = {r.id: r for r in library.store.labels()}
    policy = library.store.policy()
    out = []
    for lid in set(evidence) | set(tags):
        scored, total, conf, rej, user = evidence.get(lid, (0, 0.0, 0, 0, 0))
        has, direct, verified = tags.get(lid, (0, 0, 0))
        out.append(
            TagSummary(
                lid,
                labels[lid].name,
                _path(labels, lid),
                policy.threshold(lid),
                len(photo_ids),
                has,
                direct,
                verified,
                int(conf),
                int(rej),
                int(user),
                total / scored if scored else None,
                library.learns_from_examples(labels[lid].name),
            )
        )
    out.sort(
        key=lambda t: (
            not t.has,
            not (t.direct or t.confirmed),
            -(t.score if t.score is not None else 1.01 * bool(t.confirmed)),
            t.label,
        )
    )
    return out


def _path(labels: dict[int, LabelRow], lid: int) -> tuple[str, ...]:
    out: list[str] = []
    node: int | None = lid
    while node is not None and len(out) < 64:
        out.append(labels[node].name)
        node = labels[node].parent_id
    return tuple(reversed(out))


def suggestions(library: Library, photo_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(photo id, label id) of every tag the model put on these photos that nobody confirmed."""
    out = library.store.db.query(
        "SELECT photo_id, label_id FROM photo_tags WHERE direct = 1 AND verified = 0 "
        f"AND photo_id {IN_IDS} ORDER BY photo_id, label_id",
        (id_list(photo_ids),),
    )
    return [(int(p), int(lab)) for p, lab in out]


def label_words(library: Library) -> list[str]:
    """Every label name and alias, for completion (names first, each once)."""
    names = [r.name for r in library.store.labels()]
    seen = {n.lower() for n in names}
    aliases = []
    for row in library.store.labels():
        for alias in row.aliases:
            if alias.lower() not in seen:
                seen.add(alias.lower())
                aliases.append(alias)
    return sorted(names, key=str.lower) + sorted(aliases, key=str.lower)


__all__ = [
    "GridRow",
    "Order",
    "Scope",
    "ScopeCounts",
    "TagSummary",
    "grid_ids",
    "grid_rows",
    "grid_rows_by_ids",
    "label_words",
    "scope_counts",
    "suggestions",
    "tag_summary",
]
