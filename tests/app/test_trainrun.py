"""The trainer as a subprocess: JSON lines in, progress and a before/after table out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.cli import main as cli_main
from app.cli.trainrun import run_training, trainer_command
from core import training_events as events
from core.library import Library

DONE = {
    "event": "done",
    "version": 3,
    "activated": False,
    "reason": "kept the active version: the new one is worse",
    "before": {
        "precision": 0.9,
        "recall": 0.8,
        "f1": 0.847,
        "n_plus": 12,
        "map": 0.91,
        "n_photos": 40,
        "n_labels": 14,
    },
    "after": {
        "precision": 0.7,
        "recall": 0.8,
        "f1": 0.747,
        "n_plus": 12,
        "map": None,
        "n_photos": 40,
        "n_labels": 14,
    },
}


def _fake_trainer(tmp_path: Path, lines: list[str], code: int = 0, err: str = "") -> list[str]:
    script = tmp_path / "fake_trainer.py"
    script.write_text(
        "import sys\n"
        f"for line in {lines!r}:\n    print(line, flush=True)\n"
        f"sys.stderr.write({err!r})\nsys.exit({code})\n"
    )
    return [sys.executable, str(script)]


def test_trainer_command():
    command = trainer_command("/photos", "/data", force=True)
    assert command[1:] == [
        "-m",
        "trainer",
        "train",
        "/photos",
        "--json-progress",
        "--data-dir",
        "/data",
        "--force",
    ]


def test_parse_event_ignores_what_is_not_an_event():
    assert events.parse('{"event": "progress", "phase": "training", "done": 1, "total": 2}')
    assert events.parse("Warning: something") is None
    assert events.parse("[1, 2]") is None


def test_run_training_reports_progress_and_the_final_event(tmp_path: Path):
    lines = [
        json.dumps({"event": "progress", "phase": p, "done": d, "total": 2})
        for p, d in (("loading", 1), ("training", 2))
    ] + ["noise", json.dumps(DONE)]
    seen: list[tuple[str, int, int]] = []
    run = run_training(
        "unused", command=_fake_trainer(tmp_path, lines), on_progress=lambda *e: seen.append(e)
    )
    assert run.returncode == 0 and run.final == DONE
    assert seen == [("loading", 1, 2), ("training", 2, 2)]


def test_a_failed_run_has_a_one_line_message(tmp_path: Path):
    error = json.dumps({"event": "error", "message": "nothing to learn from yet"})
    run = run_training("unused", command=_fake_trainer(tmp_path, [error], code=2))
    assert run.returncode == 2 and run.message == "nothing to learn from yet"
    crashed = run_training("unused", command=_fake_trainer(tmp_path, [], 1, "Boom\nTypeError"))
    assert crashed.message == "TypeError"


def test_before_after_text_shows_both_versions_and_how_to_override():
    text = events.done_text(DONE)
    assert text.splitlines()[0] == "Model version 3: kept the active version: the new one is worse"
    assert "F1" in text and "0.847" in text and "0.747" in text and "–" in text
    assert "albumtag models ALBUM --activate 3" in text


def test_albumtag_train_on_an_album_never_indexed(tmp_path: Path, capsys):
    album = tmp_path / "album"
    album.mkdir()
    assert cli_main(["train", str(album)]) == 2
    assert capsys.readouterr().err.strip() == (
        "albumtag: the album has no model yet: index it first"
    )


def test_albumtag_models_lists_versions(tmp_path: Path, capsys):
    album = tmp_path / "album"
    album.mkdir()
    assert cli_main(["models", str(album), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli_main(["models", str(album), "--rollback"]) == 2
    assert "index it first" in capsys.readouterr().err


def test_a_killed_trainer_is_one_line_and_exit_2(tmp_path: Path, capsys, monkeypatch):
    """SIGKILL (the OOM killer, `kill -9`) used to end in the parent's RuntimeError traceback."""
    script = tmp_path / "killed_trainer.py"
    script.write_text(
        "import json, os, signal\n"
        "print(json.dumps({'event': 'progress', 'phase': 'training', 'done': 1, 'total': 9}),"
        " flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    monkeypatch.setattr(
        "app.cli.trainrun.trainer_command", lambda *args, **kwargs: [sys.executable, str(script)]
    )
    album = tmp_path / "album"
    album.mkdir()
    assert cli_main(["train", str(album), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "albumtag: training stopped: the trainer was killed (SIGKILL) before "
        "it finished; the active model is unchanged"
    )
    assert "Traceback" not in err


def test_nothing_to_roll_back_is_said_as_such(tmp_path: Path, capsys):
    """Not 'cannot load the model': the model loads fine, there is just no older version."""
    album = tmp_path / "album"
    album.mkdir()
    with Library(album) as library:
        library.store.add_model(0, "fake@1", None, {}, {"kind": "prior"}, activate=True)
    assert cli_main(["models", str(album), "--rollback"]) == 2
    assert capsys.readouterr().err.strip() == (
        "albumtag: version 0 is the oldest: nothing to roll back to"
    )


def test_before_after_text_lists_the_labels_you_worked_on():
    done = {
        **DONE,
        "labels": [
            {
                "label": "leaf",
                "confirmed": 5,
                "rejected": 0,
                "threshold": 0.31,
                "tagged_before": 0,
                "tagged_after": 9,
                "source": "confirm-only",
            },
            {
                "label": "cat",
                "confirmed": 3,
                "rejected": 4,
                "threshold": 0.55,
                "tagged_before": 12,
                "tagged_after": 10,
                "source": "verified",
            },
        ],
    }
    lines = events.done_text(done).splitlines()
    start = lines.index("Labels you worked on:")
    leaf, cat = lines[start + 2].split(), lines[start + 3].split()
    assert leaf == ["leaf", "5", "0", "0.310", "0", "→", "9", "confirm-only"]
    assert cat == ["cat", "3", "4", "0.550", "12", "→", "10", "verified"]
    assert "Labels you worked on:" not in events.done_text(DONE)
