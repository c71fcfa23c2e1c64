"""The ``albumtag`` command line: headless subcommands for indexing, searching and tagging.

Exit status: 0 success, 2 bad usage or bad input (one line on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from app.cli import output
from app.cli.progress import TextProgress
from app.errors import describe, is_user_error
from core import ops
from core import training_events as events
from core.db.store import ModelRow, PhotoOrder, Status
from core.library import Library
from core.model.versions import ModelChoice
from core.paths import readable
from core.pipeline.indexer import PIPELINES

logger = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit; we want one clean path
        raise UsageError(f"{self.prog}: {message}")


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="albumtag",
        description="A photo album that tags itself and learns "
        "from your corrections. With no command, opens the window.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def album_command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("album", help="the photo folder")
        p.add_argument(
            "--data-dir", help="keep the album's database here instead of ALBUM/.albumtag"
        )
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    p = album_command("index", "index new and changed photos (scan, thumbnails, tags)")
    p.add_argument(
        "--model",
        help="a timm model name (default: the offline "
        "tf_efficientnet_lite0; tf_efficientnet_lite1 and tf_efficientnet_lite2 "
        "load offline too, with the 'backbones' extra; any other needs --checkpoint)",
    )
    p.add_argument("--checkpoint", help="local weights file for --model (.safetensors or .pth)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.add_argument("--workers", type=_positive, help="decode threads (default: one per core)")
    p.add_argument(
        "--batch-size",
        type=_positive,
        help="photos per model call (default: 16 on a CPU, 64 on a GPU)",
    )
    p.add_argument(
        "--pipeline",
        choices=PIPELINES,
        default="auto",
        help="shared: decoding and the model share the workers, one core each (CPU "
        "default); overlap: the model runs beside the decoders (GPU default)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="decode and tag every photo again (your confirmed and rejected tags are kept)",
    )
    p.add_argument(
        "--watch", action="store_true", help="keep running and tag photos as they arrive"
    )
    p.add_argument(
        "--no-faces",
        action="store_true",
        help="skip face detection (no person, portrait or group photo tags from faces)",
    )

    p = album_command("export-xmp", "write tags to XMP sidecars (photo.jpg.xmp) for other apps")
    p.add_argument("photos", nargs="*", help="only these photos (default: every photo)")
    p.add_argument(
        "--naming",
        choices=("ext", "base"),
        default="ext",
        help="ext: photo.jpg.xmp (digiKam, darktable; default); base: photo.xmp (Adobe)",
    )
    p.add_argument(
        "--include-model",
        action="store_true",
        help="also write the tags the "
        "model sets above threshold (default: only confirmed tags and your own)",
    )
    p.add_argument(
        "--embed",
        action="store_true",
        help="write into the photo files themselves instead of sidecars (modifies your originals)",
    )

    p = album_command("search", "find photos by tags, e.g. 'dog beach -people'")
    p.add_argument("query", nargs="+", help="the search (words are joined)")
    p.add_argument("--limit", type=int)

    p = album_command("tags", "show one photo's tags with score, source and verdict")
    p.add_argument("photo", help="path of the photo, relative to the album")
    p.add_argument("--all", action="store_true", help="also labels scored below threshold")

    p = album_command("tag", "confirm (+label), reject (-label) or clear (=label) tags")
    p.add_argument("photos", nargs="+", help="photo paths, relative to the album")
    p.add_argument("--confirm", action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--reject", action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--clear", action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument(
        "--create", action="store_true", help="create unknown +labels as your own labels"
    )
    p.add_argument("--parent", help="parent of labels made by --create")

    p = album_command("labels", "the vocabulary as a tree, with counts and thresholds")
    p.add_argument("--add", metavar="NAME", help="create a label of your own")
    p.add_argument("--parent", help="parent label for --add")

    p = album_command(
        "train",
        "learn from your corrections: train a new model version, "
        "tune its thresholds, compare it with the active one and re-score",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="activate the new version even if it "
        "does worse than the active one on your verified tags",
    )

    p = album_command("models", "list the model versions; activate one or roll back")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument(
        "--activate", type=int, metavar="N", help="make version N active and re-score the album"
    )
    choice.add_argument(
        "--rollback", action="store_true", help="activate the version before the active one"
    )

    album_command("undo", "undo the last tag change")
    album_command("redo", "redo the last undone tag change")

    p = sub.add_parser("gui", help="open the window (the default)")
    p.add_argument("album", nargs="?", help="the photo folder (default: the last one)")
    return parser


def _prepare_argv(argv: list[str]) -> list[str]:
    """Words argparse would take for options, turned into what they mean.

    ``tag ALBUM a.jpg +dog -cat =bird``: the edits become explicit options; after a lone
    ``--`` every word is a photo (``-- +x.jpg -x.jpg``). ``search ALBUM dog -people``: a word
    starting with a minus that is no option of ``search`` is part of the search.
    """
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if at is None or argv[at] not in ("tag", "search"):
        return argv
    words = (_tag_edits if argv[at] == "tag" else _search_words)(argv[at + 1 :])
    return argv[: at + 1] + words


def _tag_edits(words: list[str]) -> list[str]:
    out = []
    for i, arg in enumerate(words):
        if arg == "--":
            return out + words[i:]
        if arg.startswith("+") and len(arg) > 1:
            out.append(f"--confirm={arg[1:]}")
        elif arg.startswith("=") and len(arg) > 1:
            out.append(f"--clear={arg[1:]}")
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            out.append(f"--reject={arg[1:]}")
        else:
            out.append(arg)
    return out


def _search_words(words: list[str]) -> list[str]:
    out: list[str] = []
    takes_value = False
    for i, arg in enumerate(words):
        option = arg.split("=", 1)[0]
        if takes_value or arg == "--" or option in ("--json", "-h", "--help"):
            if arg == "--" and not takes_value:
                return out + words[i:]
            out.append(arg)
            takes_value = False
        elif option in ("--limit", "--data-dir"):
            out.append(arg)
            takes_value = "=" not in arg
        else:  # a leading space keeps argparse from reading "-people" as an option
            out.append(f" {arg}" if arg.startswith("-") else arg)
    return out


def _printable_streams() -> None:
    """Never fail on printing text that holds an undecodable file name's bytes."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a text file of the usual kind
            pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _printable_streams()
    try:
        args = build_parser().parse_args(_prepare_argv(argv))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command in (None, "gui"):
        from app.qtcheck import platform_problem

        if (problem := platform_problem()) is not None:  # instead of Qt's abort
            print(problem, file=sys.stderr)
            return 2
        from app.gui import run_gui

        return run_gui(getattr(args, "album", None))
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"albumtag: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `albumtag labels ALBUM | head`: the reader went away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("albumtag: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if is_user_error(exc):
            print(f"albumtag: {describe(exc)}", file=sys.stderr)
            return 2
        logger.exception("internal error")
        print(f"albumtag: {describe(exc)}", file=sys.stderr)
        return 1


def _open(
    args: argparse.Namespace, model: ModelChoice | None = None, *, edits: bool = False
) -> Library:
    """The album; on a read-only one, a command that reads says why edits are off, and one
    that ``edits`` stops with that one line (exit status 2)."""
    library = Library(args.album, args.data_dir, model=model)
    if library.store.db.read_only:
        why = (
            f"the album is read-only ({library.store.db.read_only}): searching works, edits are off"
        )
        if edits:
            library.close()
            raise UsageError(why)
        print(f"albumtag: {why}", file=sys.stderr)
    return library


def cmd_index(args: argparse.Namespace) -> int:
    choice = None
    if args.model or args.checkpoint or args.device != "auto":
        from core.model.versions import DEFAULT_MODEL

        choice = ModelChoice(args.model or DEFAULT_MODEL, args.checkpoint, args.device)
    with _open(args, choice, edits=True) as library:
        progress = TextProgress()
        try:
            summary = library.indexer(
                workers=args.workers,
                batch_size=args.batch_size,
                pipeline=args.pipeline,
                faces=not args.no_faces,
            ).run(progress, full=args.full)
        finally:
            progress.close()
        errors = library.store.photos(Status.ERROR, order=PhotoOrder.PATH)
        output.emit(
            args.json,
            output.index_summary(summary, errors),
            summary.as_dict()
            | {"error_photos": [{"path": readable(p.path), "reason": p.error} for p in errors]},
        )
        if args.watch:
            from app.cli.watch import watch_forever

            watch_forever(library, json_lines=args.json)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with _open(args) as library:
        photos = library.search(" ".join(args.query), limit=args.limit)
        output.emit(
            args.json,
            "\n".join(readable(p.path) for p in photos),
            [output.photo_dict(p) for p in photos],
        )
    return 0


def cmd_tags(args: argparse.Namespace) -> int:
    with _open(args) as library:
        photo = library.photo(args.photo)
        views = [v for v in library.tags(photo) if args.all or v.has or v.verdict]
        output.emit(
            args.json,
            output.tags_text(photo, views),
            output.photo_dict(photo) | {"tags": [output.tag_dict(v) for v in views]},
        )
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    if not (args.confirm or args.reject or args.clear):
        raise UsageError("say what to change: +label confirms, -label rejects, =label clears")
    with _open(args, edits=True) as library:
        photos = [library.photo(p) for p in args.photos]
        changes = ops.Changes()
        if args.create:
            for name in args.confirm:
                if library.vocabulary.resolve(name) is None:
                    changes |= ops.create_label(library, name, args.parent)
        changes |= ops.set_verdicts(
            library,
            [p.id for p in photos],
            confirm=args.confirm,
            reject=args.reject,
            clear=args.clear,
        )
        changed = bool(changes.photos)
        result = {"changed": changed, "photos": [readable(p.path) for p in photos]}
        text = (
            f"Updated {len(photos)} photo{'s' if len(photos) != 1 else ''}."
            if changed
            else "Nothing changed."
        )
        output.emit(args.json, text, result)
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    with _open(args, edits=bool(args.add)) as library:
        if args.add:
            changes = ops.create_label(library, args.add, args.parent)
            name = changes.created or library.vocabulary.resolve(args.add) or args.add
            output.emit(
                args.json,
                f"Label {name!r} is ready.",
                {
                    "name": name,
                    "id": library.label_id(name),
                    "created": changes.created is not None,
                },
            )
            return 0
        nodes = library.label_tree()
        output.emit(args.json, output.label_tree_text(nodes), [output.label_dict(n) for n in nodes])
    return 0


def cmd_export_xmp(args: argparse.Namespace) -> int:
    with _open(args) as library:
        photos = [library.photo(p) for p in args.photos] or None
        report = library.export_xmp(
            photos, naming=args.naming, include_model=args.include_model, embedded=args.embed
        )
        text = output.export_text(report, "photo" if args.embed else "sidecar")
        output.emit(args.json, text, report.as_dict())
    failed = output.export_failure(report)
    if failed:  # the report lists each photo; scripts see it in the exit status
        print(f"albumtag: {failed}", file=sys.stderr)
        return 2
    return 0


def _undo_redo(args: argparse.Namespace, redo: bool) -> int:
    with _open(args, edits=True) as library:
        changes = ops.redo(library) if redo else ops.undo(library)
        touched = changes.photos or changes.marks
        text = (
            f"{changes.what[:1].upper()}{changes.what[1:]}."
            if changes.history
            else ("Nothing to do.")
        )
        output.emit(
            args.json,
            text,
            {"photos": len(touched), "what": changes.what, "changed": changes.history},
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from app.cli.trainrun import run_training

    # A missing folder or a read-only album fails here, in one line.
    _open(args, edits=True).close()
    bar = TextProgress(phases=events.PHASE_NAMES, unit=None)
    try:
        run = run_training(
            args.album, args.data_dir, force=args.force, on_progress=None if args.json else bar.show
        )
    finally:
        bar.close()
    if run.returncode != 0 or run.final.get("event") != events.DONE:
        # One line, never the parent's traceback: the trainer's own log says the rest.
        print(f"albumtag: {run.message}", file=sys.stderr)
        return 2 if run.returncode == 2 or run.returncode < 0 else 1
    output.emit(args.json, events.done_text(run.final), run.final)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    with _open(args, edits=args.activate is not None or args.rollback) as library:
        changes = None
        if args.activate is not None or args.rollback:
            progress = TextProgress()
            try:
                if args.rollback:
                    changes = ops.rollback(library, rescore=True, progress=progress)
                else:
                    changes = ops.activate_version(
                        library, args.activate, rescore=True, progress=progress
                    )
            finally:
                progress.close()
        rows = library.store.models()
        data = [_model_dict(m) for m in rows]
        active = library.store.active_model()
        text = _models_text(data) + (
            f"\nVersion {active.version} is active; the album is re-scored."
            if changes is not None and active is not None
            else ""
        )
        output.emit(args.json, text, data)
    return 0


def _model_dict(row: ModelRow) -> dict:
    f1 = row.metrics.get("f1")
    return {
        "version": row.version,
        "created": row.created_at,
        "backbone": row.backbone,
        "active": row.active,
        "head": row.metrics.get("head", "prior" if not row.head_file else "linear"),
        "f1": f1,
        "thresholds": len(row.thresholds),
    }


def _models_text(data: list[dict]) -> str:
    lines = [f"  {'version':>7}  {'created':<25} {'head':<9} {'F1':>6}  backbone"]
    for m in data:
        f1 = "–" if m["f1"] is None else f"{m['f1']:.3f}"
        mark = "*" if m["active"] else " "
        lines.append(
            f"{mark} {m['version']:>7}  {m['created']:<25} {m['head']:<9} {f1:>6}  {m['backbone']}"
        )
    lines.append("(* = active; F1 on verified tags the training did not see)")
    return "\n".join(lines)


COMMANDS = {
    "index": cmd_index,
    "search": cmd_search,
    "tags": cmd_tags,
    "tag": cmd_tag,
    "labels": cmd_labels,
    "export-xmp": cmd_export_xmp,
    "undo": lambda a: _undo_redo(a, redo=False),
    "redo": lambda a: _undo_redo(a, redo=True),
    "train": cmd_train,
    "models": cmd_models,
}
