"""A corrupt TIFF is one recorded reason, not hundreds of lines from libtiff on the terminal."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def corrupt_tiff(path: Path) -> Path:
    """An LZW TIFF of 400 one-row strips whose strip offsets list is cut to one entry."""
    pixels = np.random.default_rng(0).integers(0, 255, (400, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "TIFF", compression="tiff_lzw", strip_size=64 * 3)
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == 273:  # StripOffsets
            struct.pack_into("<I", data, entry + 4, 1)
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_tiff_prints_nothing_and_is_one_reason(tmp_path):
    path = corrupt_tiff(tmp_path / "corrupt.tif")
    script = (
        "import sys\nfrom core.media.imaging import decode\n"
        "from core.errors import ImageError\n"
        f"try:\n    decode({str(path)!r})\nexcept ImageError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("corrupt image") or done.stdout.startswith("truncated image")
    assert done.stderr == ""  # libtiff printed "Inconsistent directory count ..." here
