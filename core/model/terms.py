"""Prototype terms: what a label taught by a few photos reads beyond the pooled features.

A term is one *part* of a photo's descriptor seen as a unit vector: an input computed from the
descriptor (``part_input``), divided by a per-feature ``scale`` for ``SCALED`` parts, centred on
the album's (or the labelled set's) mean and L2-normalised. A label reads ``sum_k v_k . f_k``:

* ``power``: the square roots of the pooled features (``power_root``);
* ``semantic``: the square roots of the backbone's own ImageNet probabilities (``semantic``);
* ``colour``, ``layout``, ``middle``: the appearance descriptor (``core.model.appearance``).

The trained head's confirm-only prototypes (``core.model.residual``) and the starter
correction (``core.model.starter``) both read them, through ``PrototypeTerms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from core.model.appearance import Appearance
from core.model.part_names import APPEARANCE_PARTS
from core.model.part_names import PARTS as PARTS  # the parts, re-exported where they are used

if TYPE_CHECKING:
    from core.model.tagger import Backbone


def normalise(pooled: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Centred, L2-normalised pooled features (the residual's input)."""
    centred = pooled - mean
    norm: torch.Tensor = centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
    return centred / norm


def semantic(backbone: Backbone, pooled: torch.Tensor) -> torch.Tensor:
    """Square roots of the backbone's ImageNet probabilities (B, num_classes) from pooled
    features (B, feature_dim): the semantic features before centring."""
    with torch.inference_mode():
        return torch.softmax(backbone.classify(pooled), dim=1).sqrt()


def power_root(pooled: torch.Tensor) -> torch.Tensor:
    """Square roots of pooled features (negatives, which pooled activations are not, as 0)."""
    return pooled.clamp_min(0.0).sqrt()


#: The inputs a prototype can read, in the order ``PrototypeTerms`` keeps them.
#: Parts whose input is divided by a per-feature scale (the album's spread) before centring.
SCALED = ("layout",)


def part_input(
    part: str,
    backbone: Backbone,
    descriptors: torch.Tensor,
    appearance_start: int,
) -> torch.Tensor:
    """A part's input (B, K) before scaling and centring, from descriptors (B, F) whose
    appearance descriptor (``core.model.appearance``) begins at ``appearance_start``."""
    pooled = descriptors[:, : backbone.feature_dim]
    if part == "power":
        return power_root(pooled)
    if part == "semantic":
        return semantic(backbone, pooled)
    if part not in APPEARANCE_PARTS:
        raise ValueError(f"unknown prototype part {part!r}")
    where = Appearance(backbone.middle_dim).slices(appearance_start)[part]
    if where.stop > descriptors.shape[1]:
        raise ValueError(f"descriptors of width {descriptors.shape[1]} hold no {part} part")
    raw = descriptors[:, where]
    return raw if part in SCALED else power_root(raw)


@dataclass(frozen=True)
class PrototypeTerms:
    """What confirm-only labels read beyond ``u(x)``: per part, weights (L, K) on the part's
    normalised input, the album mean (K,) it is centred on and, for ``SCALED`` parts, the
    scale (K,) it is first divided by. Parts appear in ``PARTS`` order.

    Raises:
        ValueError: An unknown part, or shapes that disagree.
    """

    weights: Mapping[str, torch.Tensor]
    means: Mapping[str, torch.Tensor]
    scales: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = list(self.weights)
        if set(names) != set(self.means) or any(n not in PARTS for n in names):
            raise ValueError(
                f"prototype parts must be some of {PARTS}, each with weights and a mean"
            )
        if any(n not in names or n not in SCALED for n in self.scales):
            raise ValueError(f"only {SCALED} parts have scales")
        count = None
        for name in names:
            weight, mean = self.weights[name], self.means[name]
            if weight.ndim != 2 or (count is not None and weight.shape[0] != count):
                raise ValueError(f"{name} weight must be (L, K), got {tuple(weight.shape)}")
            count = int(weight.shape[0])
            if tuple(mean.shape) != (weight.shape[1],):
                raise ValueError(
                    f"{name} mean must be ({weight.shape[1]},), got {tuple(mean.shape)}"
                )
            scale = self.scales.get(name)
            if scale is not None and tuple(scale.shape) != (weight.shape[1],):
                raise ValueError(
                    f"{name} scale must be ({weight.shape[1]},), got {tuple(scale.shape)}"
                )

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(n for n in PARTS if n in self.weights)

    def label_count(self) -> int:
        return int(next(iter(self.weights.values())).shape[0]) if self.weights else 0

    def rows_used(self) -> torch.Tensor:
        """Indices of the labels with a non-zero weight on some part."""
        if not self.weights:
            return torch.zeros(0, dtype=torch.long)
        used = torch.stack([w.abs().sum(dim=1) > 0 for w in self.weights.values()]).any(dim=0)
        return torch.nonzero(used)[:, 0]

    def features(
        self, part: str, backbone: Backbone, descriptors: torch.Tensor, appearance_start: int
    ) -> torch.Tensor:
        """A part's normalised input f_k (B, K)."""
        x = part_input(part, backbone, descriptors, appearance_start)
        scale = self.scales.get(part)
        if scale is not None:
            x = x / scale.to(x.device)
        return normalise(x, self.means[part].to(x.device))

    def tensors(self) -> dict[str, torch.Tensor]:
        """As safetensors entries: ``<part>_weight``, ``<part>_mean``, ``<part>_scale``."""
        out = {f"{n}_weight": w for n, w in self.weights.items()}
        out.update({f"{n}_mean": m for n, m in self.means.items()})
        out.update({f"{n}_scale": t for n, t in self.scales.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, torch.Tensor]) -> PrototypeTerms | None:
        """The terms in a file's entries (None if there are none); the inverse of ``tensors``.

        Raises:
            ValueError: An entry that is no part's, or a part without its weight or mean.
        """
        entries = dict(tensors)
        if not entries:
            return None
        weights: dict[str, torch.Tensor] = {}
        means: dict[str, torch.Tensor] = {}
        scales: dict[str, torch.Tensor] = {}
        for key, value in entries.items():
            name, _, what = key.rpartition("_")
            target = {"weight": weights, "mean": means, "scale": scales}.get(what)
            if target is None or name not in PARTS:
                raise ValueError(f"unknown entry {key!r}")
            target[name] = value
        return cls(weights, means, scales)

    def kept(self) -> PrototypeTerms:
        """A float32 CPU copy, parts in ``PARTS`` order."""

        def copy(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to("cpu", torch.float32).contiguous().clone()

        order = [n for n in PARTS if n in self.weights]
        return PrototypeTerms(
            {n: copy(self.weights[n]) for n in order},
            {n: copy(self.means[n]) for n in order},
            {n: copy(self.scales[n]) for n in order if n in self.scales},
        )
