"""Regional evidence: what the ImageNet classifier sees in each part of a photo, not only overall.

The prior head's global softmax spends its probability on the photo's main subject, so a bicycle
behind a dog or the lake behind a canoe rarely clears a threshold. Here the backbone's own
classifier is applied at every position of its last feature map (7 x 7 at 224 px; Lite1's 8 x 8
at 240 px is pooled to 7 x 7). Per position the logits are softened (divided by ``TEMPERATURE``: a
position's unpooled features give logits far more peaked than the pooled ones the classifier was
trained on), turned into a softmax and summed into label scores through the vocabulary's
membership matrix; each label then keeps the mean of its ``TOP_K`` best positions, so one stray
position cannot tag a photo on its own.

The result, one value per prior label in the vocabulary's fixed order, is computed once per photo
while indexing and cached after the pooled features (``Tagger.run``), so re-scoring after a
retrain or a threshold change never needs the feature map again. ``calibrate`` maps it onto the
prior's own scale before the prior head takes the larger of the two
(``core.model.tagger.PriorHead``).

The constants were chosen on synthetic Tux Paint composites, never on the labelled real photos;
``python -m benchmarks.bench_regions --seed 1 --sweep`` compares them with other settings on 400
such scenes (2-4 cut-outs each), and ``--seed 0`` reports them on other scenes. On Lite0 no
setting of the sweep (temperature 1-6, top 1-5, floor 0.2-0.7) beats these at both precision 0.8
and 0.9 by more than 0.005 in the 2nd/3rd objects' recall (a standard error is about 0.027); the
floor hardly matters between 0.2 and 0.45. Lite1 would gain 0.01-0.02 from keeping its 8 x 8 map
(``GRID = 8``), which would also change every Lite0 album's descriptor key (``Regions.key``) and
so recompute them all for nothing. The starter correction (``core.model.starter``) is fitted on
top of these scores, so changing them means refitting it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

#: Per-position logits are divided by this before the softmax.
TEMPERATURE = 3.0
#: A label's regional score is the mean of its best this-many positions.
TOP_K = 3
#: Regional scores below this carry no evidence; above it they are rescaled onto [0, 1].
FLOOR = 0.45
#: Positions of the feature map the classifier is applied to (a larger map is pooled to it).
GRID = 7


class Regions:
    """Regional label evidence for a fixed list of prior labels.

    Args:
        label_names: The prior labels, one per membership column, in the vocabulary's order.
        membership: float32 (num_classes, V), 1 where a class lies in a label's subtree.
    """

    def __init__(self, label_names: Sequence[str], membership: np.ndarray) -> None:
        self.label_names = tuple(label_names)
        matrix = np.ascontiguousarray(membership, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.label_names):
            raise ValueError(
                f"membership must be (classes, {len(self.label_names)}), got {matrix.shape}"
            )
        self.membership = torch.from_numpy(matrix.copy())
        digest = hashlib.sha256()
        digest.update("\n".join(self.label_names).encode())
        digest.update(matrix.astype(np.uint8).tobytes())
        digest.update(f"{TEMPERATURE}/{TOP_K}/{GRID}".encode())
        #: Names the layout of the cached evidence: it changes when the vocabulary does.
        self.key = f"regions-{digest.hexdigest()[:10]}"
        self._on: dict[torch.device, torch.Tensor] = {}

    @property
    def width(self) -> int:
        """Values per photo."""
        return len(self.label_names)

    def evidence(
        self,
        feature_map: torch.Tensor,
        classifier: torch.nn.Module,
        *,
        temperature: float | None = None,
        top_k: int | None = None,
        grid: int | None = None,
    ) -> torch.Tensor:
        """Regional label scores (B, V) in [0, 1] of a feature map (B, C, H, W).

        The keywords override ``TEMPERATURE``, ``TOP_K`` and ``GRID`` (``grid=0``: never pool
        the map); only benchmarks/bench_regions.py uses them, to compare settings. The cache
        key (``key``) names the module's constants, so the product never passes them.
        """
        temperature = TEMPERATURE if temperature is None else temperature
        top_k = TOP_K if top_k is None else top_k
        grid = GRID if grid is None else grid
        if grid and (feature_map.shape[-1] > grid or feature_map.shape[-2] > grid):
            feature_map = torch.nn.functional.adaptive_avg_pool2d(feature_map, grid)
        positions = feature_map.flatten(2).transpose(1, 2).float()  # B, P, C
        logits = classifier(positions) / temperature  # B, P, classes
        membership = self._membership(logits.device)
        per_position = torch.softmax(logits, dim=-1) @ membership  # B, P, V
        k = min(top_k, per_position.shape[1])
        best = per_position.topk(k, dim=1).values.mean(dim=1)
        return best.clamp_(0.0, 1.0)

    def _membership(self, device: torch.device) -> torch.Tensor:
        if device not in self._on:
            self._on[device] = self.membership.to(device)
        return self._on[device]


def calibrate(evidence: torch.Tensor, floor: float | None = None) -> torch.Tensor:
    """Regional evidence on the prior's scale: 0 up to ``FLOOR``, then linear up to 1.

    ``floor`` overrides ``FLOOR`` (for benchmarks/bench_regions.py only).
    """
    floor = FLOOR if floor is None else floor
    return ((evidence - floor) / (1.0 - floor)).clamp_(0.0, 1.0)
