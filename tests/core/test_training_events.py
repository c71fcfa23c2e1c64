"""The training events, defined once for the trainer (writes them) and the app (reads them)."""

from __future__ import annotations

import pytest

from core import training_events as events


def test_events_survive_a_line_of_json() -> None:
    sent = [
        events.progress("training", 3, 30),
        events.done(
            2,
            True,
            "better",
            {"f1": 0.5},
            {"f1": 0.6},
            [{"label": "Mimi", "confirmed": 4}],
            "few photos",
        ),
        events.error("nothing to learn from yet"),
    ]
    lines = [events.encode(e) for e in sent]
    assert all("\n" not in line for line in lines)
    assert [events.parse(line) for line in lines] == sent
    assert sent[1]["labels"] == [{"label": "Mimi", "confirmed": 4}]


def test_parse_ignores_what_is_not_an_event() -> None:
    for line in ("Warning: something", "[1, 2]", '{"phase": "x"}', '{"event": "party"}', ""):
        assert events.parse(line) is None


def test_a_progress_event_names_a_known_phase() -> None:
    assert events.PHASES[0] == "loading" and set(events.PHASES) == set(events.PHASE_NAMES)
    with pytest.raises(ValueError, match="unknown training phase"):
        events.progress("dreaming", 0, 1)


def test_done_text_tells_the_run_with_its_warning_and_how_to_activate() -> None:
    done = events.done(
        4,
        False,
        "kept the active version: the new one is worse",
        {"f1": 0.8, "n_photos": 40},
        {"f1": 0.7, "n_photos": 40},
        warning="only 3 photos have verdicts",
    )
    lines = events.done_text(done).splitlines()
    assert lines[0] == "Model version 4: kept the active version: the new one is worse"
    f1 = next(line for line in lines if line.strip().startswith("F1"))
    assert f1.split()[1:] == ["0.800", "0.700"]
    assert "Warning: only 3 photos have verdicts." in lines
    assert lines[-1] == "Activate it anyway with: albumtag models ALBUM --activate 4"
    active = events.done_text(events.done(5, True, "better", {}, {}))
    assert active == "Model version 5: better"


def test_labels_the_training_doubts_are_named_for_review() -> None:
    rows = [
        # tags many more photos, and the training expects most of them wrong: review
        {"label": "people", "estimated_precision": 0.39, "tagged_before": 0, "tagged_after": 108},
        # doubtful but tags fewer photos than before: nothing new to review
        {"label": "dog", "estimated_precision": 0.3, "tagged_before": 20, "tagged_after": 12},
        # tags more, expected mostly right
        {"label": "sky", "estimated_precision": 0.8, "tagged_before": 10, "tagged_after": 40},
        # an older run's row without the estimate
        {"label": "cat", "tagged_before": 1, "tagged_after": 9},
    ]
    assert [row["label"] for row in events.doubtful_labels(rows)] == ["people"]
    text = events.review_text(rows)
    assert text.startswith("Review people (0 → 108 photos): the training expects fewer than half")
    assert events.review_text(rows[1:]) == ""
    many = [dict(rows[0], label=f"l{i}", tagged_after=10 + i) for i in range(8)]
    # the labels that spread most come first, six of them
    assert events.review_text(many).startswith("Review l7 (0 → 17 photos), l6 (0 → 16 photos)")
    assert "l2 (0 → 12 photos) and 2 more:" in events.review_text(many)
    done = events.done(6, True, "better", {}, {}, labels=rows)
    assert text in events.done_text(done).splitlines()
    assert events.review_text([]) == "" and "Review" not in events.done_text(
        events.done(7, True, "better", {}, {}, labels=rows[1:])
    )


def test_labels_held_back_by_their_spread_cap_are_named_once() -> None:
    rock = {"label": "rock", "spread_cap": 100, "tagged_before": 0, "tagged_after": 105}
    fog = {"label": "fog", "spread_cap": 36, "tagged_before": 0, "tagged_after": 39}
    sky = {"label": "sky", "spread_cap": None, "tagged_before": 3, "tagged_after": 90}
    one = events.capped_text([rock, sky])
    assert one.startswith("Taught from few photos, rock tags at most 100 photos you have not")
    two = events.capped_text([rock, fog, sky])
    assert two.startswith("Taught from few photos, rock (100), fog (36) tag at most that many")
    assert events.capped_text([sky]) == "" and events.capped_text([]) == ""
    lines = events.done_text(events.done(2, True, "better", {}, {}, labels=[rock, sky]))
    assert one in lines.splitlines()
