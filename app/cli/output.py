"""How the command line prints things: plain text for people, JSON for scripts."""

from __future__ import annotations

import json
import sys

from core.db.store import PhotoRow
from core.library import LabelNode, TagView
from core.paths import readable
from core.pipeline.indexer import IndexSummary
from core.pipeline.keywords import ExportReport

_MAX_ERRORS_SHOWN = 20


def emit(as_json: bool, text: str, data: object) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif text:
        print(text)
    sys.stdout.flush()


def photo_dict(photo: PhotoRow) -> dict:
    return {
        "path": readable(photo.path),
        "width": photo.width,
        "height": photo.height,
        "taken_at": photo.taken_at,
        "status": photo.status,
        "error": photo.error,
    }


def tag_dict(view: TagView) -> dict:
    return {
        "label": view.label,
        "path": list(view.path),
        "score": None if view.score is None else round(view.score, 4),
        "threshold": round(view.threshold, 4),
        "source": view.source,
        "verdict": view.verdict_name or None,
        "has": view.has,
        "direct": view.direct,
        "verified": view.verified,
    }


#: After a label the built-in model cannot see (no ImageNet class feeds it and the starter does
#: not set it, or it is yours): only your examples teach it (teach mode in the window, or
#: ``albumtag tag`` then ``train``).
LEARNS = "learns from your examples"


def label_dict(node: LabelNode) -> dict:
    row = node.label
    return {
        "name": row.name,
        "depth": node.depth,
        "count": node.count,
        "threshold": round(node.threshold, 4),
        "kind": row.kind,
        "aliases": list(row.aliases),
        "learns_from_examples": node.learns_from_examples,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def sidecar_message(
    written: int, unchanged: int, errors: int, nothing: int = 0, *, what: str = "sidecar"
) -> str:
    """What writing sidecars did, in one line (the command line and the window): a photo with
    no tag, rating or flag to write is "nothing to write", not "already up to date"."""
    parts = [f"Wrote {_plural(written, what)}"]
    if unchanged:
        parts.append(f"{unchanged} already up to date")
    if nothing:
        parts.append(f"{nothing} with nothing to write")
    if errors:
        parts.append(f"{errors} could not be written")
    return ", ".join(parts) + "."


def export_text(report: ExportReport, what: str = "sidecar") -> str:
    """``export-xmp``'s report: the counts, then each photo that could not be written."""
    lines = [
        sidecar_message(
            report.written, report.unchanged, len(report.errors), report.nothing, what=what
        )
    ]
    lines += [f"  {readable(path)}: {reason}" for path, reason in sorted(report.errors.items())]
    return "\n".join(lines)


def export_failure(report: ExportReport) -> str | None:
    """Why ``export-xmp`` exits 2 (one line), or None when every photo was exported: a photo
    whose tags could not be written fails the command, whether some or all failed."""
    failed = len(report.errors)
    if not failed:
        return None
    total = report.written + report.unchanged + report.nothing + failed
    if failed < total:
        return f"{failed} of {total} photos could not be exported"
    return (
        "the photo could not be exported"
        if total == 1
        else f"none of the {total} photos could be exported"
    )


def index_summary(summary: IndexSummary, errors: list[PhotoRow]) -> str:
    s = summary.scan
    # photos an interrupted run left waiting are tagged now: not "unchanged", and said so
    resumed = f"{s.resumed} resumed from an interrupted run, " if s.resumed else ""
    lines = [
        f"Indexed {_plural(s.files, 'photo file')} in {summary.seconds:.1f} s: "
        f"{summary.tagged} tagged ({summary.photos_per_second:.1f} photos/s), "
        f"{summary.rescored} re-scored, {resumed}{s.unchanged} unchanged, {s.moved} moved, "
        f"{s.missing} missing, {_plural(summary.errors + s.errors, 'error')}."
    ]
    if summary.cancelled:
        lines.append("Stopped before the end; run index again to continue.")
    for warning in summary.warnings[:_MAX_ERRORS_SHOWN]:
        lines.append(f"  warning  {warning}")
    for folder in s.skipped_dirs:
        lines.append(f"  not followed  {readable(folder)}: the link leads outside the album")
    for photo in errors[:_MAX_ERRORS_SHOWN]:
        lines.append(f"  error  {readable(photo.path)}: {photo.error}")
    if len(errors) > _MAX_ERRORS_SHOWN:
        lines.append(f"  … and {len(errors) - _MAX_ERRORS_SHOWN} more (see --json)")
    return "\n".join(lines)


def tags_text(photo: PhotoRow, views: list[TagView]) -> str:
    size = f"{photo.width}×{photo.height}" if photo.width else "not decoded yet"
    taken = f", taken {photo.taken_at}" if photo.taken_at else ""
    head = f"{readable(photo.path)}  ({size}{taken})"
    if photo.status == "error":
        return f"{head}\n  cannot be read: {photo.error}"
    if not views:
        return f"{head}\n  no tags"
    width = max(len(" › ".join(v.path)) for v in views)
    lines = [head]
    for v in views:
        score = "  -  " if v.score is None else f"{v.score:5.2f}"
        mark = "✓" if v.has else " "
        notes = [v.source or "parent"]
        if v.verdict_name:
            notes.append(v.verdict_name)
        lines.append(
            f"  {mark} {' › '.join(v.path):<{width}}  {score}  "
            f"(threshold {v.threshold:.2f})  {', '.join(notes)}"
        )
    return "\n".join(lines)


def label_tree_text(nodes: list[LabelNode]) -> str:
    lines = []
    for n in nodes:
        name = "  " * n.depth + n.label.name + (" (yours)" if n.label.kind == "user" else "")
        learns = f"   {LEARNS}" if n.learns_from_examples else ""
        lines.append(f"{name:<40} {n.count:>7}   threshold {n.threshold:.2f}{learns}")
    return "\n".join(lines)
