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
  (code-point order, like SQLite and Python).
* **MySQL / MariaDB**: value columns use a case-insensitive collation, so exact tests add a
  binary one after the plain one (the plain one can use the index):
  ``col LIKE :p AND col LIKE BINARY :p``, ``col = :v AND col = CAST(:v AS BINARY)``;
  ILIKE is ``lower(col) LIKE lower(:p)``. ±inf are stored as ±max-float there, so ordering
  adds a sort key on the metric's ``kind``.

Missing values sort last. Where the backend already puts NULLs last for a direction
(SQLite and MySQL: DESC; PostgreSQL: ASC) the plain key is kept, so an index on the
column can still deliver the order (``start_time DESC`` with LIMIT stops early);
otherwise ``NULLS LAST``, or on MySQL a ``CASE WHEN col IS NULL`` key first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import String, and_, cast, func, literal
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import ColumnElement

from ..errors import InvalidParameter

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
    return cast(value, mysql.BINARY())


@dataclass(frozen=True)
class DialectRules:
    """How one backend spells exact string tests and orders strings and infinities."""

    name: str
    like: Predicate                      # case-sensitive LIKE
    ilike: Predicate                     # case-insensitive LIKE
    equals: Callable[[ColumnElement, object], ColumnElement]
    in_list: Callable[[ColumnElement, Sequence[str]], ColumnElement]
    string_collation: str | None         # ORDER BY collation giving code-point order
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
    string_collation=None,
    native_inf=True,
    nulls_sort_low=True,
    nulls_last_syntax=True,
    adaptive_driver=True,
)

_POSTGRESQL = DialectRules(
    name="postgresql",
    like=lambda col, p: col.like(_backslash_literal(p)),
    ilike=lambda col, p: col.ilike(_backslash_literal(p)),
    equals=lambda col, v: col == v,
    in_list=lambda col, vs: col.in_(list(vs)),
    string_collation="C",
    native_inf=True,
    nulls_sort_low=False,
    nulls_last_syntax=True,
    adaptive_driver=False,
)

_MYSQL = DialectRules(
    name="mysql",
    like=lambda col, p: and_(col.like(_backslash_literal(p)),
                             col.op("LIKE BINARY", is_comparison=True)(_backslash_literal(p))),
    ilike=lambda col, p: func.lower(col).like(func.lower(_backslash_literal(p))),
    equals=lambda col, v: and_(col == v, col == _binary(v)),
    in_list=lambda col, vs: and_(col.in_(list(vs)), col.in_([_binary(v) for v in vs])),
    string_collation="utf8mb4_bin",
    native_inf=False,
    nulls_sort_low=True,
    nulls_last_syntax=False,
    adaptive_driver=False,
)

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
