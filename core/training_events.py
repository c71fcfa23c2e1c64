"""What a training run says while it runs: the events ``python -m trainer train --json-progress``
writes, one JSON object per line, and the app (the window, ``albumtag train``) reads.

Defined once, here, for both sides: the trainer builds events with :func:`progress`,
:func:`done` and :func:`error` and writes them with :func:`encode`; the app reads lines with
:func:`parse`. An event is a plain dict (it crosses a process boundary as JSON):

* ``{"event": "progress", "phase": str, "done": int, "total": int}``, phase one of
  :data:`PHASES`;
* ``{"event": "done", "version": int, "activated": bool, "reason": str, "before": {metric:
  value}, "after": {metric: value}, "labels": [{label, confirmed, rejected, threshold,
  estimated_precision, estimated_recall, tagged_before, tagged_after, source, spread_cap}],
  "warning": str}``; metric keys are :data:`METRICS`', measured on held-out verified tags;
* ``{"event": "error", "message": str}``.

:func:`done_text` is the one way a finished run is told to a person (the trainer's own text
output and ``albumtag train``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PROGRESS, DONE, ERROR = "progress", "done", "error"
EVENTS = (PROGRESS, DONE, ERROR)

#: The phases of a run, in order, with the words a progress bar shows for each.
PHASE_NAMES = {
    "loading": "Loading",
    "training": "Training",
    "thresholds": "Thresholds",
    "evaluating": "Evaluating",
    "saving": "Saving",
    "rescoring": "Re-scoring",
}
PHASES = tuple(PHASE_NAMES)

#: Numbers resting on fewer verified photos than this are flagged, and a comparison of two
#: versions on fewer cannot judge the change (the trainer then activates the new one).
FEW_PHOTOS = 20

#: The metrics of ``before`` and ``after``, with their names for people.
METRICS = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("n_plus", "Labels found (N+)"),
    ("map", "mAP"),
    ("n_photos", "Photos compared"),
    ("n_labels", "Labels compared"),
)


def progress(phase: str, done: int, total: int) -> dict[str, Any]:
    """A progress event.

    Raises:
        ValueError: a phase that is not one of :data:`PHASES`.
    """
    if phase not in PHASE_NAMES:
        raise ValueError(f"unknown training phase {phase!r} (phases: {', '.join(PHASES)})")
    return {"event": PROGRESS, "phase": phase, "done": int(done), "total": int(total)}


def done(
    version: int,
    activated: bool,
    reason: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    labels: Sequence[Mapping[str, Any]] = (),
    warning: str = "",
) -> dict[str, Any]:
    """The event that ends a run that saved a version (active or not)."""
    return {
        "event": DONE,
        "version": int(version),
        "activated": bool(activated),
        "reason": str(reason),
        "before": dict(before),
        "after": dict(after),
        "labels": [dict(row) for row in labels],
        "warning": str(warning or ""),
    }


def error(message: str) -> dict[str, Any]:
    """The event that ends a run that failed."""
    return {"event": ERROR, "message": str(message)}


def encode(event: Mapping[str, Any]) -> str:
    """One line of JSON (no newline)."""
    return json.dumps(dict(event), ensure_ascii=False)


def parse(line: str) -> dict[str, Any] | None:
    """The event of one line, or None for a line that is not one (a log line, noise)."""
    try:
        event = json.loads(line)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        return None
    return event


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


#: A label that now tags more photos while the training itself expects fewer than this share of
#: those tags to be right (its own estimated precision) is named for review.
DOUBTFUL_PRECISION = 0.5


def _growth(row: Mapping[str, Any]) -> int:
    """How many more photos a label tags after the run than before."""
    return int(row.get("tagged_after") or 0) - int(row.get("tagged_before") or 0)


def doubtful_labels(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows (``done``'s labels) of labels to review: tagging more photos than before, at an
    estimated precision under ``DOUBTFUL_PRECISION``; those that spread most first."""
    out = []
    for row in rows:
        precision = row.get("estimated_precision")
        doubted = isinstance(precision, (int, float)) and precision < DOUBTFUL_PRECISION
        if doubted and _growth(row) > 0:
            out.append(row)
    return sorted(out, key=_growth, reverse=True)


def review_text(
    rows: Sequence[Mapping[str, Any]],
    shown: int = 6,
    name: Callable[[str], str] = str,
) -> str:
    """One sentence naming the labels to review (``doubtful_labels``, in its order, ``shown`` at
    most), or "" when there are none. ``name`` writes a label's name (the window makes each a
    link)."""
    doubtful = doubtful_labels(rows)
    if not doubtful:
        return ""
    names = ", ".join(
        f"{name(str(row.get('label')))} "
        f"({row.get('tagged_before', 0)} → {row.get('tagged_after', 0)} photos)"
        for row in doubtful[:shown]
    )
    if len(doubtful) > shown:
        names += f" and {len(doubtful) - shown} more"
    return (
        f"Review {names}: the training expects fewer than half of their tags to be right; "
        "rejecting the wrong ones takes them off."
    )


def capped_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence naming the labels held back by their spread cap (``done``'s rows with a
    ``spread_cap``), or "" when there are none."""
    held = [row for row in rows if row.get("spread_cap")]
    if not held:
        return ""
    if len(held) == 1:
        row = held[0]
        return (
            f"Taught from few photos, {row.get('label')} tags at most {int(row['spread_cap'])} "
            "photos you have not judged, its most alike; confirming more photos (teach mode) "
            "lets it spread."
        )
    names = ", ".join(f"{row.get('label')} ({int(row['spread_cap'])})" for row in held)
    return (
        f"Taught from few photos, {names} tag at most that many photos you have not judged, "
        "their most alike; confirming more photos (teach mode) lets them spread."
    )


def done_text(event: Mapping[str, Any]) -> str:
    """A finished run for people: the verdict, the old and new version side by side on the
    tags you verified, the labels you worked on, and how to activate a version kept back."""
    version = event.get("version")
    lines = [f"Model version {version}: {event.get('reason', '')}"]
    before, after = event.get("before") or {}, event.get("after") or {}
    if after:
        lines.append("On tags you verified that the training did not see:")
        lines.append(f"  {'':<20}{'active':>10}{'new':>10}")
        for key, name in METRICS:
            lines.append(f"  {name:<20}{_cell(before.get(key)):>10}{_cell(after.get(key)):>10}")
    if event.get("warning"):
        lines.append(f"Warning: {event['warning']}.")
    rows = event.get("labels") or []
    if rows:
        lines.append("Labels you worked on:")
        lines.append(
            f"  {'label':<22}{'confirmed':>10}{'rejected':>9}{'threshold':>10}"
            f"{'photos tagged':>16}  threshold from"
        )
        for row in rows:
            tagged = f"{row.get('tagged_before', '–')} → {row.get('tagged_after', '–')}"
            lines.append(
                f"  {str(row.get('label', ''))[:21]:<22}{row.get('confirmed', 0):>10}"
                f"{row.get('rejected', 0):>9}{_cell(row.get('threshold')):>10}"
                f"{tagged:>16}  {row.get('source', '')}"
            )
        capped = capped_text(rows)
        if capped:
            lines.append(capped)
        review = review_text(rows)
        if review:
            lines.append(review)
    if not event.get("activated"):
        lines.append(f"Activate it anyway with: albumtag models ALBUM --activate {version}")
    return "\n".join(lines)
