"""Multi-label losses on one code path: proposed, ASL, focal, BCE and weighted BCE.

Every loss here is the same per-element formula with different settings. With ``x`` a
logit, ``y`` a (possibly soft) target in [0, 1] and ``p = sigmoid(x)``:

* positives: ``q = sigmoid(x - pos_margin)``;
  ``L+ = -(1 - q)**gamma_pos * log(q)``, except that where ``q >= switch`` the focusing
  factor is dropped (``L+ = -log(q)``). ``switch=None`` keeps the factor everywhere.
* negatives: ``s = max(p - neg_margin, 0)``; ``L- = -s**gamma_neg * log(1 - s)``.
* element: ``L = w * (y * w+ * L+ + (1 - y) * w- * L-)`` where ``w`` is the optional
  per-element ``weight``, ``w+`` the optional ``pos_weight`` and ``w-`` the optional
  ``neg_weight`` (all broadcast against the (B, C) logits).

Log arguments are clamped below at ``eps`` (1e-8 for the papers' losses, as in their
code); ``eps=0`` means no clamp. Logs are taken with ``logsigmoid`` so nothing overflows.
The focusing factors are never detached, so gradients flow through them (docs/papers-recipe.md
§1.1 and §4: the papers' MultiLabelLoss, not ASL's default no-grad variant).

Kinds and their defaults (``LossConfig.for_kind``):

=============  ========  ========  ==========  ==========  ======  =====
kind           gamma_neg gamma_pos neg_margin  pos_margin  switch  eps
=============  ========  ========  ==========  ==========  ======  =====
proposed       4         3         0.05        1.1         0.25    1e-8
asl            4         0         0.05        0           None    1e-8
focal          3         3         0           0           None    1e-8
bce            0         0         0           0           None    0
weighted_bce   0         0         0           0           None    0
=============  ========  ========  ==========  ==========  ======  =====

``weighted_bce`` is ``bce`` meant to be called with ``pos_weight`` (per-class w+_c,
e.g. ``trainer.learning.missing.positive_class_weights``) and/or ``neg_weight`` (per-class or
per-element w-, e.g. ``trainer.learning.missing.negative_confidence_weights``),
docs/papers-recipe.md §5.2.
Without them it equals ``bce``. ``pos_weight``/``neg_weight`` work with every kind.

Reductions:

* ``"mean"``: sum of element losses / (B*C), the papers' reduction (weights included in
  the numerator only, so weight-0 entries still count in the denominator).
* ``"weighted_mean"``: sum(w*L) / sum(w) with ``w = weight`` (broadcast to (B, C)); the
  mean over what is known when ``weight`` is a 0/1 mask. Zero total weight gives 0.
  Equals ``"mean"`` when ``weight`` is None.
* ``"sum"``: sum of element losses.
* ``"none"``: the (B, C) element losses.

Half-precision logits (float16/bfloat16) are computed in float32 and the result is
float32; float32 and float64 inputs keep their dtype.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn
from torch.nn.functional import logsigmoid

logger = logging.getLogger(__name__)

LossKind = Literal["proposed", "asl", "focal", "bce", "weighted_bce"]
Reduction = Literal["mean", "weighted_mean", "sum", "none"]

LOSS_NAMES: tuple[str, ...] = get_args(LossKind)
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

_KIND_DEFAULTS: dict[str, dict[str, float | None]] = {
    "proposed": dict(
        gamma_neg=4.0, gamma_pos=3.0, neg_margin=0.05, pos_margin=1.1, switch=0.25, eps=1e-8
    ),
    "asl": dict(
        gamma_neg=4.0, gamma_pos=0.0, neg_margin=0.05, pos_margin=0.0, switch=None, eps=1e-8
    ),
    "focal": dict(
        gamma_neg=3.0, gamma_pos=3.0, neg_margin=0.0, pos_margin=0.0, switch=None, eps=1e-8
    ),
    "bce": dict(gamma_neg=0.0, gamma_pos=0.0, neg_margin=0.0, pos_margin=0.0, switch=None, eps=0.0),
    "weighted_bce": dict(
        gamma_neg=0.0, gamma_pos=0.0, neg_margin=0.0, pos_margin=0.0, switch=None, eps=0.0
    ),
}


@dataclass(frozen=True)
class LossConfig:
    """Settings of the shared multi-label loss; the defaults are the ``proposed`` loss.

    Attributes:
        kind: The loss name (a label; the numbers below define the computation).
        gamma_neg: Focusing exponent on negatives (``s**gamma_neg``).
        gamma_pos: Focusing exponent on positives (``(1 - q)**gamma_pos``).
        neg_margin: Probability shift on negatives (ASL's clip ``m``), in [0, 1).
        pos_margin: Logit margin on positives: ``q = sigmoid(x - pos_margin)``.
        switch: Positives with ``q >= switch`` use plain ``-log q`` (no focusing factor);
            None applies the factor everywhere.
        eps: Lower clamp of the log arguments; 0 disables the clamp.
    """

    kind: LossKind = "proposed"
    gamma_neg: float = 4.0
    gamma_pos: float = 3.0
    neg_margin: float = 0.05
    pos_margin: float = 1.1
    switch: float | None = 0.25
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.kind not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.kind!r}; choose one of {LOSS_NAMES}")
        if self.gamma_neg < 0 or self.gamma_pos < 0:
            raise ValueError("focusing exponents must be >= 0")
        if not 0.0 <= self.neg_margin < 1.0:
            raise ValueError(f"neg_margin must be in [0, 1), got {self.neg_margin}")
        if not 0.0 <= self.eps < 1.0:
            raise ValueError(f"eps must be in [0, 1), got {self.eps}")

    @classmethod
    def for_kind(cls, kind: str, **overrides: float | None) -> LossConfig:
        """The defaults of ``kind`` (see the module table), with ``overrides`` applied.

        Raises:
            ValueError: Unknown kind or unknown/invalid override.
        """
        if kind not in _KIND_DEFAULTS:
            raise ValueError(f"unknown loss {kind!r}; choose one of {LOSS_NAMES}")
        fields = {**_KIND_DEFAULTS[kind], **overrides}
        return cls._build(kind=kind, **fields)

    @classmethod
    def _build(cls, **fields: object) -> LossConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown loss settings {unknown}; known: {sorted(known)}")
        return cls(**fields)  # type: ignore[arg-type]


def resolve_config(kind: str | LossConfig, **overrides: float | None) -> LossConfig:
    """A ``LossConfig`` from a loss name or an existing config, with overrides applied."""
    if isinstance(kind, LossConfig):
        if not overrides:
            return kind
        return LossConfig._build(**{**dataclasses.asdict(kind), **overrides})
    return LossConfig.for_kind(kind, **overrides)


def _clamped_log(log_value: torch.Tensor, eps: float) -> torch.Tensor:
    """``log(max(v, eps))`` given ``log(v)``: identical values and gradients."""
    if eps > 0:
        return torch.clamp(log_value, min=math.log(eps))
    return log_value


def _positive_loss(x: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    z = x - cfg.pos_margin if cfg.pos_margin else x
    loss = -_clamped_log(logsigmoid(z), cfg.eps)
    if cfg.gamma_pos == 0:
        return loss
    factor = torch.sigmoid(-z).pow(cfg.gamma_pos)  # (1 - q)**gamma, accurate near q = 1
    if cfg.switch is not None:
        hard = torch.sigmoid(z) < cfg.switch  # only hard positives get the focusing factor
        factor = torch.where(hard, factor, torch.ones_like(factor))
    return factor * loss


def _negative_loss(x: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    if cfg.neg_margin > 0:
        # 1 - s = min(1 - p + m, 1) >= m > 0, computed from sigmoid(-x) to stay accurate.
        one_minus_s = torch.clamp(torch.sigmoid(-x) + cfg.neg_margin, max=1.0)
        loss = -_clamped_log(torch.log(one_minus_s), cfg.eps)
        s = 1.0 - one_minus_s
    else:
        loss = -_clamped_log(logsigmoid(-x), cfg.eps)
        s = torch.sigmoid(x)
    if cfg.gamma_neg == 0:
        return loss
    return s.pow(cfg.gamma_neg) * loss


def _as_like(value: torch.Tensor | float | None, ref: torch.Tensor) -> torch.Tensor | None:
    if value is None:
        return None
    out = torch.as_tensor(value, device=ref.device)
    return out.to(ref.dtype)


def multilabel_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    kind: str | LossConfig = "proposed",
    weight: torch.Tensor | None = None,
    reduction: Reduction = "mean",
    pos_weight: torch.Tensor | None = None,
    neg_weight: torch.Tensor | None = None,
    **overrides: float | None,
) -> torch.Tensor:
    """The multi-label loss of ``kind`` (see the module docstring for the formula).

    Args:
        logits: (B, C) raw scores.
        targets: (B, C) targets in [0, 1]; soft values interpolate
            ``y * L+ + (1 - y) * L-``.
        kind: A name from ``LOSS_NAMES`` or a ``LossConfig``.
        weight: Per-element weight broadcastable to (B, C); 0 removes an entry.
        reduction: ``"mean"``, ``"weighted_mean"``, ``"sum"`` or ``"none"``.
        pos_weight: Weight of the positive term, broadcastable to (B, C) (a (C,) vector
            is per class).
        neg_weight: Weight of the negative term, broadcastable to (B, C).
        **overrides: ``LossConfig`` fields replacing the kind's defaults.

    Returns:
        A scalar, or the (B, C) element losses for ``reduction="none"``.

    Raises:
        ValueError: Bad shapes, reduction, kind or settings.
    """
    cfg = resolve_config(kind, **overrides)
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {REDUCTIONS}")
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ")
    x = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    y = targets.to(device=x.device, dtype=x.dtype)

    pos = _positive_loss(x, cfg)
    neg = _negative_loss(x, cfg)
    pw, nw = _as_like(pos_weight, x), _as_like(neg_weight, x)
    if pw is not None:
        pos = pos * pw
    if nw is not None:
        neg = neg * nw
    element = y * pos + (1.0 - y) * neg
    if element.shape != x.shape:
        raise ValueError(f"pos_weight/neg_weight changed the loss shape to {element.shape}")

    w = _as_like(weight, x)
    if w is not None:
        try:
            w = torch.broadcast_to(w, element.shape)
        except RuntimeError as exc:
            raise ValueError(
                f"weight {tuple(w.shape)} does not broadcast to {tuple(element.shape)}"
            ) from exc
        element = element * w

    if reduction == "none":
        return element
    if reduction == "sum":
        return element.sum()
    if reduction == "weighted_mean" and w is not None:
        return element.sum() / w.sum().clamp_min(1e-12)
    return element.sum() / max(element.numel(), 1)


def anchored_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    anchored: torch.Tensor,
    *,
    kind: str | LossConfig = "asl",
    anchor: str | LossConfig = "bce",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, C) element losses: ``kind`` where the target is the user's word, ``anchor`` where it
    is a prior's own score (``anchored``, bool broadcastable to (B, C)).

    With ``anchor="bce"`` and a soft target ``p0`` the anchored element is
    ``-p0 log p - (1 - p0) log(1 - p)``: the cross-entropy whose gradient in the logit is
    ``p - p0``, zero where the score is the prior's own and growing as it leaves it on either
    side (KL(p0 || p) up to a constant). The asymmetric losses are no anchor: their negative
    margin (0.05 for ``asl``) leaves every score below it without loss, so a target of ~0 does
    not hold a score there, and a fit lifts it. ``weight`` scales both parts.
    """
    element = multilabel_loss(logits, targets, kind=kind, weight=weight, reduction="none")
    if not bool(torch.as_tensor(anchored).any()):
        return element
    soft = multilabel_loss(logits, targets, kind=anchor, weight=weight, reduction="none")
    return torch.where(torch.as_tensor(anchored, device=element.device), soft, element)


class MultiLabelLoss(nn.Module):
    """``multilabel_loss`` as a module; a constant ``pos_weight`` lives in a buffer.

    Args:
        kind: A name from ``LOSS_NAMES`` or a ``LossConfig``.
        reduction: See ``multilabel_loss``.
        pos_weight: Optional constant per-class positive weights (C,).
        **overrides: ``LossConfig`` fields replacing the kind's defaults.
    """

    pos_weight: torch.Tensor | None

    def __init__(
        self,
        kind: str | LossConfig = "proposed",
        *,
        reduction: Reduction = "mean",
        pos_weight: torch.Tensor | None = None,
        **overrides: float | None,
    ) -> None:
        super().__init__()
        self.config = resolve_config(kind, **overrides)
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; choose one of {REDUCTIONS}")
        self.reduction: Reduction = reduction
        pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        self.register_buffer("pos_weight", pw)

    def forward(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        weight: torch.Tensor | None = None,
        neg_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The loss of this batch; ``weight`` and ``neg_weight`` as in ``multilabel_loss``."""
        return multilabel_loss(
            logits,
            targets,
            kind=self.config,
            weight=weight,
            reduction=self.reduction,
            pos_weight=self.pos_weight,
            neg_weight=neg_weight,
        )

    def extra_repr(self) -> str:
        return f"{self.config}, reduction={self.reduction!r}"
