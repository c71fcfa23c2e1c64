"""Keywords in XMP sidecars and embedded XMP / IPTC: read them, merge ours in, write them back.

The fields, as digiKam, Lightroom and Immich use them:

- ``Xmp.dc.subject`` (bag): flat keywords; we write every component of every path, as Lightroom
  does, so a reader that only knows flat keywords still finds "dog" on a poodle photo.
- ``Xmp.lr.hierarchicalSubject`` (bag): paths joined with ``|`` ("animal|dog|poodle").
- ``Xmp.digiKam.TagsList`` (seq): paths joined with ``/``.
- ``Iptc.Application2.Keywords``: legacy flat keywords (read only).

Sidecars are named ``photo.jpg.xmp`` (digiKam, darktable; the default) or ``photo.xmp``
(Adobe); both are read. Writing merges: every other field of an existing sidecar is kept, and
the file is replaced atomically. Originals are only written when the caller asks for embedded
write-back.

The metadata library is ``pyexiv2`` (exiv2 inside its wheel): it reads XMP, IPTC and EXIF from
JPEG, TIFF, PNG, WebP, HEIC/AVIF and camera RAW files and writes XMP safely. It writes every
array as an ``rdf:Seq``, so the bags are corrected in the serialised packet afterwards.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from core.paths import readable

logger = logging.getLogger(__name__)

KeywordPath = tuple[str, ...]
Naming = Literal["ext", "base"]

SUBJECT: Final = "Xmp.dc.subject"
HIERARCHICAL: Final = "Xmp.lr.hierarchicalSubject"
TAGS_LIST: Final = "Xmp.digiKam.TagsList"
IPTC_KEYWORDS: Final = "Iptc.Application2.Keywords"
#: Star rating 0-5 (``xmp:Rating``; Lightroom and Bridge write -1 for a rejected photo).
RATING: Final = "Xmp.xmp.Rating"
#: Lightroom Classic's flag (since 13.2): 1 pick, 0 none, -1 reject.
PICK: Final = "Xmp.xmpDM.pick"
#: digiKam's flag: 0 none, 1 rejected, 2 pending, 3 accepted.
PICK_LABEL: Final = "Xmp.digiKam.PickLabel"
_FROM_PICK_LABEL: Final = {0: 0, 1: -1, 2: 0, 3: 1}
_TO_PICK_LABEL: Final = {0: "0", -1: "1", 1: "3"}
#: Separator of each hierarchical field.
SEPARATORS: Final = {HIERARCHICAL: "|", TAGS_LIST: "/"}

_EMPTY_PACKET: Final = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>\n'
)
_BAGS: Final = re.compile(
    r"(<(dc:subject|lr:hierarchicalSubject)>\s*<)rdf:Seq(>.*?</)rdf:Seq(>\s*</\2>)", re.S
)
_ONE_LEVEL: Final = str.maketrans({"|": "\u00a6", "/": "\u2215"})
#: Temporary files of XMP writes start with this (hidden: the scanner never sees them).
TEMP_PREFIX: Final = ".albumtag-"
_TEMP_NAME: Final = re.compile(
    r"\.albumtag-(?P<pid>\d+)-\d+\.tmp|\..+\.albumtag-(?P<oldpid>\d+)-\d+"
)
# exiv2 keeps its error log in one global buffer: one call at a time.
_LOCK: Final = threading.Lock()


class MetadataError(OSError):
    """A file's metadata cannot be read or written (the reason is exiv2's message)."""


@dataclass(frozen=True)
class Keywords:
    """Keywords found on one photo.

    Attributes:
        flat: flat keywords (``dc:subject``, IPTC), in file order, without duplicates.
        paths: hierarchical keywords, root first, without duplicates (ignoring case).
    """

    flat: tuple[str, ...] = ()
    paths: tuple[KeywordPath, ...] = ()
    rating: int | None = None  # 0-5 stars; None: the file says nothing
    flag: int | None = None  # 1 pick, -1 reject, 0 none; None: the file says nothing

    def __bool__(self) -> bool:
        return bool(self.flat or self.paths) or self.rating is not None or (self.flag is not None)

    def tags(self) -> tuple[KeywordPath, ...]:
        """What the photo is tagged with: each path, and each flat keyword that is not a part
        of some path (a path's components are its ancestors, implied by it)."""
        parts = {_key(part) for path in self.paths for part in path}
        return self.paths + tuple((word,) for word in self.flat if _key(word) not in parts)

    def merged(self, other: Keywords) -> Keywords:
        return Keywords(
            _unique(self.flat + other.flat),
            _unique_paths(self.paths + other.paths),
            self.rating if self.rating is not None else other.rating,
            self.flag if self.flag is not None else other.flag,
        )


def one_level(name: str) -> str:
    """A keyword or label name safe as one level of a hierarchical keyword.

    ``|`` and ``/`` separate levels (``lr:hierarchicalSubject``, ``digiKam:TagsList``) and
    neither format has an escape, so a flat keyword ``pipe|split|me`` or ``../../etc/passwd``
    would come back as a path of several labels. They are written as look-alikes that
    separate nothing: ``¦`` (U+00A6) and ``∕`` (U+2215).
    """
    return name.translate(_ONE_LEVEL)


def _key(word: str) -> str:
    return " ".join(word.split()).casefold()


def _unique(words: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for word in words:
        word = " ".join(str(word).split())
        if word and _key(word) not in seen:
            seen[_key(word)] = word
    return tuple(seen.values())


def _unique_paths(paths: Iterable[KeywordPath]) -> tuple[KeywordPath, ...]:
    seen: dict[tuple[str, ...], KeywordPath] = {}
    for path in paths:
        path = tuple(p for p in (" ".join(part.split()) for part in path) if p)
        key = tuple(_key(p) for p in path)
        if path and key not in seen:
            seen[key] = path
    return tuple(seen.values())


def parse(xmp: dict[str, Any], iptc: dict[str, Any] | None = None) -> Keywords:
    """The keywords in pyexiv2's ``read_xmp()`` / ``read_iptc()`` dictionaries."""
    flat = list(_values(xmp.get(SUBJECT)))
    flat += _values((iptc or {}).get(IPTC_KEYWORDS))
    paths: list[KeywordPath] = []
    for field in (TAGS_LIST, HIERARCHICAL):  # digiKam's first, as Immich reads them
        paths += [tuple(value.split(SEPARATORS[field])) for value in _values(xmp.get(field))]
    rating, flag = _rating(xmp)
    return Keywords(_unique(flat), _unique_paths(paths), rating, flag)


def _number(value: object) -> int | None:
    try:
        return round(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def _rating(xmp: dict[str, Any]) -> tuple[int | None, int | None]:
    """(stars 0-5, flag) of pyexiv2's XMP dictionary; None where the file says nothing."""
    stars = _number(xmp.get(RATING)) if RATING in xmp else None
    flag = None
    if stars is not None and stars < 0:  # Lightroom's and Bridge's "rejected"
        stars, flag = None, -1
    elif stars is not None:
        stars = min(stars, 5)
    pick = _number(xmp.get(PICK)) if PICK in xmp else None
    label = _number(xmp.get(PICK_LABEL)) if PICK_LABEL in xmp else None
    if pick in (-1, 0, 1):
        flag = pick
    elif label in _FROM_PICK_LABEL:
        flag = _FROM_PICK_LABEL[label]
    return stars, flag


def _values(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def sidecar_path(photo: Path, naming: Naming = "ext") -> Path:
    """``photo.jpg.xmp`` (``naming="ext"``) or ``photo.xmp`` (``"base"``)."""
    photo = Path(photo)
    return photo.with_name(photo.name + ".xmp") if naming == "ext" else photo.with_suffix(".xmp")


def sidecars_of(photo: Path) -> list[Path]:
    """The existing sidecars of a photo, ``photo.jpg.xmp`` first (any case of ``.xmp``);
    symbolic links are not sidecars."""
    photo = Path(photo)
    found = []
    for stem in (photo.name, photo.stem):
        for suffix in (".xmp", ".XMP"):
            candidate = photo.with_name(stem + suffix)
            try:  # a sidecar that is a link may lead out of the album: never read
                exists = candidate.is_file() and not candidate.is_symlink()
            except OSError:  # e.g. a 252-255 byte photo name: name + ".xmp" is too long
                exists = False
            if exists and candidate not in found:
                found.append(candidate)
                break
    return found


def _check_name(target: Path) -> None:
    """Refuse a sidecar name the file system cannot hold (before anything is written)."""
    try:
        limit = os.pathconf(target.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(target.name)) > limit:
        raise MetadataError(
            f"{readable(str(target))}: no sidecar possible, its name "
            f"would be longer than the {limit} bytes the file system allows"
        )


#: What a path that is not a regular file is, in words ("… is a directory").
_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a link, else None."""
    try:
        mode = path.lstat().st_mode
    except OSError:  # missing (or unreadable: reading it says why)
        return None
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_keywords(photo: Path, *, embedded: bool = True) -> Keywords:
    """Every keyword of a photo: its sidecars' and (optionally) its embedded XMP and IPTC.

    Unreadable metadata is logged and skipped; this never raises for a bad file.
    """
    found = Keywords()
    sources = [(path, False) for path in sidecars_of(photo)]
    if embedded:
        sources.append((Path(photo), True))
    for path, with_iptc in sources:
        try:
            xmp, iptc = _read(path, iptc=with_iptc)
        except MetadataError as exc:
            logger.debug("no keywords read from %s: %s", path, exc)
            continue
        found = found.merged(parse(xmp, iptc))
    return found


def _read(path: Path, *, iptc: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        with _LOCK, _image(path) as image:
            return image.read_xmp(), (image.read_iptc() if iptc else {})
    except (RuntimeError, UnicodeError, ValueError, OSError) as exc:
        raise MetadataError(str(exc).strip() or type(exc).__name__) from exc


def merge(
    existing: Keywords,
    ours: Sequence[KeywordPath],
    drop: Iterable[str] = (),
    rewrite: Iterable[str] = (),
) -> tuple[list[str], list[KeywordPath]]:
    """The flat keywords and paths to write: the file's, minus dropped ones, plus ours.

    Args:
        existing: what the file holds now.
        ours: the album's tag paths for the photo (one whose last part ends a path the file
            already has is left out: labels are unique by name).
        drop: words (any case) whose keywords go: a path ending in one, a flat keyword equal
            to one (the labels the user rejected on this photo).
        rewrite: labels whose path changed in the album (moved, a parent renamed): the
            file's path for one of them becomes ours, in its place.
    """
    dropped = {_key(w) for w in drop}
    by_leaf = {_key(p[-1]): tuple(p) for p in ours if p}
    redo = {_key(w) for w in rewrite} & set(by_leaf)
    kept = [
        by_leaf[_key(p[-1])] if _key(p[-1]) in redo else p
        for p in existing.paths
        if _key(p[-1]) not in dropped
    ]
    # A label is one name: a path the file already has for it is kept as the file spells it.
    leaves = {_key(p[-1]) for p in kept}
    paths = list(_unique_paths([*kept, *(p for p in ours if p and _key(p[-1]) not in leaves)]))
    flat = [w for w in existing.flat if _key(w) not in dropped]
    flat = list(_unique([*flat, *(part for path in paths for part in path)]))
    return flat, paths


def write_keywords(
    photo: Path,
    ours: Sequence[KeywordPath],
    *,
    drop: Iterable[str] = (),
    naming: Naming = "ext",
    embedded: bool = False,
    rewrite: Iterable[str] = (),
    rating: int | None = None,
    flag: int | None = None,
) -> Path | None:
    """Merge the album's tags into a photo's sidecar (or, if asked, into the photo itself).

    The file is only written when its keywords change; a new sidecar is only created when
    there is something to write. ``rating`` (0-5) and ``flag`` (1 pick, -1 reject, 0 none)
    are written when given (``xmp:Rating``, ``xmpDM:pick``, ``digiKam:PickLabel``); None
    leaves the file's as they are.

    Returns:
        The file written, or None when nothing changed.

    Raises:
        MetadataError: the file cannot be read or written.
    """
    photo = Path(photo)
    target = photo if embedded else sidecar_path(photo, naming)
    _check_name(target)
    upper = target.with_name(target.name[:-4] + ".XMP")
    if not embedded and not target.exists() and upper.is_file():
        target = upper
    if target.is_symlink():
        raise MetadataError(
            f"{readable(str(target))}: is a symbolic link; albumtag does not write through links"
        )
    if (kind := _not_a_file(target)) is not None:  # exiv2 would call it corrupted metadata
        what = "a photo" if embedded else "an XMP sidecar"
        raise MetadataError(f"{readable(str(target))}: is {kind}, not {what}")
    existing = parse(*_read(target, iptc=False)) if target.exists() else Keywords()
    drop = list(drop)
    flat, paths = merge(existing, ours, drop, rewrite)
    rating = None if rating is None else min(max(int(rating), 0), 5)
    flag = None if flag is None else (flag > 0) - (flag < 0)
    same_marks = rating in (None, existing.rating) and flag in (None, existing.flag)
    if ((tuple(flat), tuple(paths)) == (existing.flat, existing.paths) and same_marks) or (
        not target.exists() and not paths and not flat and not rating and not flag
    ):
        return None
    fields: dict[str, Any] = {
        SUBJECT: flat or None,
        HIERARCHICAL: ["|".join(map(one_level, p)) for p in paths] or None,
        TAGS_LIST: ["/".join(map(one_level, p)) for p in paths] or None,
    }
    if rating is not None:
        fields[RATING] = str(rating)
    if flag is not None:
        fields[PICK] = str(flag)
        fields[PICK_LABEL] = _TO_PICK_LABEL[flag]
    _write_xmp(target, fields, create=not target.exists())
    return target


def _write_xmp(target: Path, fields: dict[str, Any], *, create: bool) -> None:
    """Set XMP fields in a copy of ``target`` and move the copy over it (atomic)."""
    # A short name of its own: the target's name may be as long as the file system allows.
    temp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        if create:
            temp.write_text(_EMPTY_PACKET, encoding="utf-8")
        else:
            shutil.copy2(target, temp)
        with _LOCK, _image(temp) as image:
            image.modify_xmp(fields)
            raw = image.read_raw_xmp()
            fixed = _BAGS.sub(r"\1rdf:Bag\3rdf:Bag\4", raw)
            if fixed != raw:
                image.modify_raw_xmp(fixed)
        os.replace(temp, target)
    except (RuntimeError, UnicodeError, ValueError, OSError) as exc:
        raise MetadataError(f"{readable(str(target))}: {_reason(exc)}") from exc
    finally:
        try:
            temp.unlink(missing_ok=True)
        except OSError:  # a read-only disk refuses even this; nothing was made there
            pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "Read-only file system", without the path repeated
    return str(exc).strip() or type(exc).__name__


def remove_stale_temps(folder: Path) -> int:
    """Delete the temporary files of XMP writes that were killed (their process is gone).

    Both names albumtag has used are recognised: ``.albumtag-<pid>-<thread>.tmp`` and the
    older ``.<name>.albumtag-<pid>-<thread>``. Returns how many were deleted.
    """
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if match is None or _alive(int(match["pid"] or match["oldpid"])):
            continue
        try:
            (Path(folder) / name).unlink()
            removed += 1
        except OSError as exc:
            logger.debug("cannot remove %s: %s", name, exc)
    if removed:
        logger.info("removed %d temporary files of interrupted writes in %s", removed, folder)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or unknowable: leave its file alone
    return True


def _image(path: Path) -> Any:  # a pyexiv2.Image
    """pyexiv2's Image of a file, whatever bytes its path holds.

    ``pyexiv2.Image`` encodes the path as UTF-8, which fails on a name that is not valid UTF-8
    (``caf\\xe9.png``, kept in Python as a surrogate escape); such a path goes to exiv2 as
    its bytes, the way the file system spells it.
    """
    pyexiv2 = _pyexiv2()
    name = os.fsencode(path)
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        image = pyexiv2.Image.__new__(pyexiv2.Image)
        image._exiv2api_image = pyexiv2.core.exiv2api.Image(name)
        return image
    return pyexiv2.Image(os.fsdecode(name))


def _pyexiv2() -> Any:  # the pyexiv2 module
    """pyexiv2, imported on first use (its exiv2 log level set so nothing goes to stdout)."""
    try:
        import pyexiv2
    except ImportError as exc:  # pragma: no cover - a dependency
        raise MetadataError("keywords in XMP need the package pyexiv2") from exc
    pyexiv2.set_log_level(3)  # warnings would be printed to stdout; errors raise
    return pyexiv2
