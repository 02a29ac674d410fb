"""Interning of metric/param/tag key names into small integer ids."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, select

from . import sqlite_path as SQ
from .dialect import insert_ignore_rows
from .tables import tables


def key_ids(store, conn: Connection, names: Iterable[str], *, create: bool = True) -> dict[str, int]:
    """Map key names to ids, creating the missing ones inside the caller's transaction."""
    wanted = set(names)
    found = {n: i for n in wanted if (i := store.cached_key_id(n)) is not None}
    missing = wanted - found.keys()
    if not missing:
        return found
    fetched = _select_ids(conn, missing)
    absent = missing - fetched.keys()
    if absent and create:
        _insert_names(conn, sorted(absent))
        fetched.update(_select_ids(conn, absent))
    new_ids = conn.info.get("new_key_ids")
    if new_ids is not None:
        new_ids.update(fetched)  # cached by the store once the transaction commits
    found.update(fetched)
    return found


def _select_ids(conn: Connection, names: set[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    ordered = sorted(names)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        if SQ.is_sqlite(conn):
            rows = SQ.execute(conn, SQ.SELECT_KEY_IDS.format(marks=", ".join("?" * len(chunk))), chunk)
        else:
            k = tables.key_names.c
            rows = conn.execute(select(k.name, k.id).where(k.name.in_(chunk)))
        result.update({name: id_ for name, id_ in rows})
    return result


def _insert_names(conn: Connection, names: list[str]) -> None:
    if SQ.is_sqlite(conn):
        SQ.executemany(conn, SQ.INSERT_KEY_NAMES, [(name,) for name in names])
    else:
        insert_ignore_rows(conn, tables.key_names, [(name,) for name in names], columns=["name"])
