"""Each label's evidence for the label quality view: counts, verdicts, scores, threshold source.

Read in one pass over the album's label rows (run it off the GUI thread); the precision is
estimated from verdicts: among the verified photos the model tags, the share confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.db.store import ModelRow
from core.library import Library


@dataclass
class LabelQuality:
    """One label's evidence, as the table shows it."""

    name: str
    tagged: int
    confirmed: int
    rejected: int
    precision: float | None  # among verified photos the model tags, the share confirmed
    threshold: float
    source: str  # manual, verified, confirm-only, calibrated, starter, prior, default
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # every stored score
    verified: list[tuple[float, bool]] = field(default_factory=list)  # (score, confirmed)
    #: the scores of photos without a verdict: the only ones a threshold decides
    open_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def evidence(self) -> int:
        return self.confirmed + self.rejected

    def would_tag(self, threshold: float) -> tuple[int, int]:
        """(confirmed, by the model): the photos this label itself would be on at
        ``threshold``, by the policy's rule (``core.labels.policy``): a confirmed photo always,
        a rejected one never, any other when its score reaches the threshold."""
        return self.confirmed, int((self.open_scores >= threshold).sum())


@dataclass
class QualityReport:
    labels: list[LabelQuality]
    versions: list[tuple[int, str, float | None]]  # version, created, F1


def label_quality(library: Library) -> QualityReport:
    """Everything the view shows (run on the database thread)."""
    store = library.store
    rows = [r for r in store.labels()]
    policy = store.policy()
    counts = store.label_counts()
    active = store.active_model()
    trained = {
        str(r.get("label", "")).lower(): r
        for r in (active.metrics.get("labels") or [] if active else [])
    }
    manual = store.manual_thresholds()
    starter = starter_labels(store.models())
    scores: dict[int, list[float]] = {}
    verified: dict[int, list[tuple[float, bool]]] = {}
    open_scores: dict[int, list[float]] = {}
    for _pid, lid, score, verdict in store.db.query(
        "SELECT l.photo_id, l.label_id, l.score, l.verdict FROM photo_labels l JOIN photos p "
        "ON p.id = l.photo_id WHERE p.status = 'ok'"
    ):
        if score is not None:
            scores.setdefault(lid, []).append(float(score))
        if verdict:
            verified.setdefault(lid, []).append((float(score or 0.0), verdict > 0))
        elif score is not None:
            open_scores.setdefault(lid, []).append(float(score))
    out = []
    for row in rows:
        key = row.name.lower()
        threshold = policy.threshold(row.id)
        judged = verified.get(row.id, [])
        above = [ok for s, ok in judged if s >= threshold]
        source = (
            "manual"
            if key in manual
            else str(trained[key].get("source", "trained"))
            if key in trained
            else "starter"
            if key in starter
            else "default"
            if row.kind == "user"
            else "prior"
        )
        out.append(
            LabelQuality(
                row.name,
                int(counts.get(row.id, 0)),
                sum(ok for _, ok in judged),
                sum(not ok for _, ok in judged),
                sum(above) / len(above) if above else None,
                threshold,
                source,
                np.array(scores.get(row.id, []), dtype=np.float32),
                judged,
                np.array(open_scores.get(row.id, []), dtype=np.float32),
            )
        )
    out.sort(key=lambda q: (-q.evidence, -q.tagged, q.name.lower()))
    versions = [(m.version, m.created_at, m.metrics.get("f1")) for m in store.models()]
    return QualityReport(out, versions)


def pr_curve(verified: list[tuple[float, bool]]) -> list[tuple[float, float, float]]:
    """(recall, precision, threshold) at every distinct score of the verified photos."""
    if not verified or not any(ok for _, ok in verified):
        return []
    scores = np.array([s for s, _ in verified])
    truth = np.array([ok for _, ok in verified])
    points = []
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        tp = int((chosen & truth).sum())
        points.append((tp / truth.sum(), tp / max(int(chosen.sum()), 1), float(t)))
    return points


def starter_labels(models: list[ModelRow]) -> set[str]:
    """Labels (lower case) whose threshold comes from the shipped starter correction: the
    thresholds of the newest prior version made with one (``core.model.versions``)."""
    priors = [m for m in models if m.head_file is None and m.metrics.get("starter")]
    if not priors:
        return set()
    newest = max(priors, key=lambda m: m.version)
    return {name.lower() for name in newest.thresholds}
