"""The album database under concurrent writers (real SQLite files under tmp_path)."""

from __future__ import annotations

import sqlite3
import threading
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
    moment another process commits (the busy timeout does not help); BEGIN IMMEDIATE waits.

    The other writer commits only once the verdict's transaction is waiting inside SQLite
    (its statements are traced as they start): at its BEGIN IMMEDIATE, or, deferred, at its
    first write, after it has read; so a deferred transaction fails here however slowly the
    thread runs."""
    other = sqlite3.connect(tmp_path / "album.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. the indexer, in the middle of storing a batch
    other.execute("INSERT INTO meta (key, value) VALUES ('other', 'writer')")
    change = VerdictChange(store.photo_by_path("a.jpg").id, store.labels()[0].id, CONFIRMED)
    waiting = threading.Event()

    def trace(statement: str) -> None:
        if statement.startswith(("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE")):
            waiting.set()

    store.db._writer.set_trace_callback(trace)
    outcome: list[object] = []

    def tag() -> None:
        try:
            outcome.append(store.set_verdicts([change]))
        except Exception as exc:  # the test reports it
            outcome.append(exc)

    worker = threading.Thread(target=tag)
    worker.start()
    assert waiting.wait(60)
    other.execute("COMMIT")
    worker.join(60)
    store.db._writer.set_trace_callback(None)
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
