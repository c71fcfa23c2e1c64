"""Trainable heads: a linear head on pooled features, attention pooling on feature maps, and a
whole network for full fine-tuning.

* ``LinearProbe`` (the default) trains in seconds on the features the album caches. Inputs are
  centred and scaled inside the module (better conditioned for Adam), and a label may share its
  ancestors' weights; ``export`` folds all of that back into a plain ``weight``/``bias`` pair
  on raw features, which is what ``core.model.tagger.LinearHead`` serves.
* ``AttentionPoolingHead`` is docs/papers-recipe.md §2.1 exactly: 1×1 conv to d + ReLU, frozen
  random label queries, one pre-norm decoder layer without self-attention (8 heads, FFN 2048,
  dropout 0.1, final LayerNorm), then a per-label "group FC". For C = 260, 2048 channels and
  d = 1024 it has 10,766,596 learnable parameters.
* ``FineTuneModel`` wraps a timm backbone (all of it trainable) with Dropout → Linear, the
  docs/papers-recipe.md §1.4 model. It is implemented for completeness; on a CPU it is far too
  slow to use.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol, cast

import torch
from torch import nn

logger = logging.getLogger(__name__)


def learnable_parameters(module: nn.Module) -> int:
    """Number of parameters with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class LinearProbe(nn.Module):
    """Dropout → Linear on centred, scaled pooled features, optionally sharing along the tree.

    With ``ancestors`` (an (C, C) 0/1 matrix, 1 where column a is row c itself or one of its
    ancestors), label c's weight vector is the sum of its own free vector and those of its
    ancestors: a child ("poodle", or a user's "Grandma" under "person") starts from its
    parent's direction and learns only how it differs. This is still one linear layer
    (``export``), it just makes a label with a handful of examples borrow from the thousands its
    parent has.

    Weights start at zero (a random start is ranking noise that a label with few examples
    never trains away); the bias starts at the log-odds of ``prior``.

    Args:
        in_features: Feature length D.
        num_labels: Number of labels C.
        mean: (D,) feature mean subtracted first (zeros if None).
        scale: Scalar the centred features are divided by (1 if None). One number for all
            dimensions: per-dimension scaling would blow up dimensions that are almost always
            zero in the album and not in a new photo.
        dropout: Dropout on the scaled features while training.
        prior: Optional (C,) positive rate per label.
        ancestors: Optional (C, C) tree matrix (see above).
    """

    # buffers (register_buffer), typed here since nn.Module's attribute access cannot say so
    mean: torch.Tensor
    _child: torch.Tensor
    _ancestor: torch.Tensor

    def __init__(
        self,
        in_features: int,
        num_labels: int,
        *,
        mean: torch.Tensor | None = None,
        scale: float = 1.0,
        dropout: float = 0.0,
        prior: torch.Tensor | None = None,
        ancestors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        mean = torch.zeros(in_features) if mean is None else mean.float()
        self.register_buffer("mean", mean.clone())
        self.scale = float(scale) if scale > 0 else 1.0
        pairs = (
            torch.zeros((2, 0), dtype=torch.long)
            if ancestors is None
            else (ancestors.float() - torch.eye(num_labels)).nonzero().T
        )
        self.register_buffer("_child", pairs[0].clone())  # label c ...
        self.register_buffer("_ancestor", pairs[1].clone())  # ... and one of its ancestors
        self.dropout = nn.Dropout(dropout)
        self.own = nn.Parameter(torch.zeros(num_labels, in_features))
        self.bias = nn.Parameter(torch.zeros(num_labels))
        if prior is not None:
            p = prior.float().clamp(1e-4, 1 - 1e-4)
            with torch.no_grad():
                self.bias.copy_(torch.log(p / (1 - p)))

    def weight(self) -> torch.Tensor:
        """The (C, D) weight on scaled features (the tree sum applied)."""
        if self._child.numel() == 0:
            return self.own
        return self.own.index_add(0, self._child, self.own[self._ancestor])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = (
            self.dropout((x - self.mean) / self.scale) @ self.weight().T + self.bias
        )
        return logits

    def export(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight, bias)`` such that ``x @ weight.T + bias`` equals ``forward`` in eval mode."""
        with torch.no_grad():
            weight = self.weight() / self.scale
            bias = self.bias - weight @ self.mean
        return weight.detach().clone(), bias.detach().clone()


class _CrossAttentionDecoderLayer(nn.Module):
    """One pre-norm transformer decoder layer with the self-attention block removed."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.dropout2 = nn.Dropout(dropout)
        self.norm3 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, ffn)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn, d_model)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self, target: torch.Tensor, memory: torch.Tensor, query_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        query = self.norm2(target) + query_pos
        attended, weights = self.cross_attn(
            query, memory, memory, need_weights=True, average_attn_weights=True
        )
        target = target + self.dropout2(attended)
        hidden = self.linear2(self.dropout(torch.relu(self.linear1(self.norm3(target)))))
        return target + self.dropout3(hidden), weights


class AttentionPoolingHead(nn.Module):
    """Attention-based pooling over a feature map (docs/papers-recipe.md §2.1).

    Args:
        in_channels: Channels of the backbone's feature map (2048 for TResNet-M).
        num_labels: Number of labels C.
        d_model: Width d of the projected tokens and the label queries.
        heads: Attention heads.
        ffn: Hidden width of the feed-forward block.
        dropout: Dropout inside the decoder layer.
    """

    def __init__(
        self,
        in_channels: int,
        num_labels: int,
        *,
        d_model: int = 1024,
        heads: int = 8,
        ffn: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, d_model, kernel_size=1)
        self.queries = nn.Embedding(num_labels, d_model)  # N(0, 1), frozen below
        self.queries.weight.requires_grad_(False)
        self.decoder = _CrossAttentionDecoderLayer(d_model, heads, ffn, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.group_weight = nn.Parameter(torch.empty(1, num_labels, d_model))
        self.group_bias = nn.Parameter(torch.zeros(num_labels))
        for p in self.decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.xavier_normal_(self.group_weight)
        self.last_attention: torch.Tensor | None = None

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) of a feature map (B, in_channels, H, W)."""
        tokens = torch.relu(self.proj(feature_map)).flatten(2).transpose(1, 2)  # B, N, d
        batch = tokens.shape[0]
        query_pos = self.queries.weight.unsqueeze(0).expand(batch, -1, -1)
        target = torch.zeros_like(query_pos)
        hidden, attention = self.decoder(target, tokens, query_pos)
        self.last_attention = attention.detach()  # B, C, N: for visualisation only
        hidden = self.norm(hidden)
        logits: torch.Tensor = (self.group_weight * hidden).sum(dim=-1) + self.group_bias
        return logits


class _TimmNet(Protocol):
    """The two calls a timm network offers that nn.Module's stubs cannot know of."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor: ...


class FineTuneModel(nn.Module):
    """A whole timm network plus Dropout → Linear, all trainable (docs/papers-recipe.md §1.4).

    Args:
        backbone: A timm model (``forward_features`` / ``forward_head(pre_logits=True)``).
        feature_dim: Its pooled feature length.
        num_labels: Number of labels C.
        dropout: Dropout before the linear layer (the papers' 0.3).
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, num_labels: int, *, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.backbone = backbone.train().requires_grad_(True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(feature_dim, num_labels)
        bound = 1.0 / math.sqrt(feature_dim)
        nn.init.uniform_(self.linear.weight, -bound, bound)
        nn.init.zeros_(self.linear.bias)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) of normalised images (B, 3, H, W)."""
        backbone = cast(_TimmNet, self.backbone)
        pooled = backbone.forward_head(backbone.forward_features(pixels), pre_logits=True)
        logits: torch.Tensor = self.linear(self.dropout(pooled))
        return logits
