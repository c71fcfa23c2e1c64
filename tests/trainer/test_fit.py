"""The training loop: it learns, it is reproducible, it stops early and refits on request."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.learning.fit import Batches, FitConfig, fit, held_out_loss, predict
from trainer.learning.heads import LinearProbe


def _problem(n: int = 300, d: int = 8, labels: int = 3, seed: int = 0) -> Batches:
    """Linearly separable labels: label c is on where feature c is positive."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :labels] > 0).astype(np.float32)
    return Batches.of(x, y, np.ones_like(y))


def _probe(seed: int = 0, d: int = 8, labels: int = 3) -> LinearProbe:
    torch.manual_seed(seed)
    return LinearProbe(d, labels, dropout=0.0)


def _accuracy(model: torch.nn.Module, data: Batches) -> float:
    return float(((predict(model, data.inputs) > 0.5) == (data.targets.numpy() > 0.5)).mean())


def _auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mean over labels of the probability that a positive outranks a negative."""
    out = []
    for c in range(truth.shape[1]):
        pos, neg = scores[truth[:, c] > 0.5, c], scores[truth[:, c] < 0.5, c]
        out.append(float((pos[:, None] > neg[None, :]).mean()))
    return float(np.mean(out))


@pytest.mark.parametrize("loss", ["bce", "proposed", "asl", "focal", "weighted_bce"])
def test_every_loss_learns_a_separable_problem(loss: str):
    data = _problem()
    model = _probe()
    result = fit(model, data, FitConfig(loss=loss, epochs=8, batch_size=64, lr=3e-2))
    assert result.epochs_run == 8 and result.best_epoch == 8
    assert result.train_losses[-1] < result.train_losses[0]
    assert _auc(predict(model, data.inputs), data.targets.numpy()) > 0.97


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_every_schedule_learns(schedule: str):
    data = _problem()
    model = _probe()
    fit(model, data, FitConfig(loss="bce", schedule=schedule, epochs=8, batch_size=64, lr=3e-2))
    assert _accuracy(model, data) > 0.9


def test_same_seed_same_model():
    data = _problem()
    weights = []
    for _ in range(2):
        model = _probe(seed=5)
        fit(model, data, FitConfig(epochs=3, batch_size=32, seed=7))
        weights.append(model.export()[0])
    assert torch.equal(weights[0], weights[1])
    other = _probe(seed=5)
    fit(other, data, FitConfig(epochs=3, batch_size=32, seed=8))  # another shuffle
    assert not torch.equal(weights[0], other.export()[0])


def test_early_stopping_keeps_the_best_epoch():
    """Held-out labels that contradict training: held-out loss rises, the best epoch is early."""
    train = _problem(seed=1)
    flipped = _problem(seed=2)
    val = Batches(flipped.inputs, 1.0 - flipped.targets, flipped.weights)
    model = _probe()
    result = fit(
        model,
        train,
        FitConfig(epochs=40, lr=3e-2, batch_size=64, patience=3, min_epochs=3),
        val=val,
    )
    assert result.epochs_run < 40
    assert result.best_epoch == int(np.argmin(result.val_losses)) + 1
    assert held_out_loss(model, val) == pytest.approx(min(result.val_losses), rel=1e-5)


def test_stop_at_runs_exactly_that_many_epochs_and_ignores_val():
    data = _problem()
    events: list[tuple[int, int]] = []
    result = fit(
        _probe(),
        data,
        FitConfig(epochs=10),
        val=data,
        stop_at=4,
        progress=lambda done, planned: events.append((done, planned)),
    )
    assert result.epochs_run == 4 and result.val_losses == []
    assert events == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_small_album_still_gets_enough_steps():
    """Six rows with batch 1024: every epoch takes ``min_steps`` full-batch steps."""
    data = _problem(n=6)
    steps: list[int] = []
    model = _probe()
    model.register_forward_hook(lambda *a: steps.append(1))
    fit(model, data, FitConfig(epochs=2, min_steps=10))
    assert len(steps) == 20


def test_zero_weights_are_ignored():
    data = _problem()
    noisy = Batches(
        data.inputs, torch.rand_like(data.targets).round(), torch.zeros_like(data.weights)
    )
    both = Batches(
        torch.cat([data.inputs, noisy.inputs]),
        torch.cat([data.targets, noisy.targets]),
        torch.cat([data.weights, noisy.weights]),
    )
    model = _probe()
    fit(model, both, FitConfig(loss="bce", epochs=8, batch_size=64, lr=3e-2))
    assert _accuracy(model, data) > 0.9


def test_held_out_loss_is_bce_over_known_entries():
    data = _problem(n=10)
    model = _probe()  # predicts 0.5 everywhere
    half = Batches(data.inputs, data.targets, data.weights * 0.0)
    half.weights[:, 0] = 1.0
    assert held_out_loss(model, half) == pytest.approx(np.log(2), rel=1e-5)
    assert np.isnan(held_out_loss(model, Batches(data.inputs, data.targets, data.weights * 0.0)))


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        FitConfig(epochs=0)
    with pytest.raises(ValueError):
        FitConfig(schedule="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Batches.of(np.zeros((3, 2)), np.zeros((4, 1)), np.zeros((4, 1)))
