"""LabelPolicy: the read side that turns scores and verdicts into a photo's tags.

For photo p and label L (the rules every reader of tags relies on; this docstring is their
reference):

* ``on(p, L)``  ⇔ L is confirmed, or (L has no verdict and score ≥ threshold(L)).
* ``has(p, L)`` ⇔ L is not rejected, and some L′ in L's subtree is on, with no rejection on
  the path from L down to L′ — and, so that rejecting "dog" removes the breeds too, no
  rejection on the path from L up to its root either (a rejected label *blocks* its subtree).

So confirming "poodle" gives "dog" and "animal"; rejecting "dog" removes dog and its breeds
(even a confirmed breed: the rejection of the broader label wins) but not "animal" when other
evidence supports it. ``verified(p, L)`` is ``has`` restricted to
confirmed evidence. Thresholds apply here, at read time: changing one needs no re-inference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONFIRMED = 1
REJECTED = -1
NO_VERDICT = 0


@dataclass(frozen=True)
class Evidence:
    """What is known about one label on one photo."""

    label_id: int
    score: float | None
    verdict: int


@dataclass(frozen=True)
class Tag:
    """One effective tag of a photo."""

    label_id: int
    direct: bool  # the label itself is on (not only one of its descendants)
    verified: bool  # a confirmed verdict supports it


class LabelPolicy:
    """Thresholds plus the label tree; pure and cheap to rebuild when either changes."""

    def __init__(self, parents: Mapping[int, int | None], thresholds: Mapping[int, float]):
        self._parents = dict(parents)
        self._thresholds = dict(thresholds)

    def threshold(self, label_id: int) -> float:
        return self._thresholds.get(label_id, 0.5)

    def is_on(self, item: Evidence) -> bool:
        if item.verdict == CONFIRMED:
            return True
        if item.verdict == REJECTED or item.score is None:
            return False
        return item.score >= self.threshold(item.label_id)

    def tags(self, evidence: Iterable[Evidence]) -> list[Tag]:
        """The effective tags of one photo, given everything known about its labels."""
        items = {e.label_id: e for e in evidence}
        rejected = {i for i, e in items.items() if e.verdict == REJECTED}
        direct = {i for i, e in items.items() if self.is_on(e)}
        confirmed = {i for i, e in items.items() if e.verdict == CONFIRMED}
        has = self._climb(direct, rejected)
        verified = self._climb(confirmed, rejected)
        return [Tag(i, i in direct, i in verified) for i in sorted(has)]

    def lineage(self, label_id: int) -> tuple[frozenset[int], frozenset[int]]:
        """What a change of one label's threshold can reach: the label and its ancestors (the
        only tags it can change, see ``tags``), and every label under its top ancestor (the
        evidence that decides those tags: a descendant on, an ancestor rejected)."""
        chain = self._chain(label_id)
        top = chain[-1]
        family = {label for label in self._parents if self._chain(label)[-1] == top}
        return frozenset(chain), frozenset(family | set(chain))

    def _chain(self, label_id: int) -> list[int]:
        """The label, its parent, and so on to the top (a loop in the tree ends it)."""
        chain = [label_id]
        node = self._parents.get(label_id)
        while node is not None and node not in chain:
            chain.append(node)
            node = self._parents.get(node)
        return chain

    def _climb(self, starts: set[int], rejected: set[int]) -> set[int]:
        """Every unblocked start label and all its ancestors (none of which is rejected)."""
        reached: set[int] = set()
        for label in starts:
            chain = []
            node: int | None = label
            while node is not None and node not in rejected and node not in reached:
                chain.append(node)
                node = self._parents.get(node)
            if node is None or node in reached:  # got to the root, or to a known-good label
                reached.update(chain)
        return reached
