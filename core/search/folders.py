"""The album's folders with their photo counts, read from the path index, and the search term
that shows one of them.

A photo's folder is its stored path up to the last ``/`` (``""``: the album folder itself).
Counting photos per folder with a grouped query costs a string function per photo
(``rtrim``: 2.7 s at a million photos), and it cannot even return a folder whose name is not
valid UTF-8; instead :func:`folder_tree` walks the ``photos.path`` index (the UNIQUE
constraint's). A folder's photos lie in its key range, ``a/b/`` up to ``a/b0``, in runs between
its subfolders' ranges: one ordered lookup finds the next entry in a subfolder, one ``COUNT``
counts the run before it, and the subfolder's range is skipped and walked on its own. SQLite
steps over each index entry twice and Python sees a few rows per folder, never one per photo.
Paths that are not valid UTF-8 are stored as BLOBs (:mod:`core.paths`), which sort after all
text: they are few, and read one by one. Photos the album does not show (missing, unreadable)
are counted out through the status index. The result is cached until the database changes
(SQLite's ``data_version``).

The search term (:func:`folder_term`, evaluated by :func:`folder_leaf`): ``folder:2019/rome`` is
that folder's own photos, ``folder:2019/rome/**`` the folder with every subfolder, ``folder:/``
the photos directly in the album folder; a name with spaces, parentheses or quotes is quoted
(``folder:"my trip"/**``, a quote inside doubled).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from core.db.store import Database
from core.paths import from_db, readable, to_bytes, to_db

#: Written after a folder in a search: its subfolders too.
SUBFOLDERS = "/**"
_HIDDEN = "('error', 'missing')"  # statuses the album does not show (core.db.store.VISIBLE)
_BLOBS = b""  # an empty BLOB: every text value sorts below it, every BLOB at or above it
_PLAIN = re.compile(r'[^\s()"]+')
_SHOWN_BYTE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


@dataclass(frozen=True, eq=False)  # compared by identity: a tree's equality would walk it
class Folder:
    """One folder of the album and how many photos it holds."""

    path: str  # relative to the album, POSIX separators, "" for the album folder itself
    own: int  # photos directly in it
    total: int  # photos in it and in every folder below it
    children: tuple[Folder, ...] = ()

    @property
    def name(self) -> str:
        """The folder's own name as a person reads it (undecodable bytes as ``\\xNN``)."""
        return readable(self.path.rsplit("/", 1)[-1])

    @property
    def shown_path(self) -> str:
        return readable(self.path)

    def count(self, subfolders: bool) -> int:
        """The photos a search for this folder finds (with or without its subfolders)."""
        return self.total if subfolders else self.own

    def walk(self) -> Iterable[Folder]:
        """This folder and every folder below it, parents first."""
        stack = [self]
        while stack:
            folder = stack.pop()
            yield folder
            stack.extend(reversed(folder.children))

    def find(self, path: str) -> Folder | None:
        return next((f for f in self.walk() if f.path == path), None)


def folder_of(rel_path: str) -> str:
    """The folder a stored photo path lies in (``""``: the album folder)."""
    return rel_path.rpartition("/")[0]


# -- counting -------------------------------------------------------------------------------
_cache: weakref.WeakKeyDictionary[Database, tuple[object, Folder]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def folder_tree(db: Database) -> Folder:
    """The album folder with every folder that holds a photo the album shows, and counts.

    Folders without such a photo anywhere below them are left out (a folder whose photos all
    went missing disappears). Children are sorted by name, case-insensitively.
    """
    conn = db.read()
    inside_write = conn.in_transaction
    version = (
        None if inside_write else (id(conn), conn.execute("PRAGMA data_version").fetchone()[0])
    )
    if version is not None:
        with _cache_lock:
            cached = _cache.get(db)
        if cached is not None and cached[0] == version:
            return cached[1]
    if not inside_write:
        conn.execute("BEGIN")  # one snapshot for all the lookups below
    try:
        own = folder_counts(conn)
    finally:
        if not inside_write:
            conn.execute("COMMIT")
    tree = build_tree(own)
    if version is not None:
        with _cache_lock:
            _cache[db] = (version, tree)
    return tree


def folder_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Photos the album shows directly in each folder (folders with none are left out)."""
    own = _text_counts(conn)
    for (path,) in conn.execute(
        f"SELECT path FROM photos WHERE path < ? AND status IN {_HIDDEN}", (_BLOBS,)
    ):
        folder = folder_of(path)
        own[folder] = own.get(folder, 0) - 1
    for path, status in conn.execute("SELECT path, status FROM photos WHERE path >= ?", (_BLOBS,)):
        if status not in ("error", "missing"):
            folder = folder_of(from_db(path))
            own[folder] = own.get(folder, 0) + 1
    return {folder: n for folder, n in own.items() if n > 0}


_IN_RANGE = "SELECT count(*) FROM photos WHERE path >= ? AND path < ?"
_NEXT_IN_SUBFOLDER = (
    "SELECT path FROM photos WHERE path >= ? AND path < ? "
    "AND instr(substr(path, ?), '/') > 0 ORDER BY path LIMIT 1"
)


def _text_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Photos (any status) directly in each folder, for the paths stored as text.

    A folder's key range holds its own photos in runs between its subfolders' ranges: each
    run is counted up to the next subfolder, which is then skipped and walked on its own, so
    every index entry is stepped over twice in all (once looking for a subfolder, once
    counted), however deep it lies.
    """
    own: dict[str, int] = {}
    stack = [""]
    while stack:
        folder = stack.pop()
        low, high = (folder + "/", folder + "0") if folder else ("", _BLOBS)
        seek, mine = low, 0
        while row := conn.execute(_NEXT_IN_SUBFOLDER, (seek, high, len(low) + 1)).fetchone():
            child = low + row[0][len(low) :].partition("/")[0]
            mine += conn.execute(_IN_RANGE, (seek, child + "/")).fetchone()[0]
            stack.append(child)
            seek = child + "0"  # past everything under child/ ("/" + 1 is "0")
        own[folder] = mine + conn.execute(_IN_RANGE, (seek, high)).fetchone()[0]
    return own


def build_tree(own: dict[str, int]) -> Folder:
    """Folders (with their ancestors) from the photos directly in each."""
    children: dict[str, set[str]] = {"": set()}
    for folder in own:
        while folder:
            parent = folder_of(folder)
            children.setdefault(folder, set())
            kids = children.setdefault(parent, set())
            if folder in kids:
                break
            kids.add(folder)
            folder = parent

    return _build(children, own)


def _build(children: dict[str, set[str]], own: dict[str, int]) -> Folder:
    """Children before parents, without recursion (a tree may be deeper than Python's limit)."""
    done: dict[str, Folder] = {}
    stack: list[tuple[str, bool]] = [("", False)]
    while stack:
        path, expanded = stack.pop()
        kids = sorted(children.get(path, ()), key=lambda c: (readable(c).lower(), c))
        if not expanded:
            stack.append((path, True))
            stack.extend((c, False) for c in kids)
            continue
        built = tuple(done.pop(c) for c in kids)
        mine = own.get(path, 0)
        done[path] = Folder(path, mine, mine + sum(k.total for k in built), built)
    return done[""]


# -- the search term ------------------------------------------------------------------------
def folder_term(path: str, subfolders: bool) -> str:
    """The search that shows a folder's photos (its subfolders' too when asked)."""
    tail = SUBFOLDERS if subfolders else ""
    if not path:
        return f"folder:/{tail}"
    if _PLAIN.fullmatch(path) and not path.endswith(SUBFOLDERS) and path[0] != "=":
        return f"folder:{path}{tail}"
    return 'folder:"' + path.replace('"', '""') + '"' + tail


def parse_folder(text: str) -> tuple[str, bool]:
    """A ``folder:`` value → (the folder as stored, whether subfolders count).

    Slashes at either end are dropped (``/`` alone is the album folder); ``/**`` at the end
    means with subfolders. Raises ValueError with the reason for a value that names no folder.
    """
    subfolders = text.endswith(SUBFOLDERS) or text == "**"
    if subfolders:
        text = text[: -len(SUBFOLDERS)] if text != "**" else ""
    if not text and not subfolders:
        raise ValueError(
            "folder: needs a folder, e.g. folder:2019/rome (that folder), "
            "folder:2019/rome/** (with its subfolders) or folder:/ (the album "
            "folder)"
        )
    if "\0" in text:
        raise ValueError("folder: cannot contain a NUL character")
    path = text.strip("/")
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    if path == ".":
        path = ""
    if any(part in (".", "..") for part in path.split("/")) or "//" in path:
        raise ValueError(
            f"folder: {text!r} is not a folder inside the album (no '.', '..' or empty parts)"
        )
    return path, subfolders


def spellings(path: str) -> list[str]:
    """The stored paths a typed folder may mean: itself, and with ``\\xNN`` as it is shown
    for a name that is not valid UTF-8 (:func:`core.paths.readable`) read back as that byte."""
    out = [path]
    if _SHOWN_BYTE.search(path):
        decoded = _SHOWN_BYTE.sub(lambda m: chr(0xDC00 + int(m[1], 16)), path)
        if decoded != path:
            out.append(decoded)
    return out


def folder_sql(path: str, subfolders: bool) -> tuple[list[str], list[object]]:
    """WHERE conditions over ``photos p`` (any one matches) and their parameters: the path
    ranges of one folder in the path index, text and BLOB, own photos only unless
    ``subfolders``."""
    conditions: list[str] = []
    params: list[object] = []
    if not path:
        if subfolders:
            return ["1"], []
        return ["instr(p.path, '/') = 0"], []
    if isinstance(to_db(path), str):  # a name that is valid UTF-8 is stored as text
        low = path + "/"
        own = "" if subfolders else " AND instr(substr(p.path, ?), '/') = 0"
        conditions.append(f"p.path >= ? AND p.path < ?{own}")
        params += [low, path + "0"] + ([] if subfolders else [len(low) + 1])
    raw = to_bytes(path)
    own = "" if subfolders else " AND instr(substr(p.path, ?), X'2F') = 0"
    conditions.append(f"p.path >= ? AND p.path < ?{own}")
    params += [raw + b"/", raw + b"0"] + ([] if subfolders else [len(raw) + 2])
    return conditions, params
