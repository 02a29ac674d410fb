"""The CLI test modules, re-run unchanged on PostgreSQL and MariaDB.

``tests/cli`` builds its stores from the ``store_path`` fixture (a SQLite file) and passes
them to ``--store``. Here ``store_path`` is overridden by a server URL on a fresh schema or
database (``servers_only``: the SQLite run is the original module's), with the artifact
root in a temporary folder, and the modules' tests and fixtures are collected again.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sqltrack.testing import StoreSupplier

pytestmark = [pytest.mark.servers_only, pytest.mark.backend]

CLI_TESTS = Path(__file__).resolve().parents[1] / "cli"
#: 'sqltrack sql' tests write SQLite's SQL (typeof(), unquoted "key", SQLite's error texts) and check its
#: read-only authorizer: they stay SQLite-only. Every other CLI test runs here.
SQLITE_ONLY_PREFIX = "test_sql_"


def _collect_from(file_name: str) -> None:
    spec = importlib.util.spec_from_file_location(f"_servers_{file_name[:-3]}", CLI_TESTS / file_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, value in vars(module).items():
        if name.startswith("test_") and not name.startswith(SQLITE_ONLY_PREFIX):
            globals()[name] = value
        elif hasattr(value, "_fixture_function_marker") or type(value).__name__ == "FixtureFunctionDefinition":
            globals()[name] = value


for _file in ("test_cli_basics.py", "test_cli_search.py"):
    if (CLI_TESTS / _file).exists():
        _collect_from(_file)


@pytest.fixture
def store_path(store_backend, tmp_path, monkeypatch):
    """The store the CLI tests open: a server URL (not a file), artifacts in a temporary folder."""
    monkeypatch.setenv("SQLTRACK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    with StoreSupplier(store_backend, tmp_dir=tmp_path) as supplier:
        yield supplier.url
