"""Read-only queries the trainer needs, in bulk: features, scores and verdicts of the album.

Everything here only reads. Training never writes a verdict; the one write a training run makes
is a new model version (``Store.add_model``) and the re-scoring that follows it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.db.store import IN_IDS, Store, id_list

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerdictFact:
    """One user verdict and the newest verdict-log entry that produced it.

    ``log_id`` is 0 for a verdict without a log entry (for example one written by an import).
    A model version trained when the newest log id was ``t`` has seen every verdict with
    ``log_id <= t``.
    """

    photo_id: int
    label_id: int
    verdict: int
    log_id: int


def feature_matrix(
    store: Store, backbone: str, photo_ids: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Photo ids (N,) and cached pooled features (N, D) float16 of visible photos.

    Only photos with status ``ok`` and features of ``backbone`` are returned (of ``photo_ids``
    when given), ordered by id; the blobs become one array in one step. An album without such
    features gives ``(0,)`` and ``(0, 0)`` arrays.
    """
    ids, blobs = store.features(backbone, photo_ids)
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float16)
    width = len(blobs[0]) // 2
    if any(len(b) != 2 * width for b in blobs):
        raise ValueError(f"features of {backbone} do not all have the same length")
    features = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(ids), width)
    return np.asarray(ids, dtype=np.int64), features


def feature_ids(store: Store, backbone: str) -> np.ndarray:
    """Ids (N,) of the visible photos with cached features of ``backbone``, without reading
    the features (a training run reads the features of the rows it samples)."""
    rows = store.db.query(
        "SELECT f.photo_id FROM features f JOIN photos p ON p.id = f.photo_id "
        "WHERE f.backbone = ? AND p.status = 'ok' ORDER BY f.photo_id",
        (backbone,),
    )
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def score_triples(
    store: Store, photo_ids: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo ids, label ids, scores) of the stored model scores of visible photos (of
    ``photo_ids`` when given), as three aligned arrays."""
    sql = (
        "SELECT l.photo_id, l.label_id, l.score FROM photo_labels l "
        "JOIN photos p ON p.id = l.photo_id WHERE l.score IS NOT NULL AND p.status = 'ok'"
    )
    params: tuple[str, ...] = ()
    if photo_ids is not None:
        sql += f" AND l.photo_id {IN_IDS}"
        params = (id_list(photo_ids),)
    rows = store.db.query(sql, params)
    if not rows:
        return (
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.float32),
        )
    p, lab, s = zip(*rows, strict=True)
    return (
        np.array(p, dtype=np.int64),
        np.array(lab, dtype=np.int64),
        np.array(s, dtype=np.float32),
    )


def verdict_facts(store: Store) -> list[VerdictFact]:
    """Every user verdict on a visible photo, with the log entry that set it."""
    rows = store.db.query(
        "SELECT l.photo_id, l.label_id, l.verdict, COALESCE(MAX(g.id), 0) "
        "FROM photo_labels l JOIN photos p ON p.id = l.photo_id "
        "LEFT JOIN verdict_log g ON g.photo_id = l.photo_id AND g.label_id = l.label_id "
        "AND g.state = 'done' AND g.new_verdict = l.verdict "
        "WHERE l.verdict != 0 AND p.status = 'ok' GROUP BY l.photo_id, l.label_id"
    )
    return [VerdictFact(int(p), int(lab), int(v), int(g)) for p, lab, v, g in rows]


def newest_verdict_log_id(store: Store) -> int:
    """The id of the newest verdict-log entry (0 when the user never judged a tag)."""
    return int(store.db.query("SELECT COALESCE(MAX(id), 0) FROM verdict_log")[0][0])
