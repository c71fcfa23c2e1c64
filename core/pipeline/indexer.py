"""Index an album: scan → decode (worker threads) → batched inference → store.

Incremental (only new and changed photos are decoded), resumable (each batch commits on its own,
so a crash loses at most the batch in flight), cancellable between photos, and reporting
progress through a callback. One decode feeds both the thumbnail and the model input.

Two schedules (``pipeline``):

- ``"shared"`` (the default on a CPU): decoding and model calls are tasks of the same worker
  pool, one core each (torch limited to one thread per worker), so every core always has
  single-threaded work and nothing is oversubscribed. On a small CPU torch's multi-threaded
  team gains too little over one thread for a schedule that gives the model all the cores to
  win (``benchmarks/bench_index.py`` measures it; README's "Speed and scale" has the figures).
- ``"overlap"`` (the default on a GPU): the calling thread runs the model (its arithmetic is on
  the device) while the workers decode up to two batches ahead.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.db.store import PhotoOrder, PhotoRow, Status
from core.db.tagstore import Scored, TagStore
from core.errors import ImageError
from core.media.imaging import decode, make_thumbnail
from core.media.thumbnails import ThumbnailCache
from core.memory import release_free_memory
from core.model.preprocess import Preprocessing
from core.model.versions import ActiveModel, mark_stamp, stamp_is_current
from core.paths import leaves_album, readable
from core.pipeline.enrich import Enricher, Extra
from core.pipeline.scanner import OUTSIDE_LINK, ScanReport, reconcile
from core.threads import Pace, on_one_core

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where long work stands: ``phase`` is "scan", "tag" or "rescore"."""

    phase: str
    done: int
    total: int
    current: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass
class IndexSummary:
    """The outcome of one indexing run."""

    scan: ScanReport = field(default_factory=ScanReport)
    tagged: int = 0
    rescored: int = 0
    errors: int = 0
    error_reasons: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)  # photos tagged with something left out
    seconds: float = 0.0
    tag_seconds: float = 0.0
    cancelled: bool = False

    @property
    def photos_per_second(self) -> float:
        return self.tagged / self.tag_seconds if self.tag_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.scan.files,
            "new": self.scan.new,
            "changed": self.scan.changed,
            "moved": self.scan.moved,
            "missing": self.scan.missing,
            "unchanged": self.scan.unchanged,
            "resumed": self.scan.resumed,
            "tagged": self.tagged,
            "rescored": self.rescored,
            "errors": self.errors + self.scan.errors,
            "error_reasons": dict(self.error_reasons),
            "seconds": round(self.seconds, 3),
            "photos_per_second": round(self.photos_per_second, 2),
            "cancelled": self.cancelled,
            "links_not_followed": list(self.scan.skipped_dirs),
            "warnings": self.warnings,
        }

    def as_record(self) -> dict[str, Any]:
        """Every field, JSON-ready (an indexing child process hands its summary back so)."""
        return dataclasses.asdict(self) | {"error_reasons": dict(self.error_reasons)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IndexSummary:
        """The summary :meth:`as_record` wrote."""
        fields = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in record.items() if k in fields}
        scan_fields = {f.name for f in dataclasses.fields(ScanReport)}
        data["scan"] = ScanReport(
            **{k: v for k, v in dict(record.get("scan") or {}).items() if k in scan_fields}
        )
        data["error_reasons"] = Counter(record.get("error_reasons") or {})
        data["warnings"] = list(record.get("warnings") or [])
        return cls(**data)


@dataclass(frozen=True)
class _Prepared:
    row: PhotoRow
    width: int
    height: int
    taken_at: str | None
    content_hash: str
    pixels: np.ndarray  # uint8 (3, S, S)
    extra: Extra = field(default_factory=Extra)  # faces and keywords (core.pipeline.enrich)


@dataclass(frozen=True)
class _Failed:
    row: PhotoRow
    reason: str


#: Batch sizes when none is asked for: small batches stay in a CPU's caches (2 cores, one
#: thread per worker: batch 8 and 16 ran at 38.6 and 36.0 photos/s, 32 at 30.6, and the whole
#: index ran as fast with 8 as with 16; benchmarks/bench_index.py); a GPU wants large ones.
CPU_BATCH: int = 16
DEVICE_BATCH: int = 64
PIPELINES = ("auto", "shared", "overlap")


class Indexer:
    """Keeps one album's store in line with its folder and its active model."""

    #: Photos re-scored per transaction (``rescore``): memory stays bounded on any album.
    RESCORE_CHUNK = 4096

    def __init__(
        self,
        root: Path,
        store: TagStore,
        model: Callable[[], ActiveModel],
        thumbnails: ThumbnailCache | None = None,
        *,
        workers: int | None = None,
        batch_size: int | None = None,
        enricher: Enricher | None = None,
        pipeline: str = "auto",
    ) -> None:
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)}, not {pipeline!r}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        self.root = Path(root)
        self._real_root = os.path.realpath(self.root)
        self.store = store
        self._model_factory = model
        self._model: ActiveModel | None = None
        self.thumbnails = thumbnails
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.pace = Pace(self.workers)  # decodes and model calls running at once (set_workers)
        self._batch_size = batch_size
        self.pipeline = pipeline
        self.enricher = enricher or Enricher(store)
        self._batches = 0
        self._first: tuple[int, ...] = ()
        self._model_lock = threading.Lock()

    def set_workers(self, count: int) -> None:
        """Run at most ``count`` decodes and model calls at once (1 to ``workers``).

        Callable from any thread, also while a run goes on: the window steps back to fewer
        workers while the user interacts and back to every core when they stop.
        """
        self.pace.set_limit(min(max(1, int(count)), self.workers))

    def show_first(self, photo_ids: Iterable[int]) -> None:
        """Photos a viewer shows now: those still waiting are decoded before the rest.

        Callable from any thread (the window calls it as the grid scrolls). Decodes queued for
        other photos that have not started yet are taken back, so only the decodes already
        running come before these photos. Replaces the previous call's photos.
        """
        self._first = tuple(int(i) for i in photo_ids)

    def _in_order(self, rows: list[PhotoRow]) -> Iterator[PhotoRow]:
        """``rows`` in order, except that those :meth:`show_first` names come first."""
        order = _Order(rows, lambda: self._first)
        while (row := order.next()) is not None:
            yield row

    def _on_cpu(self, model: ActiveModel) -> bool:
        device = getattr(getattr(model.tagger, "backbone", None), "device", None)
        return device is None or getattr(device, "type", "cpu") == "cpu"

    def schedule(self, model: ActiveModel) -> tuple[str, int]:
        """The pipeline and batch size a run with ``model`` uses (``auto`` resolved)."""
        on_cpu = self._on_cpu(model)
        pipeline = self.pipeline if self.pipeline != "auto" else ("shared" if on_cpu else "overlap")
        batch = self._batch_size or (CPU_BATCH if on_cpu else DEVICE_BATCH)
        return pipeline, batch

    @property
    def model(self) -> ActiveModel:
        """The active model, loaded on first use (so an up-to-date album never loads torch)."""
        with self._model_lock:
            if self._model is None:
                self._model = self._model_factory()
                mark_stamp(self.store)  # loading it registered any new version 0 it needed
            return self._model

    def _load_model_meanwhile(self) -> threading.Thread | None:
        """Start loading the model while the folder is scanned, when tagging is likely.

        Likely: photos are waiting from an earlier run, or the album is new. Loading torch and
        the weights takes seconds; the scan of a big folder too, so the first photos are tagged
        that much sooner. A failure here is only logged: the run's own use reports it.
        """
        if self._model is not None:
            return None
        counts = self.store.count_photos()
        if not counts.get("pending") and any(counts.values()):
            return None

        def load() -> None:
            try:
                self.model  # noqa: B018 - loads it
            except Exception:  # the run loads it again and reports it
                logger.debug("loading the model ahead of the scan failed", exc_info=True)

        thread = threading.Thread(target=load, name="albumtag-model-load", daemon=True)
        thread.start()
        return thread

    def run(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        *,
        full: bool = False,
    ) -> IndexSummary:
        """Scan the folder, re-score photos of an older model, tag new and changed photos.

        ``full`` decodes and tags every photo again (verdicts are kept, as always).
        """
        started = time.perf_counter()
        summary = IndexSummary()
        report = progress or (lambda p: None)
        cancel = cancel or threading.Event()
        report(Progress("scan", 0, 0))
        loading = self._load_model_meanwhile()
        try:
            summary.scan = reconcile(self.root, self.store)
            if full:
                self.store.mark_pending((Status.OK, Status.ERROR))
            report(Progress("scan", summary.scan.files, summary.scan.files))
            if not cancel.is_set():
                self.rescore(summary, report, cancel)
            if not cancel.is_set():
                self.tag_pending(summary, report, cancel)
        finally:
            if loading is not None:
                loading.join()
        summary.cancelled = cancel.is_set()
        summary.seconds = time.perf_counter() - started
        return summary

    # -- re-scoring from cached features --------------------------------------------------
    def rescore(
        self,
        summary: IndexSummary,
        report: ProgressCallback,
        cancel: threading.Event,
        changed: Sequence[int] | None = None,
    ) -> None:
        """Photos scored by another model version get new scores from their cached features.

        ``changed`` (label ids), when the caller knows it, names the only labels whose scores
        differ from the previous version's: the rest of each photo's rows are left alone.
        """
        active = self.store.active_model()
        if active is None:
            return
        stale = self.store.photos(Status.OK, stale_for=active.version)
        if not stale and self._model is None and not stamp_is_current(self.store):
            # this code or its assets changed since the model was last loaded: loading it may
            # register a new version 0 (a new descriptor layout or starter), whose photos are
            # then stale; an up-to-date album skips this and never loads torch
            self.model  # noqa: B018 - loads it
            active = self.store.active_model()
            if active is None:
                return
            stale = self.store.photos(Status.OK, stale_for=active.version)
        if not stale:
            return
        model = self.model
        wanted = sorted(p.id for p in stale)
        step = self.RESCORE_CHUNK
        chunks = [wanted[start : start + step] for start in range(0, len(wanted), step)]

        def features(chunk: list[int]) -> tuple[list[int], np.ndarray]:
            ids, blobs = self.store.features(model.backbone_id, chunk)
            if not ids:  # none cached for this backbone: these photos are decoded again
                return ids, np.zeros((0, 0), dtype=np.float32)
            feats = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(ids), -1)
            return ids, feats.astype(np.float32)

        def score(feats: np.ndarray) -> np.ndarray:
            return model.tagger.score_features(feats) if len(feats) else feats

        # The next chunk is scored (on one torch thread) while this one is written: the
        # writer's SQLite work and the model's products each keep a core busy.
        with ThreadPoolExecutor(1, thread_name_prefix="albumtag-rescore") as ahead:
            ids, feats = features(chunks[0])
            coming = ahead.submit(on_one_core, score, feats)
            with self.store.bulk_rescoring():
                for number, chunk in enumerate(chunks):
                    scores = coming.result()
                    if cancel.is_set():
                        return
                    now = ids
                    if number + 1 < len(chunks):
                        ids, feats = features(chunks[number + 1])
                        coming = ahead.submit(on_one_core, score, feats)
                    without = sorted(set(chunk) - set(now))
                    if without:  # features of another backbone: decode these photos again
                        for photo in self.store.photos_by_ids(without):
                            self.store.update_file(
                                photo.id,
                                path=photo.path,
                                size=photo.size,
                                mtime_ns=photo.mtime_ns,
                                status="pending",
                            )
                    if not now:
                        continue
                    scores, label_ids = self.enricher.rescored(now, scores, model.label_ids)
                    self.store.record_rescored(now, scores, label_ids, model.version, only=changed)
                    summary.rescored += len(now)
                    report(Progress("rescore", summary.rescored, len(wanted)))

    # -- decoding and tagging -------------------------------------------------------------
    def tag_pending(
        self, summary: IndexSummary, report: ProgressCallback, cancel: threading.Event
    ) -> None:
        """Decode and tag every pending photo, newest first (those a viewer shows first)."""
        pending = self.store.photos(Status.PENDING, order=PhotoOrder.NEWEST_FILE)
        if not pending:
            return
        model = self.model
        pipeline, batch_size = self.schedule(model)
        started = time.perf_counter()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="albumtag-decode") as pool:
            running: deque[tuple[list[_Prepared], Future[Any]]] = deque()  # "shared" model calls

            def tag(batch: list[_Prepared]) -> None:
                pixels = np.stack([b.pixels for b in batch])
                if pipeline == "shared":
                    running.append(
                        (batch, pool.submit(self.pace.run, on_one_core, model.tagger.run, pixels))
                    )
                else:
                    self._record(batch, model.tagger.run(pixels), model, summary)

            def collect(wait: int) -> None:
                """Store finished model calls, waiting while more than ``wait`` are running."""
                while running and (len(running) > wait or running[0][1].done()):
                    batch, future = running.popleft()
                    self._record(batch, future.result(), model, summary)

            decoded = self._decoded(pending, pool, model, batch_size)
            batch: list[_Prepared] = []
            asked: tuple[int, ...] | None = None
            shown: frozenset[int] = frozenset()
            try:
                for done, item in enumerate(decoded, start=1):
                    if self._first is not asked:
                        asked = self._first
                        shown = frozenset(asked)
                    if batch and batch[-1].row.id in shown and item.row.id not in shown:
                        tag(batch)  # the photos on screen are decoded: tag them now
                        batch = []
                    if isinstance(item, _Failed):
                        self.store.record_error(item.row.id, item.reason)
                        summary.errors += 1
                        summary.error_reasons[item.reason.split(":")[0]] += 1
                    else:
                        batch.append(item)
                    if len(batch) >= batch_size:
                        tag(batch)
                        batch = []
                    collect(wait=2)
                    report(Progress("tag", done, len(pending), item.row.path))
                    if cancel.is_set():
                        break
                else:
                    if batch:
                        tag(batch)
            finally:
                decoded.close()
                collect(wait=0)  # batches already handed to the model are stored, even on cancel
        summary.tag_seconds += time.perf_counter() - started

    def _decoded(
        self, rows: list[PhotoRow], pool: ThreadPoolExecutor, model: ActiveModel, batch_size: int
    ) -> Generator[_Prepared | _Failed, None, None]:
        """Decoded photos in order, with decodes kept up to two batches ahead.

        When :meth:`show_first` names new photos, the queued decodes that have not started are
        taken back (and done later, in their turn), so the photos on screen come next.
        """
        queue: deque[tuple[PhotoRow, Future[_Prepared | _Failed]]] = deque()
        order = _Order(rows, lambda: self._first)
        asked = self._first
        try:
            while True:
                if self._first is not asked:
                    asked = self._first
                    kept: deque[tuple[PhotoRow, Future[_Prepared | _Failed]]] = deque()
                    for row, future in queue:
                        if future.cancel():
                            order.put_back(row)
                        else:
                            kept.append((row, future))
                    queue = kept
                while len(queue) < batch_size * 2 and (nxt := order.next()) is not None:
                    row = nxt
                    queue.append(
                        (row, pool.submit(self.pace.run, self._prepare, row, model.preprocessing))
                    )
                if not queue:
                    return
                yield queue.popleft()[1].result()
        finally:
            for _, future in queue:
                future.cancel()

    def _prepare(self, row: PhotoRow, preprocessing: Preprocessing) -> _Prepared | _Failed:
        path = self.root / row.path
        if leaves_album(self._real_root, path):  # a link changed since the scan
            return _Failed(row, OUTSIDE_LINK)
        try:
            decoded = decode(path, min_side=preprocessing.min_side)
            self._save_thumbnail(row, decoded.image)
            pixels = preprocessing.pixels(decoded.image)
            extra = self.enricher.inspect(path, decoded.image)
        except ImageError as exc:
            return _Failed(row, str(exc))
        except Exception as exc:
            logger.exception("unexpected failure on %s", path)
            return _Failed(row, f"internal error: {type(exc).__name__}: {exc}")
        return _Prepared(
            row,
            decoded.width,
            decoded.height,
            decoded.taken_at,
            decoded.content_hash,
            pixels,
            extra,
        )

    def _save_thumbnail(self, row: PhotoRow, image: Image.Image) -> None:
        """A thumbnail that cannot be written (disk full, read-only folder) is only logged."""
        if self.thumbnails is None or self.thumbnails.get(row.path, row.size, row.mtime_ns):
            return
        try:
            self.thumbnails.put(
                row.path, row.size, row.mtime_ns, make_thumbnail(image, self.thumbnails.size)
            )
        except OSError as exc:
            logger.warning("cannot save the thumbnail of %s: %s", row.path, exc)

    def _record(
        self,
        batch: list[_Prepared],
        result: tuple[np.ndarray, np.ndarray],
        model: ActiveModel,
        summary: IndexSummary,
    ) -> None:
        """Store one batch's model output (with people scores and imported keywords)."""
        features, scores = result
        scores, label_ids = self.enricher.merge(scores, model.label_ids, [b.extra for b in batch])
        results = [
            Scored(
                b.row.id,
                b.width,
                b.height,
                b.taken_at,
                b.content_hash,
                scores[i],
                features[i],
                b.extra.faces,
            )
            for i, b in enumerate(batch)
        ]
        paths = {b.row.id: b.row.path for b in batch}

        def warn(photo_id: int, message: str) -> None:
            summary.warnings.append(f"{readable(paths[photo_id])}: {message}")

        # One transaction: a run killed here leaves the photos pending, so their keywords
        # are read again, and no labels without the verdicts that made them.
        with self.store.db.write():
            self.store.record_scores(results, label_ids, model.backbone_id, model.version)
            self.enricher.imported(list(paths), [b.extra for b in batch], warn)
        summary.tagged += len(batch)
        self._batches += 1
        if self._batches % 4 == 0:  # hand freed heap back to the OS now and then
            release_free_memory()


class _Order:
    """Photos to decode: those a viewer shows first (``first()``), then the rest in order.

    A row handed out can be put back (its decode was taken back for a newer screen); it then
    takes its old place among the rest again.
    """

    def __init__(self, rows: Sequence[PhotoRow], first: Callable[[], tuple[int, ...]]) -> None:
        self._rows = list(rows)
        self._place = {r.id: i for i, r in enumerate(self._rows)}
        self._left: set[int] = set(self._place)
        self._heap: list[int] = list(range(len(self._rows)))  # places of the rest, in order
        self._first = first
        self._asked: tuple[int, ...] | None = None
        self._wanted: deque[int] = deque()

    def next(self) -> PhotoRow | None:
        """The next photo to decode, or None when none is left."""
        asked = self._first()
        if asked is not self._asked:
            self._asked = asked
            self._wanted = deque(i for i in asked if i in self._left)
        while self._wanted:
            photo_id = self._wanted.popleft()
            if photo_id in self._left:
                self._left.discard(photo_id)
                return self._rows[self._place[photo_id]]
        while self._heap:
            row = self._rows[heapq.heappop(self._heap)]
            if row.id in self._left:
                self._left.discard(row.id)
                return row
        return None

    def put_back(self, row: PhotoRow) -> None:
        """``row`` was handed out but will not be decoded now: hand it out again later."""
        place = self._place.get(row.id)
        if place is None or row.id in self._left:
            return
        self._left.add(row.id)
        heapq.heappush(self._heap, place)
        if self._asked is not None and row.id in self._asked:
            self._asked = None  # the next call lists the wanted photos again, this one too
