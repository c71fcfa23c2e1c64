"""Decode photo files safely: one read, one decode, feeding both the thumbnail and the model.

``decode`` reads a file once, hashes those bytes and decodes them: EXIF orientation applied,
JPEGs decoded at reduced size with ``Image.draft`` (other formats reduced right after decoding),
any mode (palette, alpha, CMYK, 16-bit, float, ICC profile) made 8-bit sRGB on white. A bad file
becomes an ``ImageError`` with a short, stable ``reason``; no Pillow exception escapes.

Importing this module raises Pillow's global ``Image.MAX_IMAGE_PIXELS`` to ``MAX_PIXELS`` (never
lowers it) so 108 and 200 MP phone photos open without Pillow's bomb warning; ``decode`` still
refuses anything larger than ``MAX_PIXELS`` before reading pixels.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import io
import logging
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageCms, TiffImagePlugin, UnidentifiedImageError, WebPImagePlugin
from PIL.ExifTags import IFD

from core.errors import ImageError
from core.media import formats

logger = logging.getLogger(__name__)

#: File name endings ``decode`` is meant for (lower case, with the dot).
SUPPORTED_SUFFIXES: Final = (
    frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
    | formats.EXTRA_SUFFIXES
)  # HEIC/HEIF, AVIF and camera RAW where their libraries are installed
#: Images with more pixels than this are refused before their pixels are read (200 MP phones fit).
MAX_PIXELS: Final = 200_000_000
#: Files larger than this are refused before they are read into memory.
MAX_FILE_BYTES: Final = 1 << 30
#: Longest side / shortest side the model input is made from; longer images are cut to their
#: centre first (panoramas up to 4:1 are resized whole, exactly as timm's eval transform does).
MAX_MODEL_ASPECT: Final = 4.0
#: The resizing filters a model's data config may name (timm's names), as Pillow's.
RESAMPLING: Final = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
#: ``blake2b`` digest size of ``content_hash``, in bytes (32 hex characters).
HASH_DIGEST_SIZE: Final = 16

_PILLOW_FORMATS: Final = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", *formats.EXTRA_FORMATS)
# Registered up front (preinit: BMP, GIF, JPEG, PNG) so worker threads never race Pillow's
# lazy plugin loading.
_PLUGINS: Final = (TiffImagePlugin, WebPImagePlugin)
Image.preinit()
_MAGIC: Final = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_DATETIME: Final = re.compile(r"(\d{4})[:\-/.](\d\d)[:\-/.](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_BOMB_PIXELS: Final = re.compile(r"\((\d+) pixels\)")
_CHUNK: Final = 1 << 20

_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _quiet_libtiff() -> None:
    """Stop libtiff printing to the terminal: a corrupt TIFF made it write hundreds of lines
    (one per strip) to stderr, while ``decode`` already turns its failure into a reason.

    libtiff's warning and error handlers are process-wide C callbacks; the library Pillow
    loaded is found among the process's mapped files and both handlers are set to none.
    Where that is not possible (no ``/proc``, libtiff linked into Pillow) nothing changes.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line and "/" in line}
        for path in paths:
            libtiff = ctypes.CDLL(path)
            for setter in (libtiff.TIFFSetWarningHandler, libtiff.TIFFSetErrorHandler):
                setter.restype = ctypes.c_void_p
                setter.argtypes = [ctypes.c_void_p]
                setter(None)
    except (OSError, AttributeError) as exc:
        logger.debug("libtiff messages stay on: %s", exc)


_quiet_libtiff()
# Pillow's TIFF reader also warns through Python for each odd tag of a corrupt file.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.Tiff")


@dataclass(frozen=True)
class Decoded:
    """One decoded photo.

    Attributes:
        image: RGB, upright (EXIF orientation applied), reduced so that its shorter side is
            at least the ``min_side`` asked for (or the full image when that is smaller).
        width: full-resolution width as the user sees it (upright).
        height: full-resolution height as the user sees it (upright).
        taken_at: EXIF capture time as ISO 8601 (``2023-07-14T10:22:03``), else None.
        content_hash: ``blake2b`` (16-byte digest) hex of the file's bytes.
    """

    image: Image.Image
    width: int
    height: int
    taken_at: str | None
    content_hash: str


def is_photo_name(path: str | os.PathLike[str]) -> bool:
    """Whether a file name looks like a photo ``decode`` handles.

    Hidden names (a leading dot, e.g. macOS ``._IMG_1.jpg`` resource forks) are not photos.
    """
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def content_hash(path: Path) -> str:
    """The ``blake2b`` hex digest of a file, read in chunks; equal to ``Decoded.content_hash``.

    Raises:
        ImageError: the path is not a readable regular file (same reasons as ``decode``).
    """
    fd, _ = _open_regular(Path(path))
    try:
        with os.fdopen(fd, "rb") as file:
            digest = hashlib.blake2b(digest_size=HASH_DIGEST_SIZE)
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ImageError("unreadable file", exc.strerror or str(exc)) from exc
    return digest.hexdigest()


def decode(path: Path, *, min_side: int = 256) -> Decoded:
    """Read a photo file once and decode it for thumbnails and the model.

    Args:
        path: the file.
        min_side: the decoded image's shorter side is kept at least this long (JPEGs are
            decoded at 1/2, 1/4 or 1/8 scale and other formats reduced accordingly).

    Returns:
        The upright RGB image, the full-resolution size, EXIF capture time and content hash.

    Raises:
        ImageError: with ``reason`` one of "file not found", "not a regular file",
            "permission denied", "unreadable file", "empty file", "not an image",
            "unsupported format", "truncated image", "image too large", "corrupt image".
    """
    if min_side < 1:
        raise ValueError(f"min_side must be positive, not {min_side}")
    path = Path(path)
    data = _read_bytes(path)
    digest = hashlib.blake2b(data, digest_size=HASH_DIGEST_SIZE).hexdigest()
    try:
        if formats.is_raw_name(path):  # the camera's embedded preview (core.media.formats)
            return formats.decode_raw(data, digest, min_side)
        return _decode_bytes(data, digest, min_side)
    except ImageError as exc:
        logger.debug("cannot decode %s: %s", path, exc)
        raise
    except Exception as exc:  # Pillow raises almost anything on bad data; re-raised below
        error = _classify(exc, data)
        logger.debug("cannot decode %s: %s (%r)", path, error, exc)
        raise error from exc


def to_model_input(
    image: Image.Image, *, size: int = 224, crop_pct: float = 0.875, interpolation: str = "bicubic"
) -> np.ndarray:
    """The model's input pixels, as timm's eval transform makes them (before normalising).

    The shorter side is resized to ``floor(size / crop_pct)`` with ``interpolation`` (a name of
    ``RESAMPLING``; timm's ``scale_size``: 256 for 224), then the centre ``size``-by-``size``
    square is cut out. A model's own values come from ``core.model.preprocess.Preprocessing``.

    Returns:
        A C-contiguous ``uint8`` array of shape ``(3, size, size)``.

    Raises:
        ValueError: A bad size, crop fraction or interpolation name.
    """
    if size < 1 or crop_pct <= 0:
        raise ValueError(f"bad size {size} or crop_pct {crop_pct}")
    if interpolation not in RESAMPLING:
        raise ValueError(
            f"unknown interpolation {interpolation!r} (one of {', '.join(RESAMPLING)})"
        )
    image = image if image.mode == "RGB" else _flatten(_normalise_mode(image))
    scale = math.floor(size / crop_pct)
    image = _clip_aspect(image)
    width, height = image.size
    if width <= height:
        new_size = (scale, int(scale * height / width))
    else:
        new_size = (int(scale * width / height), scale)
    if new_size != image.size:
        image = image.resize(new_size, RESAMPLING[interpolation])
    left = round((new_size[0] - size) / 2.0)
    top = round((new_size[1] - size) / 2.0)
    square = image.crop((left, top, left + size, top + size))
    return np.ascontiguousarray(np.asarray(square, dtype=np.uint8).transpose(2, 0, 1))


def _clip_aspect(image: Image.Image) -> Image.Image:
    """The centre of an image longer than ``MAX_MODEL_ASPECT`` times its width (or height).

    The model only sees the centre square, and scaling a 1x100000 strip's short side up to
    256 pixels would make its long side 25.6 million (about 26 GB): such a strip is cut to its
    centre first, which leaves the centre square the same and the resize small.
    """
    width, height = image.size
    short, long = min(width, height), max(width, height)
    keep = math.ceil(short * MAX_MODEL_ASPECT)
    if long <= keep:
        return image
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width, start + keep)
    return image.crop(box)


def make_thumbnail(image: Image.Image, size: int = 256) -> Image.Image:
    """A new RGB image whose longest side is ``size`` (never enlarged), aspect ratio kept."""
    if size < 1:
        raise ValueError(f"size must be positive, not {size}")
    thumb = image.copy() if image.mode == "RGB" else _flatten(_normalise_mode(image))
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return thumb


# --- reading ------------------------------------------------------------------------------


def _open_regular(path: Path) -> tuple[int, int]:
    """Open a regular file for reading without blocking on FIFOs; returns (fd, size)."""
    try:
        _require_regular(path.stat().st_mode)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except ImageError:
        raise
    except (FileNotFoundError, NotADirectoryError) as exc:
        if path.is_symlink():
            raise ImageError("not a regular file", "broken symbolic link") from exc
        raise ImageError("file not found") from exc
    except PermissionError as exc:
        raise ImageError("permission denied") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError("not a regular file", "symbolic link loop") from exc
        raise ImageError("unreadable file", exc.strerror or str(exc)) from exc
    try:
        after = os.fstat(fd)
        _require_regular(after.st_mode)  # it may have been swapped since the stat
    except BaseException:
        os.close(fd)
        raise
    return fd, after.st_size


def _require_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = "directory" if stat.S_ISDIR(mode) else "named pipe" if stat.S_ISFIFO(mode) else ""
        raise ImageError("not a regular file", kind)


def _read_bytes(path: Path) -> bytes:
    fd, size = _open_regular(path)
    with os.fdopen(fd, "rb") as file:
        if size > MAX_FILE_BYTES:
            raise ImageError("image too large", f"{size / 2**20:.0f} MiB file")
        try:
            data = file.read()
        except OSError as exc:
            raise ImageError("unreadable file", exc.strerror or str(exc)) from exc
    if not data:
        raise ImageError("empty file")
    return data


# --- decoding -----------------------------------------------------------------------------


def _decode_bytes(data: bytes, digest: str, min_side: int) -> Decoded:
    try:
        opened = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise _unidentified(data) from None
    with opened as im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ImageError("image too large", f"{width}\u00d7{height}")
        orientation, taken_at = _metadata(im)
        icc = im.info.get("icc_profile")
        if im.format in ("JPEG", "MPO"):  # MPO: multi-picture JPEG from cameras
            im.draft("RGB", (min_side, min_side))
        im.load()
        cmyk = im.mode == "CMYK"
        image = _to_srgb(im, icc) if cmyk else im
        image = _flatten(_reduce(_normalise_mode(image), min_side))
        if not cmyk:
            image = _to_srgb(image, icc)
        if orientation in _TRANSPOSE:
            image = image.transpose(_TRANSPOSE[orientation])
        if image is im:  # never hand out the file object: closing it destroys its pixels
            image = im.copy()
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Decoded(image, width, height, taken_at, digest)


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit ``RGB``, or ``RGBA`` when the image has transparency."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(im)
    if mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in im.info:
        return im if mode == "RGBA" else im.convert("RGBA")
    if mode == "RGB":
        return im
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _high_depth_to_rgb(im: Image.Image) -> Image.Image:
    """16/32-bit integer and float images as 8-bit RGB (Pillow's convert would clip them)."""
    pixels = np.asarray(im)
    if pixels.dtype.kind == "f":
        pixels = np.nan_to_num(pixels.astype(np.float32))
        top = float(pixels.max(initial=0.0))
        pixels = pixels * (255.0 if top <= 1.0 else 255.0 / top if top > 255.0 else 1.0)
    elif im.mode.startswith("I;16"):
        pixels = pixels.astype(np.uint16) >> 8
    else:
        top = int(pixels.max(initial=0))
        if top > 65535:
            pixels = pixels.astype(np.float64) * (255.0 / top)
        elif top > 255:
            pixels = pixels >> 8
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB")


def _reduce(image: Image.Image, min_side: int) -> Image.Image:
    """Shrink by a whole factor (box filter) while the shorter side stays >= min_side."""
    factor = min(image.size) // min_side
    return image.reduce(factor) if factor >= 2 else image


def _flatten(image: Image.Image) -> Image.Image:
    """An RGBA image composited on white, as RGB; other images unchanged."""
    if image.mode != "RGBA":
        return image
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image).convert("RGB")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """An RGB or CMYK image as sRGB through its ICC profile; no or broken profile: as is."""
    if image.mode not in ("RGB", "CMYK"):
        return image
    transform = _srgb_transform(bytes(icc), image.mode) if icc else None
    if transform is not None:
        try:
            return ImageCms.applyTransform(image, transform) or image
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            logger.debug("colour profile not applied: %s", exc)
    return image.convert("RGB") if image.mode == "CMYK" else image


@functools.lru_cache(maxsize=16)
def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A shared transform from a profile to sRGB (NOCACHE: safe across threads), or None."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != mode:
            return None
        if mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        return ImageCms.buildTransform(
            profile,
            _SRGB,
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, AttributeError) as exc:
        logger.debug("ignoring unusable colour profile: %s", exc)
        return None


# --- EXIF ---------------------------------------------------------------------------------


def _metadata(im: Image.Image) -> tuple[int, str | None]:
    """EXIF orientation (1-8) and capture time: DateTimeOriginal, DateTimeDigitized, DateTime."""
    try:
        exif = im.getexif()
        orientation = exif.get(0x0112)
        sub_ifd = exif.get_ifd(IFD.Exif)
        dates = (sub_ifd.get(0x9003), sub_ifd.get(0x9004), exif.get(0x0132))
    except Exception as exc:  # noqa: BLE001 - a broken EXIF block only loses the metadata
        logger.debug("unreadable EXIF: %s", exc)
        return 1, None
    if not (isinstance(orientation, int) and 1 <= orientation <= 8):
        orientation = 1
    return orientation, next(filter(None, map(_parse_exif_datetime, dates)), None)


def _parse_exif_datetime(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    match = _EXIF_DATETIME.match(value.strip("\x00 "))
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None
    return moment.isoformat(timespec="seconds")


# --- errors -------------------------------------------------------------------------------


def _unidentified(data: bytes) -> ImageError:
    """Why Pillow could not identify these bytes as one of the supported formats."""
    sniffed = _sniff(data)
    if sniffed is not None:
        reason = "truncated image" if _incomplete(data) else "corrupt image"
        return ImageError(reason, f"{sniffed} header unreadable")
    if data[4:8] == b"ftyp":
        brand = data[8:12].decode("ascii", "replace").strip()
        return ImageError("unsupported format", f"ISO media ({brand})")
    try:
        with Image.open(io.BytesIO(data)) as other:
            return ImageError("unsupported format", other.format or "unknown")
    except Exception:  # noqa: BLE001 - whatever Pillow cannot open is not an image
        return ImageError("not an image")


def _classify(exc: Exception, data: bytes) -> ImageError:
    """Turn whatever Pillow raised while opening or decoding into a stable reason."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        match = _BOMB_PIXELS.search(str(exc))
        detail = f"{int(match.group(1)) / 1e6:.0f} MP" if match else str(exc)
        return ImageError("image too large", detail)
    if isinstance(exc, MemoryError):
        return ImageError("image too large", "out of memory")
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in text.lower() or _incomplete(data):
        return ImageError("truncated image", text)
    return ImageError("corrupt image", text)


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def _incomplete(data: bytes) -> bool:
    """Whether a file of a supported format visibly stops before its end marker."""
    sniffed = _sniff(data)
    if sniffed == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    if sniffed == "PNG":
        return b"IEND" not in data[-64:]
    if sniffed == "JPEG":
        return b"\xff\xd9" not in data[-1024:]
    return len(data) < 64 and sniffed is not None
