"""Photo formats beyond Pillow's core: HEIC/HEIF, AVIF and camera RAW.

- HEIC/HEIF through ``pillow-heif`` (libheif in its wheel), registered as a Pillow plugin.
  libheif applies the container's rotation and mirroring (``irot``/``imir``) while decoding and
  pillow-heif then resets the EXIF orientation to 1, so :mod:`core.media.imaging` applies the
  orientation exactly once.
- AVIF through Pillow's own plugin (libavif in Pillow's wheel); it reports the container's
  rotation as the EXIF orientation and does not rotate, so again one rotation in imaging.
- Camera RAW through ``rawpy`` (LibRaw): the embedded preview the camera wrote (a JPEG, or a
  bitmap), rotated by the RAW's orientation; a file without a usable preview is demosaiced at
  half size instead. The capture time is LibRaw's.

:mod:`core.media.imaging` imports this module; this module imports imaging's helpers only inside
:func:`decode_raw`, once both are loaded.
"""

from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PIL import Image

from core.errors import ImageError

if TYPE_CHECKING:
    from core.media.imaging import Decoded

logger = logging.getLogger(__name__)

HEIF_SUFFIXES: Final = frozenset({".heic", ".heif", ".hif"})
AVIF_SUFFIXES: Final = frozenset({".avif"})
#: Camera RAW file endings LibRaw reads (the common ones).
RAW_SUFFIXES: Final = frozenset(
    {
        ".3fr",
        ".arw",
        ".cr2",
        ".cr3",
        ".crw",
        ".dcr",
        ".dng",
        ".erf",
        ".iiq",
        ".k25",
        ".kdc",
        ".mef",
        ".mos",
        ".mrw",
        ".nef",
        ".nrw",
        ".orf",
        ".pef",
        ".raf",
        ".raw",
        ".rw2",
        ".rwl",
        ".sr2",
        ".srf",
        ".srw",
        ".x3f",
    }
)
# LibRaw's "flip" as an EXIF orientation.
_FLIP_TO_ORIENTATION: Final = {0: 1, 3: 3, 5: 8, 6: 6}


def _register() -> tuple[frozenset[str], tuple[str, ...]]:
    """Register the plugins that are installed; the file endings and Pillow formats added."""
    suffixes: set[str] = set()
    formats: list[str] = []
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        suffixes |= HEIF_SUFFIXES
        formats.append("HEIF")
    except ImportError:
        logger.info("HEIC photos are skipped: pillow-heif is not installed")
    try:
        from PIL import AvifImagePlugin, features

        if features.check("avif"):
            suffixes |= AVIF_SUFFIXES
            formats.append(AvifImagePlugin.AvifImageFile.format)
    except ImportError:
        logger.info("AVIF photos are skipped: this Pillow has no AVIF support")
    if importlib.util.find_spec("rawpy") is not None:  # imported when a RAW file is decoded
        suffixes |= RAW_SUFFIXES
    else:
        logger.info("camera RAW photos are skipped: rawpy is not installed")
    return frozenset(suffixes), tuple(formats)


#: File endings and Pillow format names this module adds to core.media.imaging.
EXTRA_SUFFIXES, EXTRA_FORMATS = _register()


def is_raw_name(path: str | Path) -> bool:
    """Whether a file name is a camera RAW file decoded through :func:`decode_raw`."""
    suffix = Path(path).suffix.lower()
    return suffix in RAW_SUFFIXES and suffix in EXTRA_SUFFIXES


def decode_raw(data: bytes, digest: str, min_side: int) -> Decoded:
    """Decode a camera RAW file's embedded preview as :func:`core.media.imaging.decode` would.

    Raises:
        ImageError: "unsupported format" (LibRaw cannot read it), "corrupt image" or
            "truncated image".
    """
    import rawpy

    from core.media import imaging

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes, other = raw.sizes, raw.other
            image, orientation = _preview(raw, min_side)
    except rawpy.LibRawFileUnsupportedError as exc:
        raise ImageError("unsupported format", "not a RAW file LibRaw reads") from exc
    except (rawpy.LibRawIOError, EOFError) as exc:
        raise ImageError("truncated image", str(exc)) from exc
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageError("corrupt image", str(exc) or type(exc).__name__) from exc
    if sizes.width * sizes.height > imaging.MAX_PIXELS:
        raise ImageError("image too large", f"{sizes.width}\u00d7{sizes.height}")
    image = imaging._flatten(imaging._reduce(imaging._normalise_mode(image), min_side))
    if orientation in imaging._TRANSPOSE:
        image = image.transpose(imaging._TRANSPOSE[orientation])
    width, height = sizes.width, sizes.height
    if _FLIP_TO_ORIENTATION.get(sizes.flip, 1) in (5, 6, 7, 8):
        width, height = height, width
    taken = getattr(other, "timestamp", None)
    taken_at = (
        taken.replace(tzinfo=None).isoformat(timespec="seconds")
        if (taken is not None and taken.year > 1970)
        else None
    )
    return imaging.Decoded(image, width, height, taken_at, digest)


def _preview(raw: object, min_side: int) -> tuple[Image.Image, int]:
    """The camera's preview (and the orientation still to apply), or a half-size demosaic."""
    import rawpy

    orientation = _FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)  # type: ignore[attr-defined]
    try:
        thumb = raw.extract_thumb()  # type: ignore[attr-defined]
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        thumb = None
    if thumb is not None:
        try:
            if thumb.format == rawpy.ThumbFormat.JPEG:
                with Image.open(io.BytesIO(thumb.data), formats=("JPEG",)) as im:
                    im.draft("RGB", (min_side, min_side))
                    im.load()
                    preview = im.copy()
            else:
                preview = Image.fromarray(thumb.data)
        except (OSError, ValueError, SyntaxError) as exc:
            logger.debug("unusable RAW preview (%s): demosaicing instead", exc)
        else:
            if min(preview.size) >= min(min_side, 160):
                return preview, orientation
    # No usable preview: demosaic at half size (LibRaw rotates this output itself).
    pixels = raw.postprocess(  # type: ignore[attr-defined]  # rawpy has no type hints
        half_size=True,
        use_camera_wb=True,
        output_bps=8,
        no_auto_bright=False,
    )
    return Image.fromarray(pixels), 1
