"""bench/logging_bench.py: the raw-sqlite3 baseline into sqltrack's schema writes what log_batch writes.

W2's floor is only a floor if the baseline stores the same rows; the numbers themselves are not tested.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common, logging_bench  # noqa: E402
from sqltrack import Client, Metric, Param, RunTag  # noqa: E402

RUNS = 3
_CONTENT = {
    "params": "SELECT r.id, k.name, t.value, t.value_num FROM params t",
    "tags": "SELECT r.id, k.name, t.value FROM tags t",
    "metrics": "SELECT r.id, k.name, t.step, t.timestamp, t.value, t.kind FROM metrics t",
    "latest_metrics": "SELECT r.id, k.name, t.step, t.timestamp, t.value, t.kind, t.min_value, t.max_value,"
                      " t.avg_value, t.sum_value, t.first_value, t.first_kind, t.first_step, t.first_timestamp,"
                      " t.count, t.nan_count FROM latest_metrics t",
}


def _content(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"{_CONTENT[table]} JOIN runs r ON r.id = t.run_id JOIN key_names k ON k.id = t.key_id"
                            " WHERE k.name != 'mlflow.runName'").fetchall()  # generated: differs
        order = {rid: n for n, (rid,) in enumerate(conn.execute("SELECT id FROM runs ORDER BY id"))}
    finally:
        conn.close()
    return sorted((order[row[0]], *row[1:]) for row in rows)


def _logged_with_log_batch(path: Path) -> None:
    client = Client(path)
    eid = client.create_experiment("bench")
    for r in range(RUNS):
        params, tags, metrics = common.run_values(r)
        run_id = client.create_run(eid).info.run_id
        client.log_batch(run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in metrics],
                         params=[Param(k, v) for k, v in params], tags=[RunTag(k, v) for k, v in tags])
    client.close()


def test_the_raw_baseline_stores_the_rows_log_batch_stores(tmp_path: Path) -> None:
    assert logging_bench.raw_sqltrack_schema(tmp_path, RUNS) > 0
    _logged_with_log_batch(tmp_path / "ours.db")
    for table in _CONTENT:
        raw = _content(tmp_path / "w2-raw-schema.db", table)
        assert raw, table
        assert raw == _content(tmp_path / "ours.db", table), table


def test_the_raw_w9_workers_store_the_rows_the_fluent_api_stores(tmp_path: Path) -> None:
    """W9's floor: raw workers writing sqltrack's statements into its schema store what per-call logging stores."""
    from bench import workers

    path = tmp_path / "raw9-schema.db"
    eid = logging_bench.w9_schema_store(path)
    go = tmp_path / "go"
    go.write_text("now")
    for share in (range(0, RUNS, 2), range(1, RUNS, 2)):  # two workers' shares, one after the other
        result = workers.w9_raw_schema({"path": str(path), "experiment_id": eid, "runs": list(share), "go": str(go)})
        assert result["errors"] == 0
    logging_bench.sqltrack_per_call(tmp_path, RUNS)
    for table in _CONTENT:
        raw = _content_by_run_number(path, table, [0, 2, 1])
        assert raw, table
        assert raw == _content_by_run_number(tmp_path / "w1.db", table, list(range(RUNS))), table
    conn = sqlite3.connect(path)
    try:
        statuses = conn.execute("SELECT count(*), min(status), max(status) FROM runs").fetchone()
        assert statuses == (RUNS, "FINISHED", "FINISHED")
        tags = {name for name, in conn.execute("SELECT k.name FROM tags t JOIN key_names k ON k.id = t.key_id")}
        assert set(workers.SYSTEM_TAGS) <= tags
    finally:
        conn.close()


def _content_by_run_number(path: Path, table: str, numbers: list[int]) -> list[tuple]:
    """A table's rows without mlflow.* keys, with each run's position replaced by its W1 run number."""
    return sorted((numbers[row[0]], *row[1:]) for row in _content(path, table) if not str(row[1]).startswith("mlflow."))
