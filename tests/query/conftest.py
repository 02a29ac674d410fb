"""Fixtures for query tests: the golden store, built once per session."""

from __future__ import annotations

import pytest

from .store_builder import build_store, golden_runs


@pytest.fixture(scope="session")
def golden_store(tmp_path_factory):
    """(engine, runs) of the store the golden corpus is written against."""
    runs = golden_runs()
    engine = build_store(tmp_path_factory.mktemp("golden") / "golden.db", runs)
    yield engine, runs
    engine.dispose()


@pytest.fixture(scope="session")
def golden_engine(golden_store):
    """The engine of the golden store."""
    return golden_store[0]
