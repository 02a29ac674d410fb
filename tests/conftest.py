"""Shared fixtures: real stores in temporary folders, and a clean fluent-API state per test."""

from __future__ import annotations

import pytest


@pytest.fixture
def store_path(tmp_path):
    """Path of a (not yet created) SQLite store in a fresh temporary folder."""
    return tmp_path / "sqltrack.db"


@pytest.fixture
def client(store_path):
    """A Client on a new SQLite store in a temporary folder."""
    from sqltrack import Client

    c = Client(store_path)
    yield c
    c.close()


@pytest.fixture
def fluent(store_path, monkeypatch):
    """The fluent API (``import sqltrack as mlflow``) pointed at a fresh store, reset afterwards."""
    import sqltrack
    from sqltrack.api import fluent as fluent_module

    monkeypatch.delenv("SQLTRACK_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    sqltrack.set_tracking_uri(str(store_path))
    yield sqltrack
    while sqltrack.active_run() is not None:
        sqltrack.end_run()
    client = fluent_module._state.get("client")
    if client is not None:
        client.close()
    sqltrack.set_tracking_uri(None)
