"""FolderWatcher: real watchdog events on a real folder, debounced, our own data ignored.

Every wait is on a condition with a deadline, never a fixed sleep: a slow machine makes a test
slower, not wrong. What a call was about is read from ``FolderWatcher.last_batch``, and a
"nothing else happened" check is made with a sentinel photo written afterwards into the same
watched folder: its events arrive after every earlier event of that folder, so anything the
watcher should have ignored (or reported already) would show up in the sentinel's call.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.pipeline.watcher import FolderWatcher
from tests.conftest import skimage_photo

DEADLINE = 10.0  # seconds; only reached when something is wrong


class Watched:
    """A started watcher over a temporary album, and the batches of paths it reported."""

    def __init__(self, root: Path, debounce: float) -> None:
        self.root = root
        self.batches: list[tuple[str, ...]] = []
        self._changed = threading.Event()
        self.watcher = FolderWatcher(root, self._on_change, debounce=debounce)

    def _on_change(self) -> None:
        self.batches.append(self.watcher.last_batch)
        self._changed.set()

    def next_call(self) -> set[str]:
        """The file names behind the next call (fails the test after the deadline)."""
        assert self._changed.wait(DEADLINE), "no change reported"
        self._changed.clear()
        return {Path(p).name for p in self.batches[-1]}


def until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[[float], Watched]]:
    (tmp_path / "trips").mkdir()
    (tmp_path / ".albumtag" / "thumbnails").mkdir(parents=True)
    started: list[Watched] = []

    def start(debounce: float = 0.3) -> Watched:
        watched = Watched(tmp_path, debounce)
        watched.watcher.start()
        started.append(watched)
        return watched

    yield start
    for watched in started:
        watched.watcher.stop()


@pytest.mark.parametrize("where", ["", "trips", "new folder/deeper"])
def test_a_photo_copied_in_is_noticed(watch, where):
    w = watch()
    target = w.root / where
    target.mkdir(parents=True, exist_ok=True)
    if where.startswith("new folder"):
        assert "new folder" in w.next_call()  # a new folder is a change of its own ...
        assert until(lambda: w.root / "new folder" in w.watcher.watched())  # ... and watched
    shutil.copy(skimage_photo("chelsea"), target / "cat.png")
    assert w.next_call() == {"cat.png"}, f"for a photo in {where or 'the top folder'}"


def test_a_burst_of_files_is_one_call(watch):
    w = watch(debounce=1.0)  # far longer than 20 small copies take
    for i in range(20):
        shutil.copy(skimage_photo("coffee"), w.root / "trips" / f"c{i}.png")
    assert w.next_call() == {f"c{i}.png" for i in range(20)}
    shutil.copy(skimage_photo("coffee"), w.root / "trips" / "after.png")
    assert w.next_call() == {"after.png"}  # nothing of the burst was left for a second call
    assert len(w.batches) == 2


def test_our_own_data_folder_and_other_files_are_ignored(watch):
    w = watch()
    (w.root / ".albumtag" / "thumbnails" / "x.jpg").write_bytes(b"thumb")
    (w.root / ".albumtag" / "album.db").write_bytes(b"db")
    (w.root / "trips" / "notes.txt").write_text("not a photo")
    shutil.copy(skimage_photo("chelsea"), w.root / "trips" / "after.png")  # the sentinel
    assert w.next_call() == {"after.png"}
    assert len(w.batches) == 1
