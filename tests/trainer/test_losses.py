"""Losses against the reference values of docs/papers-recipe.md §1.1, torch's BCE and formulas
derived by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import binary_cross_entropy_with_logits

from trainer.learning.losses import (
    LOSS_NAMES,
    LossConfig,
    MultiLabelLoss,
    anchored_loss,
    multilabel_loss,
)

# docs/papers-recipe.md §1.1: x -> (proposed y=1, proposed y=0, ASL y=1, ASL y=0)
REFERENCE = {
    -4.0: (5.013814, 0.000000, 4.018150, 0.000000),
    -2.0: (2.754743, 0.000002, 2.126928, 0.000002),
    -1.0: (1.566632, 0.000568, 1.313262, 0.000568),
    0.0: (0.585891, 0.024515, 0.693147, 0.024515),
    0.5: (1.037488, 0.091253, 0.474077, 0.091253),
    1.0: (0.744397, 0.245860, 0.313262, 0.245860),
    2.0: (0.341154, 0.846415, 0.126928, 0.846415),
    4.0: (0.053563, 2.028576, 0.018150, 2.028576),
}
XS = list(REFERENCE)


def _elements(kind: str, y: float, dtype: torch.dtype = torch.float64) -> list[float]:
    x = torch.tensor([XS], dtype=dtype)
    t = torch.full_like(x, y)
    return multilabel_loss(x, t, kind=kind, reduction="none")[0].tolist()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("kind", "y", "column"),
    [("proposed", 1.0, 0), ("proposed", 0.0, 1), ("asl", 1.0, 2), ("asl", 0.0, 3)],
)
def test_reference_table(kind: str, y: float, column: int, dtype: torch.dtype) -> None:
    expected = [REFERENCE[x][column] for x in XS]
    assert _elements(kind, y, dtype) == pytest.approx(expected, abs=1e-5)


def test_batch_example_mean() -> None:
    x = torch.tensor([[2.0, -1.0, 0.3], [-3.0, 1.5, 0.0]])
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    assert multilabel_loss(x, y).item() == pytest.approx(0.249476, abs=1e-6)
    assert multilabel_loss(x, y, reduction="sum").item() == pytest.approx(6 * 0.249476, abs=1e-5)


def test_proposed_is_the_default_and_the_config_defaults() -> None:
    assert LossConfig() == LossConfig.for_kind("proposed")
    x = torch.tensor([[0.7, -0.2]])
    y = torch.tensor([[1.0, 0.0]])
    assert torch.equal(multilabel_loss(x, y), multilabel_loss(x, y, kind=LossConfig()))


def test_proposed_positive_branch_by_hand() -> None:
    # q >= 0.25 -> -log q ; q < 0.25 -> -(1-q)^3 log q, with q = sigmoid(x - 1.1)
    xs = [-6.0, -0.3, 0.001, 0.002, 0.8, 3.0]
    expected = []
    for x in xs:
        q = _sigmoid(x - 1.1)
        expected.append(-math.log(q) if q >= 0.25 else -((1 - q) ** 3) * math.log(q))
    got = multilabel_loss(
        torch.tensor([xs], dtype=torch.float64), torch.ones(1, len(xs)), reduction="none"
    )
    assert got[0].tolist() == pytest.approx(expected, rel=1e-9)


def test_focal_reference_values_by_hand() -> None:
    xs = [-5.0, -1.5, 0.0, 0.4, 2.5, 6.0]
    pos = [-((1 - _sigmoid(x)) ** 3) * math.log(_sigmoid(x)) for x in xs]
    neg = [-(_sigmoid(x) ** 3) * math.log(1 - _sigmoid(x)) for x in xs]
    assert _elements_for("focal", xs, 1.0) == pytest.approx(pos, rel=1e-9, abs=1e-12)
    assert _elements_for("focal", xs, 0.0) == pytest.approx(neg, rel=1e-9, abs=1e-12)


def _elements_for(kind: str, xs: list[float], y: float) -> list[float]:
    x = torch.tensor([xs], dtype=torch.float64)
    return multilabel_loss(x, torch.full_like(x, y), kind=kind, reduction="none")[0].tolist()


def test_asl_negative_branch_equals_proposed_negative_branch() -> None:
    xs = [-3.0, -0.1, 0.05, 1.7, 9.0]
    assert _elements_for("asl", xs, 0.0) == _elements_for("proposed", xs, 0.0)


def test_bce_matches_torch_including_extremes_and_soft_targets() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=gen, dtype=torch.float64) * 6
    x[0, 0], x[0, 1], x[1, 0] = 60.0, -60.0, 0.0
    y = torch.rand(7, 5, generator=gen, dtype=torch.float64)
    y[2] = (y[2] > 0.5).double()
    for reduction in ("mean", "sum", "none"):
        ours = multilabel_loss(x, y, kind="bce", reduction=reduction)  # type: ignore[arg-type]
        ref = binary_cross_entropy_with_logits(x, y, reduction=reduction)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_weighted_bce_matches_torch_pos_weight_and_weight() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64) * 3
    y = (torch.rand(6, 4, generator=gen) > 0.6).double()
    pos_weight = torch.tensor([1.0, 2.0, 5.0, 10.0], dtype=torch.float64)
    weight = torch.rand(6, 4, generator=gen, dtype=torch.float64)
    ours = multilabel_loss(x, y, kind="weighted_bce", pos_weight=pos_weight, weight=weight)
    ref = binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pos_weight)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_weighted_bce_negative_weights_by_hand() -> None:
    # docs/papers-recipe.md §5.2: -y w+_c log p - (1-y) w-_{n,c} log(1-p), mean over (n, c)
    x = [[0.5, -1.0], [2.0, 0.3]]
    y = [[1.0, 0.0], [0.0, 1.0]]
    wpos = [3.0, 2.0]
    wneg = [[1.0, 0.25], [0.0, 1.0]]
    total = 0.0
    for n in range(2):
        for c in range(2):
            p = _sigmoid(x[n][c])
            total += -y[n][c] * wpos[c] * math.log(p)
            total += -(1 - y[n][c]) * wneg[n][c] * math.log(1 - p)
    got = multilabel_loss(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(y, dtype=torch.float64),
        kind="weighted_bce",
        pos_weight=torch.tensor(wpos),
        neg_weight=torch.tensor(wneg),
    )
    assert got.item() == pytest.approx(total / 4, rel=1e-12)


def test_gradient_flows_through_positive_focusing_weight() -> None:
    # focal branch of proposed (q < 0.25): dL/dx = (1-q)^3 [3 q ln q - (1-q)]
    # BCE branch (q >= 0.25): dL/dx = q - 1
    xs = [-4.0, -1.0, -0.2, 0.0, 0.5, 2.0]
    x = torch.tensor([xs], dtype=torch.float64, requires_grad=True)
    multilabel_loss(x, torch.ones_like(x), reduction="sum").backward()
    assert x.grad is not None
    expected = []
    for v in xs:
        q = _sigmoid(v - 1.1)
        if q < 0.25:
            expected.append((1 - q) ** 3 * (3 * q * math.log(q) - (1 - q)))
        else:
            expected.append(q - 1)
    assert x.grad[0].tolist() == pytest.approx(expected, rel=1e-9)
    detached_focal = -((1 - _sigmoid(-4.0 - 1.1)) ** 4)  # what a no-grad weight would give
    assert x.grad[0, 0].item() != pytest.approx(detached_focal, rel=1e-3)


def test_gradient_flows_through_negative_focusing_weight() -> None:
    # L- = -s^4 log(1-s), s = p - 0.05 > 0: dL/dx = [-4 s^3 log(1-s) + s^4/(1-s)] p (1-p)
    xs = [-1.0, 0.0, 1.0, 3.0]
    x = torch.tensor([xs], dtype=torch.float64, requires_grad=True)
    multilabel_loss(x, torch.zeros_like(x), reduction="sum").backward()
    assert x.grad is not None
    expected = []
    for v in xs:
        p = _sigmoid(v)
        s = p - 0.05
        expected.append((-4 * s**3 * math.log(1 - s) + s**4 / (1 - s)) * p * (1 - p))
    assert x.grad[0].tolist() == pytest.approx(expected, rel=1e-9)


def test_negative_margin_gives_zero_loss_and_gradient_below_margin() -> None:
    x = torch.tensor([[-4.0, math.log(0.05 / 0.95) - 1e-3]], requires_grad=True)  # p < 0.05
    loss = multilabel_loss(x, torch.zeros_like(x), reduction="sum")
    loss.backward()
    assert loss.item() == 0.0
    assert x.grad is not None
    assert torch.count_nonzero(x.grad) == 0


@pytest.mark.parametrize("kind", LOSS_NAMES)
def test_zero_weight_entries_get_zero_gradient(kind: str) -> None:
    x = torch.tensor([[1.5, -200.0, 0.2], [300.0, -0.7, 2.0]], requires_grad=True)
    y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    w = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    loss = multilabel_loss(x, y, kind=kind, weight=w, reduction="weighted_mean")
    loss.backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 1].item() == 0.0
    assert x.grad[1, 0].item() == 0.0
    assert x.grad[0, 0].item() != 0.0
    moved = x.detach().clone()
    moved[0, 1], moved[1, 0] = 5.0, -5.0  # unknown entries do not change the loss
    again = multilabel_loss(moved, y, kind=kind, weight=w, reduction="weighted_mean")
    assert again.item() == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.parametrize("kind", ["proposed", "asl", "focal"])
def test_soft_targets_interpolate(kind: str) -> None:
    column = {"proposed": (0, 1), "asl": (2, 3)}
    x = torch.tensor([XS], dtype=torch.float64)
    got = multilabel_loss(x, torch.full_like(x, 0.3), kind=kind, reduction="none")[0].tolist()
    if kind in column:
        pos = [REFERENCE[v][column[kind][0]] for v in XS]
        neg = [REFERENCE[v][column[kind][1]] for v in XS]
    else:
        pos, neg = _elements_for(kind, XS, 1.0), _elements_for(kind, XS, 0.0)
    expected = [0.3 * a + 0.7 * b for a, b in zip(pos, neg, strict=True)]
    assert got == pytest.approx(expected, abs=1e-5)


def test_reductions() -> None:
    x = torch.tensor([[2.0, -1.0], [0.0, 4.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    elements = [REFERENCE[2.0][0], REFERENCE[-1.0][1], REFERENCE[0.0][0], REFERENCE[4.0][1]]
    w = torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64)
    weighted = [1.0 * elements[0], 0.5 * elements[1], 0.0, 2.0 * elements[3]]

    none = multilabel_loss(x, y, weight=w, reduction="none")
    assert none.shape == (2, 2)
    assert none.flatten().tolist() == pytest.approx(weighted, abs=1e-5)
    assert multilabel_loss(x, y, weight=w, reduction="sum").item() == pytest.approx(
        sum(weighted), abs=1e-5
    )
    assert multilabel_loss(x, y, weight=w).item() == pytest.approx(sum(weighted) / 4, abs=1e-5)
    assert multilabel_loss(x, y, weight=w, reduction="weighted_mean").item() == pytest.approx(
        sum(weighted) / 3.5, abs=1e-5
    )
    assert multilabel_loss(x, y, reduction="weighted_mean").item() == pytest.approx(
        sum(elements) / 4, abs=1e-5
    )


def test_per_class_weight_broadcasts_over_batch() -> None:
    x = torch.tensor([[0.3, -0.4], [1.2, 0.9]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    full = multilabel_loss(x, y, reduction="none")
    cls = multilabel_loss(x, y, weight=torch.tensor([2.0, 0.0]), reduction="none")
    torch.testing.assert_close(cls, full * torch.tensor([[2.0, 0.0], [2.0, 0.0]]))


def test_all_zero_weight_weighted_mean_is_zero_without_nan() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    loss = multilabel_loss(x, torch.ones(3, 4), weight=torch.zeros(3, 4), reduction="weighted_mean")
    loss.backward()
    assert loss.item() == 0.0
    assert x.grad is not None
    assert torch.count_nonzero(x.grad) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", LOSS_NAMES)
def test_half_precision_computes_in_float32(kind: str, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(2)
    x = (torch.randn(8, 6, generator=gen) * 4).to(dtype)
    y = (torch.rand(8, 6, generator=gen) > 0.5).to(dtype)
    got = multilabel_loss(x, y, kind=kind, reduction="none")
    assert got.dtype == torch.float32
    ref = multilabel_loss(x.double(), y.double(), kind=kind, reduction="none")
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", LOSS_NAMES)
def test_extreme_logits_stay_finite(kind: str) -> None:
    x = torch.tensor([[1e4, -1e4, 80.0, -80.0]], requires_grad=True)
    for y in (torch.ones(1, 4), torch.zeros(1, 4), torch.full((1, 4), 0.5)):
        loss = multilabel_loss(x, y, kind=kind, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss)
        assert torch.isfinite(grad).all()


def test_log_clamp_caps_the_papers_losses_but_not_bce() -> None:
    x = torch.tensor([[-100.0]], dtype=torch.float64)
    y = torch.ones_like(x)
    assert multilabel_loss(x, y, kind="asl").item() == pytest.approx(-math.log(1e-8))
    assert multilabel_loss(x, y, kind="bce").item() == pytest.approx(100.0)


def test_overrides_and_configs() -> None:
    x = torch.tensor([[1.0]], dtype=torch.float64)
    y = torch.zeros_like(x)
    p = _sigmoid(1.0)
    s = p - 0.05
    got = multilabel_loss(x, y, gamma_neg=2.0).item()
    assert got == pytest.approx(-(s**2) * math.log(1 - s), rel=1e-9)
    cfg = LossConfig.for_kind("focal", gamma_pos=1.0)
    assert (cfg.gamma_neg, cfg.gamma_pos, cfg.kind) == (3.0, 1.0, "focal")
    assert LossConfig.for_kind("asl").switch is None
    with pytest.raises(ValueError, match="unknown loss"):
        LossConfig.for_kind("hinge")
    with pytest.raises(ValueError, match="unknown loss settings"):
        multilabel_loss(x, y, gamma=2.0)
    with pytest.raises(ValueError, match="neg_margin"):
        LossConfig(neg_margin=1.0)


def test_bad_reduction_and_shapes() -> None:
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="reduction"):
        multilabel_loss(x, x, reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="differ"):
        multilabel_loss(x, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="broadcast"):
        multilabel_loss(x, x, weight=torch.ones(4))


def test_module_wraps_the_function() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, generator=gen)
    y = (torch.rand(4, 3, generator=gen) > 0.5).float()
    w = torch.rand(4, 3, generator=gen)
    nw = torch.rand(4, 3, generator=gen)
    pw = torch.tensor([1.0, 3.0, 2.0])
    module = MultiLabelLoss("weighted_bce", reduction="weighted_mean", pos_weight=pw)
    expected = multilabel_loss(
        x, y, kind="weighted_bce", weight=w, reduction="weighted_mean", pos_weight=pw, neg_weight=nw
    )
    torch.testing.assert_close(module(x, y, w, nw), expected)
    assert "pos_weight" in module.state_dict()
    asl = MultiLabelLoss("asl", gamma_neg=2.0)
    assert (asl.config.gamma_neg, asl.config.kind) == (2.0, "asl")
    torch.testing.assert_close(asl(x, y), multilabel_loss(x, y, kind="asl", gamma_neg=2.0))


def test_switch_boundary_belongs_to_the_bce_branch() -> None:
    # docs/papers-recipe.md §1.1: -log q if q >= switch. With no margin and switch 0.5, x = 0
    # gives q = 0.5 exactly.
    x = torch.zeros(1, 1, dtype=torch.float64)
    got = multilabel_loss(x, torch.ones_like(x), pos_margin=0.0, switch=0.5).item()
    assert got == pytest.approx(math.log(2.0), rel=1e-12)
    below = multilabel_loss(x, torch.ones_like(x), pos_margin=0.0, switch=0.5 + 1e-9).item()
    assert below == pytest.approx(0.5**3 * math.log(2.0), rel=1e-12)


def test_anchored_entries_hold_the_prior_where_asl_lets_them_drift() -> None:
    """A soft target of ~0 under ASL has no loss below the 0.05 margin (a fit lifts the score
    freely); anchored to it with the soft-target cross-entropy, the gradient is p - p0."""
    p0 = torch.tensor([[0.002, 0.3]])
    start = torch.log(p0 / (1 - p0))
    for lift in (0.0, 2.0):
        x = (start + lift).requires_grad_(True)
        z = (start + lift).requires_grad_(True)
        multilabel_loss(z, p0, kind="asl", reduction="none").sum().backward()
        anchored = anchored_loss(x, p0, torch.ones_like(p0, dtype=torch.bool), kind="asl")
        anchored.sum().backward()
        expected = torch.sigmoid(x.detach()) - p0
        assert torch.allclose(x.grad, expected, atol=1e-6)
        if lift == 0.0:
            assert torch.allclose(x.grad, torch.zeros_like(x.grad), atol=1e-6)
            assert z.grad[0, 0] < 0  # ASL pushes a score of 0.002 up even at its target
        else:
            assert x.grad[0, 0] > 0.01  # a lifted unjudged photo (0.015) is pulled back
            assert z.grad[0, 0] < 0  # ASL still pushes it up: below the margin only y*L+ acts
    # entries not anchored are ASL's own
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    y = torch.tensor([[1.0, 0.0], [0.2, 0.0]])
    mask = torch.tensor([[False, False], [True, False]])
    out = anchored_loss(x, y, mask, kind="asl", weight=torch.full_like(x, 2.0))
    plain = multilabel_loss(x, y, kind="asl", weight=torch.full_like(x, 2.0), reduction="none")
    soft = multilabel_loss(x, y, kind="bce", weight=torch.full_like(x, 2.0), reduction="none")
    assert torch.equal(out[~mask], plain[~mask]) and torch.equal(out[mask], soft[mask])
