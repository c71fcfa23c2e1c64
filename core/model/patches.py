"""Patches: the backbone's middle stage kept at a few positions, for confirm-only prototypes.

The appearance descriptor (``core.model.appearance``) averages the last-but-one stage over the
whole crop; a label taught by five photos of fog or grass often lives in part of the frame, and
the average dilutes it. The descriptor therefore also caches that stage averaged down to
``GRID`` x ``GRID`` positions (4 x 4 x 192 numbers on EfficientNet-Lite0, 6 KB per photo in
float16). A prototype reads them as a *patch term* (``PatchTerm``): a photo scores the mean of
its ``TOP`` best positions against the label's direction (the confirmed photos' mean position).

Chosen on the labelled photo set's dev part (confirmations from dev, 6 seeds, new labels' average
precision at k = 3/5/10/20): without the term 0.470/0.530/0.557/0.594; the middle stage kept at
all 7 x 7 positions 0.499/0.546/0.572/0.649 (19 KB per photo); averaged to 4 x 4 0.495/0.546/
0.565/0.651; to 3 x 3 0.489/0.542/0.565/0.637; one position, the map's maximum or its
generalised mean (p = 3), 0.468/0.506/0.528/0.567 and 0.480/0.519/0.541/0.590, below no term
at all. The trainer keeps positions in the album's 64 principal directions (``PatchSource``),
within 0.006 of all 192. ``python -m benchmarks.bench_patch_prototypes`` measures the term as
shipped, with and without.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

#: The middle stage is averaged down to GRID x GRID positions.
GRID = 4
#: A photo scores the mean of its TOP best positions against a label's direction.
TOP = 3


class Patches:
    """The patch descriptor of a backbone whose middle stage has ``middle_dim`` channels."""

    def __init__(self, middle_dim: int) -> None:
        if middle_dim <= 0:
            raise ValueError(f"patches need a middle stage, got {middle_dim} channels")
        self.middle_dim = int(middle_dim)
        self.positions = GRID * GRID
        self.width = self.positions * self.middle_dim
        self.key = "patch-" + hashlib.sha256(f"{GRID},{middle_dim}".encode()).hexdigest()[:8]

    def describe(self, middle_map: torch.Tensor) -> torch.Tensor:
        """(B, width) float32 from the middle stage (B, middle_dim, h, w): position-major."""
        if middle_map.ndim != 4 or middle_map.shape[1] != self.middle_dim:
            raise ValueError(
                f"expected a middle map (B, {self.middle_dim}, h, w), got {tuple(middle_map.shape)}"
            )
        pooled = torch.nn.functional.adaptive_avg_pool2d(middle_map.float(), GRID)
        return pooled.flatten(2).transpose(1, 2).flatten(1)

    def positions_of(self, descriptors: torch.Tensor, start: int) -> torch.Tensor:
        """(B, P, C) raw positions of descriptors whose patches begin at ``start``."""
        stop = start + self.width
        if stop > descriptors.shape[1]:
            raise ValueError(f"descriptors of width {descriptors.shape[1]} hold no patches")
        return descriptors[:, start:stop].float().reshape(-1, self.positions, self.middle_dim)


def normalised_positions(raw: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Positions (B, P, C) square-rooted, centred on ``mean`` (C,) and unit length."""
    centred = raw.clamp_min(0.0).sqrt() - mean
    norm: torch.Tensor = centred.norm(dim=2, keepdim=True).clamp_min(1e-6)
    return centred / norm


def best_positions(positions: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """(B, L): each photo's mean of its ``TOP`` best positions (B, P, C) against each of the
    directions (L, C); a direction's scale carries through, so 0 scores 0."""
    if directions.shape[0] == 0:
        return torch.zeros(positions.shape[0], 0, device=positions.device)
    against = positions @ directions.T  # (B, P, L)
    top = min(TOP, positions.shape[1])
    return against.topk(top, dim=1).values.mean(dim=1)


@dataclass(frozen=True)
class PatchTerm:
    """What labels read from the patches: weights (L, C) (a direction times its slope; zero
    for labels without the term) and the mean position (C,) positions are centred on."""

    weight: torch.Tensor
    mean: torch.Tensor

    def __post_init__(self) -> None:
        if self.weight.ndim != 2 or tuple(self.mean.shape) != (self.weight.shape[1],):
            raise ValueError(
                f"patch weight (L, C) and mean (C,) disagree: "
                f"{tuple(self.weight.shape)}, {tuple(self.mean.shape)}"
            )

    def rows_used(self) -> torch.Tensor:
        """Indices of the labels with a non-zero patch weight."""
        return torch.nonzero(self.weight.abs().sum(dim=1) > 0)[:, 0]

    def kept(self) -> PatchTerm:
        """A float32 CPU copy."""
        return PatchTerm(
            self.weight.detach().to("cpu", torch.float32).contiguous().clone(),
            self.mean.detach().to("cpu", torch.float32).contiguous().clone(),
        )
