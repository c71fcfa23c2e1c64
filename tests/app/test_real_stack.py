"""End to end with the real model (tf_efficientnet_lite0 on CPU) on the real album.

The window opens with thumbnails before any model has run, torch loads in the indexing worker
only, tags arrive, and the screenshot of the finished window is saved for a person to look at.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import core.library
from app.gui.session import _default_indexer
from core.library import Library
from tests.app.conftest import ARTIFACTS, photo_files, wait_idle
from tests.app.ticks import TickCounter

pytestmark = pytest.mark.slow


def test_real_model_end_to_end_with_screenshot(
    make_window,
    real_album: Path,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (real_album / "home" / "scan-0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    loaded_on: list[threading.Thread] = []  # where the model (and so torch) was loaded
    real_load = core.library.load_active_model

    def recording_load(*args, **kwargs):
        loaded_on.append(threading.current_thread())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(core.library, "load_active_model", recording_load)
    window = make_window(indexer_factory=_default_indexer, size=(1480, 920))
    with TickCounter() as ticks:
        window.open_album(real_album)
        # thumbnails show before the model has tagged anything
        qtbot.waitUntil(
            lambda: window.grid.photo_model().rowCount() == len(photo_files(real_album)),
            timeout=20_000,
        )
        wait_idle(qtbot, window, timeout=180_000)
    # the real model was loaded, and never on the GUI thread (torch stays off it)
    assert loaded_on, "the model was never loaded"
    assert threading.main_thread() not in loaded_on, loaded_on
    with Library(real_album) as library:
        cats = {p.path for p in library.search("cat")}
        assert "home/chelsea.png" in cats  # the real model knows a cat
    # show the cat, selected, with its tags, in the "All photos" grid
    model = window.grid.photo_model()
    chelsea = next(r for r in model.rows if r.path == "home/chelsea.png")
    for row in range(model.rowCount()):
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: window.loader.cached_count() >= model.rowCount() - 1, timeout=20_000)
    window.grid.setFocus()
    window.grid.select_photo(chelsea.id)
    qtbot.waitUntil(
        lambda: any(t.label == "cat" for t in window.inspector.tag_list.tag_model.rows),
        timeout=5_000,
    )
    index = window.tree.tree_model.find_label("animal")
    window.tree.expand(index)
    window.grid.scrollTo(window.grid.currentIndex())
    qtbot.waitUntil(lambda: window.inspector._card_token[1] == 0, timeout=5_000)
    qtbot.wait(300)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "main_window.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 50_000
    print(
        f"\nlongest GUI stall while the real model indexed: {ticks.longest_gap * 1000:.0f} ms"
        f" over {ticks.ticks} ticks; screenshot {path}"
    )

    # the preview in the window's centre, the inspector beside it, four stars and a pick
    page = window.previewer.page
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: page.view.pixmap is not None and page.view.pixmap.width() == 451, timeout=20_000
    )  # chelsea.png decoded whole
    qtbot.keyClick(page, Qt.Key.Key_4)
    qtbot.keyClick(page, Qt.Key.Key_P)
    qtbot.waitUntil(
        lambda: "★★★★" in page.caption.text() and "cat" in page.caption.text(), timeout=10_000
    )
    qtbot.wait(300)
    assert window.grab().save(str(ARTIFACTS / "preview.png"))
