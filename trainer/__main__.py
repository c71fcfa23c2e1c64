"""``python -m trainer train ALBUM ...``: one training run, for people or for the window.

With ``--json-progress`` stdout carries one JSON object per line and nothing else: the events
of :mod:`core.training_events` (progress, then done or error). Without it, people get the end
of the run as :func:`core.training_events.done_text` words it.

``python -m trainer teach ALBUM --label NAME`` is teach mode's long-lived child: JSON commands
on stdin, one JSON answer per line on stdout (``trainer.album.teach``).

Exit status: 0 success; 2 bad input (one line on stderr, e.g. nothing to learn from yet);
1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from core import training_events as events
from core.errors import AlbumtagError
from trainer.learning.losses import LOSS_NAMES

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
    p.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default="asl",
        help="training loss (default asl, the asymmetric loss; proposed is the "
        "papers' asymmetric loss)",
    )
    from trainer.album.train import HEADS, served_heads  # the registry of head kinds

    p.add_argument(
        "--head",
        choices=served_heads(),
        default="residual",
        help="; ".join(f"{name}: {HEADS[name].summary}" for name in served_heads())
        + " (the heads the album can tag photos with)",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=3, help="cross-fitting folds (default 3)")
    p.add_argument(
        "--force", action="store_true", help="activate the new version even if it is worse"
    )
    p.add_argument("--no-rescore", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--json-progress",
        action="store_true",
        help="one JSON object per line on stdout (for the window)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    t = sub.add_parser(
        "teach",
        help="refit one label live: JSON commands on stdin, one JSON "
        "answer per line on stdout (teach mode)",
    )
    t.add_argument("album", help="the photo folder")
    t.add_argument("--label", required=True, help="the label being taught")
    t.add_argument("--data-dir", help="the album's data folder (default ALBUM/.albumtag)")
    t.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


def _emit(event: dict) -> None:
    sys.stdout.write(events.encode(event) + "\n")
    sys.stdout.flush()


class _Reporter:
    """Progress as JSON lines, or nothing (people get the summary at the end)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._last: tuple[str, int, int] | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.as_json and (phase, done, total) != self._last:
            self._last = (phase, done, total)
            _emit(events.progress(phase, done, total))


def _run(args: argparse.Namespace) -> int:
    if args.command == "teach":
        from trainer.album.teach import serve

        return serve(args.album, args.label, args.data_dir, sys.stdin, sys.stdout)
    from trainer.album.train import TrainOptions, train

    options = TrainOptions(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        loss=args.loss,
        head=args.head,
        epochs=args.epochs,
        seed=args.seed,
        force=args.force,
        folds=args.folds,
        rescore=not args.no_rescore,
    )
    if args.epochs < 1 or args.folds < 0:
        raise _UsageError("--epochs must be at least 1 and --folds at least 0")
    try:
        outcome = train(args.album, options, _Reporter(args.json_progress))
    except AlbumtagError as exc:  # NothingToLearnError, TrainingBusyError, a bad album...
        return _fail(args.json_progress, str(exc), 2)
    done = events.done(
        outcome.version,
        outcome.activated,
        outcome.reason,
        outcome.before,
        outcome.after,
        outcome.labels,
        outcome.warning,
    )
    if args.json_progress:
        _emit(done)
    else:
        print(events.done_text(done))
    return 0


def _fail(as_json: bool, message: str, code: int) -> int:
    if as_json:
        _emit(events.error(message))
    print(f"trainer: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    json_mode = bool(getattr(args, "json_progress", False)) or args.command == "teach"
    try:
        return _run(args)
    except _UsageError as exc:
        return _fail(json_mode, str(exc), 2)
    except KeyboardInterrupt:
        return _fail(json_mode, "interrupted", 130)
    except Exception as exc:
        logger.exception("training failed")
        return _fail(json_mode, f"internal error: {type(exc).__name__}: {exc}", 1)


if __name__ == "__main__":
    sys.exit(main())
