"""The search language against a real SQLite database with hand-made tags."""

from __future__ import annotations

import difflib
import re
import sqlite3
import time

import pytest

from core.errors import QueryError
from core.search.query import MAX_DEPTH, MAX_TERMS, LabelResolver, compile_query

LABELS = {"animal": 1, "dog": 2, "cat": 3, "beach": 4, "people": 5, "sports car": 6, "t-shirt": 7}
ALIASES = {"kitty": "cat", "puppy": "dog", "persons": "people"}

# photo id → (path, taken_at, {label id: (direct, verified)})
PHOTOS = {
    1: ("trips/2024/beach dog.jpg", "2024-07-10T10:00:00", {2: (1, 0), 1: (0, 0), 4: (1, 1)}),
    2: ("trips/2024/cat.jpg", "2024-08-01T09:00:00", {3: (1, 1), 1: (0, 1)}),
    3: ("home/people.jpg", "2023-12-31T23:59:59", {5: (1, 0), 4: (1, 0)}),
    4: ("home/empty.jpg", None, {}),
    5: ("cars/100%_fast.jpg", "2023-01-15T12:00:00", {6: (1, 0)}),
    6: ("home/animal.jpg", None, {1: (1, 0)}),
}


@pytest.fixture
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT, taken_at TEXT);"
        "CREATE TABLE photo_tags (label_id INT, photo_id INT, direct INT, verified INT);"
    )
    for pid, (path, taken, tags) in PHOTOS.items():
        conn.execute("INSERT INTO photos VALUES (?, ?, ?)", (pid, path, taken))
        for lid, (direct, verified) in tags.items():
            conn.execute("INSERT INTO photo_tags VALUES (?, ?, ?, ?)", (lid, pid, direct, verified))
    return conn


def resolver() -> LabelResolver:
    def resolve(word: str) -> int | None:
        word = " ".join(word.lower().split())
        return LABELS.get(ALIASES.get(word, word))

    return LabelResolver(resolve, lambda word: tuple(difflib.get_close_matches(word, LABELS)))


def search(db: sqlite3.Connection, text: str) -> set[int]:
    compiled = compile_query(text, resolver())
    rows = db.execute(f"SELECT p.id FROM photos p WHERE {compiled.sql}", compiled.params)
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {1, 2, 3, 4, 5, 6}),
        ("dog", {1}),
        ("animal", {1, 2, 6}),
        ("dog beach", {1}),
        ("dog AND beach", {1}),
        ("dog OR cat", {1, 2}),
        ("dog OR cat beach", {1}),
        ("beach -people", {1}),
        ("beach NOT people", {1}),
        ("NOT animal", {3, 4, 5}),
        ("-animal -beach", {4, 5}),
        ("(dog OR people) beach", {1, 3}),
        ('"sports car"', {5}),
        ("sports car", {5}),
        ("Kitty", {2}),
        ("PUPPY OR persons", {1, 3}),
        ("label:=animal", {6}),
        ("label:animal", {1, 2, 6}),
        ("unverified:animal", {1, 6}),
        ("unverified:beach", {3}),
        ("untagged", {4}),
        ("-untagged", {1, 2, 3, 5, 6}),
        ("path:trips/2024", {1, 2}),
        ('path:"beach dog"', {1}),
        ("path:100%", {5}),
        ("path:_", {5}),
        ("path:h_me", set()),
        ("year:2024", {1, 2}),
        ("date:2023-12..2024-07", {1, 3}),
        ("date:2024-07-10", {1}),
        ("date:..2023-06", {5}),
        ("year:2023 -people", {5}),
        ("-path:trips -untagged", {3, 5, 6}),
        ('-"sports car" -animal', {3, 4}),
        ("t-shirt OR dog", {1}),
    ],
)
def test_query_matches_expected_photos(db, query, expected):
    assert search(db, query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("dog OR", "OR needs a term"),
        ("OR dog", "OR needs a term"),
        ("(dog beach", "unclosed parenthesis"),
        ("dog)", "unexpected ')'"),
        ('"dog', "unclosed quote"),
        ("NOT", "NOT needs a term"),
        ("dgo", "did you mean dog"),
        ("zebra", "no label called 'zebra'"),
        ("colour:red", "unknown field"),
        ("year:20x4", "bad date"),
        ("date:2023-13", "bad date"),
        ("path:", "path: needs"),
        ("path:a\0b", "cannot contain a NUL"),
        ("year:", "year: needs a date, e.g. year:2023"),
        ("date:", "date: needs a date"),
        ("date:..", "date: needs a date"),
        ("date:2024..2023", "ends before it starts"),
        ("date:2024-03..2024-02-10", "ends before it starts"),
        ("()", "expected a search term"),
    ],
)
def test_bad_queries_give_clear_messages(query, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        compile_query(query, resolver())


@pytest.mark.parametrize(
    "query",
    [
        "(" * 250 + "dog" + ")" * 250,
        "NOT " * 1000 + "dog",
        "-" * 2000 + "dog",
        "(" * 100_000,
        "-(" * 5000 + "dog",
    ],
)
def test_deep_nesting_is_refused_without_recursing(query):
    with pytest.raises(QueryError, match="nested too deeply"):
        compile_query(query, resolver())


def test_nesting_and_terms_up_to_the_limits_work(db):
    assert search(db, "(" * MAX_DEPTH + "dog" + ")" * MAX_DEPTH) == {1}
    assert search(db, "NOT " * (MAX_DEPTH - 1) + "-dog") == search(db, "dog")
    assert search(db, " ".join(["animal"] * MAX_TERMS)) == search(db, "animal")
    with pytest.raises(QueryError, match="too many search terms"):
        compile_query(" OR ".join(["dog"] * (MAX_TERMS + 1)), resolver())


def test_a_long_query_is_tokenized_in_linear_time():
    def seconds(words: int) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            with pytest.raises(QueryError, match="too many search terms"):
                compile_query("dog " * words, resolver())
            best = min(best, time.perf_counter() - started)
        return best

    # Ten times the words: about ten times the work when linear, a hundred when quadratic.
    assert seconds(50_000) / seconds(5_000) < 40


def test_injection_strings_are_just_unknown_words(db):
    with pytest.raises(QueryError, match="no label called"):
        compile_query("'; DROP TABLE photos; --", resolver())
    compiled = compile_query('path:"\'; DROP TABLE photos; --"', resolver())
    assert "DROP" not in compiled.sql
    assert search(db, 'path:"\'; DROP TABLE photos; --"') == set()
    assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == len(PHOTOS)


def test_error_position_points_at_the_problem():
    with pytest.raises(QueryError) as info:
        compile_query("dog zebra", resolver())
    assert info.value.position == 4
