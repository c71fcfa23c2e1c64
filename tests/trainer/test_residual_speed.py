"""How the residual fit uses the cores: its fold fits run side by side, one torch thread each,
and give exactly what they give one after the other on one thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from trainer.learning import residual_fit
from trainer.learning.residual_fit import ResidualConfig, fit_residual, normalised_features


def _problem(n: int = 900, labels: int = 4, seed: int = 0) -> tuple:
    """Photos in clusters, a prior that half knows each label, verdicts on a quarter."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(labels, 48)).astype(np.float32)
    cluster = rng.integers(0, labels, size=n)
    x = np.maximum(centres[cluster] + rng.normal(size=(n, 48)).astype(np.float32), 0)
    u = normalised_features(x)[1]
    truth = np.eye(labels, dtype=np.float32)[cluster]
    prior = np.clip(0.6 * truth + 0.3 * rng.random((n, labels)), 1e-4, 1 - 1e-4)
    verified = rng.random((n, labels)) < 0.25
    return u, prior.astype(np.float32), np.ones(labels, dtype=bool), truth, verified


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_fold_fits_run_side_by_side_and_equal_one_thread_in_turn(monkeypatch, threads):
    args = _problem()
    config = ResidualConfig(unlabelled_sample=400)
    torch.set_num_threads(1)
    alone = fit_residual(*args, config=config)

    seen: list[tuple[str, int]] = []
    solve = residual_fit.solve

    def watched(*a, **k):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return solve(*a, **k)

    monkeypatch.setattr(residual_fit, "solve", watched)
    torch.set_num_threads(2)
    together = fit_residual(*args, config=config)

    assert len(seen) == config.folds + 1  # five folds and the final fit
    assert {name.split("_")[0] for name, _ in seen} == {"albumtag-fit"}
    assert len({name for name, _ in seen}) == 2  # two workers for two torch threads
    assert {count for _, count in seen} == {1}
    assert np.array_equal(alone.weight, together.weight)
    assert np.array_equal(alone.bias, together.bias)
    assert np.array_equal(alone.thresholds, together.thresholds, equal_nan=True)
    assert np.allclose(alone.oof, together.oof, atol=1e-6)


def test_one_torch_thread_fits_in_the_calling_thread(monkeypatch, threads):
    names: list[str] = []
    solve = residual_fit.solve

    def watched(*a, **k):
        names.append(threading.current_thread().name)
        return solve(*a, **k)

    monkeypatch.setattr(residual_fit, "solve", watched)
    torch.set_num_threads(1)
    fit_residual(*_problem(n=300, labels=2), config=ResidualConfig(unlabelled_sample=100))
    assert names and set(names) == {threading.current_thread().name}
