"""Retrying a whole unit of work when the database says "busy, try again"."""

from __future__ import annotations

import random
import sqlite3
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

T = TypeVar("T")

MAX_ATTEMPTS = 8

# Messages and codes of transient failures: SQLite lock contention, PostgreSQL
# serialization failures/deadlocks, MySQL deadlocks and lock wait timeouts.
_TRANSIENT_TEXT = ("database is locked", "database table is locked", "deadlock", "could not serialize",
                   "lock wait timeout", "try restarting transaction")
_TRANSIENT_PGCODES = {"40001", "40P01"}
_TRANSIENT_MYSQL_CODES = {1205, 1213}


def is_transient(error: BaseException) -> bool:
    """True when a failed unit of work may succeed if simply run again."""
    if isinstance(error, sqlite3.OperationalError):  # the driver's own, from a raw connection
        return any(t in str(error).lower() for t in _TRANSIENT_TEXT)
    if not isinstance(error, (OperationalError, DBAPIError)):
        return False
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) in _TRANSIENT_PGCODES or getattr(orig, "pgcode", None) in _TRANSIENT_PGCODES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _TRANSIENT_MYSQL_CODES:
        return True
    text = str(orig or error).lower()
    return any(t in text for t in _TRANSIENT_TEXT)


def with_retry(unit: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``unit`` (which opens and commits its own transaction), retrying transient failures."""
    for attempt in range(1, attempts + 1):
        try:
            return unit()
        except (OperationalError, DBAPIError, sqlite3.OperationalError) as error:
            if attempt == attempts or not is_transient(error):
                raise
            time.sleep(min(2.0, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")
