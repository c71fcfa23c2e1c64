"""The review queue: photos ordered by how much an answer would teach the model (issue 14.2).

A photo needs review when the model put a tag on it that nobody confirmed. Each such tag is a
question ("is this a dog?"), worth asking in proportion to

- its uncertainty: how near the score is to the label's threshold, measured in logits
  (``exp(-|logit(score) - logit(threshold)|)``: 1 on the threshold, 0.37 one logit away), and
- how little the label has been taught: ``1 / (1 + verdicts / 5)`` over the label's verdicts in
  the whole album (a label nobody judged weighs 1, one with 20 verdicts 0.2).

A photo's value is that of its best question, and the photo is filed under that question's
label. The queue then takes turns between labels: the best photo of every label (best first),
then the second-best of every label, and so on, so thirty photos of one label never come in a
row while others wait. Photos without an open question follow in the order given.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.db.store import VISIBLE
from core.db.tagstore import TagStore

#: Verdicts after which a label's questions count half.
HALF_WEIGHT_VERDICTS = 5
_EPS = 1e-4


@dataclass(frozen=True)
class Question:
    """The most useful open question about one photo."""

    photo_id: int
    label_id: int
    score: float
    threshold: float
    value: float  # uncertainty x how little the label was taught, in (0, 1]


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def uncertainty(score: float, threshold: float) -> float:
    """1 on the threshold, falling with the distance in logits."""
    return math.exp(-abs(_logit(score) - _logit(threshold)))


def novelty(verdicts: int) -> float:
    """How much a label still has to learn from its number of verdicts (1 for none)."""
    return 1.0 / (1.0 + verdicts / HALF_WEIGHT_VERDICTS)


def questions(store: TagStore) -> dict[int, Question]:
    """photo id -> its best open question, for every photo that needs review."""
    policy = store.policy()
    taught = dict(
        store.db.query(
            "SELECT l.label_id, COUNT(*) FROM photo_labels l JOIN photos p ON p.id = l.photo_id "
            f"WHERE l.verdict != 0 AND p.{VISIBLE} GROUP BY l.label_id"
        )
    )
    rows = store.db.query(
        "SELECT t.photo_id, t.label_id, l.score FROM photo_tags t JOIN photo_labels l "
        "ON l.photo_id = t.photo_id AND l.label_id = t.label_id "
        "WHERE t.direct = 1 AND t.verified = 0 AND l.verdict = 0 AND l.score IS NOT NULL"
    )
    best: dict[int, Question] = {}
    weight: dict[int, float] = {}
    for pid, lid, score in rows:
        if lid not in weight:
            weight[lid] = novelty(int(taught.get(lid, 0)))
        threshold = policy.threshold(lid)
        value = uncertainty(score, threshold) * weight[lid]
        held = best.get(pid)
        if held is None or (value, -lid) > (held.value, -held.label_id):
            best[pid] = Question(pid, lid, float(score), threshold, value)
    return best


def interleave(asked: Sequence[Question]) -> list[int]:
    """Photo ids taking turns between labels, each label's best first (see the module)."""
    by_label: dict[int, list[Question]] = defaultdict(list)
    for q in asked:
        by_label[q.label_id].append(q)
    queues = [sorted(qs, key=lambda q: (-q.value, q.photo_id)) for qs in by_label.values()]
    out: list[int] = []
    depth = max((len(q) for q in queues), default=0)
    for turn in range(depth):
        this_turn = [q[turn] for q in queues if turn < len(q)]
        this_turn.sort(key=lambda q: (-q.value, q.photo_id))
        out += [q.photo_id for q in this_turn]
    return out


def rank(store: TagStore, photo_ids: Sequence[int]) -> list[int]:
    """``photo_ids`` in review order: open questions first (see the module), then the rest in
    the order given."""
    best = questions(store)
    wanted = set(photo_ids)
    first = interleave([q for pid, q in best.items() if pid in wanted])
    asked = set(first)
    return first + [pid for pid in photo_ids if pid not in asked]


__all__ = ["Question", "interleave", "novelty", "questions", "rank", "uncertainty"]
