"""The album's label vocabulary: names, the label tree, search aliases, default thresholds and
the mapping from ImageNet-1k classes to album labels.

The built-in vocabulary lives in ``assets/vocabulary.toml`` (labels) and
``assets/imagenet_map.tsv`` (one line per ImageNet class); both are meant to be edited by hand.
User-defined labels are added on top with :meth:`Vocabulary.extended`.

A class feeds one main label and, optionally, a few more ("canoe" is a canoe, and shows water and
the outdoors). A label that no class feeds, anywhere in its subtree, is *prior-blind*: the
ImageNet prior never sets it, and it learns only from the user's examples
(:meth:`Vocabulary.prior_blind`). Every user label is prior-blind.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import VocabularyError
from core.resources import assets_dir

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.toml"
IMAGENET_MAP_FILE = "imagenet_map.tsv"
IMAGENET_CLASSES = 1000
IGNORED = "-"
"""What the ImageNet map's label column holds for a class that feeds no label (and the "also"
column for a class that feeds no further label)."""

_WNID = re.compile(r"n\d{8}")
_ENTRY_KEYS = frozenset({"parent", "aliases", "threshold"})


def normalize(word: str) -> str:
    """The form names and aliases are compared in: whitespace collapsed, case folded."""
    return " ".join(word.split()).casefold()


@dataclass(frozen=True)
class Label:
    """One album label.

    Attributes:
        name: What the album shows and searches for; unique ignoring case.
        parent: The label one level up the tree, or ``None`` for a root.
        aliases: Other words a search accepts for this label.
        threshold: Default score above which the label is set on a photo, in (0, 1).
        kind: ``"builtin"`` for the shipped vocabulary, ``"user"`` for labels a user made.
    """

    name: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    threshold: float = 0.5
    kind: Literal["builtin", "user"] = "builtin"

    def __post_init__(self) -> None:
        if not isinstance(self.aliases, tuple):
            object.__setattr__(self, "aliases", tuple(self.aliases))


@dataclass(frozen=True)
class ImageNetClass:
    """One line of the ImageNet map: a class and the album label it feeds (``None``: ignored).

    ``also`` holds the further labels the class feeds (the scene it implies, indoor/outdoor);
    empty for most classes, and always empty for an ignored one.
    """

    index: int
    wnid: str
    description: str
    label: str | None
    also: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the class feeds, the main one first."""
        return () if self.label is None else (self.label, *self.also)


class Vocabulary:
    """A validated label tree with aliases and an ImageNet-1k mapping.

    Names are matched ignoring case and extra whitespace everywhere; the canonical spelling is
    the one the label was defined with.
    """

    def __init__(
        self,
        labels: Iterable[Label],
        imagenet: Sequence[str | None] = (),
        also: Sequence[Sequence[str]] = (),
    ) -> None:
        """Build and validate a vocabulary.

        Args:
            labels: The labels, parents in any order.
            imagenet: The album label each ImageNet class maps to, in class-index order
                (``None`` for an ignored class). :meth:`load` always gives 1000 entries; an
                empty sequence means "no mapping".
            also: Further labels each class feeds, in the same order (empty: none). Shorter
                than ``imagenet`` (or empty) means the remaining classes feed nothing more.

        Raises:
            VocabularyError: On a malformed name or alias, a duplicate name or alias, an unknown
                parent, a cycle, a threshold outside (0, 1), an unknown ``kind`` or an ImageNet
                class that maps to an unknown label (or, in ``also``, repeats a label, or is an
                ignored class).
        """
        self._labels: dict[str, Label] = {}
        self._words: dict[str, str] = {}  # normalized name or alias -> canonical name
        for label in labels:
            self._add(label)
        self._canonicalize_parents()
        self._check_cycles()
        self._order = self._parents_first()
        self._children: dict[str, list[str]] = {key: [] for key in self._order}
        for key in self._order:
            parent = self._labels[key].parent
            if parent is not None:
                self._children[normalize(parent)].append(self._labels[key].name)
        self._targets = self._canonicalize_targets(imagenet)
        self._also = self._canonicalize_also(also)
        self.names: tuple[str, ...] = tuple(self._labels[key].name for key in self._order)
        self._seen = self._prior_seen()

    def _add(self, label: Label) -> None:
        name = _checked_word(label.name, "label name")
        key = normalize(name)
        if key in self._words:
            other = self._words[key]
            what = "name" if normalize(other) == key else f"an alias of {other!r}"
            raise VocabularyError(f"duplicate label {name!r}: the same word is already {what}")
        threshold = label.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise VocabularyError(f"threshold of {name!r} must be a number, got {threshold!r}")
        if not 0.0 < threshold < 1.0:
            raise VocabularyError(
                f"threshold of {name!r} must be between 0 and 1 (exclusive), got {threshold}"
            )
        if label.kind not in ("builtin", "user"):
            raise VocabularyError(
                f"kind of {name!r} must be 'builtin' or 'user', not {label.kind!r}"
            )
        if label.parent is not None:
            _checked_word(label.parent, f"parent of {name!r}")
        self._words[key] = name
        for alias in label.aliases:
            alias_key = normalize(_checked_word(alias, f"alias of {name!r}"))
            if alias_key in self._words:
                other = self._words[alias_key]
                raise VocabularyError(
                    f"alias {alias!r} of {name!r} is already used by label {other!r}"
                )
            self._words[alias_key] = name
        self._labels[key] = label

    def _canonicalize_parents(self) -> None:
        for key, label in self._labels.items():
            if label.parent is None:
                continue
            parent = self._labels.get(normalize(label.parent))
            if parent is None:
                raise VocabularyError(f"label {label.name!r} has unknown parent {label.parent!r}")
            if parent.name != label.parent:
                self._labels[key] = dataclasses.replace(label, parent=parent.name)

    def _check_cycles(self) -> None:
        done: set[str] = set()
        for start in self._labels:
            path: list[str] = []
            key: str | None = start
            while key is not None and key not in done:
                if key in path:
                    cycle = [self._labels[k].name for k in path[path.index(key) :]]
                    cycle.append(self._labels[key].name)
                    raise VocabularyError(f"labels form a cycle: {' -> '.join(cycle)}")
                path.append(key)
                parent = self._labels[key].parent
                key = None if parent is None else normalize(parent)
            done.update(path)

    def _parents_first(self) -> list[str]:
        order: list[str] = []
        placed: set[str] = set()
        for key in self._labels:
            chain: list[str] = []
            current: str | None = key
            while current is not None and current not in placed:
                chain.append(current)
                parent = self._labels[current].parent
                current = None if parent is None else normalize(parent)
            for link in reversed(chain):
                order.append(link)
                placed.add(link)
        return order

    def _canonicalize_targets(self, imagenet: Sequence[str | None]) -> tuple[str | None, ...]:
        targets: list[str | None] = []
        for index, target in enumerate(imagenet):
            if target is None:
                targets.append(None)
                continue
            label = self._labels.get(normalize(target)) if isinstance(target, str) else None
            if label is None:
                raise VocabularyError(f"ImageNet class {index} maps to unknown label {target!r}")
            targets.append(label.name)
        return tuple(targets)

    def _canonicalize_also(self, also: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
        if len(also) > len(self._targets):
            raise VocabularyError(
                f"{len(also)} rows of further labels for {len(self._targets)} ImageNet classes"
            )
        rows: list[tuple[str, ...]] = []
        for index, target in enumerate(self._targets):
            raw = also[index] if index < len(also) else ()
            if isinstance(raw, str):
                raise VocabularyError(f"ImageNet class {index}: further labels must be a list")
            extra = tuple(raw)
            if extra and target is None:
                raise VocabularyError(f"ImageNet class {index} is ignored but feeds {extra!r}")
            names: list[str] = []
            for word in extra:
                label = self._labels.get(normalize(word)) if isinstance(word, str) else None
                if label is None:
                    raise VocabularyError(
                        f"ImageNet class {index} also feeds unknown label {word!r}"
                    )
                if label.name == target or label.name in names:
                    raise VocabularyError(
                        f"ImageNet class {index} feeds label {label.name!r} twice"
                    )
                names.append(label.name)
            rows.append(tuple(names))
        return tuple(rows)

    def _prior_seen(self) -> frozenset[str]:
        """Labels some ImageNet class feeds, directly or through a descendant."""
        seen: set[str] = set()
        for target, extra in zip(self._targets, self._also, strict=True):
            for name in (target, *extra) if target is not None else ():
                seen.add(name)
                seen.update(self.ancestors(name))
        return frozenset(seen)

    @classmethod
    def load(cls, folder: Path | None = None) -> Vocabulary:
        """Read ``vocabulary.toml`` and ``imagenet_map.tsv`` from a folder.

        Args:
            folder: Where the two files are; default: the shipped assets folder.

        Returns:
            The built-in vocabulary (every label of kind ``"builtin"``).

        Raises:
            VocabularyError: If a file is missing or malformed; the message names the file.
        """
        folder = assets_dir() if folder is None else Path(folder)
        labels = read_labels(folder / VOCABULARY_FILE)
        rows = read_imagenet_map(folder / IMAGENET_MAP_FILE)
        try:
            vocabulary = cls(labels, [row.label for row in rows], [row.also for row in rows])
        except VocabularyError as exc:
            raise VocabularyError(f"{folder}: {exc}") from None
        mapped = sum(target is not None for target in vocabulary.imagenet_targets())
        logger.debug("loaded %d labels, %d mapped classes from %s", len(vocabulary), mapped, folder)
        return vocabulary

    def extended(self, labels: Iterable[Label]) -> Vocabulary:
        """A new vocabulary with more labels (typically the user's), same ImageNet mapping.

        Raises:
            VocabularyError: If a new label clashes with the existing ones or is malformed.
        """
        return Vocabulary([*self, *labels], self._targets, self._also)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._labels

    def __getitem__(self, name: str) -> Label:
        try:
            return self._labels[normalize(name)]
        except (KeyError, AttributeError):
            raise KeyError(name) from None

    def __len__(self) -> int:
        return len(self._labels)

    def __iter__(self) -> Iterator[Label]:
        return (self._labels[key] for key in self._order)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} labels, {len(self.roots())} roots)"

    def parent(self, name: str) -> str | None:
        """The parent of a label, or ``None`` for a root. Raises ``KeyError`` if unknown."""
        return self[name].parent

    def children(self, name: str) -> tuple[str, ...]:
        """The direct children of a label, in vocabulary order."""
        return tuple(self._children[normalize(self[name].name)])

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Every label above this one, nearest first, the label itself excluded."""
        found: list[str] = []
        parent = self[name].parent
        while parent is not None:
            found.append(parent)
            parent = self._labels[normalize(parent)].parent
        return tuple(found)

    def subtree(self, name: str) -> tuple[str, ...]:
        """The label itself first, then all its descendants (depth first, vocabulary order)."""
        found: list[str] = []
        stack = [self[name].name]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(reversed(self._children[normalize(current)]))
        return tuple(found)

    def roots(self) -> tuple[str, ...]:
        """The top categories, in vocabulary order."""
        return tuple(label.name for label in self if label.parent is None)

    def resolve(self, word: str) -> str | None:
        """The canonical label name for a name or alias, or ``None`` if no label has it."""
        return self._words.get(normalize(word)) if isinstance(word, str) else None

    def suggest(self, word: str, n: int = 3) -> tuple[str, ...]:
        """Up to ``n`` labels whose name or an alias is close to ``word`` (best first)."""
        key = normalize(word) if isinstance(word, str) else ""
        if not key or n <= 0:
            return ()
        found: list[str] = []
        for match in difflib.get_close_matches(key, self._words, n=4 * n + 8, cutoff=0.6):
            name = self._words[match]
            if name not in found:
                found.append(name)
        return tuple(found[:n])

    def imagenet_targets(self) -> tuple[str | None, ...]:
        """The label each ImageNet class maps to, in class-index order; ``None`` = ignored."""
        return self._targets

    def imagenet_labels(self) -> tuple[tuple[str, ...], ...]:
        """Every label each ImageNet class feeds (main label first), in class-index order;
        ``()`` for an ignored class."""
        return tuple(
            () if target is None else (target, *extra)
            for target, extra in zip(self._targets, self._also, strict=True)
        )

    def imagenet_membership(self, label_names: Sequence[str], *, also: bool = True) -> np.ndarray:
        """Which ImageNet classes count towards which labels.

        Args:
            label_names: Labels, one per column (names are matched ignoring case).
            also: Count the further labels of the map's "also" column too (the default).
                With ``False`` only the main labels count, and the roots partition the mass.

        Returns:
            A float32 array of shape ``(classes, len(label_names))`` where ``[i, j]`` is 1.0
            iff class ``i`` feeds a label in ``subtree(label_names[j])``. Softmax
            probabilities times this matrix give the prior model's label scores; a parent's
            column is never below a child's.

        Raises:
            KeyError: If a name is not a label of this vocabulary.
        """
        columns: dict[str, list[int]] = {}
        for column, name in enumerate(label_names):
            columns.setdefault(self[name].name, []).append(column)
        matrix = np.zeros((len(self._targets), len(label_names)), dtype=np.float32)
        for index, target in enumerate(self._targets):
            if target is None:
                continue
            for fed in (target, *self._also[index]) if also else (target,):
                for name in (fed, *self.ancestors(fed)):
                    for column in columns.get(name, ()):
                        matrix[index, column] = 1.0
        return matrix

    def prior_blind(self, name: str) -> bool:
        """Whether the ImageNet prior cannot see this label, so it learns only from examples.

        True for a label that no ImageNet class feeds, directly or through a descendant
        ("sky", "sunset", "person"), and for every user label. Raises ``KeyError`` if unknown.
        """
        label = self[name]
        return label.kind == "user" or label.name not in self._seen

    def prior_labels(self) -> tuple[str, ...]:
        """The labels the ImageNet prior can score (not :meth:`prior_blind`), in tree order."""
        return tuple(name for name in self.names if not self.prior_blind(name))


def _checked_word(word: object, what: str) -> str:
    if not isinstance(word, str) or not word.strip():
        raise VocabularyError(f"{what} must be a non-empty string, got {word!r}")
    if word != " ".join(word.split()):
        raise VocabularyError(f"{what} {word!r} has leading, trailing or repeated whitespace")
    if '"' in word:
        raise VocabularyError(f"{what} {word!r} must not contain a double quote")
    return word


def read_labels(path: Path) -> list[Label]:
    """Parse a ``vocabulary.toml`` file into built-in labels with their default thresholds.

    A label without its own ``threshold`` gets ``[defaults]`` ``root``, ``branch`` (has
    children) or ``leaf``, by its place in the file's tree.

    Raises:
        VocabularyError: If the file is missing, is not TOML or has malformed entries.
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise VocabularyError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise VocabularyError(f"{path} is not valid TOML: {exc}") from None
    if data.get("format", 1) != 1:
        raise VocabularyError(f"{path} has format {data['format']!r}; this version reads 1")
    entries = data.get("labels")
    if not isinstance(entries, dict) or not entries:
        raise VocabularyError(f"{path} has no [labels] table")
    defaults = {"root": 0.5, "branch": 0.4, "leaf": 0.3, **data.get("defaults", {})}
    parents = {
        normalize(entry["parent"])
        for entry in entries.values()
        if isinstance(entry, dict) and isinstance(entry.get("parent"), str)
    }
    labels = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise VocabularyError(f"{path}: label {name!r} must be a table, got {entry!r}")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise VocabularyError(f"{path}: label {name!r} has unknown keys {sorted(unknown)}")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list):
            raise VocabularyError(f"{path}: aliases of {name!r} must be a list of strings")
        parent = entry.get("parent")
        role = "root" if parent is None else "branch" if normalize(name) in parents else "leaf"
        threshold = entry.get("threshold", defaults[role])
        labels.append(Label(name, parent, tuple(aliases), threshold, "builtin"))
    return labels


def read_imagenet_map(path: Path) -> list[ImageNetClass]:
    """Parse ``imagenet_map.tsv``: ``index, wnid, description, label or "-"[, also]`` per line.

    The optional fifth field lists further labels, comma-separated (``-`` or empty: none).
    Lines starting with ``#`` and blank lines are skipped. Labels are not checked here (the
    :class:`Vocabulary` does that), only the shape: exactly 1000 classes, in index order.

    Raises:
        VocabularyError: If the file is missing or malformed; the message gives the line.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VocabularyError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows: list[ImageNetClass] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        where = f"{path}, line {number}"
        if len(fields) not in (4, 5):
            raise VocabularyError(
                f"{where}: expected 4 or 5 tab-separated fields, got {len(fields)}"
            )
        index, wnid, description, label = (field.strip() for field in fields[:4])
        extra = fields[4].strip() if len(fields) == 5 else ""
        also = () if extra in ("", IGNORED) else tuple(w.strip() for w in extra.split(","))
        if any(not word for word in also):
            raise VocabularyError(f"{where}: empty name in the further labels {extra!r}")
        if index != str(len(rows)):
            raise VocabularyError(f"{where}: expected class index {len(rows)}, got {index!r}")
        if not _WNID.fullmatch(wnid) or wnid in seen:
            raise VocabularyError(f"{where}: bad or repeated WordNet id {wnid!r}")
        if not label:
            raise VocabularyError(f"{where}: empty label (write {IGNORED!r} to ignore a class)")
        seen.add(wnid)
        target = None if label == IGNORED else label
        if target is None and also:
            raise VocabularyError(f"{where}: an ignored class cannot feed {extra!r}")
        rows.append(ImageNetClass(len(rows), wnid, description, target, also))
    if len(rows) != IMAGENET_CLASSES:
        raise VocabularyError(f"{path}: expected {IMAGENET_CLASSES} classes, found {len(rows)}")
    return rows
