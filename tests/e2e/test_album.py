"""The whole engine on real photos with the real default model (acceptance of issue 2)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.library import Library
from core.model.versions import ModelChoice

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, real_photo_paths) -> Path:
    """A real album indexed once with the default model; tests copy it before changing it."""
    album = tmp_path_factory.mktemp("e2e") / "album"
    (album / "home").mkdir(parents=True)
    (album / "imagenet").mkdir()
    for name, src in real_photo_paths.items():
        folder = "imagenet" if name.startswith("imagenet_") else "home"
        shutil.copy2(src, album / folder / f"{name}{src.suffix}")
    with Library(album) as library:
        summary = library.indexer().run()
        assert summary.tagged == len(real_photo_paths) and summary.errors == 0
    return album


def copy_album(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def names(views) -> set[str]:
    return {v.label for v in views if v.has}


def test_chelsea_is_a_cat_and_an_animal(indexed):
    with Library(indexed) as library:
        tags = names(library.tags(library.photo("home/chelsea.png")))
    assert {"cat", "animal"} <= tags


def test_coffee_gets_a_coffee_or_drink_label(indexed):
    with Library(indexed) as library:
        tags = names(library.tags(library.photo("home/coffee.png")))
    assert tags & {"coffee", "espresso", "drink"}


def test_searching_animal_finds_chelsea_through_the_hierarchy(indexed):
    with Library(indexed) as library:
        found = {p.path for p in library.search("animal")}
        view = {v.label: v for v in library.tags(library.photo("home/chelsea.png"))}
    assert "home/chelsea.png" in found
    assert view["cat"].direct and view["animal"].has


def test_search_language_on_real_tags(indexed):
    with Library(indexed) as library:
        animals = {p.path for p in library.search("animal")}
        cats = {p.path for p in library.search("cat")}
        not_cats = {p.path for p in library.search("animal -cat")}
        either = {p.path for p in library.search("cat OR coffee")}
        everything = {p.path for p in library.search("")}
    assert cats and cats <= animals
    assert not_cats == animals - cats
    assert "home/coffee.png" in either and cats <= either
    assert len(everything) == 24


def test_verdicts_survive_full_reindex_and_a_model_change(indexed, tmp_path):
    album = copy_album(indexed, tmp_path / "album")
    with Library(album) as library:
        chelsea = library.photo("home/chelsea.png")
        rocket = library.photo("home/rocket.jpg")
        assert library.create_label("Whiskers", parent="cat").kind == "user"
        library.set_verdicts([chelsea], confirm=["Whiskers"], reject=["cat"])
        library.set_verdicts([rocket], confirm=["beach"])
        before = sorted(library.store.verdict_rows())
        assert "cat" not in names(library.tags(chelsea))
        library.indexer().run(full=True)
        assert sorted(library.store.verdict_rows()) == before
    # A different backbone (the same architecture with perturbed weights, from a local
    # checkpoint) makes a new model version and re-tags everything.
    import torch
    from safetensors.torch import save_file

    from core.model.weights import load_backbone_module

    module, _ = load_backbone_module()
    state = {
        k: v + 1e-3 * torch.randn_like(v) if v.is_floating_point() else v
        for k, v in module.state_dict().items()
    }
    ckpt = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(ckpt))
    with Library(album, model=ModelChoice("tf_efficientnet_lite0", str(ckpt))) as library:
        summary = library.indexer().run()
        assert summary.tagged == 24
        assert len(library.store.models()) == 2
        assert sorted(library.store.verdict_rows()) == before
        chelsea_tags = names(library.tags(library.photo("home/chelsea.png")))
        assert "cat" not in chelsea_tags  # a rejected tag never comes back on its own
        assert "Whiskers" not in chelsea_tags  # confirmed child of a rejected parent is blocked
        assert "beach" in names(library.tags(library.photo("home/rocket.jpg")))


def test_sigkill_mid_index_then_rerun_completes_cleanly(real_album, tmp_path):
    for i in range(3):  # more photos, so the kill lands mid-run
        shutil.copytree(real_album / "imagenet", real_album / f"copy{i}")
    total = sum(1 for p in real_album.rglob("*.*") if p.is_file())
    db = real_album / ".albumtag" / "album.db"
    cmd = [sys.executable, "-m", "app", "index", str(real_album), "--batch-size", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    done = conn.execute(
                        "SELECT COUNT(*) FROM photos WHERE status = 'ok'"
                    ).fetchone()[0]
            except sqlite3.Error:
                continue
            if done >= 8:
                break
    assert proc.poll() is None, "the indexer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 0 < done < total
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT path) FROM photos"
        ).fetchone()
        assert rows == distinct == total
        assert conn.execute("SELECT COUNT(*) FROM photos WHERE status != 'ok'").fetchone()[0] == 0
        dup = conn.execute(
            "SELECT COUNT(*) FROM (SELECT photo_id, label_id FROM photo_tags "
            "GROUP BY 1, 2 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert dup == 0
        assert conn.execute("SELECT COUNT(DISTINCT photo_id) FROM features").fetchone()[0] == total
