"""Everything that differs between SQLite, PostgreSQL and MySQL/MariaDB on the write side.

The rest of the store speaks portable SQLAlchemy Core and asks this module for the
few statements that each backend spells differently (insert-or-ignore, upsert) and
for facts about the backend (does it store ±inf?). Query-side differences live in
``sqltrack.query.compiler``'s dialect table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from sqlalchemy import Connection, Table, insert

from .sqlite_path import executemany as sqlite_executemany


@dataclass(frozen=True)
class DialectRules:
    """Backend facts the store needs."""

    name: str
    native_inf: bool  # can a DOUBLE column hold ±infinity?
    max_bind_params: int  # how many bound values one statement may carry


_RULES = {
    "sqlite": DialectRules("sqlite", native_inf=True, max_bind_params=32_000),
    "postgresql": DialectRules("postgresql", native_inf=True, max_bind_params=30_000),
    "mysql": DialectRules("mysql", native_inf=False, max_bind_params=30_000),
    "mariadb": DialectRules("mariadb", native_inf=False, max_bind_params=30_000),
}


def rules_for(dialect_name: str) -> DialectRules:
    """The rules of a backend; unknown backends get conservative ones."""
    return _RULES.get(dialect_name, DialectRules(dialect_name, native_inf=False, max_bind_params=2_000))


def insert_ignore_rows(conn: Connection, table: Table, rows: Sequence[tuple],
                       columns: Sequence[str] | None = None) -> int:
    """Insert rows (tuples in ``columns`` order, default all columns), skipping rows that hit a unique key.

    Returns how many rows were new, exactly, on every backend (SQLite and MySQL report it as
    the row count; on PostgreSQL the statement returns one row per inserted row, because
    SQLAlchemy reports no row count for an executemany there).
    """
    if not rows:
        return 0
    name = conn.dialect.name
    keys = list(columns) if columns else [c.name for c in table.columns]
    if name == "sqlite":
        # Straight to the driver, in multi-row statements: several times faster than Core's dict-based path.
        cols = ", ".join(f'"{k}"' for k in keys)
        marks = ", ".join("?" * len(keys))
        return sqlite_executemany(conn, f"INSERT OR IGNORE INTO {table.name} ({cols}) VALUES ({marks})", list(rows))
    dicts = [dict(zip(keys, row, strict=False)) for row in rows]
    result = conn.execute(_insert_ignore_stmt(table, name), dicts)
    if name == "postgresql":
        return len(result.all())
    return result.rowcount


@lru_cache(maxsize=64)
def _insert_ignore_stmt(table: Table, dialect_name: str):
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    if dialect_name in ("mysql", "mariadb"):
        return insert(table).prefix_with("IGNORE")
    return insert(table).prefix_with("OR IGNORE")


def upsert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], update: Sequence[str]) -> None:
    """Insert rows, or update the ``update`` columns of rows whose primary key exists."""
    if rows:
        conn.execute(_upsert_stmt(table, conn.dialect.name, tuple(update)), list(rows))


@lru_cache(maxsize=64)
def _upsert_stmt(table: Table, name: str, update: tuple[str, ...]):
    """Built once per table and backend: statement construction is costly on the logging path."""
    pk = [c.name for c in table.primary_key.columns]
    if name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as my_insert

        stmt = my_insert(table)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})
    else:
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=pk, set_={c: stmt.excluded[c] for c in update})
    return stmt
