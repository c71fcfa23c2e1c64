"""core.media.imaging on real files under tmp_path: photos, every orientation, broken inputs."""

from __future__ import annotations

import hashlib
import io
import os
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from core.errors import ImageError
from core.media.imaging import (
    MAX_PIXELS,
    SUPPORTED_SUFFIXES,
    content_hash,
    decode,
    is_photo_name,
    make_thumbnail,
    to_model_input,
)
from tests.conftest import SKIMAGE_SAMPLES, foolbox_photos, skimage_photo

REPO = Path(__file__).resolve().parents[2]
EXIF_IFD = 0x8769
QUADRANTS = ((255, 0, 0), (0, 200, 0), (0, 0, 255), (250, 250, 250))  # TL, TR, BL, BR


def quadrant_image(width: int = 120, height: int = 80) -> Image.Image:
    """An upright reference image whose four quadrants have different colours."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    boxes = (
        (0, 0, half_w, half_h),
        (half_w, 0, width, half_h),
        (0, half_h, half_w, height),
        (half_w, half_h, width, height),
    )
    for box, colour in zip(boxes, QUADRANTS, strict=True):
        image.paste(colour, box)
    return image


def quadrant_colours(image: Image.Image) -> list[tuple[int, ...]]:
    """Mean colour at the centre of each quadrant (TL, TR, BL, BR)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    h, w = pixels.shape[:2]
    centres = (
        (h // 4, w // 4),
        (h // 4, 3 * w // 4),
        (3 * h // 4, w // 4),
        (3 * h // 4, 3 * w // 4),
    )
    return [
        tuple(int(v) for v in pixels[y - 3 : y + 4, x - 3 : x + 4].mean(axis=(0, 1)))
        for y, x in centres
    ]


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> None:
    assert max(abs(int(a) - e) for a, e in zip(actual, expected, strict=True)) <= tolerance, (
        actual,
        expected,
    )


def camera_exif(orientation: int = 1, **dates: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R6"
    exif[0x0112] = orientation
    if "datetime" in dates:
        exif[0x0132] = dates["datetime"]
    sub = exif.get_ifd(EXIF_IFD)
    if "original" in dates:
        sub[0x9003] = dates["original"]
    if "digitized" in dates:
        sub[0x9004] = dates["digitized"]
    return exif


def reason_of(path: Path) -> str:
    with pytest.raises(ImageError) as caught:
        decode(path)
    return caught.value.reason


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP (4032 by 3024) camera-like JPEG made from a real photo."""
    photo = Image.open(skimage_photo("chelsea")).convert("RGB")
    path = tmp_path_factory.mktemp("big") / "IMG_0001.JPG"
    photo.resize((4032, 3024), Image.Resampling.BICUBIC).save(
        path, "JPEG", quality=92, exif=camera_exif(original="2023:07:14 10:22:03")
    )
    return path


# --- real photos ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SKIMAGE_SAMPLES))
def test_real_photos_decode_with_their_size(name: str) -> None:
    path = skimage_photo(name)
    with Image.open(path) as original:
        size = original.size
    decoded = decode(path)
    assert (decoded.width, decoded.height) == size
    assert decoded.image.mode == "RGB"
    assert min(decoded.image.size) >= min(*size, 256)
    assert decoded.content_hash == hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def test_foolbox_photos_decode() -> None:
    for path, _ in foolbox_photos():
        decoded = decode(path)
        assert decoded.image.mode == "RGB", path
        assert min(decoded.image.size) >= 200, path


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [
        ("PNG", ".png"),
        ("WEBP", ".webp"),
        ("TIFF", ".tif"),
        ("BMP", ".bmp"),
        ("GIF", ".gif"),
        ("JPEG", ".jpeg"),
    ],
)
def test_every_supported_format_decodes(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"cat{suffix}"
    quadrant_image().save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    decoded = decode(path)
    assert (decoded.width, decoded.height) == (120, 80)
    for actual, expected in zip(quadrant_colours(decoded.image), QUADRANTS, strict=True):
        assert_close(actual, expected, tolerance=40 if fmt == "GIF" else 12)


# --- orientation, draft, metadata ---------------------------------------------------------

INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_photo(tmp_path: Path, orientation: int) -> None:
    upright = quadrant_image(120, 80)
    inverse = INVERSE[orientation]
    stored = upright if inverse is None else upright.transpose(inverse)
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, "JPEG", quality=95, exif=camera_exif(orientation))
    decoded = decode(path)
    assert (decoded.width, decoded.height) == (120, 80)
    assert decoded.image.size == (120, 80)
    for actual, expected in zip(quadrant_colours(decoded.image), QUADRANTS, strict=True):
        assert_close(actual, expected)


def test_draft_decodes_a_12mp_jpeg_small_but_not_below_min_side(big_jpeg: Path) -> None:
    decoded = decode(big_jpeg)
    assert (decoded.width, decoded.height) == (4032, 3024)
    assert decoded.image.size == (504, 378)  # libjpeg's 1/8 scale
    bigger = decode(big_jpeg, min_side=1000)
    assert bigger.image.size == (2016, 1512)
    assert min(bigger.image.size) >= 1000


def test_multi_picture_jpeg_is_drafted_and_gives_its_first_picture(tmp_path: Path) -> None:
    pictures = [Image.new("RGB", (2000, 1500), colour) for colour in ((200, 0, 0), (0, 0, 200))]
    path = tmp_path / "DSCF0001.JPG"  # cameras name MPO files .JPG
    pictures[0].save(path, "MPO", save_all=True, append_images=pictures[1:])
    decoded = decode(path)
    assert (decoded.width, decoded.height) == (2000, 1500)
    assert decoded.image.size == (500, 375)
    assert_close(tuple(np.asarray(decoded.image)[100, 100]), (200, 0, 0))


def test_other_formats_are_reduced_to_min_side(tmp_path: Path) -> None:
    path = tmp_path / "pano.png"
    quadrant_image(2000, 1500).save(path)
    decoded = decode(path, min_side=256)
    assert (decoded.width, decoded.height) == (2000, 1500)
    assert decoded.image.size == (400, 300)
    for actual, expected in zip(quadrant_colours(decoded.image), QUADRANTS, strict=True):
        assert_close(actual, expected)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (
            {"original": "2023:07:14 10:22:03", "datetime": "2024:01:01 00:00:00"},
            "2023-07-14T10:22:03",
        ),
        ({"digitized": "2021:02:03 04:05:06"}, "2021-02-03T04:05:06"),
        ({"datetime": "2020:12:31 23:59:59"}, "2020-12-31T23:59:59"),
        (
            {"original": "0000:00:00 00:00:00", "datetime": "2019:05:06 07:08:09"},
            "2019-05-06T07:08:09",
        ),
        ({"original": "    :  :     :  :  "}, None),
        ({}, None),
    ],
)
def test_taken_at_from_exif(tmp_path: Path, dates: dict[str, str], expected: str | None) -> None:
    path = tmp_path / "dated.jpg"
    quadrant_image().save(path, "JPEG", exif=camera_exif(**dates))
    assert decode(path).taken_at == expected


def test_content_hash_is_stable_and_matches_streaming(big_jpeg: Path) -> None:
    first, second = decode(big_jpeg), decode(big_jpeg)
    assert first.content_hash == second.content_hash == content_hash(big_jpeg)
    assert len(first.content_hash) == 32
    assert content_hash(skimage_photo("coffee")) != first.content_hash


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    folder = tmp_path / "Ferien 2024 Ærø Ålesund"
    folder.mkdir()
    path = folder / "chat é 猫 (1).jpg"
    quadrant_image().save(path, "JPEG")
    assert decode(path).width == 120
    assert content_hash(path) == decode(path).content_hash


# --- modes ----------------------------------------------------------------------------------


def test_palette_png_with_transparency_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (32, 0, 64, 64))  # right half red, left half index 0 (transparent)
    path = tmp_path / "logo.png"
    image.save(path, transparency=0)
    pixels = np.asarray(decode(path).image)
    assert tuple(pixels[32, 10]) == (255, 255, 255)
    assert tuple(pixels[32, 50]) == (255, 0, 0)


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 255, 0))
    image.paste((0, 0, 0, 128), (20, 0, 40, 40))
    path = tmp_path / "alpha.png"
    image.save(path)
    pixels = np.asarray(decode(path).image)
    assert tuple(pixels[20, 5]) == (255, 255, 255)
    assert all(abs(int(v) - 127) <= 2 for v in pixels[20, 30])


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path, "JPEG", quality=95)
    decoded = decode(path)
    assert decoded.image.mode == "RGB"
    assert_close(tuple(np.asarray(decoded.image)[24, 32]), (255, 0, 0), tolerance=20)


def test_16_bit_grayscale_png_keeps_its_tones(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    path = tmp_path / "scan16.png"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as stored:
        assert stored.mode.startswith("I")
    gray = np.asarray(decode(path).image)[8, :, 0].astype(int)
    assert gray[0] == 0
    assert gray[-1] == 255
    assert abs(gray[128] - 128) <= 2  # not clipped to white above 255


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    """A minimal PNG (one IDAT) built by hand."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_16_bit_rgb_png(tmp_path: Path) -> None:
    row = b"\x00" + struct.pack(">HHH", 65535, 32768, 0) * 8
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(8, 8, 16, 2, row * 8))
    assert_close(tuple(np.asarray(decode(path).image)[4, 4]), (255, 128, 0), tolerance=2)


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red and blue primaries are swapped (made from Pillow's sRGB)."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    name = data.find("sRGB".encode("utf-16-be"))
    data[name : name + 8] = "Swap".encode("utf-16-be")  # no longer described as sRGB
    for entry in range(struct.unpack(">I", data[128:132])[0]):
        at = 132 + 12 * entry
        tag = bytes(data[at : at + 4])
        data[at : at + 4] = {b"rXYZ": b"bXYZ", b"bXYZ": b"rXYZ"}.get(tag, tag)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_embedded_colour_profile_is_converted_to_srgb(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"wide.{fmt.lower()}"
    Image.new("RGB", (40, 30), (255, 0, 0)).save(path, fmt, icc_profile=swapped_primaries_profile())
    assert_close(tuple(np.asarray(decode(path).image)[15, 20]), (0, 0, 255), tolerance=6)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(path, fmt, icc_profile=srgb)
    assert_close(tuple(np.asarray(decode(path).image)[15, 20]), (255, 0, 0), tolerance=6)


def test_grayscale_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "bw.jpg"
    Image.new("L", (50, 40), 90).save(path)
    decoded = decode(path)
    assert decoded.image.mode == "RGB"
    assert_close(tuple(np.asarray(decoded.image)[20, 25]), (90, 90, 90), tolerance=3)


def test_animated_gif_gives_the_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode(path)
    assert (decoded.width, decoded.height) == (30, 20)
    assert_close(tuple(np.asarray(decoded.image)[10, 15]), (255, 0, 0), tolerance=5)


# --- broken inputs --------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    assert reason_of(tmp_path / "empty.jpg") == "empty file"


def test_text_file_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs\n" * 20)
    assert reason_of(path) == "not an image"


@pytest.mark.parametrize("source", ["rocket", "chelsea"])
def test_a_photo_cut_in_half_is_truncated(tmp_path: Path, source: str) -> None:
    data = skimage_photo(source).read_bytes()
    path = tmp_path / f"half{skimage_photo(source).suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert reason_of(path) == "truncated image"


def test_truncated_big_jpeg_and_webp(tmp_path: Path, big_jpeg: Path) -> None:
    data = big_jpeg.read_bytes()
    (tmp_path / "half.jpg").write_bytes(data[: len(data) // 2])
    assert reason_of(tmp_path / "half.jpg") == "truncated image"
    buffer = io.BytesIO()
    Image.open(skimage_photo("coffee")).save(buffer, "WEBP")
    (tmp_path / "half.webp").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert reason_of(tmp_path / "half.webp") == "truncated image"


def test_garbage_after_a_jpeg_header_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9")
    assert reason_of(path) == "corrupt image"


def test_other_image_formats_are_unsupported(tmp_path: Path) -> None:
    ico = tmp_path / "icon.jpg"
    quadrant_image(32, 32).save(ico, "ICO")
    assert reason_of(ico) == "unsupported format"
    heic = tmp_path / "IMG_0001.heic"
    heic.write_bytes(struct.pack(">I", 24) + b"ftypheic" + b"\x00" * 200)
    assert reason_of(heic) == "unsupported format"


def bomb_png(width: int, height: int) -> bytes:
    """A tiny real PNG whose IHDR (CRC fixed up) declares width by height."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [30000, 15000])
def test_decompression_bomb_is_refused_without_allocating(tmp_path: Path, side: int) -> None:
    assert side * side > MAX_PIXELS
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(side, side))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError) as caught:
        decode(path)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert caught.value.reason == "image too large"
    assert caught.value.detail in (f"{side}\u00d7{side}", f"{side * side / 1e6:.0f} MP")
    assert grown_mib < 100


def test_directory_named_like_a_photo(tmp_path: Path) -> None:
    (tmp_path / "album.jpg").mkdir()
    assert reason_of(tmp_path / "album.jpg") == "not a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(reason_of(path)), daemon=True)
    worker.start()
    worker.join(10)
    assert outcome == ["not a regular file"]
    with pytest.raises(ImageError, match="not a regular file"):
        content_hash(path)


def test_broken_symlink_and_missing_file(tmp_path: Path) -> None:
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "deleted.jpg")
    assert reason_of(link) == "not a regular file"
    assert reason_of(tmp_path / "never.jpg") == "file not found"


def test_symlink_to_a_photo_decodes(tmp_path: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(skimage_photo("rocket"))
    assert (decode(link).width, decode(link).height) == (640, 427)


CHILD = (
    "import sys\nfrom core.errors import ImageError\nfrom core.media.imaging import decode\n"
    "try:\n    decode(sys.argv[1])\n    print('decoded')\n"
    "except ImageError as exc:\n    print(exc.reason)\n"
)


def decode_as_nobody(path: Path) -> str:
    """The reason ``decode`` gives when run by an unprivileged user (uid 65534)."""
    env = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            user=65534,
            group=65534,
            extra_groups=[],
            cwd="/",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass  # the interpreter itself is out of that user's reach: fork instead
    return _decode_in_fork_as_nobody(path)


def _decode_in_fork_as_nobody(path: Path) -> str:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, decode, report, never return into pytest
        status = 0
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                decode(path)
                message = "decoded"
            except ImageError as exc:
                message = exc.reason
        except BaseException as exc:
            message, status = f"child failed: {exc!r}", 1
        os.write(write_end, message.encode())
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A fresh folder that every user can traverse (pytest's own tmp folders are private)."""
    with tempfile.TemporaryDirectory(prefix="albumtag-perm-") as name:
        folder = Path(name)
        folder.chmod(0o711)
        if any(p.stat().st_mode & 0o001 == 0 for p in folder.parents):
            pytest.skip(f"{folder.parent} cannot be traversed by an unprivileged user")
        yield folder


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions only")
def test_unreadable_file_is_permission_denied(shared_folder: Path) -> None:
    path = shared_folder / "secret.jpg"
    quadrant_image().save(path, "JPEG")
    path.chmod(0o000)
    if os.geteuid() != 0:
        assert reason_of(path) == "permission denied"
        return
    assert decode_as_nobody(path) == "permission denied"
    path.chmod(0o644)
    assert decode_as_nobody(path) == "decoded"  # the same user can read a readable file


def test_decoding_from_several_threads_gives_the_same_results(
    tmp_path: Path, big_jpeg: Path
) -> None:
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (600, 400), (255, 0, 0)).save(wide, icc_profile=swapped_primaries_profile())
    paths = [big_jpeg, wide, *(skimage_photo(name) for name in sorted(SKIMAGE_SAMPLES))] * 3
    serial = [np.asarray(decode(path).image) for path in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda path: np.asarray(decode(path).image), paths))
    for one, other in zip(serial, parallel, strict=True):
        assert np.array_equal(one, other)


# --- model input and thumbnails -------------------------------------------------------------


def test_to_model_input_matches_timms_eval_transform() -> None:
    columns = np.tile(np.arange(300, dtype=np.uint8)[None, :, None] % 251, (200, 1, 3))
    image = Image.fromarray(np.ascontiguousarray(columns))
    pixels = to_model_input(image)
    assert pixels.shape == (3, 224, 224)
    assert pixels.dtype == np.uint8
    assert pixels.flags["C_CONTIGUOUS"]
    expected = image.resize((384, 256), Image.Resampling.BICUBIC).crop((80, 16, 304, 240))
    assert np.array_equal(pixels, np.asarray(expected).transpose(2, 0, 1))


@pytest.mark.parametrize(("size", "crop_pct"), [(224, 0.875), (260, 0.875), (240, 1.0)])
def test_to_model_input_shapes(size: int, crop_pct: float) -> None:
    for dims in ((640, 427), (427, 640), (300, 300)):
        image = quadrant_image(*dims).convert("L")
        assert to_model_input(image, size=size, crop_pct=crop_pct).shape == (3, size, size)


def test_make_thumbnail_fits_the_longest_side_and_never_upscales(big_jpeg: Path) -> None:
    source = decode(big_jpeg).image
    thumb = make_thumbnail(source, 256)
    assert thumb.size == (256, 192)
    assert thumb.mode == "RGB"
    assert source.size == (504, 378)  # the input is left alone
    assert make_thumbnail(quadrant_image(120, 80), 256).size == (120, 80)
    portrait = make_thumbnail(quadrant_image(300, 900).convert("RGBA"), 128)
    assert portrait.size == (43, 128)
    assert portrait.mode == "RGB"


def test_photo_names() -> None:
    assert {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"} <= (
        SUPPORTED_SUFFIXES
    )
    assert is_photo_name("IMG_0001.JPG")
    assert is_photo_name(Path("a b/é.Tiff"))
    for name in ("notes.txt", "._IMG_0001.JPG", ".hidden.jpg", "movie.mov", "jpg"):
        assert not is_photo_name(name), name
