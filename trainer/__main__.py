"""``python -m trainer train ALBUM ...``: one training run, for people or for the window.

With ``--json-progress`` stdout carries one JSON object per line and nothing else::

    {"event": "progress", "phase": "loading"|"training"|"thresholds"|"evaluating"|"saving"
                                   |"rescoring", "done": int, "total": int}
    {"event": "done", "version": int, "activated": bool, "reason": str,
     "before": {metric: value}, "after": {metric: value}, "labels": [{per label}],
     "warning": str}
    {"event": "error", "message": str}

``python -m trainer teach ALBUM --label NAME`` is teach mode's long-lived child: JSON commands
on stdin, one JSON answer per line on stdout (``trainer.album.teach``).

Metric keys: precision, recall, f1, n_plus, map, n_photos, n_labels (held-out verified tags).
Exit status: 0 success; 2 bad input (one line on stderr, e.g. nothing to learn from yet);
1 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import AlbumtagError
from trainer.learning.losses import LOSS_NAMES

if TYPE_CHECKING:
    from trainer.album.train import TrainOutcome

logger = logging.getLogger("trainer")



class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m trainer", description="Learn from an album's corrections.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("train", help="train, tune thresholds, evaluate, save and activate")
    p.add_argument("album", help="the photo folder")
    p.add_argument("--data-dir", help="the album's data folder (default ALBUM/.albumtag)")
    p.add_argument("--loss", choices=LOSS_NAMES, default="asl",
                   help="training loss (default asl, the asymmetric loss; proposed is the "
                   "papers' asymmetric loss)")
    from trainer.album.train import HEADS, served_heads  # the registry of head kinds

    p.add_argument("--head", choices=served_heads(), default="residual",
                   help="; ".join(f"{name}: {HEADS[name].summary}" for name in served_heads())
                   + " (the heads the album can tag photos with)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=3, help="cross-fitting folds (default 3)")
    p.add_argument("--force", action="store_true",
                   help="activate the new version even if it is worse")
    p.add_argument("--no-rescore", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json-progress", action="store_true",
                   help="one JSON object per line on stdout (for the window)")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    t = sub.add_parser("teach", help="refit one label live: JSON commands on stdin, one JSON "
                       "answer per line on stdout (teach mode)")
    t.add_argument("album", help="the photo folder")
    t.add_argument("--label", required=True, help="the label being taught")
    t.add_argument("--data-dir", help="the album's data folder (default ALBUM/.albumtag)")
    t.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class _Reporter:
    """Progress as JSON lines, or nothing (people get the summary at the end)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._last: tuple[str, int, int] | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.as_json and (phase, done, total) != self._last:
            self._last = (phase, done, total)
            _emit({"event": "progress", "phase": phase, "done": int(done), "total": int(total)})


def _text_summary(outcome: TrainOutcome) -> str:
    keys = ("precision", "recall", "f1", "n_plus", "map")
    lines = [f"Model version {outcome.version}: {outcome.reason}."]
    if outcome.after:
        lines.append(f"{'':10}{'before':>10}{'after':>10}")
        for key in keys:
            b, a = outcome.before.get(key), outcome.after.get(key)
            lines.append(f"{key:<10}{_fmt(b):>10}{_fmt(a):>10}")
        lines.append(f"(on {outcome.after.get('n_photos', 0)} photos with your verdicts, "
                     f"{outcome.after.get('n_labels', 0)} labels)")
    if outcome.warning:
        lines.append(f"Warning: {outcome.warning}.")
    if outcome.labels:
        lines.append(f"{'label':<24}{'conf':>6}{'rej':>5}{'thresh':>8}{'tagged':>16}  source")
        for row in outcome.labels:
            tagged = f"{row['tagged_before']} -> {row['tagged_after']}"
            lines.append(f"{row['label'][:23]:<24}{row['confirmed']:>6}{row['rejected']:>5}"
                         f"{row['threshold']:>8.2f}{tagged:>16}  {row['source']}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _run(args: argparse.Namespace) -> int:
    if args.command == "teach":
        from trainer.album.teach import serve

        return serve(args.album, args.label, args.data_dir, sys.stdin, sys.stdout)
    from trainer.album.train import TrainOptions, train

    options = TrainOptions(data_dir=Path(args.data_dir) if args.data_dir else None,
                           loss=args.loss, head=args.head, epochs=args.epochs, seed=args.seed,
                           force=args.force, folds=args.folds, rescore=not args.no_rescore)
    if args.epochs < 1 or args.folds < 0:
        raise _UsageError("--epochs must be at least 1 and --folds at least 0")
    try:
        outcome = train(args.album, options, _Reporter(args.json_progress))
    except AlbumtagError as exc:  # NothingToLearnError, TrainingBusyError, a bad album...
        return _fail(args.json_progress, str(exc), 2)
    if args.json_progress:
        _emit({"event": "done", "version": outcome.version, "activated": outcome.activated,
               "reason": outcome.reason, "before": outcome.before, "after": outcome.after,
               "labels": outcome.labels, "warning": outcome.warning})
    else:
        print(_text_summary(outcome))
    return 0


def _fail(as_json: bool, message: str, code: int) -> int:
    if as_json:
        _emit({"event": "error", "message": message})
    print(f"trainer: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    json_mode = bool(getattr(args, "json_progress", False)) or args.command == "teach"
    try:
        return _run(args)
    except _UsageError as exc:
        return _fail(json_mode, str(exc), 2)
    except KeyboardInterrupt:
        return _fail(json_mode, "interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        logger.exception("training failed")
        return _fail(json_mode, f"internal error: {type(exc).__name__}: {exc}", 1)


if __name__ == "__main__":
    sys.exit(main())
