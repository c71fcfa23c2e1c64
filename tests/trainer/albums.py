"""Synthetic albums for the residual trainer's tests."""

from __future__ import annotations

import numpy as np
import torch

from trainer.learning.residual_fit import normalised_features


def clustered_album(n: int, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Normalised features of ``n`` photos around 12 cluster centres (photos of one thing look
    alike), and each photo's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, 64)).astype(np.float32)
    cluster = rng.integers(0, 12, size=n)
    x = np.maximum(centres[cluster] + 0.9 * rng.normal(size=(n, 64)).astype(np.float32), 0)
    return normalised_features(x)[1], cluster
