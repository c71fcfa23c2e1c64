"""The trained head (model version >= 1): a correction on top of the prior, never a replacement.

For label l and a photo with descriptor d (pooled features x, then regional evidence):

    logit_l = alpha_l * logit(prior_l(d)) + w_l . u(x) + b_l + [v_l . p(x) + z_l . s(x)],
    u(x) = (x - mean) / |x - mean|,

with, in brackets, what labels taught only by confirmations read
(``trainer.learning.residual_fit.prototype``): ``p(x)``, the square roots of the pooled features
centred on their album mean ``power_mean`` and L2-normalised (``power_root``), and ``s(x)``, the
square roots of the backbone's own ImageNet probabilities (``semantic``) centred on
``semantic_mean`` and normalised: what the photo looks like to the classifier. Both come from
the pooled features, so nothing new is cached. ``v`` and ``z`` are zero for every other label,
and a head without them (a file written before they existed) reads as zero.

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
from core.model.heads import RESIDUAL, RESIDUAL_HEAD_FORMAT
from core.model.regions import Regions
from core.model.tagger import (
    Backbone,
    PriorHead,
    _label_tuple,
    _read_safetensors,
    write_atomically,
)

logger = logging.getLogger(__name__)

#: Prior scores are clamped to [EPS, 1 - EPS] before the logit.
EPS = 1e-4


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


def prior_logits(prior_scores: torch.Tensor) -> torch.Tensor:
    """Logits of clamped prior scores."""
    p = prior_scores.clamp(EPS, 1 - EPS)
    return torch.log(p) - torch.log1p(-p)


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
        power_weight: (L, D) on power-normalised pooled features, or None (all 0).
        power_mean: (D,) the album's mean ``power_root`` of pooled features.
        semantic_weight: (L, K) on normalised semantic features (``semantic``), or None (all 0).
        semantic_mean: (K,) the album's mean semantic feature.

        The last four come together or not at all.

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
        power_weight: torch.Tensor | None = None,
        power_mean: torch.Tensor | None = None,
        semantic_weight: torch.Tensor | None = None,
        semantic_mean: torch.Tensor | None = None,
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
        extra = (power_weight, power_mean, semantic_weight, semantic_mean)
        if any(t is None for t in extra) and not all(t is None for t in extra):
            raise ValueError(
                "power_weight, power_mean, semantic_weight and semantic_mean come together"
            )
        if power_weight is not None and power_mean is not None:
            if tuple(power_weight.shape) != tuple(weight.shape):
                raise ValueError(
                    f"power_weight must be {tuple(weight.shape)}, got {tuple(power_weight.shape)}"
                )
            if tuple(power_mean.shape) != (weight.shape[1],):
                raise ValueError(
                    f"power_mean must be ({weight.shape[1]},), got {tuple(power_mean.shape)}"
                )
        if semantic_weight is not None and semantic_mean is not None:
            if semantic_weight.ndim != 2 or semantic_weight.shape[0] != count:
                raise ValueError(
                    f"semantic_weight must be ({count}, K), got {tuple(semantic_weight.shape)}"
                )
            if tuple(semantic_mean.shape) != (semantic_weight.shape[1],):
                raise ValueError(
                    f"semantic_mean must be ({semantic_weight.shape[1]},), "
                    f"got {tuple(semantic_mean.shape)}"
                )
        self.prior = prior
        self.regions: Regions | None = prior.regions
        self.feature_key = feature_key
        self.weight = weight.detach().to("cpu", torch.float32).contiguous().clone()
        self.bias = bias.detach().to("cpu", torch.float32).clone()
        self.alpha = alpha.detach().to("cpu", torch.float32).clone()
        self.mean = mean.detach().to("cpu", torch.float32).clone()
        self.power_weight: torch.Tensor | None = None
        self.power_mean: torch.Tensor | None = None
        self.semantic_weight: torch.Tensor | None = None
        self.semantic_mean: torch.Tensor | None = None
        self._prototype_rows = torch.zeros(0, dtype=torch.long)
        if (
            power_weight is not None
            and power_mean is not None
            and semantic_weight is not None
            and semantic_mean is not None
        ):

            def kept(t: torch.Tensor) -> torch.Tensor:
                return t.detach().to("cpu", torch.float32).contiguous().clone()

            self.power_weight, self.power_mean = kept(power_weight), kept(power_mean)
            self.semantic_weight, self.semantic_mean = kept(semantic_weight), kept(semantic_mean)
            used = (self.power_weight.abs().sum(dim=1) > 0) | (
                self.semantic_weight.abs().sum(dim=1) > 0
            )
            self._prototype_rows = torch.nonzero(used)[:, 0]
        index = {n: i for i, n in enumerate(prior.label_names)}
        self.prior_column = torch.tensor([index.get(n, -1) for n in self.label_names])
        self.alpha[self.prior_column < 0] = 0.0

    @property
    def feature_dim(self) -> int:
        return int(self.weight.shape[1])

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
        if self.semantic_weight is not None and self.semantic_weight.shape[1] != (
            backbone.num_classes
        ):
            raise ModelLoadError(
                f"head expects {self.semantic_weight.shape[1]} classes, backbone has "
                f"{backbone.num_classes}"
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
        """(B, R) what the power and semantic weights add for the R labels that have them."""
        rows = self._prototype_rows
        if (
            not rows.numel()
            or self.power_weight is None
            or self.power_mean is None
            or self.semantic_weight is None
            or self.semantic_mean is None
        ):
            return torch.zeros(x.shape[0], 0, device=x.device)
        pooled = x[:, : self.feature_dim]
        p = normalise(power_root(pooled), self.power_mean.to(x.device))
        s = normalise(semantic(backbone, pooled), self.semantic_mean.to(x.device))
        return (
            p @ self.power_weight[rows].to(x.device).T
            + s @ self.semantic_weight[rows].to(x.device).T
        )

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
        extra = {
            "power_weight": self.power_weight,
            "power_mean": self.power_mean,
            "semantic_weight": self.semantic_weight,
            "semantic_mean": self.semantic_mean,
        }
        tensors.update({k: v for k, v in extra.items() if v is not None})
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
        plain = {"weight", "bias", "alpha", "mean"}
        extra = {"power_weight", "power_mean", "semantic_weight", "semantic_mean"}
        if set(tensors) not in (plain, plain | extra):
            raise ModelLoadError(
                f"{path} must hold weight, bias, alpha and mean (and optionally all of "
                "power_weight, power_mean, semantic_weight and semantic_mean)"
            )
        try:
            labels = json.loads(metadata.get("labels", ""))
            prior_labels = json.loads(metadata.get("prior_labels", ""))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path}: label metadata is not JSON") from exc
        if not isinstance(labels, list) or prior_labels != list(prior.label_names):
            raise ModelLoadError(f"{path} was trained over another vocabulary's prior")
        try:
            head = cls(
                labels,
                prior,
                tensors["weight"],
                tensors["bias"],
                tensors["alpha"],
                tensors["mean"],
                metadata.get("backbone", ""),
                tensors.get("power_weight"),
                tensors.get("power_mean"),
                tensors.get("semantic_weight"),
                tensors.get("semantic_mean"),
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
    for name in ("power_weight", "power_mean", "semantic_weight", "semantic_mean"):
        value = getattr(head, name)
        if value is not None:
            out[name] = value.numpy()
    return out
