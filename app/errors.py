"""The one place that turns engine exceptions into words for a person."""

from __future__ import annotations

from core.errors import (
    AlbumNotFoundError,
    AlbumtagError,
    ImageError,
    InvalidEditError,
    ModelLoadError,
    ModelVersionError,
    PhotoNotFoundError,
    QueryError,
    StoreError,
    UnknownLabelError,
    VocabularyError,
)

#: Errors caused by what the user typed or pointed at (exit status 2), not by a bug.
USER_ERRORS: tuple[type[Exception], ...] = (
    AlbumNotFoundError,
    PhotoNotFoundError,
    QueryError,
    UnknownLabelError,
    ModelLoadError,
    ModelVersionError,
    ImageError,
    StoreError,
    VocabularyError,
    InvalidEditError,
)


def describe(exc: BaseException) -> str:
    """A one-line message for an exception, without a traceback."""
    if isinstance(exc, QueryError):
        return f"bad search: {exc}"
    if isinstance(exc, ModelLoadError):
        return f"cannot load the model: {exc}"
    if isinstance(exc, StoreError):
        return f"album database problem: {exc}"
    if isinstance(exc, AlbumtagError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, USER_ERRORS)
