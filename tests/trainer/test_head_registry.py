"""The trainer's registry of head kinds, and the one prior-logit formula both sides use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.model import heads as served
from core.model.residual import prior_logits
from trainer.__main__ import main as trainer_main
from trainer.album.train import HEADS, head_trainer, served_heads
from trainer.learning.residual_fit import prior_offset


def test_every_kind_has_one_entry_and_the_album_serves_only_some():
    assert list(HEADS) == ["residual", "linear", "attention", "finetune"]
    assert served_heads() == ("residual", "linear")
    assert all(served.is_servable(name) == HEADS[name].servable for name in HEADS)
    with pytest.raises(ValueError, match="unknown head 'mlp'"):
        head_trainer("mlp")


def test_the_command_line_offers_only_the_served_heads(capsys, tmp_path):
    assert trainer_main(["train", str(tmp_path), "--head", "attention"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'attention'" in err and "'residual', 'linear'" in err


def test_the_trainers_prior_offset_is_the_served_heads_formula():
    """residual_fit fits on prior_offset; ResidualHead serves with prior_logits: the same
    numbers, to the bit, for float32 scores (0 and 1 clamped), and 0 where the prior has no
    column."""
    rng = np.random.default_rng(0)
    scores = rng.random((500, 4), dtype=np.float32)
    scores[:5] = 0.0
    scores[5:10] = 1.0
    has_prior = np.array([True, True, False, True])
    served_logits = prior_logits(torch.from_numpy(scores)).numpy()
    offset = prior_offset(scores, has_prior)
    assert np.array_equal(offset[:, has_prior], served_logits[:, has_prior])
    assert (offset[:, 2] == 0).all() and np.isfinite(offset).all()
