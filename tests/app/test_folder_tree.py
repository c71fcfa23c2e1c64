"""The sidebar's folder tree (issue 15.4): counts, choosing a folder, the subfolder option,
and the watcher adding, moving and removing folders — a real album on disk, real SQLite, the
real window offscreen with the fake model, the real folder watcher.

With ALBUMTAG_SCREENSHOTS=1 the sidebar is saved to tests/app/artifacts/folder_tree.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication

from app.cli import main as cli_main
from app.gui.folders import FOLDER_ROLE, TOGGLE_ROLE, folder_menu
from app.gui.main_window import MainWindow
from app.gui.search import SearchBar
from app.gui.settings import AppSettings
from app.gui.sidebar import COUNT_ROLE, Filter, TagTree
from core.browse import ScopeCounts
from core.library import Library
from core.pipeline.scanner import reconcile
from core.search.folders import Folder
from tests.app.conftest import ARTIFACTS, wait_idle

LATIN1 = os.fsdecode(b"caf\xe9")
DEEP = [f"level {i}" for i in range(30)]


@pytest.fixture
def album(tmp_path: Path, real_photo_paths: dict[str, Path]) -> Path:
    """home/ (2), trips/ (1) with trips/rome 2019/ (2), caf\\xe9/ (1), a 30-deep chain (1)."""
    root = tmp_path / "album"
    layout = {
        "home": ["chelsea", "coffee"],
        "trips": ["imagenet_00_243"],
        "trips/rome 2019": ["rocket", "astronaut"],
        LATIN1: ["imagenet_01_559"],
        "/".join(DEEP): ["imagenet_02_438"],
    }
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            src = real_photo_paths[name]
            shutil.copy2(src, root / folder / f"{name}{src.suffix}")
    return root


def folder_items_of(model) -> dict[str, tuple[str, int]]:  # a TagTreeModel
    out: dict[str, tuple[str, int]] = {}
    stack = [model.index(r, 0) for r in range(model.rowCount())]
    while stack:
        index = stack.pop()
        folder = index.data(FOLDER_ROLE)
        if folder is not None:
            out[folder.path] = (index.data(), index.data(COUNT_ROLE))
        stack += [model.index(r, 0, index) for r in range(model.rowCount(index))]
    return out


def folder_items(window: MainWindow) -> dict[str, tuple[str, int]]:
    """Every folder entry: stored path → (text shown, count shown)."""
    return folder_items_of(window.tree.tree_model)


def folder_index(window: MainWindow, path: str) -> QModelIndex:
    model = window.tree.tree_model
    stack = [model.index(r, 0) for r in range(model.rowCount())]
    while stack:
        index = stack.pop()
        if index.data(FOLDER_ROLE) is not None and index.data(FOLDER_ROLE).path == path:
            return index
        stack += [model.index(r, 0, index) for r in range(model.rowCount(index))]
    raise AssertionError(f"no folder entry {path!r}")


def toggle_item(window: MainWindow):
    model = window.tree.tree_model
    section = next(
        model.item(r) for r in range(model.rowCount()) if model.item(r).text() == "FOLDERS"
    )
    return next(
        section.child(r) for r in range(section.rowCount()) if section.child(r).data(TOGGLE_ROLE)
    )


def shown_paths(window: MainWindow, album: Path) -> set[str]:
    model = window.grid.photo_model()
    ids = [int(i) for i in model.ids] if hasattr(type(model), "ids") else [r.id for r in model.rows]
    with Library(album) as library:
        by_id = {p.id: p.path for p in library.store.photos()}
    return {by_id[i] for i in ids}


def choose(window: MainWindow, qtbot, path: str, album: Path, expected: set[str]) -> None:
    window.tree.setCurrentIndex(folder_index(window, path))
    qtbot.waitUntil(
        lambda: window.session.is_idle() and shown_paths(window, album) == expected, timeout=10_000
    )


def test_folder_counts_choosing_a_folder_and_the_subfolder_option(
    make_window, settings: AppSettings, album: Path, qtbot
) -> None:
    window = make_window(watch=False)
    window.open_album(album)
    wait_idle(qtbot, window, timeout=90_000)  # generous: the machine may be busy
    qtbot.waitUntil(lambda: "trips" in folder_items(window), timeout=10_000)
    items = folder_items(window)
    deep = "/".join(DEEP)
    assert items[""] == ("album", 7)  # the album folder, with everything below it
    assert items["home"] == ("home", 2)
    assert items["trips"] == ("trips", 3)  # its own photo and rome 2019's two
    assert items["trips/rome 2019"] == ("rome 2019", 2)
    assert items[LATIN1] == ("caf\\xe9", 1)  # the odd byte shown, the name stored exactly
    assert items[deep] == ("level 0/…/level 29", 1)  # a chain of empty folders: one entry
    assert folder_index(window, deep).data(Qt.ItemDataRole.ToolTipRole).startswith(deep + "\n")
    assert all(not p.startswith("level 0/") for p in items if p != deep)

    choose(
        window,
        qtbot,
        "trips",
        album,
        {
            "trips/imagenet_00_243.jpg",
            "trips/rome 2019/rocket.jpg",
            "trips/rome 2019/astronaut.png",
        },
    )
    assert window.browser.filter.query == "folder:trips/**"
    assert window.centre.title.text() == "trips"
    choose(window, qtbot, LATIN1, album, {f"{LATIN1}/imagenet_01_559.jpg"})

    # Without subfolders: the counts and the folder shown follow at once, and it is remembered
    choose(
        window,
        qtbot,
        "trips",
        album,
        {
            "trips/imagenet_00_243.jpg",
            "trips/rome 2019/rocket.jpg",
            "trips/rome 2019/astronaut.png",
        },
    )
    toggle_item(window).setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(
        lambda: shown_paths(window, album) == {"trips/imagenet_00_243.jpg"}, timeout=10_000
    )
    assert window.browser.filter.query == "folder:trips"
    items = folder_items(window)
    assert items["trips"][1] == 1 and items[""][1] == 0 and items["home"][1] == 2
    assert window.tree.currentIndex().data(FOLDER_ROLE).path == "trips"
    assert settings.qsettings.value("view/folder_subfolders") in (False, "false")

    # The folder's context menu: the same option, its path, the term it searches
    menu = folder_menu(
        window.tree.tree_model.folders, folder_index(window, "trips/rome 2019"), window.tree
    )
    entries = {a.text(): a for a in menu.actions()}
    assert not entries["Include subfolders"].isChecked()
    assert not entries['Searches folder:"trips/rome 2019"'].isEnabled()
    entries["Copy folder path"].trigger()
    assert QApplication.clipboard().text() == "trips/rome 2019"
    entries["Include subfolders"].trigger()
    assert toggle_item(window).checkState() == Qt.CheckState.Checked
    qtbot.waitUntil(lambda: len(shown_paths(window, album)) == 3, timeout=10_000)
    toggle_item(window).setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(
        lambda: shown_paths(window, album) == {"trips/imagenet_00_243.jpg"}, timeout=10_000
    )

    # A search narrows the folder (one search path: the folder is a term ANDed to it)
    window.search.submit("cat")
    qtbot.waitUntil(
        lambda: window.session.is_idle() and window.browser.shown_query == "cat", timeout=10_000
    )
    assert shown_paths(window, album) <= {"trips/imagenet_00_243.jpg"}
    window.search.submit("")
    if os.environ.get("ALBUMTAG_SCREENSHOTS"):
        toggle_item(window).setCheckState(Qt.CheckState.Checked)
        choose(
            window,
            qtbot,
            "trips/rome 2019",
            album,
            {"trips/rome 2019/rocket.jpg", "trips/rome 2019/astronaut.png"},
        )
        window.tree.scrollTo(folder_index(window, deep))
        ARTIFACTS.mkdir(exist_ok=True)
        QApplication.processEvents()
        assert window.sidebar.grab().save(str(ARTIFACTS / "folder_tree.png"))
    window.close()

    again = make_window(watch=False)  # the option and the folder come back with the album
    again.open_album(album)
    wait_idle(qtbot, again, timeout=90_000)
    qtbot.waitUntil(lambda: "trips" in folder_items(again), timeout=10_000)
    expected = (
        {"trips/imagenet_00_243.jpg"}
        if not os.environ.get("ALBUMTAG_SCREENSHOTS")
        else {"trips/rome 2019/rocket.jpg", "trips/rome 2019/astronaut.png"}
    )
    qtbot.waitUntil(lambda: shown_paths(again, album) == expected, timeout=10_000)
    on = toggle_item(again).checkState() == Qt.CheckState.Checked
    assert on == bool(os.environ.get("ALBUMTAG_SCREENSHOTS"))


def test_the_watcher_adds_moves_and_removes_folders(
    make_window, album: Path, qtbot, real_photo_paths
) -> None:
    window = make_window(watch=True)
    window.open_album(album)
    wait_idle(qtbot, window, timeout=90_000)  # generous: the machine may be busy
    qtbot.waitUntil(lambda: "home" in folder_items(window), timeout=10_000)
    choose(window, qtbot, "home", album, {"home/chelsea.png", "home/coffee.png"})

    party = album / "party night"
    party.mkdir()
    for name in ("chelsea", "coffee"):
        shutil.copy2(real_photo_paths[name], party / f"{name}-2.png")
    qtbot.waitUntil(
        lambda: folder_items(window).get("party night") == ("party night", 2), timeout=60_000
    )
    qtbot.waitUntil(lambda: folder_items(window)[""][1] == 9, timeout=60_000)

    (album / "trips" / "rome 2019").rename(album / "rome")  # moved up a level
    qtbot.waitUntil(
        lambda: "rome" in folder_items(window) and "trips/rome 2019" not in folder_items(window),
        timeout=60_000,
    )
    items = folder_items(window)
    assert items["rome"][1] == 2 and items["trips"][1] == 1 and items[""][1] == 9

    shutil.rmtree(album / "home")  # removed while shown: back to all photos
    qtbot.waitUntil(lambda: "home" not in folder_items(window), timeout=60_000)
    assert folder_items(window)[""][1] == 7
    qtbot.waitUntil(lambda: window.browser.filter == Filter(), timeout=10_000)
    assert window.tree.currentIndex().data() == "All photos"
    qtbot.waitUntil(lambda: len(shown_paths(window, album)) == 7, timeout=10_000)
    choose(
        window,
        qtbot,
        "party night",
        album,
        {"party night/chelsea-2.png", "party night/coffee-2.png"},
    )


def test_cli_search_takes_the_folder_term(album: Path, capsys) -> None:
    with Library(album) as library:  # the library's scan: photos known, no model needed
        reconcile(album, library.store)
    assert cli_main(["search", str(album), 'folder:"trips/rome 2019"']) == 0
    out = capsys.readouterr().out.split("\n")
    assert sorted(filter(None, out)) == [
        "trips/rome 2019/astronaut.png",
        "trips/rome 2019/rocket.jpg",
    ]
    assert cli_main(["search", str(album), "folder:trips/**", '-folder:"trips/rome 2019"']) == 0
    assert capsys.readouterr().out.split() == ["trips/imagenet_00_243.jpg"]
    assert cli_main(["search", str(album), "folder:caf\\xe9"]) == 0
    assert capsys.readouterr().out.split() == ["caf\\xe9/imagenet_01_559.jpg"]
    assert cli_main(["search", str(album), "folder:a/../b"]) == 2
    assert "not a folder inside the album" in capsys.readouterr().err


def test_the_search_bar_completes_and_explains_the_folder_field(qtbot) -> None:
    bar = SearchBar()
    qtbot.addWidget(bar)
    bar.set_label_words(["flower", "food"])
    bar.show()
    qtbot.keyClicks(bar, "fol")
    assert bar._completer.currentCompletion() == "folder:"
    assert "folder:trips/**" in bar.toolTip()


def test_a_flat_album_has_no_folder_section(qtbot) -> None:
    tree = TagTree()
    qtbot.addWidget(tree)
    model = tree.tree_model
    tree.set_content([], ScopeCounts(all=3), Folder("", 3, 3), "flat")
    assert not model.folders.has_entries
    assert [model.item(r).text() for r in range(model.rowCount())] == ["LIBRARY", "LABELS"]
    tree.set_content([], ScopeCounts(all=4), Folder("", 3, 4, (Folder("new", 1, 1),)), "flat")
    assert [model.item(r).text() for r in range(model.rowCount())][-1] == "FOLDERS"
    assert {p: c for p, (_, c) in folder_items_of(model).items()} == {"": 4, "new": 1}
