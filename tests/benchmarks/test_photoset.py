"""The labelled photoset (benchmarks/photoset): its labels file is well formed and, once fetched,
its photos are the pinned bytes."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from benchmarks.photoset import EXTRA_LABELS, SPLITS, default_dest, load_photoset, read_entries
from core.labels.vocabulary import Vocabulary

#: Kept apart for an independent evaluation: no photo of the set may come from them.
RESERVED_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds")
SOURCE = re.compile(r"^(debian:[a-z0-9][a-z0-9.+-]*=\S+|pypi:[A-Za-z0-9._-]+==\S+|npm:\S+@\d\S*)$")


@pytest.fixture(scope="module")
def entries():
    return read_entries()


def test_ids_are_unique_file_safe_names(entries) -> None:
    ids = [entry.id for entry in entries]
    assert len(ids) == len(set(ids)) >= 100
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", photo_id) for photo_id in ids)


def test_every_label_is_a_vocabulary_name_or_an_extra(entries) -> None:
    names = {label.name for label in Vocabulary.load()}
    assert not names & set(EXTRA_LABELS), "an extra label became a vocabulary label"
    unknown = {
        (entry.id, label)
        for entry in entries
        for label in entry.labels
        if label not in names and label not in EXTRA_LABELS
    }
    assert not unknown


def test_every_photo_has_labels_and_at_most_one_of_indoor_outdoor(entries) -> None:
    assert all(entry.labels for entry in entries)
    assert all(len(entry.labels) == len(set(entry.labels)) for entry in entries)
    assert not [entry.id for entry in entries if {"indoor", "outdoor"} <= set(entry.labels)]


def test_both_splits_are_used_and_nothing_else(entries) -> None:
    splits = [entry.split for entry in entries]
    assert set(splits) == set(SPLITS)
    assert min(splits.count(split) for split in SPLITS) >= len(splits) // 3


def test_sources_are_pinned_and_not_reserved(entries) -> None:
    for entry in entries:
        assert SOURCE.match(entry.source), entry.source
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256), entry.id
        assert entry.member and entry.licence, entry.id
        package = re.split(r"==|=|@(?=\d)", entry.source.split(":", 1)[1])[0]
        assert package not in RESERVED_PACKAGES, entry.id


def test_fetched_photos_match_their_sha256(entries) -> None:
    dest = default_dest()
    photos = load_photoset(dest, require_files=False)
    missing = [photo.id for photo in photos if not photo.path.is_file()]
    if missing:
        message = (
            f"{len(missing)} photos not fetched into {dest}; "
            "run: python -m benchmarks.photoset.fetch"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    digests = {entry.id: entry.sha256 for entry in entries}
    wrong = [
        photo.id
        for photo in photos
        if hashlib.sha256(photo.path.read_bytes()).hexdigest() != digests[photo.id]
    ]
    assert not wrong
    assert {photo.split for photo in photos} == set(SPLITS)


def test_jpeg_streams_are_cut_out_whole_from_a_container() -> None:
    """An Enlightenment .edj holds its wallpapers as JPEG streams among other bytes: each one
    comes out byte for byte and decodes, a truncated one is skipped, and its id gets ``.jpg``."""
    import io

    from PIL import Image

    from benchmarks.photoset import Entry
    from benchmarks.photoset.fetch import jpeg_streams

    def jpeg(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
        out = io.BytesIO()
        noise = Image.effect_noise(size, 80).convert("RGB")  # entropy data full of FF 00 pairs
        Image.blend(noise, Image.new("RGB", size, colour), 0.5).save(out, "JPEG", quality=95)
        return out.getvalue()

    first, second = jpeg((64, 48), (200, 30, 30)), jpeg((32, 32), (20, 90, 200))
    assert b"\xff\x00" in first
    blob = b"Eet\x00header" + first + b"\x00" * 7 + second + b"tail" + second[: len(second) // 2]
    streams = jpeg_streams(blob)
    assert streams == [first, second]
    assert [Image.open(io.BytesIO(stream)).size for stream in streams] == [(64, 48), (32, 32)]
    entry = Entry(
        "e-x", "debian:x=1", "usr/share/x/Bg.edj:jpeg/1", "0" * 64, "MIT", "dev", ("sky",)
    )
    assert entry.filename == "e-x.jpg"
