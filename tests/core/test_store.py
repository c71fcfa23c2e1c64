"""The album database under concurrent writers (real SQLite files under tmp_path)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from core.db.tagstore import TagStore, VerdictChange
from core.labels.policy import CONFIRMED


@pytest.fixture
def store(tmp_path: Path) -> TagStore:
    s = TagStore(tmp_path / "album.db")
    s.upsert_label("cat", parent_id=None, kind="builtin", threshold=0.5)
    s.add_photo("a.jpg", 1, 1, status="ok")
    yield s
    s.close()


def test_a_write_waits_for_another_process_instead_of_failing(store, tmp_path):
    """A deferred transaction reads a snapshot, then fails with "database is locked" the
    moment another process commits (the busy timeout does not help); BEGIN IMMEDIATE waits."""
    other = sqlite3.connect(tmp_path / "album.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. the indexer, in the middle of storing a batch
    other.execute("INSERT INTO meta (key, value) VALUES ('other', 'writer')")
    outcome: list[object] = []

    def tag() -> None:
        change = VerdictChange(store.photo_by_path("a.jpg").id, store.labels()[0].id, CONFIRMED)
        try:
            outcome.append(store.set_verdicts([change]))
        except Exception as exc:  # the test reports it
            outcome.append(exc)

    worker = threading.Thread(target=tag)
    worker.start()
    time.sleep(0.5)  # the verdict's transaction has started (and, deferred, read) by now
    other.execute("COMMIT")
    worker.join(30)
    other.close()
    assert outcome and isinstance(outcome[0], int), outcome
    assert store.get_meta("other") == "writer"


def test_a_failed_write_rolls_back_and_the_next_one_works(store):
    with pytest.raises(ZeroDivisionError), store.db.write() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('half', 'done')")
        raise ZeroDivisionError
    assert store.get_meta("half") is None
    with store.db.write() as db:  # nested writes are savepoints of the outer one
        db.execute("INSERT INTO meta (key, value) VALUES ('outer', '1')")
        with pytest.raises(ZeroDivisionError), store.db.write() as inner:
            inner.execute("INSERT INTO meta (key, value) VALUES ('inner', '1')")
            raise ZeroDivisionError
    assert (store.get_meta("outer"), store.get_meta("inner")) == ("1", None)
