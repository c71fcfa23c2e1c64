"""The rare-label benchmark's album of a subset of photos."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.bench_rare_labels import subset
from trainer.learning.residual_fit import PatchSource, ProtoFeatures, ProtoPart


def test_a_subset_keeps_each_part_and_the_patches_of_its_rows_only() -> None:
    values = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    part = ProtoPart("power", torch.zeros(2), None, None, values)
    coords = torch.arange(60, dtype=torch.float32).reshape(10, 3, 2)
    patches = PatchSource(torch.zeros(4), torch.zeros(4, 2), coords)
    rows = np.array([1, 4, 7])
    kept = subset(ProtoFeatures((part,), patches), rows)
    assert kept.count == 3
    assert torch.equal(kept.parts[0].values, values[rows])
    assert kept.patches is not None and torch.equal(kept.patches.coords, coords[rows])
    assert torch.equal(kept.rows(np.arange(3)), ProtoFeatures((part,)).rows(rows))
