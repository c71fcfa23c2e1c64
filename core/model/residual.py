"""The trained head (model version >= 1): a correction on top of the prior, never a replacement.

For label l and a photo with descriptor d (pooled features x, regional evidence, appearance):

    logit_l = alpha_l * logit(prior_l(d)) + w_l . u(x) + b_l + sum over parts k of v_lk . f_k(d),
    u(x) = (x - mean) / |x - mean|,

plus, for those labels, ``g_l(d)``: the mean of the photo's best positions of the middle stage
against the label's direction (``core.model.patches``; ``PatchTerm``). The sum is what labels
taught only by confirmations read
(``trainer.learning.residual_fit.prototype``; ``PrototypeTerms``). Each part ``f_k`` is an input
computed from the descriptor (``part_input``), divided by a per-feature ``scale`` where it has
one, centred on its album mean and L2-normalised:

* ``power``: the square roots of the pooled features (``power_root``);
* ``semantic``: the square roots of the backbone's own ImageNet probabilities (``semantic``):
  what the photo looks like to the classifier;
* ``colour``, ``layout``, ``middle``: the appearance descriptor (``core.model.appearance``), the
  histogram and the middle stage square-rooted, the layout divided by its album spread.

``v`` is zero for every other label, and a head without prototype terms (or a file written
before they existed) reads as zero.

``prior_l`` is the prior head's score (``core.model.tagger.PriorHead``, global and regional) for the
labels it knows; ``alpha_l`` is 1 for them and 0 for labels the prior cannot see (sky, the user's
own labels). A label nobody corrected keeps ``w = 0, b = 0`` and so exactly its prior score: what
the ImageNet model knew survives training. Features are centred on the album's mean and
L2-normalised, so a handful of confirmations moves a label along directions that mean something
for this album.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.errors import ModelLoadError
from core.model.appearance import PARTS as APPEARANCE_PARTS
from core.model.appearance import Appearance
from core.model.heads import RESIDUAL, RESIDUAL_HEAD_FORMAT
from core.model.part_names import PATCH_ENTRIES
from core.model.patches import Patches, PatchTerm, best_positions, normalised_positions
from core.model.regions import Regions
from core.model.tagger import (
    Backbone,
    PriorHead,
    _label_tuple,
    _read_safetensors,
    write_atomically,
)
from core.model.terms import (
    PrototypeTerms,
    normalise,
)

logger = logging.getLogger(__name__)

#: Prior scores are clamped to [EPS, 1 - EPS] before the logit.
EPS = 1e-4


def prior_logits(prior_scores: torch.Tensor) -> torch.Tensor:
    """Logits of clamped prior scores."""
    p = prior_scores.clamp(EPS, 1 - EPS)
    return torch.log(p) - torch.log1p(-p)


#: A residual head file's entries besides its prototype terms.
_PLAIN = ("weight", "bias", "alpha", "mean")


class ResidualHead:
    """A prior head plus a per-label linear correction on normalised pooled features.

    Args:
        label_names: The labels it scores (the album's, user labels included).
        prior: The prior head whose scores it corrects.
        weight: (L, D) on normalised pooled features.
        bias: (L,).
        alpha: (L,) weight of the prior logit (0 where the prior has no column).
        mean: (D,) the album's mean pooled feature at training time.
        feature_key: ``Tagger.feature_key`` of the descriptors it was trained on.
        prototypes: What confirm-only labels read beyond ``u(x)`` (weights with L rows), or
            None (all zero).

    Raises:
        ValueError: Shapes or names disagree.
    """

    kind = RESIDUAL  # its kind in ``core.model.heads``

    def __init__(
        self,
        label_names: Sequence[str],
        prior: PriorHead,
        weight: torch.Tensor,
        bias: torch.Tensor,
        alpha: torch.Tensor,
        mean: torch.Tensor,
        feature_key: str,
        prototypes: PrototypeTerms | None = None,
        patches: PatchTerm | None = None,
    ) -> None:
        self.label_names = _label_tuple(label_names)
        count = len(self.label_names)
        if weight.ndim != 2 or weight.shape[0] != count:
            raise ValueError(f"weight must be ({count}, D), got {tuple(weight.shape)}")
        for name, tensor in (("bias", bias), ("alpha", alpha)):
            if tuple(tensor.shape) != (count,):
                raise ValueError(f"{name} must be ({count},), got {tuple(tensor.shape)}")
        if tuple(mean.shape) != (weight.shape[1],):
            raise ValueError(f"mean must be ({weight.shape[1]},), got {tuple(mean.shape)}")
        if not feature_key:
            raise ValueError("feature_key must name the descriptors the head was trained on")
        if prototypes is not None and prototypes.weights:
            if prototypes.label_count() != count:
                raise ValueError(
                    f"prototype weights must have {count} rows, got {prototypes.label_count()}"
                )
            power = prototypes.weights.get("power")
            if power is not None and power.shape[1] != weight.shape[1]:
                raise ValueError(
                    f"power weight must be {tuple(weight.shape)}, got {tuple(power.shape)}"
                )
        self.prior = prior
        self.regions: Regions | None = prior.regions
        self.appearance: bool = bool(getattr(prior, "appearance", False))
        self.feature_key = feature_key
        self.weight = weight.detach().to("cpu", torch.float32).contiguous().clone()
        self.bias = bias.detach().to("cpu", torch.float32).clone()
        self.alpha = alpha.detach().to("cpu", torch.float32).clone()
        self.mean = mean.detach().to("cpu", torch.float32).clone()
        self.prototypes = (
            prototypes.kept() if prototypes is not None and prototypes.weights else None
        )
        if patches is not None and patches.weight.shape[0] != count:
            raise ValueError(f"patch weights must have {count} rows, got {patches.weight.shape[0]}")
        self.patches = patches.kept() if patches is not None else None
        used = [torch.zeros(0, dtype=torch.long)]
        if self.prototypes:
            used.append(self.prototypes.rows_used())
        if self.patches is not None:
            used.append(self.patches.rows_used())
        self._prototype_rows = torch.unique(torch.cat(used))
        index = {n: i for i, n in enumerate(prior.label_names)}
        self.prior_column = torch.tensor([index.get(n, -1) for n in self.label_names])
        self.alpha[self.prior_column < 0] = 0.0

    @property
    def feature_dim(self) -> int:
        return int(self.weight.shape[1])

    def appearance_start(self, backbone: Backbone) -> int:
        """Where the appearance descriptor begins in this head's descriptors (its prior's)."""
        return self.prior.appearance_start(backbone)

    def patches_start(self, backbone: Backbone) -> int:
        """Where the patches (``core.model.patches``) begin in this head's descriptors."""
        return self.appearance_start(backbone) + Appearance(backbone.middle_dim).width

    def check(self, backbone: Backbone, feature_key: str | None = None) -> None:
        """Raise ModelLoadError unless the head fits ``backbone`` and its descriptors."""
        self.prior.check(backbone)
        key = feature_key or backbone.id
        if self.feature_key != key:
            raise ModelLoadError(f"head was trained on {self.feature_key}, not on {key}")
        if self.feature_dim != backbone.feature_dim:
            raise ModelLoadError(
                f"head expects {self.feature_dim} features, backbone gives {backbone.feature_dim}"
            )
        if self.patches is not None:
            if not self.appearance or backbone.middle_dim <= 0:
                raise ModelLoadError("head reads patches, which its descriptors lack")
            if self.patches.weight.shape[1] != backbone.middle_dim:
                raise ModelLoadError(
                    f"head expects {self.patches.weight.shape[1]} patch channels, "
                    f"backbone {backbone.id} gives {backbone.middle_dim}"
                )
        if self.prototypes is None:
            return
        widths = {
            "power": backbone.feature_dim,
            "semantic": backbone.num_classes,
            **Appearance(backbone.middle_dim).widths,
        }
        if any(n in APPEARANCE_PARTS for n in self.prototypes.parts) and not self.appearance:
            raise ModelLoadError("head reads the appearance descriptor, which its prior lacks")
        for name in self.prototypes.parts:
            if self.prototypes.weights[name].shape[1] != widths[name]:
                raise ModelLoadError(
                    f"head expects {self.prototypes.weights[name].shape[1]} {name} features, "
                    f"backbone {backbone.id} gives {widths[name]}"
                )

    def prior_scores(self, backbone: Backbone, features: torch.Tensor) -> torch.Tensor:
        """The prior's score (B, L) per label of this head (0 where the prior has none)."""
        base = self.prior.scores(backbone, features)
        column = self.prior_column.to(base.device)
        picked = base[:, column.clamp_min(0)]
        return torch.where(column[None, :] >= 0, picked, torch.zeros_like(picked))

    def scores(self, backbone: Backbone, features: torch.Tensor) -> torch.Tensor:
        """Scores (B, L) in [0, 1] from descriptors."""
        with torch.inference_mode():
            x = features.to(backbone.device, dtype=torch.float32)
            base = prior_logits(self.prior_scores(backbone, x))
            u = normalise(x[:, : self.feature_dim], self.mean.to(x.device))
            logits = (
                self.alpha.to(x.device) * base
                + u @ self.weight.to(x.device).T
                + self.bias.to(x.device)
            )
            logits[:, self._prototype_rows.to(x.device)] += self._prototype_logits(backbone, x)
            return torch.sigmoid(logits)

    def _prototype_logits(self, backbone: Backbone, x: torch.Tensor) -> torch.Tensor:
        """(B, R) what the prototype terms add for the R labels that have them."""
        rows, terms = self._prototype_rows, self.prototypes
        out = torch.zeros(x.shape[0], int(rows.numel()), device=x.device)
        if not rows.numel():
            return out
        if terms is not None:
            start = self.appearance_start(backbone)
            for name in terms.parts:
                f = terms.features(name, backbone, x, start)
                out += f @ terms.weights[name][rows].to(x.device).T
        if self.patches is not None:
            raw = Patches(backbone.middle_dim).positions_of(x, self.patches_start(backbone))
            positions = normalised_positions(raw, self.patches.mean.to(x.device))
            out += best_positions(positions, self.patches.weight[rows].to(x.device))
        return out

    def save(self, path: Path) -> None:
        """Write the head as safetensors, atomically."""
        import safetensors.torch

        path = Path(path)
        metadata = {
            "format": RESIDUAL_HEAD_FORMAT,
            "labels": json.dumps(list(self.label_names), ensure_ascii=False),
            "prior_labels": json.dumps(list(self.prior.label_names), ensure_ascii=False),
            "backbone": self.feature_key,
        }
        tensors = {"weight": self.weight, "bias": self.bias, "alpha": self.alpha, "mean": self.mean}
        if self.prototypes is not None:
            tensors.update(self.prototypes.tensors())
        if self.patches is not None:
            tensors.update(
                {"patches_weight": self.patches.weight, "patches_mean": self.patches.mean}
            )
        data = safetensors.torch.save(tensors, metadata)
        write_atomically(path, data)
        logger.info("saved residual head (%d labels) to %s", len(self.label_names), path)

    @classmethod
    def load(cls, path: Path, prior: PriorHead) -> ResidualHead:
        """Read a head written by ``save``; ``prior`` must be the head it was trained over.

        Raises:
            ModelLoadError: Missing file, wrong format, metadata, shapes or prior.
        """
        tensors, metadata = _read_safetensors(Path(path))
        if metadata.get("format") != RESIDUAL_HEAD_FORMAT:
            raise ModelLoadError(f"{path} is not an albumtag residual head")
        if not set(_PLAIN) <= set(tensors):
            raise ModelLoadError(f"{path} must hold weight, bias, alpha and mean")
        try:
            labels = json.loads(metadata.get("labels", ""))
            prior_labels = json.loads(metadata.get("prior_labels", ""))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path}: label metadata is not JSON") from exc
        if not isinstance(labels, list) or prior_labels != list(prior.label_names):
            raise ModelLoadError(f"{path} was trained over another vocabulary's prior")
        patch_entries = [tensors.get(key) for key in PATCH_ENTRIES]
        try:
            patches = None
            if any(t is not None for t in patch_entries):
                if any(t is None for t in patch_entries):
                    raise ValueError("a patch term needs both its weight and its mean")
                patches = PatchTerm(*patch_entries)  # type: ignore[arg-type]
            terms = {k: v for k, v in tensors.items() if k not in _PLAIN + PATCH_ENTRIES}
            head = cls(
                labels,
                prior,
                tensors["weight"],
                tensors["bias"],
                tensors["alpha"],
                tensors["mean"],
                metadata.get("backbone", ""),
                PrototypeTerms.from_tensors(terms),
                patches,
            )
        except ValueError as exc:
            raise ModelLoadError(f"{path}: {exc}") from exc
        if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
            raise ModelLoadError(f"{path}: weights are not finite")
        return head


def zero_residual(
    label_names: Sequence[str], prior: PriorHead, dim: int, feature_key: str
) -> ResidualHead:
    """A residual head that reproduces the prior exactly (no correction yet)."""
    count = len(tuple(label_names))
    return ResidualHead(
        label_names,
        prior,
        torch.zeros(count, dim),
        torch.zeros(count),
        torch.ones(count),
        torch.zeros(dim),
        feature_key,
    )


def as_numpy(head: ResidualHead) -> dict[str, np.ndarray]:
    """The head's parameters as numpy arrays (for reports and tests)."""
    out = {
        "weight": head.weight.numpy(),
        "bias": head.bias.numpy(),
        "alpha": head.alpha.numpy(),
        "mean": head.mean.numpy(),
    }
    if head.prototypes is not None:
        out.update({k: v.numpy() for k, v in head.prototypes.tensors().items()})
    if head.patches is not None:
        out["patches_weight"] = head.patches.weight.numpy()
        out["patches_mean"] = head.patches.mean.numpy()
    return out
