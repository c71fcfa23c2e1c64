"""The heads the album can serve, by kind: how each is stored, checked and read back.

A model version's ``metrics["head"]`` names its kind. The album serves three:

* ``prior`` — no file: the ImageNet classifier's softmax summed per label
  (``core.model.tagger.PriorHead``), model version 0 of every backbone;
* ``linear`` — a trained sigmoid layer (``core.model.tagger.LinearHead``);
* ``residual`` — a trained correction over the prior (``core.model.residual.ResidualHead``).

Any other kind (the trainer's ``attention`` and ``finetune`` heads) is kept for comparison and
never served. This is the one table of what can be served: ``core.model.versions`` refuses to
activate anything else, ``load_head`` reads a head file through it, and the trainer offers only
these kinds for ``--head``. Nothing here imports torch until a head is actually loaded, so the
command line can check a version without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError
from core.model.part_names import is_part_entry

if TYPE_CHECKING:
    from core.model.tagger import Head, PriorHead

logger = logging.getLogger(__name__)

LINEAR_HEAD_FORMAT = "albumtag-linear-head/1"
RESIDUAL_HEAD_FORMAT = "albumtag-residual-head/1"

#: What a version's row says when it predates the ``head`` key (a file meant a linear head).
PRIOR, LINEAR, RESIDUAL = "prior", "linear", "residual"


@dataclass(frozen=True)
class HeadKind:
    """One servable kind of head.

    Attributes:
        name: The kind, as stored in a version's ``metrics["head"]``.
        format: The ``format`` metadata of its head file; None when it has no file (the prior).
        tensors: The tensors its file always holds.
        optional: Whether an entry name may also be in its file (None: nothing else may).
        load: Reads its file: ``load(path, prior)`` → a head (``prior`` is the album's prior
            head, which a residual head corrects); None when it has no file.
    """

    name: str
    format: str | None
    tensors: frozenset[str]
    load: Callable[[Path, PriorHead], Head] | None
    optional: Callable[[str], bool] | None = None


def _load_linear(path: Path, prior: PriorHead) -> Head:
    from core.model.tagger import LinearHead

    return LinearHead.load(path)


def _load_residual(path: Path, prior: PriorHead) -> Head:
    from core.model.residual import ResidualHead

    return ResidualHead.load(path, prior)


_KINDS: dict[str, HeadKind] = {}


def register(kind: HeadKind) -> HeadKind:
    """Add a servable kind (a kind's name and file format are unique).

    Raises:
        ValueError: The name or the format is taken.
    """
    if kind.name in _KINDS:
        raise ValueError(f"head kind {kind.name!r} is already registered")
    if kind.format is not None and any(k.format == kind.format for k in _KINDS.values()):
        raise ValueError(f"head format {kind.format!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


register(HeadKind(PRIOR, None, frozenset(), None))
register(HeadKind(LINEAR, LINEAR_HEAD_FORMAT, frozenset({"weight", "bias"}), _load_linear))
register(
    HeadKind(
        RESIDUAL,
        RESIDUAL_HEAD_FORMAT,
        frozenset({"weight", "bias", "alpha", "mean"}),
        _load_residual,
        is_part_entry,  # prototype terms (core.model.terms)
    )
)


def served_kinds() -> tuple[str, ...]:
    """The kinds the album can score photos with, in registration order."""
    return tuple(_KINDS)


def is_servable(name: str) -> bool:
    """Whether the album can score photos with a head of kind ``name``."""
    return name in _KINDS


def kind_named(name: str) -> HeadKind:
    """The servable kind called ``name``.

    Raises:
        ModelLoadError: No such servable kind.
    """
    try:
        return _KINDS[name]
    except KeyError:
        raise ModelLoadError(
            f"the album cannot serve a {name!r} head (it serves {', '.join(_KINDS)})"
        ) from None


def kind_of_row(head_file: str | None, metrics: dict[str, Any]) -> str:
    """The kind a version's row records (rows from before ``metrics["head"]``: a file meant a
    linear head, no file the prior)."""
    default = PRIOR if head_file is None else LINEAR
    return str(metrics.get("head") or default)


def kind_of_file(path: Path) -> HeadKind:
    """The servable kind whose format ``path`` declares.

    Raises:
        ModelLoadError: Missing or unreadable file, or a format the album does not serve.
    """
    metadata, _ = _read(Path(path))
    declared = metadata.get("format", "")
    for kind in _KINDS.values():
        if kind.format is not None and kind.format == declared:
            return kind
    raise ModelLoadError(f"{path} is not a head the album can serve (format {declared!r})")


def load_head(path: Path, prior: PriorHead) -> Head:
    """Read a head file of any servable kind (its kind comes from the file's format).

    Raises:
        ModelLoadError: Missing, corrupt or unservable file.
    """
    kind = kind_of_file(path)
    assert kind.load is not None  # kinds with a format have a loader
    return kind.load(Path(path), prior)


def verify_file(kind: HeadKind, path: Path) -> None:
    """Check a head file without torch: it reads completely, declares ``kind``'s format, holds
    its tensors and nothing but its optional ones besides, and every value is finite.

    Raises:
        ModelLoadError: Missing, truncated or corrupt file, or another kind's.
    """
    import numpy as np

    metadata, tensors = _read(Path(path), with_tensors=True)
    if metadata.get("format") != kind.format:
        raise ModelLoadError(f"{path} is not an albumtag {kind.name} head ({kind.format})")
    extra = set(tensors) - kind.tensors
    if not kind.tensors <= set(tensors) or any(
        kind.optional is None or not kind.optional(name) for name in extra
    ):
        also = " (and prototype terms)" if kind.optional is not None else ""
        raise ModelLoadError(
            f"{path} must hold {', '.join(sorted(kind.tensors))}{also}, and nothing else"
        )
    if not all(bool(np.isfinite(t).all()) for t in tensors.values()):
        raise ModelLoadError(f"{path}: weights are not finite")


def _read(path: Path, *, with_tensors: bool = False) -> tuple[dict[str, str], dict[str, Any]]:
    """A safetensors file's metadata (and its tensors as numpy arrays, when asked)."""
    import safetensors

    if not path.is_file():
        raise ModelLoadError(f"head file not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            metadata = dict(handle.metadata() or {})
            names = handle.keys() if with_tensors else []  # a handle is not iterable
            tensors = {key: handle.get_tensor(key) for key in names}
    except Exception as exc:  # SafetensorError, OSError, ...
        raise ModelLoadError(f"{path} is not a valid safetensors file: {exc}") from exc
    return metadata, tensors
