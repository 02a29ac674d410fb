"""The golden search corpus through the public API, on every backend: the same runs, in the same order.

``tests/query`` checks the compiled SQL against the corpus on a raw engine; here the golden
runs are written into a store created by sqltrack (``StoreSupplier``: a new SQLite file,
PostgreSQL schema or MariaDB database) and every case goes through ``Client.search_runs``,
page by page too, so paging, the read path and the schema's dialect variants are part of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sqltrack.entities import ViewType
from sqltrack.testing import BACKENDS, StoreSupplier, unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from query.corpus import load_cases  # noqa: E402
from query.store_builder import fill_store, golden_runs  # noqa: E402

CASES = [case for case in load_cases() if case.expect is not None]


@pytest.fixture(scope="module", params=[pytest.param(b, marks=[] if b == "sqlite" else [pytest.mark.backend])
                                        for b in BACKENDS])
def golden_client(request, tmp_path_factory):
    """A Client on a store of one backend holding the golden runs, and uuid -> label."""
    reason = unavailable(request.param)
    if reason:
        pytest.skip(reason)
    runs = golden_runs()
    with StoreSupplier(request.param, tmp_dir=tmp_path_factory.mktemp("golden")) as supplier:
        client = supplier.open_client()
        fill_store(client.store.engine, runs)
        yield client, {run.uuid: run.label for run in runs}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_golden_case_through_the_api(golden_client, case):
    client, labels = golden_client
    found = client.search_runs(case.experiments, case.filter or "", ViewType[case.view], max_results=None,
                               order_by=case.order_by)
    assert [labels[run.info.run_id] for run in found] == case.expect


@pytest.mark.parametrize("case", [c for c in CASES if len(c.expect) >= 3][:10], ids=lambda c: c.id)
def test_golden_case_page_by_page(golden_client, case):
    client, labels = golden_client
    seen, token = [], None
    while True:
        page = client.search_runs(case.experiments, case.filter or "", ViewType[case.view], max_results=2,
                                  order_by=case.order_by, page_token=token)
        seen += [labels[run.info.run_id] for run in page]
        token = page.token
        if not token:
            break
    assert seen == case.expect
