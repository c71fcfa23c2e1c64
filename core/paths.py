"""Photo paths as the album stores and shows them, and the album's boundary.

A photo's path is kept relative to the album root, with POSIX separators, as Python's ``str`` of
the file system's bytes: a name that is not valid UTF-8 (Linux allows ``caf\\xe9.png``) holds
lone surrogates there (``os.fsdecode``'s ``surrogateescape``), which open the right file but
cannot be encoded as SQLite text. The store keeps such a path as the file name's bytes (a BLOB
in the same column; SQLite columns are typed by value), so every name round-trips exactly and
ordinary names are stored as the plain text they always were. :func:`readable` is how a person
sees a path: the undecodable bytes written as ``\\xe9``.

The boundary (the policy README states): albumtag follows a symbolic link only while it stays
inside the album folder, reads nothing outside the album, and writes nothing outside it nor
through any link (:func:`leaves_album`, :func:`write_refusal`).
"""

from __future__ import annotations

import os
from pathlib import Path


def to_db(rel_path: str) -> str | bytes:
    """The value the photos table holds for a path: text, or bytes if not valid UTF-8."""
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel_path)
    return rel_path


def from_db(value: str | bytes) -> str:
    """A path read from the photos table (inverse of :func:`to_db`)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def to_bytes(text: str) -> bytes:
    """A path or part of one as the file system's bytes (any ``str`` converts)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name produces
        return text.encode("utf-8", "surrogatepass")


def readable(rel_path: str) -> str:
    """A path as text anyone can print: undecodable bytes shown as ``\\xNN``."""
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel_path).decode("utf-8", "backslashreplace")
    return rel_path


def leaves_album(real_root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with every link in it followed, ends outside the album.

    ``real_root`` is the album folder with its own links resolved (``os.path.realpath``).
    """
    real = os.path.realpath(path)
    root = os.fspath(real_root)
    return not (real == root or real.startswith(root.rstrip(os.sep) + os.sep))


def write_refusal(root: Path, rel_path: str) -> str | None:
    """Why albumtag must not write at ``rel_path`` (a file or folder of the album, ``""``
    for the album folder itself), or None if it may.

    Refused: a path that leaves the album, and a path with a symbolic link anywhere from the
    album folder down to the file itself (writing there would change what the link points at,
    or replace the link with a file).
    """
    parts = Path(rel_path).parts
    if Path(rel_path).is_absolute() or ".." in parts:
        return "outside the album"
    here = Path(root)
    for part in parts:
        here = here / part
        shown = readable(here.relative_to(root).as_posix())
        try:
            if here.is_symlink():
                return f"{shown} is a symbolic link; albumtag does not write through links"
        except OSError as exc:
            return f"cannot check {shown}: {exc.strerror or exc}"
    if leaves_album(os.path.realpath(root), here):
        return "outside the album"
    return None
