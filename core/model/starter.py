"""The starter correction: what the prior learns, before any user, from labelled real photos.

ImageNet has no class for sky, and its scene classes say "landscape" only now and then. The
starter is a residual correction (the same form as ``core.model.residual``: the prior's logit plus
``w . u(x) + b`` on centred, L2-normalised pooled features, plus, from format 2 on, terms on the
appearance descriptor's parts, ``core.model.terms``: colour and layout tell a sky or a
landscape apart where the ImageNet features do not) fitted by
``tools/build_starter.py`` on the *dev* part of the labelled photo set (``benchmarks/photoset``)
for the labels where cross-validation on that part showed a gain; its thresholds were tuned
there too. The holdout part only measures it. It ships as ``assets/starter.safetensors`` and
applies only to the backbone (and cached-descriptor layout) it was fitted on.

The prior head (model version 0) applies it to the labels it covers; user corrections are
fitted on top of it like on the rest of the prior.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from core.model.tagger import Backbone
    from core.model.terms import PrototypeTerms

logger = logging.getLogger(__name__)

#: Format 1: pooled features only; format 2 adds appearance terms (``<part>_weight`` ...).
STARTER_FORMAT = "albumtag-starter/2"
_FORMATS = ("albumtag-starter/1", STARTER_FORMAT)
_PLAIN = ("weight", "bias", "alpha", "mean")
STARTER_FILE = "starter.safetensors"


@dataclass(frozen=True)
class Starter:
    """A fitted correction for some labels.

    Attributes:
        labels: Label names it corrects.
        weight: (S, D) on normalised pooled features.
        bias: (S,).
        alpha: (S,) 1 where the ImageNet prior scores the label, 0 where it cannot.
        mean: (D,) mean pooled feature of the photos it was fitted on.
        thresholds: Tuned threshold per label.
        backbone: ``Backbone.id`` of the features it was fitted on.
        digest: Names this starter (a change makes the album re-score its photos).
        terms: Weights (S, K) on appearance parts of the descriptor, or None.
    """

    labels: tuple[str, ...]
    weight: torch.Tensor
    bias: torch.Tensor
    alpha: torch.Tensor
    mean: torch.Tensor
    thresholds: dict[str, float]
    backbone: str
    digest: str
    terms: PrototypeTerms | None = None

    def apply(
        self,
        base: torch.Tensor,
        descriptors: torch.Tensor,
        columns: torch.Tensor,
        backbone: Backbone,
        appearance_start: int,
    ) -> torch.Tensor:
        """Scores with the correction applied to ``columns`` (one per starter label) of
        ``base`` (B, L) prior scores, from descriptors (B, F) whose pooled features come first
        and whose appearance descriptor begins at ``appearance_start``."""
        import torch

        from core.model.residual import prior_logits

        x = descriptors.to(base.device, torch.float32)
        centred = x[:, : backbone.feature_dim] - self.mean.to(x.device)
        u = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
        logit = self.alpha.to(x.device) * prior_logits(base[:, columns])
        logit = logit + u @ self.weight.to(x.device).T + self.bias.to(x.device)
        if self.terms is not None:
            for name in self.terms.parts:
                f = self.terms.features(name, backbone, x, appearance_start)
                logit = logit + f @ self.terms.weights[name].to(x.device).T
        out = base.clone()
        out[:, columns] = torch.sigmoid(logit)
        return out


def starter_path(folder: Path | None = None) -> Path:
    """Where the starter ships (next to the vocabulary)."""
    from core.resources import assets_dir

    return (folder or assets_dir()) / STARTER_FILE


def starter_labels(path: Path | None = None) -> frozenset[str]:
    """The labels the starter at ``path`` (default: the shipped one) corrects, read from its
    header without torch; empty when it is missing or unreadable."""
    import safetensors

    path = starter_path() if path is None else Path(path)
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            labels = json.loads(dict(handle.metadata() or {})["labels"])
        return frozenset(str(name) for name in labels)
    except Exception as exc:  # noqa: BLE001 - a broken starter names no label, and stops nothing
        logger.debug("starter labels of %s not read: %s", path, exc)
        return frozenset()


def load_starter(path: Path) -> Starter | None:
    """The starter at ``path``, or None (with a log line) when it is missing or unreadable."""
    import safetensors
    import torch

    if not path.is_file():
        return None
    from core.model.terms import PrototypeTerms

    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as handle:
            meta = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        if meta.get("format") not in _FORMATS:
            raise ValueError(f"format {meta.get('format')!r}")
        if not set(_PLAIN) <= set(tensors):
            raise ValueError("weight, bias, alpha and mean are needed")
        terms = PrototypeTerms.from_tensors({k: v for k, v in tensors.items() if k not in _PLAIN})
        labels = tuple(json.loads(meta["labels"]))
        thresholds = {str(k): float(v) for k, v in json.loads(meta["thresholds"]).items()}
        if tensors["weight"].shape != (len(labels), tensors["mean"].shape[0]):
            raise ValueError("weight shape")
        if terms is not None and terms.label_count() != len(labels):
            raise ValueError("appearance weights' shape")
        if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
            raise ValueError("weights are not finite")
    except Exception as exc:  # noqa: BLE001 - a broken starter must never stop the album
        logger.warning("starter %s not used: %s", path, exc)
        return None
    return Starter(
        labels,
        tensors["weight"].float(),
        tensors["bias"].float(),
        tensors["alpha"].float(),
        tensors["mean"].float(),
        thresholds,
        meta.get("backbone", ""),
        meta.get("digest", ""),
        terms.kept() if terms is not None else None,
    )


def save_starter(path: Path, starter: Starter, notes: dict[str, Any]) -> None:
    """Write a starter (``tools/build_starter.py``)."""
    import safetensors.torch

    meta = {
        "format": STARTER_FORMAT,
        "labels": json.dumps(list(starter.labels)),
        "thresholds": json.dumps(starter.thresholds),
        "backbone": starter.backbone,
        "digest": starter.digest,
        "notes": json.dumps(notes),
    }
    tensors = {
        "weight": starter.weight.contiguous(),
        "bias": starter.bias.contiguous(),
        "alpha": starter.alpha.contiguous(),
        "mean": starter.mean.contiguous(),
    }
    if starter.terms is not None:
        tensors.update({k: v.contiguous() for k, v in starter.terms.tensors().items()})
    path.write_bytes(safetensors.torch.save(tensors, meta))


def digest_of(
    weight: np.ndarray,
    bias: np.ndarray,
    labels: tuple[str, ...],
    terms: PrototypeTerms | None = None,
) -> str:
    """A short name for a starter's content."""
    import hashlib

    h = hashlib.sha256("\n".join(labels).encode())
    h.update(np.ascontiguousarray(weight, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(bias, dtype=np.float32).tobytes())
    for key, value in sorted((terms.tensors() if terms is not None else {}).items()):
        h.update(key.encode())
        h.update(np.ascontiguousarray(value.numpy(), dtype=np.float32).tobytes())
    return h.hexdigest()[:10]
