"""Library: one album — its folder, its store, its vocabulary and its active model.

The facade the command line and the window use. Opening a folder creates ``<album>/.albumtag/``
(database, thumbnails, model versions) unless another data folder is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.db.journal import Step
from core.db.store import LabelRow, PhotoOrder, PhotoRow, Status
from core.db.tagstore import TagStore, VerdictChange
from core.errors import (
    AlbumNotFoundError,
    PhotoNotFoundError,
    UnknownLabelError,
    VocabularyError,
)
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED
from core.labels.vocabulary import Label, Vocabulary
from core.media.sidecars import Naming
from core.media.thumbnails import ThumbnailCache
from core.model.starter import starter_labels
from core.model.versions import ActiveModel, ModelChoice, load_active_model, stored_choice
from core.paths import readable
from core.people.faces import shared_detector
from core.pipeline.enrich import Enricher
from core.pipeline.indexer import Indexer
from core.pipeline.keywords import ExportReport, export_keywords
from core.pipeline.scanner import DATA_DIR_NAME
from core.search.engine import SearchEngine
from core.search.query import LabelResolver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TagView:
    """One label as shown for a photo: the effective tag and the facts behind it."""

    label: str
    path: tuple[str, ...]  # root first, the label last
    score: float | None
    threshold: float
    verdict: int  # 1 confirmed, -1 rejected, 0 none
    source: str | None  # 'model', 'user', 'import' or None (reached through a child only)
    has: bool  # the photo carries this tag (hierarchy included)
    direct: bool
    verified: bool

    @property
    def verdict_name(self) -> str:
        return {CONFIRMED: "confirmed", REJECTED: "rejected"}.get(self.verdict, "")


@dataclass(frozen=True)
class LabelNode:
    """A label in the tree, with how many visible photos carry it."""

    label: LabelRow
    depth: int
    count: int
    threshold: float
    learns_from_examples: bool = False  # prior-blind: only the user's examples teach it


class Library:
    """One album. Cheap to open: no model is loaded until something needs one."""

    def __init__(
        self, root: Path | str, data_dir: Path | str | None = None, model: ModelChoice | None = None
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise AlbumNotFoundError(f"{self.root} is not a folder")
        self.data_dir = Path(data_dir).expanduser() if data_dir else self.root / DATA_DIR_NAME
        self.store = TagStore(self.data_dir / "album.db")
        self.thumbnails = ThumbnailCache(self.data_dir / "thumbnails")
        self.search_engine = SearchEngine(self.store.db)
        self._choice = model
        self._model: ActiveModel | None = None
        self._starter_labels: frozenset[str] | None = None  # read once, when first asked
        self.vocabulary = self._sync_vocabulary(Vocabulary.load())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- vocabulary -----------------------------------------------------------------------
    def _sync_vocabulary(self, builtin: Vocabulary) -> Vocabulary:
        """Make the labels table hold every built-in label; add the user's labels."""
        rows = {r.name.lower(): r for r in self.store.labels()}
        ids: dict[str, int] = {}
        for name in builtin.names:
            label = builtin[name]
            row = rows.get(label.name.lower())
            parent = ids.get(label.parent.lower()) if label.parent else None
            if row is not None and (
                self.store.db.read_only
                or (row.parent_id, row.threshold, row.aliases)
                == (parent, label.threshold, label.aliases)
            ):
                ids[label.name.lower()] = row.id
            elif not self.store.db.read_only:  # a read-only album keeps the labels it has
                ids[label.name.lower()] = self.store.upsert_label(
                    label.name,
                    parent_id=parent,
                    kind="builtin",
                    threshold=label.threshold,
                    aliases=label.aliases,
                )
        user = self._user_labels(builtin)
        try:
            return builtin.extended(user)
        except VocabularyError:  # e.g. a newer built-in alias equals a user label's name
            vocab = builtin
            for label in user:
                try:
                    vocab = vocab.extended([label])
                except VocabularyError as exc:
                    logger.warning("user label %r is hidden: %s", label.name, exc)
            return vocab

    def _user_labels(self, builtin: Vocabulary) -> list[Label]:
        rows = self.store.labels()
        by_id = {r.id: r for r in rows}
        user = [r for r in rows if r.kind == "user"]
        return [
            Label(
                r.name,
                by_id[r.parent_id].name if r.parent_id else None,
                r.aliases,
                r.threshold,
                "user",
            )
            for r in user
        ]

    def label_ids(self) -> dict[str, int]:
        return {r.name.lower(): r.id for r in self.store.labels()}

    def label_id(self, word: str) -> int:
        """The id of a label named by name or alias (case-insensitive)."""
        name = self.vocabulary.resolve(word)
        if name is None:
            raise UnknownLabelError(word, self.vocabulary.suggest(word))
        return self.label_ids()[name.lower()]

    def create_label(
        self, name: str, parent: str | None = None, threshold: float = 0.5
    ) -> LabelRow:
        """A new user label ("Grandma", "our boat"), optionally under an existing label."""
        name = " ".join(name.split())
        if not name:
            raise UnknownLabelError(name)
        if "|" in name or "/" in name:  # they would split the label when written to XMP
            raise VocabularyError(
                f"a label name cannot contain | or / ({name!r}): other apps "
                "read them as levels of a hierarchy; use --parent for that"
            )
        existing = self.vocabulary.resolve(name)
        if existing is not None:
            return next(r for r in self.store.labels() if r.name.lower() == existing.lower())
        parent_id = self.label_id(parent) if parent else None
        parent_name = self.vocabulary.resolve(parent) if parent else None
        # Validate against the vocabulary before anything is written.
        self.vocabulary.extended([Label(name, parent_name, (), threshold, "user")])
        self.store.upsert_label(name, parent_id=parent_id, kind="user", threshold=threshold)
        self.vocabulary = self._sync_vocabulary(Vocabulary.load())
        return next(r for r in self.store.labels() if r.name.lower() == name.lower())

    def resolver(self) -> LabelResolver:
        ids = self.label_ids()

        def resolve(word: str) -> int | None:
            name = self.vocabulary.resolve(word)
            return ids.get(name.lower()) if name else None

        return LabelResolver(resolve, self.vocabulary.suggest)

    # -- photos and search ----------------------------------------------------------------
    def photo(self, rel_or_abs: str | Path) -> PhotoRow:
        """A photo of this album by its path (relative to the album, or absolute)."""
        path = Path(rel_or_abs).expanduser()
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(self.root)
            except ValueError:
                raise PhotoNotFoundError(f"{rel_or_abs} is not inside {self.root}") from None
        row = self.store.photo_by_path(path.as_posix())
        if row is None and "\\x" in path.as_posix():  # a name as it was shown (\xe9)
            shown = path.as_posix()
            row = next((p for p in self.store.photos() if readable(p.path) == shown), None)
        if row is None or row.status == "missing":
            raise PhotoNotFoundError(
                f"{path.as_posix()} is not a photo of this album (run index first?)"
            )
        return row

    def search_ids(self, text: str, order: str = "taken") -> np.ndarray:
        """Ids of the photos matching a query, in display order (newest taken first).

        Raises:
            QueryError: the query cannot be parsed or names an unknown label.
        """
        return self.search_engine.search(text, self.resolver(), order)

    def search(
        self, text: str, *, limit: int | None = None, order: str = "taken"
    ) -> list[PhotoRow]:
        """The photos matching a query, in display order (see :meth:`search_ids`)."""
        ids = self.search_ids(text, order)
        if limit is not None:
            ids = ids[:limit]
        return self.store.photos_by_ids([int(i) for i in ids])

    def tags(self, photo: PhotoRow) -> list[TagView]:
        """Every label the photo carries or has a score or verdict for, strongest first."""
        labels = {r.id: r for r in self.store.labels()}
        policy = self.store.policy()
        evidence = {
            lid: (score, verdict, source)
            for lid, score, verdict, source in self.store.evidence(photo.id)
        }
        tags = {lid: (direct, verified) for lid, direct, verified in self.store.tags_of(photo.id)}
        views = []
        for lid in set(evidence) | set(tags):
            score, verdict, source = evidence.get(lid, (None, NO_VERDICT, None))
            direct, verified = tags.get(lid, (False, False))
            views.append(
                TagView(
                    labels[lid].name,
                    self._path(labels, lid),
                    score,
                    policy.threshold(lid),
                    verdict,
                    source,
                    lid in tags,
                    direct,
                    verified,
                )
            )
        views.sort(
            key=lambda v: (not v.has, -(v.score or (2.0 if v.verdict > 0 else 0.0)), v.label)
        )
        return views

    @staticmethod
    def _path(labels: dict[int, LabelRow], lid: int) -> tuple[str, ...]:
        out: list[str] = []
        node: int | None = lid
        while node is not None and len(out) < 64:
            out.append(labels[node].name)
            node = labels[node].parent_id
        return tuple(reversed(out))

    def set_verdicts(
        self,
        photos: Sequence[PhotoRow],
        confirm: Sequence[str] = (),
        reject: Sequence[str] = (),
        clear: Sequence[str] = (),
    ) -> int | None:
        """Confirm, reject or clear labels on photos as one undoable action."""
        changes = [
            VerdictChange(p.id, self.label_id(word), verdict)
            for verdict, words in ((CONFIRMED, confirm), (REJECTED, reject), (NO_VERDICT, clear))
            for word in words
            for p in photos
        ]
        return self.store.set_verdicts(changes)

    def label_tree(self) -> list[LabelNode]:
        """Every label in tree order (parents before children), with photo counts."""
        rows = self.store.labels()
        children: dict[int | None, list[LabelRow]] = {}
        for r in rows:
            children.setdefault(r.parent_id, []).append(r)
        counts = self.store.label_counts()
        policy = self.store.policy()
        out: list[LabelNode] = []

        def visit(row: LabelRow, depth: int) -> None:
            out.append(
                LabelNode(
                    row,
                    depth,
                    counts.get(row.id, 0),
                    policy.threshold(row.id),
                    self.learns_from_examples(row.name),
                )
            )
            for child in children.get(row.id, []):
                visit(child, depth + 1)

        for root in children.get(None, []):
            visit(root, 0)
        return out

    def learns_from_examples(self, name: str) -> bool:
        """Whether the label is prior-blind: no ImageNet class feeds it (or it is the user's)
        and the shipped starter does not correct it (it does sky and sunset), so only
        confirmed examples can teach it."""
        if name not in self.vocabulary:
            return True
        if self._starter_labels is None:
            self._starter_labels = starter_labels()
        return self.vocabulary.prior_blind(name) and name not in self._starter_labels

    # -- model and indexing ---------------------------------------------------------------
    def model(self) -> ActiveModel:
        """The active model, loaded (with torch) on first use."""
        if self._model is None:
            choice = self._choice or stored_choice(self.store) or ModelChoice()
            self._model = load_active_model(self.store, self.vocabulary, self.data_dir, choice)
        return self._model

    def reload_model(self, *, refresh_tags: bool = True) -> None:
        """Forget the loaded model (after training or a rollback changed the active version).

        The new version's thresholds apply to every photo's tags at once, unless
        ``refresh_tags`` is False because the caller re-scores the album next (which
        re-derives each photo's tags anyway).
        """
        self._model = None
        if refresh_tags:
            self.store.refresh_all_tags()

    def indexer(
        self,
        *,
        workers: int | None = None,
        batch_size: int | None = None,
        pipeline: str = "auto",
        faces: bool = True,
        keywords: bool = True,
    ) -> Indexer:
        """The album's indexer. An explicitly chosen model is loaded now, so that a new
        backbone becomes the active version and the whole album is re-tagged with it.

        ``batch_size`` and ``pipeline``: see :class:`core.pipeline.indexer.Indexer` (None and "auto"
        choose by device). ``faces`` runs the face detector (people labels); ``keywords``
        imports keywords from XMP sidecars and embedded XMP / IPTC as confirmed tags.
        """
        if self._choice is not None:
            self.model()
        enricher = Enricher(
            self.store,
            faces=shared_detector if faces else None,
            keywords=keywords,
            labels_added=self._reload_vocabulary,
        )
        return Indexer(
            self.root,
            self.store,
            self.model,
            self.thumbnails,
            workers=workers,
            batch_size=batch_size,
            enricher=enricher,
            pipeline=pipeline,
        )

    def _reload_vocabulary(self) -> None:
        """Labels were added behind the vocabulary's back (keywords became user labels)."""
        self.vocabulary = self._sync_vocabulary(Vocabulary.load())

    def reload_vocabulary(self) -> None:
        """The labels table changed (the label manager, an undo of it): read it again."""
        self._reload_vocabulary()

    def undo(self) -> Step | None:
        """Undo the latest user action (verdicts, a label change or ratings), or None."""
        return self._after_step(self.store.undo_step())

    def redo(self) -> Step | None:
        return self._after_step(self.store.redo_step())

    def _after_step(self, step: Step | None) -> Step | None:
        if step is not None and step.kind == "labels":
            self.reload_vocabulary()
        return step

    def export_xmp(
        self,
        photos: list[PhotoRow] | None = None,
        *,
        naming: Naming = "ext",
        include_model: bool = False,
        embedded: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ExportReport:
        """Write tags to XMP: ``photo.jpg.xmp`` (``naming="ext"``) or ``photo.xmp`` ("base").

        Confirmed tags (the user's and imported ones) are written, and with ``include_model``
        also the tags the model sets on its own; tags the user rejected are removed from the
        file's keywords. Other metadata is kept. ``embedded`` writes into the photos
        themselves instead of sidecars (the only way albumtag ever changes an original).
        """
        if naming not in ("ext", "base"):
            raise ValueError(f"naming must be 'ext' or 'base', not {naming!r}")
        rows = self.store.photos(Status.OK, order=PhotoOrder.PATH) if photos is None else photos
        return export_keywords(
            self.store,
            self.root,
            rows,
            naming=naming,
            include_model=include_model,
            embedded=embedded,
            progress=progress,
        )
