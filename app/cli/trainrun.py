"""Running the trainer as a subprocess (``python -m trainer train``) and reading its progress.

The app never imports ``trainer`` (torch training stays out of the window's process); it starts
``sys.executable -m trainer train ALBUM --json-progress`` and reads one JSON object per line:

* ``{"event": "progress", "phase": str, "done": int, "total": int}``
* ``{"event": "done", "version": int, "activated": bool, "reason": str, "before": {...},
  "after": {...}}``
* ``{"event": "error", "message": str}``

Exit status of the trainer: 0 done, 2 bad input (e.g. nothing to learn from yet), 1 internal.
The command line uses :func:`run_training`; the window can reuse :func:`trainer_command` and
:func:`parse_event` with a QProcess.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

PHASE_NAMES = {"loading": "Loading", "training": "Training", "thresholds": "Thresholds",
               "evaluating": "Evaluating", "saving": "Saving", "rescoring": "Re-scoring"}
METRICS = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"),
           ("n_plus", "Labels found (N+)"), ("map", "mAP"), ("n_photos", "Photos compared"),
           ("n_labels", "Labels compared"))


@dataclass
class TrainingRun:
    """How a trainer subprocess ended."""

    returncode: int
    final: dict = field(default_factory=dict)  # the "done" or "error" event, if any
    stderr: str = ""

    @property
    def message(self) -> str:
        """One line for a person when the run failed."""
        if self.final.get("event") == "error":
            return str(self.final.get("message", "training failed"))
        if self.returncode < 0:  # killed (out of memory, the user, a shutdown)
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return (f"training stopped: the trainer was killed ({name}) before it finished; "
                    "the active model is unchanged")
        tail = self.stderr.strip().splitlines()
        return tail[-1] if tail else f"training failed (exit status {self.returncode})"


def trainer_command(album: str | Path, data_dir: str | Path | None = None, *,
                    force: bool = False) -> list[str]:
    """The argv that trains ``album`` with JSON progress on stdout."""
    command = [sys.executable, "-m", "trainer", "train", str(album), "--json-progress"]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    if force:
        command.append("--force")
    return command


def parse_event(line: str) -> dict | None:
    """The event of one stdout line, or None for a line that is not a trainer event."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def run_training(album: str | Path, data_dir: str | Path | None = None, *, force: bool = False,
                 on_progress: Callable[[str, int, int], None] | None = None,
                 command: list[str] | None = None) -> TrainingRun:
    """Run the trainer to the end, passing progress events to ``on_progress``."""
    argv = command or trainer_command(album, data_dir, force=force)
    final: dict = {}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          encoding="utf-8", bufsize=1) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            event = parse_event(line)
            if event is None:
                logger.debug("trainer said: %s", line.rstrip())
            elif event["event"] == "progress":
                if on_progress:
                    on_progress(str(event.get("phase")), int(event.get("done", 0)),
                                int(event.get("total", 0)))
            else:
                final = event
        stderr = proc.stderr.read()
    return TrainingRun(proc.returncode, final, stderr)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def before_after_text(done: dict) -> str:
    """The end of a run for people: the verdict, then the old and new version side by side."""
    version = done.get("version")
    lines = [f"Model version {version}: {done.get('reason', '')}"]
    before, after = done.get("before") or {}, done.get("after") or {}
    if after:
        lines.append("On tags you verified that the training did not see:")
        lines.append(f"  {'':<20}{'active':>10}{'new':>10}")
        for key, name in METRICS:
            lines.append(f"  {name:<20}{_cell(before.get(key)):>10}{_cell(after.get(key)):>10}")
    rows = done.get("labels") or []
    if rows:
        lines.append("Labels you worked on:")
        lines.append(f"  {'label':<22}{'confirmed':>10}{'rejected':>9}{'threshold':>10}"
                     f"{'photos tagged':>16}  threshold from")
        for row in rows:
            tagged = f"{row.get('tagged_before', '–')} → {row.get('tagged_after', '–')}"
            lines.append(f"  {str(row.get('label', ''))[:21]:<22}{row.get('confirmed', 0):>10}"
                         f"{row.get('rejected', 0):>9}{_cell(row.get('threshold')):>10}"
                         f"{tagged:>16}  {row.get('source', '')}")
    if not done.get("activated"):
        lines.append(f"Activate it anyway with: albumtag models ALBUM --activate {version}")
    return "\n".join(lines)
