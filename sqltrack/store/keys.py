"""Interning of metric/param/tag key names into small integer ids."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, select

from .dialect import insert_ignore_rows
from .schema import key_names


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
        insert_ignore_rows(conn, key_names, [(name,) for name in sorted(absent)], columns=["name"])
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
        rows = conn.execute(select(key_names.c.name, key_names.c.id).where(key_names.c.name.in_(chunk)))
        result.update({name: id_ for name, id_ in rows})
    return result
