"""Shared fixtures: real stores in temporary folders, and a clean fluent-API state per test.

``client``, ``fluent`` and ``store_url`` are parametrised by backend (ids ``sqlite``,
``postgresql``, ``mariadb``): every test that uses them runs on each backend, on a fresh
store (a new SQLite file, PostgreSQL schema or MariaDB database, dropped afterwards).
A server that does not answer makes its variant skip with the reason (see
``sqltrack.testing``). Tests that are about files (durability, WAL, locking) use
``store_path``, which is always SQLite.
"""

from __future__ import annotations

import inspect
import math
import os
import time

import pytest

from sqltrack.testing import BACKENDS, StoreSupplier, unavailable


def _coarse_clock(step_ms: int) -> None:
    """Round ``time.time()`` up to ``step_ms`` in this process, as on a machine so fast that a test's
    successive writes share one millisecond: a test that needs the clock to move between them fails."""
    real, real_ns, per_second = time.time, time.time_ns, 1000 / step_ms
    time.time = lambda: math.ceil(real() * per_second) / per_second
    time.time_ns = lambda: -(-real_ns() // (step_ms * 1_000_000)) * step_ms * 1_000_000


if os.environ.get("SQLTRACK_TEST_COARSE_CLOCK_MS"):
    _coarse_clock(int(os.environ["SQLTRACK_TEST_COARSE_CLOCK_MS"]))

_BACKEND_PARAMS = [pytest.param(name, id=name, marks=[] if name == "sqlite" else [pytest.mark.backend])
                   for name in BACKENDS]


@pytest.fixture
def store_path(tmp_path):
    """Path of a (not yet created) SQLite store in a fresh temporary folder."""
    return tmp_path / "sqltrack.db"


#: Tests that read a column's stored form where the backends legitimately differ (see the reason).
_KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: run a client/fluent/store_url test on SQLite only")
    config.addinivalue_line("markers", "servers_only: run a client/fluent/store_url test on the server backends only")


def pytest_generate_tests(metafunc):
    """Parametrise ``store_backend`` over every backend, except for tests about the SQLite file itself.

    A test that asks for ``store_path`` by name (it opens the file, kills writers, checks WAL)
    or carries ``@pytest.mark.sqlite_only`` runs on SQLite only; ``servers_only`` (used by the
    wrappers in tests/backends that re-run SQLite-only modules) on PostgreSQL and MariaDB only.
    """
    if "store_backend" not in metafunc.fixturenames:
        return
    direct = set(inspect.signature(metafunc.function).parameters)
    params = _BACKEND_PARAMS
    if "store_path" in direct or metafunc.definition.get_closest_marker("sqlite_only") is not None:
        params = [p for p in _BACKEND_PARAMS if p.values[0] == "sqlite"]
    elif metafunc.definition.get_closest_marker("servers_only") is not None:
        params = [p for p in _BACKEND_PARAMS if p.values[0] != "sqlite"]
    metafunc.parametrize("store_backend", params, indirect=True)


def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("store_backend") if callspec else None
        reason = _KNOWN_DIFFERENCES.get((item.nodeid.split("[")[0], backend))
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))


@pytest.fixture
def store_backend(request):
    """The name of the backend under test; skips (with the reason) when its server does not answer."""
    reason = unavailable(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def store_url(store_backend, store_path, tmp_path):
    """The URL of a new, empty store on each backend (SQLite: ``store_path``), removed afterwards."""
    if store_backend == "sqlite":
        yield f"sqlite:///{store_path}"
        return
    with StoreSupplier(store_backend, tmp_dir=tmp_path) as supplier:
        yield supplier.url


@pytest.fixture
def client(store_url, store_path, store_backend):
    """A Client on a new store of each backend; artifacts in ``<tmp>/sqltrack-artifacts``."""
    from sqltrack import Client

    c = Client(store_path) if store_backend == "sqlite" else Client(store_url,
                                                               artifact_root=store_path.with_name("sqltrack-artifacts"))
    yield c
    c.close()


@pytest.fixture
def fluent(store_url, store_path, store_backend, monkeypatch):
    """The fluent API (``import sqltrack as mlflow``) pointed at a fresh store, reset afterwards."""
    import sqltrack
    from sqltrack.api import fluent as fluent_module

    monkeypatch.delenv("SQLTRACK_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if store_backend == "sqlite":
        sqltrack.set_tracking_uri(str(store_path))
    else:
        monkeypatch.setenv("SQLTRACK_ARTIFACT_ROOT", str(store_path.with_name("sqltrack-artifacts")))
        sqltrack.set_tracking_uri(store_url)
    yield sqltrack
    while sqltrack.active_run() is not None:
        sqltrack.end_run()
    client = fluent_module._state.get("client")
    if client is not None:
        client.close()
    sqltrack.set_tracking_uri(None)
