"""Every change a person makes to an album, in one place: the window and the command line call
these and nothing else to edit.

Each operation checks what it is given (a clear :mod:`core.errors` exception before anything is
written), makes the change through the library and the store (one undo step where the change is
undoable), and returns a :class:`Changes` record: what the change touched, so a caller refreshes
exactly that (the window's grid, tree, history buttons; the command line's one-line report).

Operations are plain functions of a :class:`~core.library.Library`; they run on whatever thread
owns it (the window's database thread). Verdicts are never overwritten by anything automatic:
only the verdict operations here, and undo/redo of them, change one.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core import browse, label_ops, versions
from core.db import ratings
from core.db.journal import Step
from core.db.store import Status
from core.db.tagstore import VerdictChange
from core.errors import (
    InvalidEditError,
    PhotoNotFoundError,
    UnknownLabelError,
    VocabularyError,
)
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED
from core.library import Library
from core.model import versions as registry
from core.pipeline.indexer import ProgressCallback

VERDICTS = {CONFIRMED: "confirmed", REJECTED: "rejected", NO_VERDICT: "cleared"}


@dataclass(frozen=True)
class Changes:
    """What one operation changed (nothing, when every field is empty)."""

    what: str = ""  # in words, for a status bar or the command line
    photos: tuple[int, ...] = ()  # photos whose tags changed
    all_photos: bool = False  # any photo's tags may have changed (label tree, threshold, model)
    marks: tuple[int, ...] = ()  # photos whose rating or flag changed
    labels: bool = False  # the labels table changed (a new label, a rename, a merge...)
    created: str | None = None  # the label this operation created
    model: bool = False  # the active model version changed
    history: bool = False  # the undo stack changed (a new step, or one undone or redone)
    thresholds: tuple[str, ...] = ()  # labels (lower case) whose threshold the user changed
    moved: int = 0  # label manager: photos whose verdicts or scores moved
    conflicts: int = 0  # merge: photos confirmed under one label, rejected under the other

    @property
    def changed(self) -> bool:
        return bool(
            self.photos
            or self.all_photos
            or self.marks
            or self.labels
            or self.model
            or self.history
            or self.thresholds
        )

    def __or__(self, other: Changes) -> Changes:
        """Both changes, as one record (``what`` of the later one when it has words)."""
        return Changes(
            what=other.what or self.what,
            photos=tuple(sorted(set(self.photos) | set(other.photos))),
            all_photos=self.all_photos or other.all_photos,
            marks=tuple(sorted(set(self.marks) | set(other.marks))),
            labels=self.labels or other.labels,
            created=other.created or self.created,
            model=self.model or other.model,
            history=self.history or other.history,
            thresholds=tuple(dict.fromkeys(self.thresholds + other.thresholds)),
            moved=self.moved + other.moved,
            conflicts=self.conflicts + other.conflicts,
        )


# -- checking what is given ---------------------------------------------------------------
def _photo_ids(library: Library, photo_ids: Iterable[int]) -> list[int]:
    """The ids, each once, in order; every one a photo of the album."""
    try:
        ids = list(dict.fromkeys(_whole(i, "a photo id") for i in photo_ids))
    except TypeError:
        raise InvalidEditError(f"photo ids are a list of numbers, not {photo_ids!r}") from None
    if not ids:
        raise InvalidEditError("no photos chosen")
    found = {p.id for p in library.store.photos_by_ids(ids) if p.status != Status.MISSING}
    unknown = [i for i in ids if i not in found]
    if unknown:
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        raise PhotoNotFoundError(f"photo id {unknown[0]}{more} is not a photo of this album")
    return ids


def _whole(value: object, what: str) -> int:
    """``value`` as an int: an int (numpy's too) or a float without a fraction; not a bool."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidEditError(f"{what} is a whole number, not {value!r}")


def _known(library: Library, word: str) -> str | None:
    """The name of the label ``word`` names (name or alias, any case), or None."""
    name = library.vocabulary.resolve(word)
    if name is None:  # made meanwhile by another process (the command line, keyword import)?
        library.reload_vocabulary()
        name = library.vocabulary.resolve(word)
    return name


def _label_name(library: Library, word: str) -> str:
    """The name of the label ``word`` names.

    Raises:
        UnknownLabelError: no label has that name or alias (with suggestions).
    """
    if not isinstance(word, str) or not word.strip():
        raise InvalidEditError(f"a label is a name, not {word!r}")
    name = _known(library, word)
    if name is None:
        raise UnknownLabelError(word, library.vocabulary.suggest(word))
    return name


def _label_words(labels: str | Iterable[str]) -> list[str]:
    if isinstance(labels, str):  # one label, not its letters
        return [labels]
    return list(labels)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- verdicts -------------------------------------------------------------------------------
def set_verdicts(
    library: Library,
    photo_ids: Iterable[int],
    *,
    confirm: Iterable[str] = (),
    reject: Iterable[str] = (),
    clear: Iterable[str] = (),
) -> Changes:
    """Confirm, reject and clear labels on photos, as one undo step.

    Raises:
        InvalidEditError: no photos, or no label to change.
        PhotoNotFoundError: an id that is not a photo of the album.
        UnknownLabelError: a word that names no label (with suggestions).
    """
    ids = _photo_ids(library, photo_ids)
    wanted = [
        (verdict, _label_name(library, word))
        for verdict, words in ((CONFIRMED, confirm), (REJECTED, reject), (NO_VERDICT, clear))
        for word in _label_words(words)
    ]
    if not wanted:
        raise InvalidEditError("no label to confirm, reject or clear")
    label_ids = library.label_ids()
    changes = [
        VerdictChange(pid, label_ids[name.lower()], verdict)
        for verdict, name in wanted
        for pid in ids
    ]
    if library.store.set_verdicts(changes) is None:
        return Changes("nothing changed")
    names = sorted({name for _, name in wanted}, key=str.lower)
    return Changes(
        f"{', '.join(names)} on {_plural(len(ids), 'photo')}", photos=tuple(ids), history=True
    )


def set_verdict(
    library: Library, photo_ids: Iterable[int], labels: str | Iterable[str], verdict: int
) -> Changes:
    """Confirm (1), reject (-1) or clear (0) labels on photos, as one undo step."""
    if isinstance(verdict, bool) or verdict not in VERDICTS:
        raise InvalidEditError(
            f"a verdict is 1 (confirm), -1 (reject) or 0 (clear), not {verdict!r}"
        )
    key = {CONFIRMED: "confirm", REJECTED: "reject", NO_VERDICT: "clear"}[verdict]
    return set_verdicts(library, photo_ids, **{key: _label_words(labels)})


def confirm(library: Library, photo_ids: Iterable[int], labels: str | Iterable[str]) -> Changes:
    return set_verdict(library, photo_ids, labels, CONFIRMED)


def reject(library: Library, photo_ids: Iterable[int], labels: str | Iterable[str]) -> Changes:
    return set_verdict(library, photo_ids, labels, REJECTED)


def clear(library: Library, photo_ids: Iterable[int], labels: str | Iterable[str]) -> Changes:
    return set_verdict(library, photo_ids, labels, NO_VERDICT)


def confirm_suggestions(library: Library, photo_ids: Iterable[int]) -> Changes:
    """Confirm every tag the model put on these photos and nobody judged ("looks right")."""
    ids = _photo_ids(library, photo_ids)
    pairs = browse.suggestions(library, ids)
    if library.store.set_verdicts([VerdictChange(p, lid, CONFIRMED) for p, lid in pairs]) is None:
        return Changes("nothing to confirm")
    touched = tuple(sorted({p for p, _ in pairs}))
    return Changes(
        f"confirmed {_plural(len(pairs), 'tag')} on {_plural(len(touched), 'photo')}",
        photos=touched,
        history=True,
    )


def create_label(library: Library, name: str, parent: str | None = None) -> Changes:
    """A label of the user's own ("Grandma", "our boat"), optionally under another label.

    A name the album already has (name or alias) creates nothing: ``created`` stays None.

    Raises:
        VocabularyError: a name that cannot be a label (empty, ``|`` or ``/``...).
        UnknownLabelError: ``parent`` names no label.
    """
    if not isinstance(name, str):
        raise InvalidEditError(f"a label is a name, not {name!r}")
    name = " ".join(name.split())
    if not name:
        raise VocabularyError("a label needs a name")
    if parent is not None:
        parent = _label_name(library, parent)
    existing = _known(library, name)
    if existing is not None:
        return Changes(f"{existing} is already a label")
    row = library.create_label(name, parent)
    return Changes(f"made the label {row.name}", labels=True, created=row.name)


def add_tag(
    library: Library, photo_ids: Iterable[int], name: str, parent: str | None = None
) -> Changes:
    """Confirm a label on photos; a name the album does not know becomes a user label first."""
    ids = _photo_ids(library, photo_ids)  # before a label is made for nothing
    made = Changes()
    if not isinstance(name, str) or _known(library, name) is None:
        made = create_label(library, name, parent)
    label = made.created or _label_name(library, name)
    return made | set_verdicts(library, ids, confirm=[label])


# -- the undo stack ---------------------------------------------------------------------------
def _step_changes(step: Step | None, done: str, none: str) -> Changes:
    if step is None:
        return Changes(none)
    what = f"{done} {step.what}"
    if step.kind == "labels":
        return Changes(what, labels=True, all_photos=True, history=True)
    if step.kind == "ratings":
        return Changes(what, marks=tuple(step.photos), history=True)
    return Changes(
        f"{what} on {_plural(len(step.photos), 'photo')}", photos=tuple(step.photos), history=True
    )


def undo(library: Library) -> Changes:
    """Undo the latest verdicts, label change or ratings (one step)."""
    return _step_changes(library.undo(), "undid", "nothing to undo")


def redo(library: Library) -> Changes:
    """Redo the step undone last."""
    return _step_changes(library.redo(), "redid", "nothing to redo")


# -- ratings and flags ------------------------------------------------------------------------
def set_marks(
    library: Library,
    photo_ids: Iterable[int],
    *,
    rating: int | None = None,
    flag: int | None = None,
) -> Changes:
    """Rate (0-5 stars) and/or flag (1 pick, 0 none, -1 reject) photos, as one undo step."""
    if rating is None and flag is None:
        raise InvalidEditError("say what to set: a rating or a flag")
    if rating is not None and not (0 <= _whole(rating, "a rating") <= 5):
        raise InvalidEditError(f"a rating is 0 to 5 stars, not {rating!r}")
    if flag is not None and (_whole(flag, "a flag") not in ratings.FLAG_NAMES):
        raise InvalidEditError(f"a flag is 1 (pick), 0 (none) or -1 (reject), not {flag!r}")
    ids = _photo_ids(library, photo_ids)
    rating = None if rating is None else int(rating)
    flag = None if flag is None else int(flag)
    if ratings.set_marks(library.store, ids, rating=rating, flag=flag) is None:
        return Changes("nothing changed")
    return Changes(f"marked {_plural(len(ids), 'photo')}", marks=tuple(ids), history=True)


# -- thresholds -------------------------------------------------------------------------------
def set_threshold(library: Library, label: str, value: float | None) -> Changes:
    """Set one label's threshold by hand (None: back to the trained one); undoable in the
    quality view (:func:`undo_threshold`), and kept over every later model version."""
    name = _label_name(library, label)
    if value is not None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidEditError(f"a threshold is a number, not {value!r}") from None
        if isinstance(value, bool) or math.isnan(number) or not 0.0 <= number <= 1.0:
            raise InvalidEditError(f"a threshold lies between 0 and 1, not {value!r}")
        value = number
    before = library.store.manual_thresholds().get(name.lower())
    library.store.set_manual_threshold(name, value)
    if library.store.manual_thresholds().get(name.lower()) == before:
        return Changes("nothing changed")
    what = f"threshold of {name}: " + (
        "trained" if value is None else f"{library.store.manual_thresholds()[name.lower()]:.2f}"
    )
    return Changes(what, all_photos=True, thresholds=(name.lower(),))


def reset_threshold(library: Library, label: str) -> Changes:
    """Give a label its trained (or default) threshold back."""
    return set_threshold(library, label, None)


def undo_threshold(library: Library) -> Changes:
    """Undo the latest threshold change (the quality view's own undo)."""
    name = library.store.undo_threshold()
    if name is None:
        return Changes("no threshold change to undo")
    return Changes(f"undid the threshold change of {name}", all_photos=True, thresholds=(name,))


def redo_threshold(library: Library) -> Changes:
    name = library.store.redo_threshold()
    if name is None:
        return Changes("no threshold change to redo")
    return Changes(f"redid the threshold change of {name}", all_photos=True, thresholds=(name,))


# -- model versions ---------------------------------------------------------------------------
def activate_version(
    library: Library,
    version: int,
    *,
    rescore: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Changes:
    """Make a stored model version the active one.

    Its thresholds apply at once. With ``rescore`` the album is re-scored with it now (the
    command line, with ``progress``); without, the photos are stale until the next index run
    re-scores them (the window starts one).

    Raises:
        ModelVersionError: no such version, or one the album cannot serve (an attention head,
            a missing or corrupt head file); nothing is changed then.
    """
    version = _whole(version, "a model version")
    active = library.store.active_model()
    if rescore:
        versions.activate_version(library, version, progress, cancel)
    else:
        registry.activate(library.store, library.data_dir, version)  # checks it first
        if active is None or active.version != version:
            library.reload_model()
    if active is not None and active.version == version:
        return Changes(f"version {version} is already active")
    return Changes(f"version {version} is active", all_photos=True, model=True)


def rollback(
    library: Library,
    *,
    rescore: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Changes:
    """Activate the newest usable version below the active one.

    Raises:
        ModelVersionError: nothing to roll back to.
    """
    return activate_version(
        library,
        versions.rollback_target(library),
        rescore=rescore,
        progress=progress,
        cancel=cancel,
    )


# -- the label manager (one undo step each; see core.label_ops) -------------------------------
def _label_edit(library: Library, edit: label_ops.LabelEdit) -> Changes:
    if not edit.changed:  # e.g. a rename to the name it has
        return Changes(edit.what)
    return Changes(
        edit.what,
        all_photos=True,
        labels=True,
        history=True,
        moved=edit.photos,
        conflicts=edit.conflicts,
    )


def rename_label(library: Library, name: str, new_name: str) -> Changes:
    return _label_edit(library, label_ops.rename(library, name, new_name))


def merge_labels(library: Library, source: str, target: str) -> Changes:
    return _label_edit(library, label_ops.merge(library, source, target))


def move_label(library: Library, name: str, parent: str | None) -> Changes:
    return _label_edit(library, label_ops.move(library, name, parent))


def set_aliases(library: Library, name: str, aliases: Sequence[str]) -> Changes:
    if isinstance(aliases, str):
        raise InvalidEditError("aliases are a list of words, not one string")
    return _label_edit(library, label_ops.set_aliases(library, name, aliases))


def delete_label(library: Library, name: str) -> Changes:
    return _label_edit(library, label_ops.delete(library, name))


__all__ = [
    "Changes",
    "activate_version",
    "add_tag",
    "clear",
    "confirm",
    "confirm_suggestions",
    "create_label",
    "delete_label",
    "merge_labels",
    "move_label",
    "redo",
    "redo_threshold",
    "reject",
    "rename_label",
    "reset_threshold",
    "rollback",
    "set_aliases",
    "set_marks",
    "set_threshold",
    "set_verdict",
    "set_verdicts",
    "undo",
    "undo_threshold",
]
