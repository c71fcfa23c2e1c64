"""Keywords <-> album labels: import keywords found in files, export tags to XMP.

Import (at index time): each keyword path is matched to a label by name or alias, ignoring case;
a path whose last part matches nothing becomes user labels, keeping its hierarchy ("Family|
Grandma" makes "Grandma" under "Family"; "People/Anna" puts "Anna" under the built-in "people").
The matched labels are confirmed with source ``import``, never over a user's verdict.

Export: the labels confirmed on a photo (by the user or an import), optionally also the labels the
model sets on its own, written as full paths from their root; labels the user rejected on the
photo are taken out of the file's existing keywords.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.db.ratings import marks
from core.db.store import IN_IDS, LabelRow, PhotoRow, id_list
from core.db.tagstore import TagStore
from core.labels.policy import CONFIRMED
from core.labels.vocabulary import normalize
from core.media.sidecars import (
    KeywordPath,
    Keywords,
    MetadataError,
    Naming,
    one_level,
    remove_stale_temps,
    sidecars_of,
    write_keywords,
)
from core.paths import readable, write_refusal

logger = logging.getLogger(__name__)

RETIRED_KEY = "retired_labels"  # meta, written by core.label_ops: {old name: label id or null}
RELOCATED_KEY = "relocated_labels"  # meta, written by core.label_ops: [ids whose path changed]

#: Threshold of labels made from keywords (the same default as a label made by hand).
USER_LABEL_THRESHOLD = 0.5
#: New labels one photo's keywords may create: far above any real keyword list, far below a
#: hostile one (a sidecar with 100,000 keywords).
MAX_NEW_LABELS_PER_FILE = 500
_MAX_NAME = 100


def clean_name(word: str) -> str | None:
    """A keyword as a label name (whitespace collapsed, no double quotes, no level separators:
    see :func:`core.media.sidecars.one_level`), or None if empty."""
    name = one_level(" ".join(word.replace('"', "").split())[:_MAX_NAME].strip())
    return name or None


class LabelIndex:
    """The album's labels by name and alias; makes user labels for unknown keywords."""

    def __init__(self, store: TagStore) -> None:
        self.store = store
        self.created: list[str] = []
        #: How many more labels :meth:`resolve` may create (None: no limit), and how many
        #: keyword paths it refused for lack of them.
        self.budget: int | None = None
        self.refused = 0
        self._reload()

    def _reload(self) -> None:
        rows = self.store.labels()
        self.rows: dict[int, LabelRow] = {r.id: r for r in rows}
        self._words: dict[str, int] = {}
        for r in rows:  # names win over aliases
            for alias in r.aliases:
                self._words.setdefault(normalize(alias), r.id)
        for r in rows:
            self._words[normalize(r.name)] = r.id
        # Names the label manager retired: a keyword still holding one is the label it
        # became, or (deleted) nothing; it never makes the label again.
        self._gone: set[str] = set()
        for word, target in json.loads(self.store.get_meta(RETIRED_KEY) or "{}").items():
            if target is None:
                self._gone.add(normalize(word))
            elif target in self.rows:
                self._words.setdefault(normalize(word), target)
        self.relocated: set[int] = set(json.loads(self.store.get_meta(RELOCATED_KEY) or "[]"))
        self.retired: set[str] = {
            normalize(w) for w in json.loads(self.store.get_meta(RETIRED_KEY) or "{}")
        } - {normalize(r.name) for r in rows}

    def find(self, word: str) -> int | None:
        """The label a word names (name or alias, any case)."""
        return self._words.get(normalize(word))

    def resolve(self, path: KeywordPath, *, create: bool = True) -> int | None:
        """The label a keyword path ends in; unknown parts become user labels if ``create``.

        A last part that names a label anywhere in the tree is that label (labels are unique by
        name), so "Family|dog" is the built-in "dog" and makes no "Family".
        """
        names = [n for n in (clean_name(part) for part in path) if n]
        if not names or normalize(names[-1]) in self._gone:
            return None
        found = self.find(names[-1])
        if found is not None or not create:
            return found
        if self.budget is not None and sum(self.find(n) is None for n in names) > self.budget:
            self.refused += 1
            return None
        parent: int | None = None
        for name in names:
            label = self.find(name)
            if label is None:
                label = self.store.upsert_label(
                    name, parent_id=parent, kind="user", threshold=USER_LABEL_THRESHOLD
                )
                self.created.append(name)
                self._add(LabelRow(label, name, parent, "user", USER_LABEL_THRESHOLD, ()))
                if self.budget is not None:
                    self.budget -= 1
            parent = label
        return parent

    def _add(self, row: LabelRow) -> None:
        """A label just made: known from now on (no reload: that made imports quadratic)."""
        self.rows[row.id] = row
        self._words[normalize(row.name)] = row.id

    def path(self, label_id: int) -> KeywordPath:
        """The label's names from its root down to it."""
        out: list[str] = []
        node: int | None = label_id
        while node is not None and node in self.rows and len(out) < 64:
            out.append(self.rows[node].name)
            node = self.rows[node].parent_id
        return tuple(reversed(out))

    def words(self, label_id: int) -> tuple[str, ...]:
        """The label's name and aliases."""
        row = self.rows[label_id]
        return (row.name, *row.aliases)


def import_keywords(
    store: TagStore,
    found: dict[int, Keywords],
    *,
    max_new_labels: int = MAX_NEW_LABELS_PER_FILE,
    on_warning: Callable[[int, str], None] | None = None,
) -> tuple[int, list[str]]:
    """Confirm the labels named by each photo's keywords (source ``import``).

    One transaction: labels, verdicts and whatever the caller's transaction holds (the
    indexer's: the photo's scores and status) are stored together or not at all.

    Args:
        store: the album store.
        found: photo id -> the keywords read from its files.
        max_new_labels: how many labels one photo's keywords may create; keywords that would
            need more are not imported, and ``on_warning(photo id, message)`` says so.

    Returns:
        How many verdicts were written, and the names of the user labels created.
    """
    if not any(found.values()):
        return 0, []
    with store.db.write():
        index = LabelIndex(store)
        confirmed: dict[int, set[int]] = {}
        for photo_id, keywords in found.items():
            if not keywords:
                continue
            index.budget, index.refused = max_new_labels, 0
            confirmed[photo_id] = {
                lid for path in keywords.tags() if (lid := index.resolve(path)) is not None
            }
            if index.refused:
                message = (
                    f"{index.refused} keywords not imported: one photo's keywords may "
                    f"make at most {max_new_labels} new labels"
                )
                if on_warning is not None:  # the caller reports it (with the photo's path)
                    logger.info("photo %d: %s", photo_id, message)
                    on_warning(photo_id, message)
                else:
                    logger.warning("photo %d: %s", photo_id, message)
        written = store.import_verdicts(confirmed)
    if index.created:
        logger.info("new labels from keywords: %s", ", ".join(index.created))
    return written, index.created


def _folder(rel_path: str) -> str:
    return rel_path.rpartition("/")[0]


@dataclass
class ExportReport:
    """The outcome of writing tags to XMP."""

    written: int = 0
    unchanged: int = 0  # a file already holds exactly these tags
    errors: dict[str, str] = field(default_factory=dict)  # relative path -> reason
    files: list[Path] = field(default_factory=list)
    nothing: int = 0  # no tag, rating or flag to write and no sidecar to correct

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "unchanged": self.unchanged,
            "nothing": self.nothing,
            "errors": {readable(path): reason for path, reason in self.errors.items()},
        }


def tag_sets(
    store: TagStore, photo_ids: Sequence[int], *, include_model: bool
) -> dict[int, tuple[set[int], set[int]]]:
    """photo id -> (labels to write, labels rejected) for export."""
    out: dict[int, tuple[set[int], set[int]]] = {pid: (set(), set()) for pid in photo_ids}
    ids = (id_list(photo_ids),)
    rows = store.db.query(
        f"SELECT photo_id, label_id, verdict FROM photo_labels WHERE photo_id {IN_IDS} "
        "AND verdict != 0",
        ids,
    )
    for pid, lid, verdict in rows:
        out[pid][0 if verdict == CONFIRMED else 1].add(lid)
    if include_model:
        rows = store.db.query(
            f"SELECT photo_id, label_id FROM photo_tags WHERE photo_id {IN_IDS} AND direct = 1", ids
        )
        for pid, lid in rows:
            if lid not in out[pid][1]:
                out[pid][0].add(lid)
    return out


def export_keywords(
    store: TagStore,
    root: Path,
    photos: Iterable[PhotoRow],
    *,
    naming: Naming = "ext",
    include_model: bool = False,
    embedded: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Write each photo's tags to its XMP sidecar (or into the photo, if ``embedded``).

    A file whose keywords already match is not touched. A failure on one photo is recorded
    in the report and the others go on.
    """
    photos = [p for p in photos if p.status == "ok"]
    index = LabelIndex(store)
    sets = tag_sets(store, [p.id for p in photos], include_model=include_model)
    stars = marks(store, [p.id for p in photos])
    report = ExportReport()
    cleaned: set[str] = set()
    for done, photo in enumerate(photos, start=1):
        ours, rejected = sets[photo.id]
        paths = sorted(index.path(lid) for lid in ours)
        drop = [word for lid in rejected for word in index.words(lid)] + sorted(index.retired)
        rewrite = [index.rows[lid].name for lid in ours if lid in index.relocated]
        try:
            refusal = write_refusal(root, photo.path if embedded else _folder(photo.path))
            if refusal is not None:
                raise MetadataError(f"not written: {refusal}")
            if _folder(photo.path) not in cleaned:  # leftovers of a killed export
                cleaned.add(_folder(photo.path))
                remove_stale_temps(Path(root) / _folder(photo.path))
            written = write_keywords(
                Path(root) / photo.path,
                paths,
                drop=drop,
                naming=naming,
                embedded=embedded,
                rewrite=rewrite,
                rating=stars.get(photo.id, (None, None))[0],
                flag=stars.get(photo.id, (None, None))[1],
            )
        except MetadataError as exc:
            logger.info("cannot write tags of %s: %s", photo.path, exc)
            report.errors[photo.path] = str(exc)
        else:
            if (
                written is None
                and not paths
                and not any(stars.get(photo.id, (0, 0)))
                and (embedded or not sidecars_of(Path(root) / photo.path))
            ):
                report.nothing += 1
            elif written is None:
                report.unchanged += 1
            else:
                report.written += 1
                report.files.append(written)
        if progress is not None:
            progress(done, len(photos))
    return report
