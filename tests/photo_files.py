"""Photo files the format tests make: EXIF orientations, HEIC/AVIF with a rotation, a DNG.

Each maker stores pixels turned by the *inverse* of an orientation and records that orientation,
so a correct decoder shows the original upright picture again.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

#: What a viewer must do to the stored pixels for each EXIF orientation; its inverse is applied
#: when writing.
_INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
RED, GREEN, BLUE = (230, 20, 20), (20, 200, 20), (20, 20, 230)


def upright(width: int = 120, height: int = 80) -> Image.Image:
    """Landscape test card: red top-left quarter, green top-right, blue bottom half."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    return image


def stored(image: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store for ``image`` shot with this orientation."""
    return image.transpose(_INVERSE[orientation]) if orientation in _INVERSE else image.copy()


def exif(orientation: int = 1, taken: str | None = None) -> Image.Exif:
    """EXIF with an orientation and, optionally, DateTimeOriginal ("2023:07:14 10:22:03")."""
    data = Image.Exif()
    data[0x0112] = orientation
    if taken:
        data.get_ifd(0x8769)[0x9003] = taken
    return data


def write_oriented(
    path: Path,
    orientation: int,
    *,
    taken: str | None = None,
    image: Image.Image | None = None,
    **save: object,
) -> Path:
    """Save ``image`` (default: the test card) with an EXIF orientation, in path's format."""
    picture = stored(image or upright(), orientation)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        save.setdefault("quality", 90)
    picture.save(path, exif=exif(orientation, taken).tobytes(), **save)
    return path


def quadrant_colours(image: Image.Image) -> tuple[tuple[int, ...], ...]:
    """Mean colour near the centre of the top-left, top-right and bottom-left quarters."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]

    def at(fx: float, fy: float) -> tuple[int, ...]:
        x, y, r = int(w * fx), int(h * fy), max(1, min(w, h) // 10)
        return tuple(int(v) for v in rgb[y - r : y + r, x - r : x + r].mean(axis=(0, 1)))

    return at(0.25, 0.25), at(0.75, 0.25), at(0.25, 0.75)


def looks_upright(image: Image.Image, tolerance: int = 60) -> bool:
    """Whether an image shows the test card the right way up (any size, same aspect)."""
    if image.width <= image.height:
        return False
    return all(
        max(abs(a - b) for a, b in zip(got, want, strict=True)) <= tolerance
        for got, want in zip(quadrant_colours(image), (RED, GREEN, BLUE), strict=True)
    )


def write_dng(
    path: Path,
    orientation: int = 6,
    *,
    jpeg_preview: bool = True,
    taken: str = "2021:05:06 07:08:09",
    preview_width: int = 256,
) -> Path:
    """A small DNG that LibRaw reads: a preview of the test card in IFD 0, a CFA raw image in
    a sub-IFD, the orientation and the capture time (tifffile writes the TIFF structure; a JPEG
    preview is patched in, since tifffile would need imagecodecs to encode one)."""
    import tifffile

    preview = np.asarray(stored(upright(preview_width, preview_width * 2 // 3), orientation))
    scale = 512 // preview_width
    sensor = (scale * preview.shape[0], scale * preview.shape[1])  # stored as the preview is
    cfa = np.random.default_rng(0).integers(0, 4000, sensor).astype(np.uint16)
    tags0 = [
        (50706, "B", 4, (1, 4, 0, 0), True),
        (50707, "B", 4, (1, 1, 0, 0), True),
        (50708, "s", 0, "Albumtag Test", True),
        (271, "s", 0, "Albumtag", True),
        (272, "s", 0, "Test", True),
        (274, "H", 1, orientation, True),
        (306, "s", 0, taken, True),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(
            preview,
            photometric="rgb",
            subfiletype=1,
            subifds=1,
            extratags=tags0,
            rowsperstrip=preview.shape[0],
        )
        tiff.write(
            cfa,
            photometric=32803,
            subfiletype=0,
            extratags=[
                (33421, "H", 2, (2, 2), True),
                (33422, "B", 4, (0, 1, 1, 2), True),
                (50717, "I", 1, 4095, True),
            ],
        )
    if jpeg_preview:
        buffer = io.BytesIO()
        Image.fromarray(preview).save(buffer, "JPEG", quality=95)
        _patch_jpeg_preview(path, buffer.getvalue())
    return path


def _patch_jpeg_preview(path: Path, jpeg: bytes) -> None:
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        tags = tiff.pages[0].tags
        where = {
            name: tags[name].valueoffset
            for name in ("Compression", "StripOffsets", "StripByteCounts")
        }
        order = tiff.byteorder
    data = bytearray(path.read_bytes())
    offset = len(data)
    data += jpeg
    struct.pack_into(order + "H", data, where["Compression"], 7)
    struct.pack_into(order + "I", data, where["StripOffsets"], offset)
    struct.pack_into(order + "I", data, where["StripByteCounts"], len(jpeg))
    path.write_bytes(bytes(data))
