"""FolderWatcher: real watchdog events on a real folder, debounced, our own data ignored."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from core.watcher import FolderWatcher
from tests.conftest import skimage_photo


@pytest.fixture
def watched(tmp_path: Path):
    (tmp_path / "trips").mkdir()
    (tmp_path / ".albumtag" / "thumbnails").mkdir(parents=True)
    calls: list[float] = []
    changed = threading.Event()

    def on_change() -> None:
        calls.append(time.monotonic())
        changed.set()

    watcher = FolderWatcher(tmp_path, on_change, debounce=0.3)
    watcher.start()
    yield tmp_path, calls, changed
    watcher.stop()


def wait(event: threading.Event, seconds: float = 5.0) -> bool:
    ok = event.wait(seconds)
    event.clear()
    return ok


@pytest.mark.parametrize("where", ["", "trips", "new folder/deeper"])
def test_a_photo_copied_in_is_noticed(watched, where):
    root, calls, changed = watched
    target = root / where
    target.mkdir(parents=True, exist_ok=True)
    if where.startswith("new folder"):
        time.sleep(0.5)  # let the watcher pick up the new folder, as a slow copy would
        wait(changed, 2.0)
    shutil.copy(skimage_photo("chelsea"), target / "cat.png")
    assert wait(changed), f"no change reported for a photo in {where or 'the top folder'}"


def test_a_burst_of_files_is_one_call(watched):
    root, calls, changed = watched
    for i in range(20):
        shutil.copy(skimage_photo("coffee"), root / "trips" / f"c{i}.png")
    assert wait(changed)
    time.sleep(0.8)
    assert len(calls) == 1


def test_our_own_data_folder_and_other_files_are_ignored(watched):
    root, calls, changed = watched
    (root / ".albumtag" / "thumbnails" / "x.jpg").write_bytes(b"thumb")
    (root / ".albumtag" / "album.db").write_bytes(b"db")
    (root / "trips" / "notes.txt").write_text("not a photo")
    assert not wait(changed, 1.0)
    assert calls == []
