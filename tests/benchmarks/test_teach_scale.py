"""The teach-mode scale benchmark (benchmarks/bench_teach_scale.py): the album it grows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_teach_scale import CONFIRMED, grow, real_album, teach
from core.library import Library

pytestmark = pytest.mark.slow


def test_the_grown_album_holds_jittered_copies_and_teach_mode_finds_them(tmp_path: Path):
    album = real_album(tmp_path)
    count, copies = grow(album, 300)
    assert count == 300 and len(copies) >= 6
    with Library(album) as library:
        db = library.store.db
        original = library.photo(CONFIRMED[0]).id
        vectors = {
            int(r[0]): np.frombuffer(r[1], dtype="<f2").astype(np.float32)
            for r in db.query(
                "SELECT photo_id, vector FROM features WHERE photo_id IN (?, ?)",
                (original, copies[0]),
            )
        }
        a, b = vectors[original], vectors[copies[0]]
        assert not np.array_equal(a, b)  # jittered...
        assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.99  # ...only a little
        tagged = db.query("SELECT COUNT(*) FROM photo_tags WHERE photo_id = ?", (copies[0],))
        assert tagged[0][0] > 0  # its scores came with it
    result = teach(album, copies, refits=1)
    assert result["photos"] == 300 and len(result["later"]) == 1
    assert 1 <= int(result["likely"]) <= len(copies)  # the other copies of the cat
