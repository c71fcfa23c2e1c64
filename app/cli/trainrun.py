"""Running the trainer as a subprocess (``python -m trainer train``) and reading its progress.

The app never imports ``trainer`` (torch training stays out of the window's process); it starts
``sys.executable -m trainer train ALBUM --json-progress`` and reads one JSON object per line:
the events of :mod:`core.training_events` (progress, then done or error).

Exit status of the trainer: 0 done, 2 bad input (e.g. nothing to learn from yet), 1 internal.
The command line uses :func:`run_training`; the window uses :func:`trainer_command` with a
QProcess and :func:`core.training_events.parse` on its lines.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import training_events as events

logger = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """How a trainer subprocess ended."""

    returncode: int
    final: dict = field(default_factory=dict)  # the "done" or "error" event, if any
    stderr: str = ""

    @property
    def message(self) -> str:
        """One line for a person when the run failed."""
        if self.final.get("event") == events.ERROR:
            return str(self.final.get("message", "training failed"))
        if self.returncode < 0:  # killed (out of memory, the user, a shutdown)
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return (
                f"training stopped: the trainer was killed ({name}) before it finished; "
                "the active model is unchanged"
            )
        tail = self.stderr.strip().splitlines()
        return tail[-1] if tail else f"training failed (exit status {self.returncode})"


def trainer_command(
    album: str | Path, data_dir: str | Path | None = None, *, force: bool = False
) -> list[str]:
    """The argv that trains ``album`` with JSON progress on stdout."""
    command = [sys.executable, "-m", "trainer", "train", str(album), "--json-progress"]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    if force:
        command.append("--force")
    return command


def run_training(
    album: str | Path,
    data_dir: str | Path | None = None,
    *,
    force: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
    command: list[str] | None = None,
) -> TrainingRun:
    """Run the trainer to the end, passing progress events to ``on_progress``."""
    argv = command or trainer_command(album, data_dir, force=force)
    final: dict = {}
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            event = events.parse(line)
            if event is None:
                logger.debug("trainer said: %s", line.rstrip())
            elif event["event"] == events.PROGRESS:
                if on_progress:
                    on_progress(
                        str(event.get("phase")),
                        int(event.get("done", 0)),
                        int(event.get("total", 0)),
                    )
            else:
                final = event
        stderr = proc.stderr.read()
    return TrainingRun(proc.returncode, final, stderr)
