"""Photo paths as the album stores and shows them.

A photo's path is kept relative to the album root, with POSIX separators, as Python's ``str`` of
the file system's bytes: a name that is not valid UTF-8 (Linux allows ``caf\\xe9.png``) holds
lone surrogates there (``os.fsdecode``'s ``surrogateescape``), which open the right file but
cannot be encoded as SQLite text. The store keeps such a path as the file name's bytes (a BLOB
in the same column; SQLite columns are typed by value), so every name round-trips exactly and
ordinary names are stored as the plain text they always were. :func:`readable` is how a person
sees a path: the undecodable bytes written as ``\\xe9``.
"""

from __future__ import annotations

import os


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
