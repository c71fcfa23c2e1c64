"""The photo-set benchmark marks each holdout row against issue 12's goals."""

from __future__ import annotations

from benchmarks.bench_photoset import goal_note


def test_confirm_only_rows_are_held_to_f1_and_precision() -> None:
    assert goal_note("confirm-only", 5, 0.52, 0.61) == (
        "   goal F1 >= 0.50 met, precision >= 0.60 met"
    )
    assert goal_note("confirm-only", 20, 0.62, 0.73) == (
        "   goal F1 >= 0.70 not met, precision >= 0.60 met"
    )


def test_other_rows_are_held_to_precision_alone() -> None:
    assert goal_note("confirm-only", 3, 0.9, 0.59) == "   goal precision >= 0.60 not met"
    assert goal_note("rejecting shown", 5, 0.1, 0.8) == "   goal precision >= 0.60 met"
