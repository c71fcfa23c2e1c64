"""CB-WCE weights on tiny hand-made label sets and against a set-based brute force."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.learning.missing import (
    conditional_frequencies,
    negative_confidence_weights,
    positive_class_weights,
)

# labels A, B, C
Y = np.array(
    [
        [1, 1, 0],  # {A, B}
        [1, 0, 0],  # {A}
        [1, 1, 1],  # {A, B, C}
        [0, 0, 0],  # {}
        [0, 0, 1],  # {C}
    ]
)
# count({A,B}) = 2 (rows 0, 2); with C: 1          -> w(0, C) = 1 - 1/2
# count({A}) = 3 (rows 0, 1, 2); with B: 2, with C: 1 -> w(1, B) = 1/3, w(1, C) = 2/3
# row 2 has every label                            -> all 0
# count({}) = 5: marginals A 3/5, B 2/5, C 2/5      -> w = 2/5, 3/5, 3/5
# count({C}) = 2 (rows 2, 4); with A: 1, with B: 1  -> w = 1/2, 1/2
EXPECTED = np.array(
    [
        [0, 0, 1 / 2],
        [0, 1 / 3, 2 / 3],
        [0, 0, 0],
        [2 / 5, 3 / 5, 3 / 5],
        [1 / 2, 1 / 2, 0],
    ]
)


def _brute_force(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1 - count(P | {c}) / count(P) with Python sets, 0 on positives."""
    ref_sets = [frozenset(np.flatnonzero(row)) for row in reference]
    out = np.zeros(observed.shape)
    for n, row in enumerate(observed):
        have = frozenset(np.flatnonzero(row))
        containing = [s for s in ref_sets if have <= s]
        for c in range(observed.shape[1]):
            if c in have:
                continue
            out[n, c] = 1.0 - sum(c in s for s in containing) / len(containing)
    return out


def test_hand_made_weights() -> None:
    w = negative_confidence_weights(Y)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, EXPECTED, atol=1e-7)


def test_duplicate_rows_count_with_their_multiplicity() -> None:
    y = np.vstack([Y, [[1, 0, 0]]])  # a second {A}
    w = negative_confidence_weights(y)
    # count({A}) = 4 (rows 0, 1, 2, 5); with B: 2, with C: 1
    np.testing.assert_allclose(w[1], [0, 1 / 2, 3 / 4], atol=1e-7)
    np.testing.assert_allclose(w[5], w[1])
    # marginals change too: A 4/6, B 2/6, C 2/6
    np.testing.assert_allclose(w[3], [1 / 3, 2 / 3, 2 / 3], atol=1e-7)


def test_conditional_frequency_is_one_on_own_labels() -> None:
    freq = conditional_frequencies(Y)
    assert np.all(freq[Y == 1] == 1.0)
    np.testing.assert_allclose(freq[3], [3 / 5, 2 / 5, 2 / 5])


@pytest.mark.parametrize("chunk_size", [1, 3, 512])
def test_matches_set_brute_force_on_random_labels(chunk_size: int) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((60, 6)) < np.array([0.5, 0.3, 0.2, 0.6, 0.1, 0.4])).astype(int)
    got = negative_confidence_weights(y, chunk_size=chunk_size)
    np.testing.assert_allclose(got, _brute_force(y, y), atol=1e-6)


def test_separate_reference_and_unseen_pattern_falls_back_to_marginal() -> None:
    query = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1]])
    reference = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0]])
    w = negative_confidence_weights(query, reference=reference)
    # {A} in reference: rows 0, 1, 2 -> B 1/3, C 1/3
    np.testing.assert_allclose(w[0], [0, 2 / 3, 2 / 3], atol=1e-7)
    # {B, C} never occurs: P(A) = marginal 3/4
    np.testing.assert_allclose(w[1], [1 / 4, 0, 0], atol=1e-7)
    np.testing.assert_allclose(w[2], [0, 0, 0])


def test_smoothing_pulls_toward_the_marginal() -> None:
    # row 2 {A,B,C} is unique; row 0 {A,B}: count 2, with C 1. marginal C = 2/5
    w = negative_confidence_weights(Y, smoothing=2.0)
    assert w[0, 2] == pytest.approx(1 - (1 + 2 * 2 / 5) / (2 + 2), abs=1e-7)
    # the empty set already sits at the marginal: unchanged
    np.testing.assert_allclose(w[3], EXPECTED[3], atol=1e-7)
    assert np.all(w[Y == 1] == 0)


def test_min_weight_floors_negatives_only() -> None:
    # reference: every photo with A also has B, so a query {A} gets w(B) = 0
    query = np.array([[1, 0], [1, 1], [0, 0]])
    reference = np.array([[1, 1], [1, 1], [0, 0], [0, 1]])
    plain = negative_confidence_weights(query, reference=reference)
    # {} -> marginals A 2/4, B 3/4
    np.testing.assert_allclose(plain, [[0, 0], [0, 0], [1 / 2, 1 / 4]], atol=1e-7)
    floored = negative_confidence_weights(query, reference=reference, min_weight=0.3)
    np.testing.assert_allclose(floored, [[0, 0.3], [0, 0], [1 / 2, 0.3]], atol=1e-7)


def test_validation() -> None:
    with pytest.raises(ValueError, match="0 and 1"):
        negative_confidence_weights(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="labels"):
        negative_confidence_weights(np.zeros((2, 3)), reference=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="min_weight"):
        negative_confidence_weights(np.zeros((2, 3)), min_weight=1.5)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        negative_confidence_weights(np.zeros(3))


def test_positive_class_weights() -> None:
    # N = 20: N+ = 10 -> 1 ; 4 -> round(2.5) = 2 ; 1 -> 10 ; 0 -> 10 (clip) ; 3 -> round(3.33) = 3
    y = np.zeros((20, 5), dtype=int)
    y[:10, 0] = 1
    y[:4, 1] = 1
    y[:1, 2] = 1
    y[:3, 4] = 1
    np.testing.assert_array_equal(positive_class_weights(y), [1, 2, 10, 10, 3])
    mask = np.ones((20, 5), dtype=bool)
    mask[10:, 1] = False  # label 1: 10 known, 4 positive -> round(1.25) = 1
    assert positive_class_weights(y, mask)[1] == 1.0
    assert positive_class_weights(y, max_weight=5.0)[2] == 5.0
