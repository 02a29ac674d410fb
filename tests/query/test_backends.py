"""The golden corpus on PostgreSQL and MariaDB/MySQL, where a server answers (skipped otherwise).

Servers: ``SQLTRACK_TEST_PG_URL`` / ``SQLTRACK_TEST_MYSQL_URL`` (admin URLs), defaulting to the
local servers that ``.ci/services.sh`` starts. Each session creates and drops its own database.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sqltrack.entities import ViewType
from sqltrack.query.search import build_run_search

from .corpus import load_cases
from .store_builder import fill_store, golden_runs

pytestmark = pytest.mark.backend

SERVERS = {
    "postgresql": os.environ.get("SQLTRACK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("SQLTRACK_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
CREATE = {"postgresql": "CREATE DATABASE {name}",
          "mysql": "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"}
CASES = [c for c in load_cases() if c.expect is not None]


@pytest.fixture(scope="module", params=sorted(SERVERS))
def backend_store(request):
    """(engine, runs) of the golden store in a fresh database on one server."""
    admin_url = make_url(SERVERS[request.param])
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means skip
        pytest.skip(f"{request.param} server not reachable at {admin_url.render_as_string()}: {exc}")
    name = f"sqltrack_query_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(CREATE[request.param].format(name=name)))
    query = {"charset": "utf8mb4"} if request.param == "mysql" else {}
    engine = create_engine(admin_url.set(database=name, query=query))
    try:
        runs = golden_runs()
        fill_store(engine, runs)
        yield engine, runs
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_golden_corpus_on_server(backend_store, case):
    engine, runs = backend_store
    query = build_run_search(case.filter, case.order_by, case.experiments, ViewType[case.view], engine.dialect.name)
    with engine.connect() as conn:
        labels = [runs[i - 1].label for i in conn.execute(query).scalars()]
    assert labels == case.expect
