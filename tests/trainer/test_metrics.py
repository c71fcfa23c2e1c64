"""Metrics on small hand-computed cases (docs/papers-recipe.md §1.3 / §2.4 conventions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.learning.metrics import Metrics, average_precision, evaluate, f1_score

# label A: GT rows 0,1, predicted row 0 -> P 1, R 1/2
# label B: GT row 2, predicted rows 2,3 -> P 1/2, R 1
Y2 = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
S2 = np.array([[0.9, 0.1], [0.3, 0.2], [0.1, 0.8], [0.2, 0.7]])


def test_f1_is_from_averaged_precision_and_recall() -> None:
    m = evaluate(Y2, S2)
    assert m.precision == pytest.approx(0.75, abs=1e-6)
    assert m.recall == pytest.approx(0.75, abs=1e-6)
    assert m.f1 == pytest.approx(0.75, abs=1e-6)
    mean_of_f1 = (2 / 3 + 2 / 3) / 2  # what ASL's validate.py would report
    assert m.f1 != pytest.approx(mean_of_f1, abs=1e-3)
    assert m.n_plus == 2
    assert m.micro_precision == pytest.approx(2 / 3, abs=1e-6)
    assert m.micro_recall == pytest.approx(2 / 3, abs=1e-6)
    assert m.micro_f1 == pytest.approx(2 / 3, abs=1e-6)
    assert m.mean_ap == pytest.approx(1.0)
    assert (m.n_labels, m.n_images) == (2, 4)


def test_never_predicted_label_contributes_zero_precision() -> None:
    y = np.column_stack([Y2, [0, 0, 0, 1]])
    s = np.column_stack([S2, [0.1, 0.1, 0.1, 0.1]])
    m = evaluate(y, s)
    assert m.precision == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-6)
    assert m.recall == pytest.approx((0.5 + 1 + 0) / 3, abs=1e-6)
    assert m.f1 == pytest.approx(0.5, abs=1e-6)
    assert m.n_plus == 2
    # the all-tied column: the single positive is retrieved with all 4 -> AP 1/4
    assert m.mean_ap == pytest.approx((1 + 1 + 0.25) / 3)


def test_papers_epsilon_is_used() -> None:
    m = evaluate(np.array([[1], [1], [0]]), np.array([[0.9], [0.2], [0.7]]))
    assert m.precision == pytest.approx(1 / (2 + 1e-7), rel=1e-12)
    assert m.recall == pytest.approx(1 / (2 + 1e-7), rel=1e-12)
    assert f1_score(0.5, 0.25) == pytest.approx(0.25 / (0.75 + 1e-7), rel=1e-12)


def test_threshold_is_strict_and_per_label() -> None:
    y = np.array([[1, 1], [0, 1]])
    s = np.array([[0.5, 0.3], [0.2, 0.3]])
    assert evaluate(y, s, 0.5).n_plus == 0  # 0.5 is not > 0.5
    m = evaluate(y, s, np.array([0.4, 0.25]))
    assert m.n_plus == 2
    assert m.precision == pytest.approx(1.0, abs=1e-6)
    assert m.recall == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="thresholds"):
        evaluate(y, s, np.array([0.1, 0.2, 0.3]))


def test_absent_labels_excluded_by_default_included_on_request() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0]])
    s = np.array([[0.9, 0.8], [0.1, 0.1], [0.7, 0.2]])
    default = evaluate(y, s)
    assert default.n_labels == 1
    assert default.precision == pytest.approx(1.0, abs=1e-6)
    papers = evaluate(y, s, include_absent=True)
    assert papers.n_labels == 2
    assert papers.precision == pytest.approx(0.5, abs=1e-6)  # (1 + 0/1) / 2
    assert papers.recall == pytest.approx(0.5, abs=1e-6)  # (1 + 0/1e-7 = 0) / 2
    assert papers.micro_precision == pytest.approx(2 / 3, abs=1e-6)


def test_mask_restricts_counts_to_known_entries() -> None:
    y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    s = np.array([[0.9, 0.6], [0.8, 0.1], [0.2, 0.7], [0.7, 0.9]])
    mask = np.array([[1, 1], [0, 1], [1, 1], [1, 0]], dtype=bool)
    m = evaluate(y, s, mask=mask)
    # label 0 known rows 0,2,3: pred 0,3; GT 0,2 -> TP1 PP2 GT2
    # label 1 known rows 0,1,2: pred 0,2; GT 2   -> TP1 PP2 GT1
    assert m.precision == pytest.approx((0.5 + 0.5) / 2, abs=1e-6)
    assert m.recall == pytest.approx((0.5 + 1.0) / 2, abs=1e-6)
    assert m.micro_precision == pytest.approx(2 / 4, abs=1e-6)
    assert m.micro_recall == pytest.approx(2 / 3, abs=1e-6)
    # AP label 0 ranked known: 0.9(+) 0.7(-) 0.2(+) -> (1 + 2/3)/2 ; label 1: 0.7(+) rank 1 of
    # known 0.7, 0.6, 0.1 -> 1
    assert m.mean_ap == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    unmasked = evaluate(y, s)
    assert unmasked.micro_recall == pytest.approx(3 / 4, abs=1e-6)


def test_average_precision_by_hand() -> None:
    y = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    s = np.array(
        [[0.9, 0.9, 0.3], [0.8, 0.8, 0.2], [0.7, 0.7, 0.1], [0.6, 0.6, 0.4], [0.5, 0.5, 0.5]]
    )
    ap = average_precision(y, s)
    assert ap[0] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert ap[1] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert math.isnan(ap[2])
    assert evaluate(y, s).mean_ap == pytest.approx(np.mean(ap[:2]))


def test_average_precision_ties_do_not_depend_on_row_order() -> None:
    y = np.array([[1], [0], [0], [1], [0]])
    s = np.array([[0.5], [0.5], [0.9], [0.2], [0.2]])
    # ranked groups: {0.9: -}, {0.5: +,-}, {0.2: +,-} -> precisions 1/3 and 2/5
    expected = (1 / 3 + 2 / 5) / 2
    for perm in ([0, 1, 2, 3, 4], [1, 0, 2, 4, 3], [4, 3, 2, 1, 0]):
        assert average_precision(y[perm], s[perm])[0] == pytest.approx(expected)


def test_n_plus_counts_labels_with_a_true_positive() -> None:
    y = np.array([[1, 1, 0, 1], [0, 1, 1, 0]])
    s = np.array([[0.9, 0.1, 0.9, 0.6], [0.1, 0.2, 0.1, 0.9]])
    assert evaluate(y, s).n_plus == 2  # labels 0 and 3


def test_as_dict_and_validation() -> None:
    d = evaluate(Y2, S2).as_dict()
    assert set(d) == {f for f in Metrics.__dataclass_fields__}
    assert d["n_plus"] == 2
    with pytest.raises(ValueError, match="0 and 1"):
        evaluate(np.array([[0.5]]), np.array([[0.5]]))
    with pytest.raises(ValueError, match="same"):
        evaluate(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        evaluate(np.array([[1]]), np.array([[np.nan]]))


def test_no_positives_anywhere_gives_nan_map_and_zero_macro() -> None:
    m = evaluate(np.zeros((3, 2)), np.full((3, 2), 0.9))
    assert math.isnan(m.mean_ap)
    assert (m.precision, m.recall, m.n_labels, m.n_plus) == (0.0, 0.0, 0, 0)
    assert m.micro_precision == 0.0
