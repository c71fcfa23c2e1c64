"""Folder counts from the path index, and the ``folder:`` search term, against brute force.

Real SQLite files; the paths are chosen to trip a range scan of the path index: names that sort
between ``a/`` and ``a0`` (``a b``, ``a-b``, ``a.jpg``), spaces, quotes, a folder and a file name
that are not valid UTF-8 (stored as BLOBs), a folder 120 levels deep, and photos the album does
not show (missing, unreadable).
"""

from __future__ import annotations

import os
import random
import shutil

import pytest

from core.db.store import Store
from core.errors import QueryError
from core.library import Library
from core.pipeline.scanner import reconcile
from core.search.engine import SearchEngine
from core.search.folders import (
    Folder,
    build_tree,
    folder_term,
    folder_tree,
    parse_folder,
)
from core.search.query import LabelResolver, compile_query, parse_query, tokenize

NO_LABELS = LabelResolver(lambda word: None)
LATIN1 = os.fsdecode(b"caf\xe9")  # a folder name that is not valid UTF-8
NOE = os.fsdecode(b"n\xf6.jpg")  # a file name that is not valid UTF-8
DEEP = "/".join(f"d{i}" for i in range(120))
PATHS = [
    "top.jpg",
    "a.jpg",
    "a/1.jpg",
    "a/2.jpg",
    "a/b/3.jpg",
    "a/b/c/4.jpg",
    "a/b/c/5.jpg",
    "a b/6.jpg",
    "a-b/7.jpg",
    "a0/8.jpg",
    "a/b c/9.jpg",
    "a/z.jpg",
    'quo"te/10.jpg',
    "(x)/11.jpg",
    f"{LATIN1}/12.jpg",
    f"{LATIN1}/sub/13.jpg",
    f"a/{NOE}",
    f"{DEEP}/deep.jpg",
    "=eq/14.jpg",
    "gone/15.jpg",
    "a/gone.jpg",
    "broken/16.jpg",
    "2019/rome/17.jpg",
    "2019/rome/day 2/18.jpg",
    "2019/rome2/19.jpg",
]
HIDDEN = {"gone/15.jpg": "missing", "a/gone.jpg": "missing", "broken/16.jpg": "error"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    s = Store(tmp_path_factory.mktemp("folders") / "album.db")
    shuffled = PATHS[:]
    random.Random(5).shuffle(shuffled)
    ids = {}
    for path in shuffled:
        status = "error" if HIDDEN.get(path) == "error" else "pending"
        ids[path] = s.add_photo(
            path, 1, 1, status=status, error="bad" if status == "error" else None
        )
    s.mark_missing([ids[p] for p, why in HIDDEN.items() if why == "missing"])
    yield s
    s.close()


def shown() -> list[str]:
    return [p for p in PATHS if p not in HIDDEN]


def expected_own() -> dict[str, int]:
    own: dict[str, int] = {}
    for path in shown():
        folder = path.rpartition("/")[0]
        own[folder] = own.get(folder, 0) + 1
    return own


def test_counts_per_folder_equal_brute_force(store):
    tree = folder_tree(store.db)
    own = expected_own()
    got = {f.path: f.own for f in tree.walk() if f.own}
    assert got == own
    for folder in tree.walk():  # a total is the folder's photos and every folder's below
        below = [p for p in shown() if p.startswith(folder.path + "/") or not folder.path]
        assert folder.total == len(below), folder.path
    assert tree.total == len(shown())
    assert tree.find("gone") is None  # every photo missing: the folder is gone
    assert tree.find("broken") is None  # unreadable photos are not counted either
    assert tree.find("a").own == 4  # a/1, a/2, a/z and a/nö (a/gone.jpg is missing)


def test_tree_structure_names_and_order(store):
    tree = folder_tree(store.db)
    top = [c.name for c in tree.children]  # by name as shown, case-insensitively
    assert top == ["(x)", "2019", "=eq", "a", "a b", "a-b", "a0", "caf\\xe9", "d0", 'quo"te']
    assert tree.find(LATIN1).name == "caf\\xe9"  # readable: the odd byte as \xe9
    assert tree.find(f"{LATIN1}/sub").total == 1
    deepest = tree.find(DEEP)
    assert deepest is not None and deepest.own == 1 and deepest.name == "d119"
    chain = tree.find("d0")
    assert chain.own == 0 and chain.total == 1 and len(chain.children) == 1


def test_the_tree_is_cached_until_the_album_changes(store):
    first = folder_tree(store.db)
    assert folder_tree(store.db) is first
    pid = store.add_photo("new folder/n.jpg", 1, 1)
    try:
        second = folder_tree(store.db)
        assert second is not first and second.find("new folder").own == 1
    finally:
        store.mark_missing([pid])
    assert folder_tree(store.db).find("new folder") is None


@pytest.mark.parametrize("subfolders", [False, True])
def test_the_folder_term_finds_exactly_that_folders_photos(store, subfolders):
    engine = SearchEngine(store.db)
    tree = folder_tree(store.db)
    by_path = {p.path: p.id for p in store.photos()}
    for folder in tree.walk():
        term = folder_term(folder.path, subfolders)
        if subfolders:
            want = {p for p in shown() if not folder.path or p.startswith(folder.path + "/")}
        else:
            want = {p for p in shown() if p.rpartition("/")[0] == folder.path}
        got = set(engine.search(term, NO_LABELS).tolist())
        assert got == {by_path[p] for p in want}, term
        assert len(want) == folder.count(subfolders), term
        where = compile_query(term, NO_LABELS)  # the SQL form agrees
        rows = store.db.query(
            f"SELECT p.id FROM photos p WHERE p.status IN ('ok', 'pending') AND ({where.sql})",
            where.params,
        )
        assert {r[0] for r in rows} == got, term


def test_the_shown_form_of_an_odd_name_finds_it_too(store):
    engine = SearchEngine(store.db)
    by_path = {p.path: p.id for p in store.photos()}
    got = engine.search("folder:caf\\xe9", NO_LABELS).tolist()
    assert got == [by_path[f"{LATIN1}/12.jpg"]]
    assert len(engine.search("folder:caf\\xe9/**", NO_LABELS)) == 2


def test_search_syntax_quotes_slashes_and_combinations(store):
    engine = SearchEngine(store.db)
    by_path = {p.path: p.id for p in store.photos()}

    def find(text: str) -> set[str]:
        ids = set(engine.search(text, NO_LABELS).tolist())
        return {p for p, i in by_path.items() if i in ids}

    assert find('folder:"2019/rome"/**') == {"2019/rome/17.jpg", "2019/rome/day 2/18.jpg"}
    assert find('folder:"2019/rome/**"') == find("folder:2019/rome/**")
    assert find("folder:/2019/rome/") == {"2019/rome/17.jpg"}
    assert find('folder:"2019/rome/day 2"') == {"2019/rome/day 2/18.jpg"}
    assert find('folder:"quo""te"') == {'quo"te/10.jpg'}
    assert find("folder:/") == {"top.jpg", "a.jpg"}
    assert find("FOLDER:a/b/** -folder:a/b/c") == {"a/b/3.jpg"}
    assert find("folder:2019/rome OR folder:2019/rome2") == {
        "2019/rome/17.jpg",
        "2019/rome2/19.jpg",
    }
    assert find("folder:nowhere") == set()


@pytest.mark.parametrize(
    "text, message",
    [
        ("folder:", "folder: needs a folder, e.g. folder:2019/rome"),
        ('folder:""', "folder: needs a folder"),
        ("folder:a/../b", "not a folder inside the album"),
        ("folder:a//b", "not a folder inside the album"),
        ("folders:a", "known: label:=, unverified:, path:, folder:"),
    ],
)
def test_bad_folder_terms_say_what_is_wrong(text, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(")):
        parse_query(text, NO_LABELS)


@pytest.mark.parametrize(
    "path", ["2019/rome", "my trip", 'a "b"', "(x)", "=eq", "", LATIN1, "x/**", "tab\there"]
)
@pytest.mark.parametrize("subfolders", [False, True])
def test_the_term_for_any_folder_parses_back_to_it(path, subfolders):
    term = folder_term(path, subfolders)
    tokens = tokenize(term)
    assert len(tokens) == 1 and tokens[0].field == "folder:"
    if path != "x/**":  # a folder named ** is read as "x with subfolders" (documented)
        assert parse_folder(tokens[0].text) == (path, subfolders)


def test_a_sidebar_term_is_anded_and_keeps_the_search_positions():
    labels = LabelResolver(lambda word: 1 if word == "dog" else None)
    node = parse_query("dog", labels, "folder:a")
    assert "path" in str(node) and "label_id" in str(node)
    with pytest.raises(QueryError) as caught:
        parse_query("dog )", labels, "folder:a")
    assert caught.value.position == 4  # the search's own character, not shifted by the folder


def test_build_tree_handles_a_very_deep_tree_without_recursion():
    deep = "/".join(f"n{i}" for i in range(5000))
    tree = build_tree({deep: 2, "": 1})
    assert tree.total == 3 and tree.find(deep).own == 2
    assert isinstance(tree, Folder)


def test_real_album_on_disk_rescanned_after_folders_move_and_vanish(tmp_path, real_photo_paths):
    album = tmp_path / "album"
    (album / "trips" / "rome 2019").mkdir(parents=True)
    (album / "home").mkdir()
    shutil.copy2(real_photo_paths["chelsea"], album / "home" / "cat.png")
    shutil.copy2(real_photo_paths["coffee"], album / "trips" / "rome 2019" / "coffee.png")
    shutil.copy2(real_photo_paths["rocket"], album / "trips" / "rocket.jpg")
    with Library(album) as library:
        reconcile(album, library.store)
        tree = folder_tree(library.store.db)
        assert {f.path: (f.own, f.total) for f in tree.walk()} == {
            "": (0, 3),
            "home": (1, 1),
            "trips": (1, 2),
            "trips/rome 2019": (1, 1),
        }
        (album / "trips" / "rome 2019").rename(album / "home" / "rome")  # a folder moved
        shutil.rmtree(album / "trips")  # and one removed
        reconcile(album, library.store)
        tree = folder_tree(library.store.db)
        assert {f.path: (f.own, f.total) for f in tree.walk()} == {
            "": (0, 2),
            "home": (1, 2),
            "home/rome": (1, 1),
        }
        assert [r.path for r in library.search('folder:"home/rome"')] == ["home/rome/coffee.png"]
