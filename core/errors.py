"""The album engine's exceptions.

They carry facts, not UI wording: ``app`` decides how each is shown to a person.
"""

from __future__ import annotations


class AlbumtagError(Exception):
    """Base class of every error the engine raises on purpose."""


class StoreError(AlbumtagError):
    """The album database cannot be opened, migrated or written."""


class ImageError(AlbumtagError):
    """One file could not be decoded as a photo; ``reason`` is a short, stable phrase."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ModelLoadError(AlbumtagError):
    """A backbone, checkpoint or head cannot be loaded or does not match what was asked."""


class ModelVersionError(AlbumtagError):
    """A model version asked for does not exist, or there is none to roll back to."""


class VocabularyError(AlbumtagError):
    """The label vocabulary file is malformed (unknown parent, cycle, duplicate name...)."""


class QueryError(AlbumtagError):
    """A search query cannot be parsed or names something unknown.

    ``position`` is the character offset of the problem in the query, when known; for an
    unknown label, ``word`` is the word as typed and ``suggestions`` the labels it may mean.
    """

    def __init__(
        self,
        message: str,
        position: int | None = None,
        *,
        word: str | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        self.position = position
        self.word = word
        self.suggestions = tuple(suggestions)
        super().__init__(message)


class UnknownLabelError(AlbumtagError):
    """A label name or alias does not exist in the album's vocabulary."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown label {name!r}{hint}")


class InvalidEditError(AlbumtagError):
    """A user change asks for something impossible: no photos, a rating of 7, a threshold of 2."""


class PhotoNotFoundError(AlbumtagError):
    """A path given by the user is not a photo of this album."""


class AlbumNotFoundError(AlbumtagError):
    """The album folder does not exist or is not a folder."""
