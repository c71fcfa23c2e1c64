"""Needs review in the window (issue 14.2): ordered by what an answer would teach, with the
date order still one menu choice away; the window only shows core.search.review's ranking."""

from __future__ import annotations

from pathlib import Path

from app.gui.sidebar import Filter
from core import browse
from core.browse import Order, Scope
from core.library import Library
from core.search import review
from tests.app.conftest import wait_idle


def _checked(window) -> str:
    return next(a.data() for a in window.order_group.actions() if a.isChecked())


def _shown(window) -> list[int]:
    return [r.id for r in window.grid.photo_model().rows]


def test_needs_review_is_ranked_and_date_order_stays_available(
    make_window, real_album: Path, qtbot
) -> None:
    window = make_window(watch=False)
    window.open_album(real_album)
    wait_idle(qtbot, window)
    window.set_order(Order.TAKEN)
    window.browser.set_filter(Filter(Scope.REVIEW))
    with Library(real_album) as library:
        ranked = [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TEACHES)]
        by_date = [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TAKEN)]
        best = {pid: q.label_id for pid, q in review.questions(library.store).items()}
    assert len(ranked) >= 4 and ranked != by_date
    qtbot.waitUntil(lambda: _shown(window) == ranked, timeout=10_000)
    assert _checked(window) == Order.TEACHES.value
    # variety: the first labels are all different before any label comes back
    labels = [best[pid] for pid in ranked]
    distinct = len(set(labels))
    assert len(set(labels[:distinct])) == distinct

    window.set_order(Order.TAKEN)  # the date order, chosen in the menu
    qtbot.waitUntil(lambda: _shown(window) == by_date, timeout=10_000)
    window.browser.set_filter(Filter(Scope.ALL))
    assert _checked(window) == Order.TAKEN.value
    window.set_order(Order.NAME)
    window.browser.set_filter(Filter(Scope.REVIEW))  # review keeps the order chosen there
    assert _checked(window) == Order.TAKEN.value
    qtbot.waitUntil(lambda: _shown(window) == by_date, timeout=10_000)
    assert window.settings.order == Order.NAME.value  # review's own order is not saved
