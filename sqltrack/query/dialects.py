"""The one table of SQL dialect differences that the search compiler needs.

Semantics every entry must give (the same as MLflow's SQL store with its
``case_sensitive_like`` pragma, and as ``tests/query/reference.py``):

* ``LIKE`` is case-sensitive; ``%`` is any run of characters, ``_`` one character, and
  there is no escape character (a backslash is an ordinary character).
* ``ILIKE`` folds case (ASCII letters on SQLite and MySQL, as MLflow's ``lower() LIKE
  lower()``; PostgreSQL's ILIKE also folds non-ASCII letters).
* ``=``, ``!=`` and ``IN`` on strings are exact (case- and trailing-space-sensitive).

How each backend gets there:

* **SQLite**: ``LIKE`` ignores ASCII case unless a connection PRAGMA says otherwise, and we
  do not rely on PRAGMAs. A case-sensitive LIKE is compiled to ``GLOB`` after translating
  the pattern (``%``→``*``, ``_``→``?``, and ``*``, ``?``, ``[`` made literal as ``[*]``,
  ``[?]``, ``[[]``). GLOB is case-sensitive and, on a BINARY-collated column, SQLite uses
  the ``(key_id, value)`` index for a pattern with a literal prefix. ILIKE is
  ``lower(col) LIKE lower(:p)``, right with the pragma on or off.
* **PostgreSQL**: ``LIKE`` / ``ILIKE``. Their default escape is ``\\``, so backslashes in
  the pattern are doubled to keep them literal. Strings sort with ``COLLATE "C"``
  (code-point order, like SQLite and Python). Param and tag values (TEXT) are indexed on
  ``left(value, 256) COLLATE "C"`` (a btree entry cannot hold a 1,000,000-character value;
  see ``store.schema._value_indexes``), so ``=`` and ``IN`` on them first test that
  expression against the value's first 256 characters, and a LIKE pattern with a literal
  prefix also tests ``left(value, 256) COLLATE "C" LIKE '<prefix>%'``; both are implied by
  the exact test that follows, and both can be read from the index.
* **MySQL / MariaDB**: value columns use a case- and accent-insensitive collation, so exact
  tests add an exact one after the plain one (the plain one can use the index):
  ``col LIKE :p AND col COLLATE utf8mb4_bin LIKE :p`` (``LIKE BINARY`` would let ``_`` match
  one *byte*, not one character), ``col = :v AND col = CAST(:v AS BINARY)``; ILIKE is
  ``lower(col) COLLATE utf8mb4_bin LIKE lower(:p)`` (folds case, not accents). Strings sort
  as ``CAST(col AS BINARY)``: UTF-8 bytes sort in code-point order, and unlike
  ``utf8mb4_bin`` (PAD SPACE) a trailing space counts. ±inf are stored as ±max-float there,
  so ordering adds a sort key on the metric's ``kind`` and numeric tests compare
  ``(rank, value)`` pairs (``infinity_rank``).

Missing values sort last. Where the backend already puts NULLs last for a direction
(SQLite and MySQL: DESC; PostgreSQL: ASC) the plain key is kept, so an index on the
column can still deliver the order (``start_time DESC`` with LIMIT stops early);
otherwise ``NULLS LAST``, or on MySQL a ``CASE WHEN col IS NULL`` key first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import BINARY, String, Text, and_, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from ..errors import InvalidParameter
from ..store.schema import VALUE_INDEX_PREFIX, AggregateDouble
from ..store.values import MAX_FLOAT, NEG_INF, POS_INF

Predicate = Callable[[ColumnElement, str], ColumnElement]


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (no escape character) into the equivalent GLOB pattern."""
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _backslash_literal(pattern: str) -> str:
    return pattern.replace("\\", "\\\\")


def _binary(value) -> ColumnElement:
    """``CAST(value AS BINARY)``; a Python string stays a bound string inside the cast."""
    if isinstance(value, str):
        value = literal(value, String())
    return cast(value, BINARY())


@dataclass(frozen=True)
class DialectRules:
    """How one backend spells exact string tests and orders strings and infinities."""

    name: str
    like: Predicate                      # case-sensitive LIKE
    ilike: Predicate                     # case-insensitive LIKE
    equals: Callable[[ColumnElement, object], ColumnElement]
    in_list: Callable[[ColumnElement, Sequence[str]], ColumnElement]
    string_sort_key: Callable[[ColumnElement], ColumnElement] | None  # ORDER BY key giving code-point order
    native_inf: bool                     # ±inf stored as themselves (else ±max-float)
    nulls_sort_low: bool                 # NULL sorts before every value in ASC order
    nulls_last_syntax: bool              # ``NULLS LAST`` is understood
    adaptive_driver: bool                # choose the driving clause of an AND at run time (see compiler)


_SQLITE = DialectRules(
    name="sqlite",
    like=lambda col, p: col.op("GLOB", is_comparison=True)(like_to_glob(p)),
    ilike=lambda col, p: func.lower(col).like(func.lower(p)),
    equals=lambda col, v: col == v,
    in_list=lambda col, vs: col.in_(list(vs)),
    string_sort_key=None,
    native_inf=True,
    nulls_sort_low=True,
    nulls_last_syntax=True,
    adaptive_driver=True,
)

def _pg_prefix(value) -> ColumnElement:
    """``left(value, 256) COLLATE "C"``: the indexed form of a param/tag value on PostgreSQL."""
    if isinstance(value, str):
        value = literal(value[:VALUE_INDEX_PREFIX], Text())
    else:
        value = func.left(value, VALUE_INDEX_PREFIX)
    return value.collate("C")


def _prefix_indexed(col: ColumnElement) -> bool:
    """Whether a column is a TEXT value indexed by prefix on PostgreSQL (params/tags ``value``)."""
    return isinstance(getattr(col, "type", None), Text)


def _pg_equals(col: ColumnElement, value) -> ColumnElement:
    if not _prefix_indexed(col):
        return col == value
    return and_(func.left(col, VALUE_INDEX_PREFIX).collate("C") == _pg_prefix(value), col == value)


def _pg_in_list(col: ColumnElement, values: Sequence[str]) -> ColumnElement:
    if not _prefix_indexed(col):
        return col.in_(list(values))
    prefixes = sorted({v[:VALUE_INDEX_PREFIX] for v in values})
    return and_(func.left(col, VALUE_INDEX_PREFIX).collate("C").in_(prefixes), col.in_(list(values)))


def _literal_prefix(pattern: str) -> str:
    """The characters of a LIKE pattern before its first wildcard."""
    for index, char in enumerate(pattern):
        if char in "%_":
            return pattern[:index]
    return pattern


def _pg_like(col: ColumnElement, pattern: str) -> ColumnElement:
    test = col.like(_backslash_literal(pattern))
    prefix = _literal_prefix(pattern)[:VALUE_INDEX_PREFIX]
    if not prefix or not _prefix_indexed(col):
        return test
    indexed = func.left(col, VALUE_INDEX_PREFIX).collate("C").like(_backslash_literal(prefix) + "%")
    return and_(indexed, test)


_POSTGRESQL = DialectRules(
    name="postgresql",
    like=_pg_like,
    ilike=lambda col, p: col.ilike(_backslash_literal(p)),
    equals=_pg_equals,
    in_list=_pg_in_list,
    string_sort_key=lambda col: col.collate("C"),
    native_inf=True,
    nulls_sort_low=False,
    nulls_last_syntax=True,
    adaptive_driver=False,
)

#: Case- and accent-sensitive, character by character (LIKE never pads, so PAD SPACE does not matter).
_MYSQL_EXACT = "utf8mb4_bin"

_MYSQL = DialectRules(
    name="mysql",
    like=lambda col, p: and_(col.like(_backslash_literal(p)),
                             col.collate(_MYSQL_EXACT).like(_backslash_literal(p))),
    ilike=lambda col, p: func.lower(col).collate(_MYSQL_EXACT).like(func.lower(_backslash_literal(p))),
    equals=lambda col, v: and_(col == v, col == _binary(v)),
    in_list=lambda col, vs: and_(col.in_(list(vs)), col.in_([_binary(v) for v in vs])),
    string_sort_key=lambda col: cast(col, BINARY()),
    native_inf=False,
    nulls_sort_low=True,
    nulls_last_syntax=False,
    adaptive_driver=False,
)

def infinity_rank(value: ColumnElement, kind: ColumnElement | None) -> ColumnElement | None:
    """For backends without ±inf (``native_inf`` False): 1 for +inf, -1 for -inf, else 0.

    There ±inf are stored as ±max-float, so a numeric test compares ``(rank, value)`` pairs
    instead of values: +inf stays above max-float, and equal to itself. A metric value
    has its ``kind`` column; a history aggregate (min/max/avg/sum, no kind) holds ±inf as
    exactly ±max-float. None: not a metric value (params read as numbers, attributes).
    """
    if kind is not None:
        return case((kind == POS_INF, 1), (kind == NEG_INF, -1), else_=0)
    if getattr(value, "type", None) is AggregateDouble:
        return case((value >= MAX_FLOAT, 1), (value <= -MAX_FLOAT, -1), else_=0)
    return None


def literal_rank(number: float) -> tuple[int, float]:
    """A literal as a ``(rank, value)`` pair (see ``infinity_rank``)."""
    if math.isinf(number):
        return (1 if number > 0 else -1), math.copysign(MAX_FLOAT, number)
    return 0, number


#: Dialect name (``engine.dialect.name``) → rules.
DIALECTS: dict[str, DialectRules] = {
    "sqlite": _SQLITE,
    "postgresql": _POSTGRESQL,
    "mysql": _MYSQL,
    "mariadb": _MYSQL,
}


def dialect_rules(name: str) -> DialectRules:
    """The rules for a dialect name, or InvalidParameter naming the supported ones."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise InvalidParameter(f"unsupported database dialect {name!r}; "
                               f"supported: {', '.join(sorted(DIALECTS))}") from None
