"""LabelPolicy: exactly the on/has semantics stated in core/labels/policy.py's docstring."""

from __future__ import annotations

from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED, Evidence, LabelPolicy

# animal(1) ─ dog(2) ─ poodle(3)
#          └ cat(4)
# plant(5)
PARENTS = {1: None, 2: 1, 3: 2, 4: 1, 5: None}
THRESHOLDS = {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.3, 5: 0.5}


def tags(*evidence: Evidence) -> dict[int, tuple[bool, bool]]:
    policy = LabelPolicy(PARENTS, THRESHOLDS)
    return {t.label_id: (t.direct, t.verified) for t in policy.tags(evidence)}


def test_score_at_or_above_threshold_turns_a_label_on_and_its_ancestors_follow():
    assert tags(Evidence(3, 0.30, NO_VERDICT)) == {
        3: (True, False),
        2: (False, False),
        1: (False, False),
    }
    assert tags(Evidence(3, 0.29, NO_VERDICT)) == {}


def test_confirming_poodle_gives_dog_and_animal_verified():
    assert tags(Evidence(3, None, CONFIRMED)) == {
        3: (True, True),
        2: (False, True),
        1: (False, True),
    }


def test_confirmed_label_is_on_whatever_its_score():
    assert tags(Evidence(4, 0.01, CONFIRMED))[4] == (True, True)


def test_rejected_label_is_never_on_even_with_a_high_score():
    assert tags(Evidence(4, 0.99, REJECTED)) == {}


def test_rejecting_dog_removes_dog_and_breeds_but_not_animal_from_other_evidence():
    result = tags(
        Evidence(3, 0.9, NO_VERDICT), Evidence(2, 0.9, REJECTED), Evidence(4, 0.8, NO_VERDICT)
    )
    assert 2 not in result and 3 not in result
    assert result[1] == (False, False)  # animal still comes from the cat
    assert result[4] == (True, False)


def test_rejecting_dog_with_only_poodle_evidence_removes_animal_too():
    assert tags(Evidence(3, 0.9, NO_VERDICT), Evidence(2, None, REJECTED)) == {}


def test_rejected_parent_blocks_even_a_confirmed_child():
    result = tags(Evidence(3, None, CONFIRMED), Evidence(2, None, REJECTED))
    assert result == {}


def test_rejecting_animal_removes_everything_below():
    assert tags(Evidence(4, 0.9, NO_VERDICT), Evidence(1, None, REJECTED)) == {}


def test_parent_on_by_its_own_score_without_children():
    assert tags(Evidence(1, 0.6, NO_VERDICT)) == {1: (True, False)}


def test_unknown_threshold_defaults_to_one_half():
    policy = LabelPolicy({9: None}, {})
    assert [t.label_id for t in policy.tags([Evidence(9, 0.5, NO_VERDICT)])] == [9]
    assert policy.tags([Evidence(9, 0.49, NO_VERDICT)]) == []
