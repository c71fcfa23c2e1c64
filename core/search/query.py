"""The search language, parsed into parameterised SQL (never string-pasted user input).

    dog beach            both (AND is implicit; the word AND is accepted too)
    dog OR cat           either (OR binds tighter than AND: ``dog OR cat beach``)
    -people, NOT people  without
    "sports car"         a quoted multi-word label (unquoted ``sports car`` works too
                         when the words name a label)
    (dog OR cat) -indoor grouping
    label:=dog           the label itself, not reached through its subtree
    unverified:dog       photos whose dog tag nobody has confirmed
    untagged             photos without any tag
    path:trips/2024      part of the photo's path inside the album
    year:2023            taken in 2023 (EXIF date)
    date:2023-07..2023-08  taken in that range (YYYY, YYYY-MM or YYYY-MM-DD each side)
    rating:>=4           star rating (0-5; also rating:3, rating:<2, rating:>0, rating:2..4;
                         a photo nobody rated has 0)
    flag:pick            flagged as a pick (flag:reject, flag:none)
    folder:2019/rome     the photos directly in that folder; folder:2019/rome/** with every
                         folder below it; folder:/ the album folder's own photos; a name with
                         spaces is quoted, folder:"my trip"/** (a quote inside doubled: "")

A label word matches by name or alias, case-insensitively, and includes the label's subtree.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import QueryError
from core.paths import readable, to_bytes
from core.search.folders import folder_sql, parse_folder, spellings

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<neg>-(?=[^\s)]))|"(?P<quoted>[^"]*)"|(?P<word>[^\s()"]+))'
)
_FIELD_QUOTED = re.compile(r'(?P<field>[A-Za-z]+:=?)"(?P<value>(?:[^"]|"")*)"(?P<tail>/\*\*)?')
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")
_SPACE = re.compile(r"\s*")
_MAX_LABEL_WORDS = 4
#: Limits no real search comes near: deeper nesting would exhaust Python's and SQLite's
#: recursion (a 250-deep query crashed with RecursionError), more terms SQLite's expression
#: depth.
MAX_DEPTH = 32
MAX_TERMS = 256

#: The parameters bound to a term's SQL (label ids, dates, folder bytes, ...).
Params = tuple[object, ...]


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "neg" (a leading minus), "word", "quoted", "field"
    text: str
    pos: int
    field: str = ""


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause over ``photos p`` and its parameters."""

    sql: str
    params: Params


@dataclass(frozen=True)
class Leaf:
    """One search term: a WHERE clause over ``photos p`` and a SELECT of the photo ids it
    matches as a column named ``id`` (the cheaper form, e.g. a range of the photo_tags
    primary key)."""

    where: str
    ids_sql: str
    params: Params


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


@dataclass(frozen=True)
class Everything:
    pass


Node = Leaf | And | Or | Not | Everything


class LabelResolver:
    """How the parser finds labels: a name or alias → label id, and suggestions."""

    def __init__(
        self,
        resolve: Callable[[str], int | None],
        suggest: Callable[[str], tuple[str, ...]] = lambda word: (),
    ) -> None:
        self.resolve = resolve
        self.suggest = suggest


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)  # \s* matches everywhere
        start = space.end() if space else pos
        if start == len(text):
            break
        field = _FIELD_QUOTED.match(text, start)
        if field:
            tokens.append(_quoted_field(field, start))
            pos = field.end() if field["field"].lower() == "folder:" else field.end("value") + 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(f"unclosed quote at character {start + 1}", start)
        if m["lp"]:
            tokens.append(Token("(", "(", m.start("lp")))
        elif m["rp"]:
            tokens.append(Token(")", ")", m.start("rp")))
        elif m["neg"]:
            tokens.append(Token("neg", "-", m.start("neg")))
        elif m["quoted"] is not None:
            tokens.append(Token("quoted", m["quoted"], m.start("quoted") - 1))
        else:
            word, wpos = m["word"], m.start("word")
            if ":" in word and not word.startswith(":"):
                name, _, value = word.partition(":")
                fname = name + ":" + ("=" if value.startswith("=") else "")
                tokens.append(Token("field", value.removeprefix("="), wpos, fname.lower()))
            else:
                tokens.append(Token("word", word, wpos))
        pos = m.end()
    return tokens


def _quoted_field(m: re.Match[str], start: int) -> Token:
    """``field:"value"``; a doubled quote inside is one quote, and ``folder:"…"/**`` takes
    the subfolders."""
    name, value = m["field"].lower(), m["value"].replace('""', '"')
    if name == "folder:" and m["tail"]:
        value += m["tail"]
    return Token("field", value, start, name)


class _Parser:
    def __init__(self, tokens: list[Token], labels: LabelResolver, text: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.labels = labels
        self.text = text
        self.depth = 0
        self.terms = 0

    def deeper(self, tok: Token) -> None:
        """One more level of parentheses or negation; refused past ``MAX_DEPTH``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                f"search nested too deeply at character {tok.pos + 1} (at most "
                f"{MAX_DEPTH} levels of parentheses, NOT and -)",
                tok.pos,
            )

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def is_op(self, token: Token | None, op: str) -> bool:
        return token is not None and token.kind == "word" and token.text == op

    def parse(self) -> Node:
        node = self.and_expr()
        tok = self.peek()
        if tok is not None:
            raise QueryError(f"unexpected {tok.text!r} at character {tok.pos + 1}", tok.pos)
        return node

    def and_expr(self) -> Node:
        parts = []
        while (tok := self.peek()) is not None and tok.kind != ")":
            if self.is_op(tok, "AND"):
                self.i += 1
                continue
            parts.append(self.or_expr())
        if not parts:
            tok = self.peek()
            where = f"at character {tok.pos + 1}" if tok else "at the end"
            raise QueryError(f"expected a search term {where}", tok.pos if tok else len(self.text))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def or_expr(self) -> Node:
        parts = [self.unary()]
        while self.is_op(self.peek(), "OR"):
            self.i += 1
            after = self.peek()
            if after is None or after.kind == ")":
                raise QueryError("OR needs a term on both sides", len(self.text))
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("expected a search term at the end", len(self.text))
        if self.is_op(tok, "NOT") or tok.kind == "neg":
            self.i += 1
            if self.peek() is None:
                what = "NOT" if tok.kind == "word" else "a minus"
                raise QueryError(f"{what} needs a term after it", tok.pos)
            self.deeper(tok)
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("expected a search term at the end", len(self.text))
        if tok.kind == "(":
            self.i += 1
            self.deeper(tok)
            inner = self.and_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError(f"unclosed parenthesis at character {tok.pos + 1}", tok.pos)
            self.i += 1
            self.depth -= 1
            return inner
        if self.is_op(tok, "OR"):
            raise QueryError(f"OR needs a term on both sides (character {tok.pos + 1})", tok.pos)
        self.i += 1
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"too many search terms (at most {MAX_TERMS})", tok.pos)
        if tok.kind == "field":
            return self.field(tok)
        if tok.kind == "quoted":
            return _has_label(self.label_id(tok.text, tok.pos))
        if tok.text.lower() == "untagged":
            # The SQL form asks photo_tags; the fast form reads the store's per-photo flag
            # (a partial index), and tests check the two agree.
            return Leaf(
                "NOT EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id)",
                "SELECT id FROM photos WHERE tagged = 0",
                (),
            )
        return _has_label(self.label_words(tok))

    def label_words(self, first: Token) -> int:
        """A label named by one word, or by the longest run of plain words naming a label."""
        run = [first]
        j = self.i  # the token after ``first``
        while len(run) < _MAX_LABEL_WORDS and j < len(self.tokens):
            nxt = self.tokens[j]
            if nxt.kind != "word" or nxt.text in ("OR", "AND", "NOT"):
                break
            run.append(nxt)
            j += 1
        for n in range(len(run), 1, -1):
            found = self.labels.resolve(" ".join(w.text for w in run[:n]))
            if found is not None:
                self.i += n - 1
                return found
        return self.label_id(first.text, first.pos)

    def label_id(self, name: str, pos: int) -> int:
        found = self.labels.resolve(name)
        if found is None:
            hints = self.labels.suggest(name)
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise QueryError(
                f"no label called {name!r}{hint}", pos, word=name, suggestions=tuple(hints)
            )
        return found

    def field(self, tok: Token) -> Node:
        if tok.field == "label:=":
            return _tag_leaf(self.label_id(tok.text, tok.pos), "AND direct = 1")
        if tok.field in ("label:", "tag:"):
            return _has_label(self.label_id(tok.text, tok.pos))
        if tok.field == "unverified:":
            return _tag_leaf(self.label_id(tok.text, tok.pos), "AND verified = 0")
        if tok.field == "path:":
            if not tok.text:
                raise QueryError("path: needs a folder or file name", tok.pos)
            if "\0" in tok.text:
                raise QueryError("path: cannot contain a NUL character", tok.pos)
            # A path that is not valid UTF-8 is stored as its bytes (core.paths): matched
            # byte for byte, since LIKE would read those bytes as broken characters.
            blob = "typeof(p.path) = 'blob' AND instr(p.path, ?)"
            if readable(tok.text) != tok.text:  # only such a path can hold such a part
                return _photo_leaf(blob, (to_bytes(tok.text),))
            escaped = tok.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return _photo_leaf(
                f"(p.path LIKE ? ESCAPE '\\' OR {blob})", (f"%{escaped}%", to_bytes(tok.text))
            )
        if tok.field in ("year:", "date:"):
            return _date_range(tok)
        if tok.field == "rating:":
            return _rating(tok)
        if tok.field == "flag:":
            return _flag(tok)
        if tok.field == "folder:":
            return _folder(tok)
        known = "label:=, unverified:, path:, folder:, year:, date:, rating:, flag:"
        raise QueryError(f"unknown field {tok.field!r} (known: {known})", tok.pos)


def _tag_leaf(label_id: int, extra: str = "") -> Leaf:
    ids = f"SELECT photo_id AS id FROM photo_tags WHERE label_id = ? {extra}".strip()
    return Leaf(f"p.id IN ({ids})", ids, (label_id,))


def _has_label(label_id: int) -> Leaf:
    return _tag_leaf(label_id)


def _photo_leaf(where: str, params: Params) -> Leaf:
    return Leaf(where, f"SELECT p.id AS id FROM photos p WHERE {where}", params)


def to_where(node: Node) -> Compiled:
    """The search as one WHERE clause over ``photos p`` (for SQL callers)."""
    if isinstance(node, Leaf):
        return Compiled(node.where, node.params)
    if isinstance(node, Everything):
        return Compiled("1", ())
    if isinstance(node, Not):
        inner = to_where(node.part)
        return Compiled(f"NOT ({inner.sql})", inner.params)
    parts = [to_where(p) for p in node.parts]
    op = " AND " if isinstance(node, And) else " OR "
    return Compiled(op.join(f"({p.sql})" for p in parts), tuple(x for p in parts for x in p.params))


def _date_bound(text: str, tok: Token, *, end: bool) -> str:
    m = _DATE.match(text)
    if not m:
        raise QueryError(f"bad date {text!r}: use YYYY, YYYY-MM or YYYY-MM-DD", tok.pos)
    year, month, day = int(m[1]), m[2], m[3]
    if (month is not None and not 1 <= int(month) <= 12) or (
        day is not None and not 1 <= int(day) <= 31
    ):
        raise QueryError(f"bad date {text!r}", tok.pos)
    if day is not None and int(day) > calendar.monthrange(max(year, 1), int(month))[1]:
        raise QueryError(f"bad date {text!r}: no such day", tok.pos)  # 2024-02-30
    if not end:
        return f"{year:04d}-{int(month or 1):02d}-{int(day or 1):02d}"
    # The exclusive upper bound: the start of the next year, month or day.
    if day is not None:
        return f"{year:04d}-{int(month):02d}-{int(day):02d}T99"
    if month is not None:
        return f"{year:04d}-{int(month):02d}-99"
    return f"{year:04d}-99"


def _date_range(tok: Token) -> Leaf:
    lo, sep, hi = tok.text.partition("..")
    if tok.field == "year:" and sep:
        raise QueryError("year: takes one year; use date:2020..2023 for a range", tok.pos)
    if not lo and not hi:  # "year:", "date:" and "date:.." matched nothing, silently
        example = "year:2023" if tok.field == "year:" else "date:2023-07..2023-08"
        raise QueryError(f"{tok.field} needs a date, e.g. {example}", tok.pos)
    lo = lo or "0001"
    hi = hi if sep else lo
    hi = hi or "9999"
    start, end = _date_bound(lo, tok, end=False), _date_bound(hi, tok, end=True)
    if start > end:
        raise QueryError(f"the range {tok.text!r} ends before it starts", tok.pos)
    return _photo_leaf("p.taken_at >= ? AND p.taken_at < ?", (start, end))


_RATING = re.compile(r"^(?:(?P<op><=|>=|<|>|=)?(?P<n>\d+)|(?P<lo>\d+)\.\.(?P<hi>\d+))$")
_FLAGS = {"pick": 1, "picked": 1, "reject": -1, "rejected": -1, "none": 0, "unflagged": 0}


def _stars(text: str, tok: Token) -> int:
    value = int(text)
    if not 0 <= value <= 5:
        raise QueryError(f"a rating is 0 to 5 stars, not {value}", tok.pos)
    return value


def _rating(tok: Token) -> Leaf:
    m = _RATING.match(tok.text.replace(" ", ""))
    if m is None:
        raise QueryError(
            f"bad rating {tok.text!r}: use e.g. rating:4, rating:>=4, "
            "rating:<3 or rating:2..4 (0 to 5 stars)",
            tok.pos,
        )
    column = "COALESCE(p.rating, 0)"
    if m["lo"] is not None:
        lo, hi = _stars(m["lo"], tok), _stars(m["hi"], tok)
        if lo > hi:
            raise QueryError(f"the range {tok.text!r} ends before it starts", tok.pos)
        return _photo_leaf(f"{column} BETWEEN ? AND ?", (lo, hi))
    op = m["op"] or "="
    return _photo_leaf(f"{column} {op} ?", (_stars(m["n"], tok),))


def _flag(tok: Token) -> Leaf:
    value = _FLAGS.get(tok.text.lower())
    if value is None:
        raise QueryError(f"bad flag {tok.text!r}: use flag:pick, flag:reject or flag:none", tok.pos)
    return _photo_leaf("COALESCE(p.flag, 0) = ?", (value,))


def _folder(tok: Token) -> Leaf:
    """``folder:a/b`` (that folder's own photos) or ``folder:a/b/**`` (with subfolders)."""
    try:
        path, subfolders = parse_folder(tok.text)
    except ValueError as exc:
        raise QueryError(str(exc), tok.pos) from None
    conditions: list[str] = []
    params: list[object] = []
    for spelling in spellings(path):
        more, values = folder_sql(spelling, subfolders)
        conditions += more
        params += values
    where = " OR ".join(f"({c})" for c in conditions)
    ids = " UNION ALL ".join(f"SELECT p.id AS id FROM photos p WHERE {c}" for c in conditions)
    return Leaf(f"({where})", ids, tuple(params))


def parse_query(text: str, labels: LabelResolver, within: str = "") -> Node:
    """Parse a search into a tree of terms; an empty search matches everything.

    ``within`` is a search the view adds (the sidebar's folder, ``folder:2019/rome``), taken
    with ``text`` by AND but parsed on its own, so an error's position still refers to ``text``.

    Raises:
        QueryError: with a message a person can act on and the character position.
    """
    tokens = tokenize(text)
    node = _Parser(tokens, labels, text).parse() if tokens else Everything()
    if not within.strip():
        return node
    outer = parse_query(within, labels)
    if isinstance(node, Everything):
        return outer
    return And((outer, node))


def compile_query(text: str, labels: LabelResolver) -> Compiled:
    """Parse a search into one WHERE clause over ``photos p`` (see :func:`parse_query`)."""
    return to_where(parse_query(text, labels))
