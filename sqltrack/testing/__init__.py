"""The conformance kit: run the same tests against SQLite, PostgreSQL and MariaDB.

``BACKENDS`` lists the backends, :func:`unavailable` says why one cannot be tested here
(a skip reason, never a silent omission), and :class:`StoreSupplier` gives a test a fresh
store on a backend and removes it afterwards. ``tests/conftest.py`` builds its
backend-parametrised ``store_url`` and ``client`` fixtures on these.
"""

from __future__ import annotations

from .backends import (
    BACKENDS,
    SERVER_BACKENDS,
    StoreSupplier,
    admin_url,
    leftover_namespaces,
    selected_backends,
    unavailable,
)

__all__ = [
    "BACKENDS",
    "SERVER_BACKENDS",
    "StoreSupplier",
    "admin_url",
    "leftover_namespaces",
    "selected_backends",
    "unavailable",
]
