"""Logging new points must not re-read a run's history, on any backend.

``dialect.insert_ignore_rows`` returns how many rows were new on every backend (SQLite and
MySQL by row count, PostgreSQL by ``RETURNING``). The write path only needs to recount a
key from its history when some points of a batch were already stored; on the servers it
still treats every batch that way (``batch._insert_points`` returns -1 there), so a batch
costs time proportional to the history: measured with 1,000-point batches, the 100th
took ~1.0 s on PostgreSQL and ~1.7 s on MariaDB against ~0.1 s with the count used.
"""

from __future__ import annotations

from sqlalchemy import event

from sqltrack import Metric
from sqltrack.store.dialect import insert_ignore_rows
from sqltrack.store.schema import key_names


def test_insert_ignore_counts_new_rows_exactly(client):
    def unit(conn):
        first = insert_ignore_rows(conn, key_names, [(f"k{i}",) for i in range(2500)], columns=["name"])
        second = insert_ignore_rows(conn, key_names, [(f"k{i}",) for i in range(2000, 5100)], columns=["name"])
        return first, second, insert_ignore_rows(conn, key_names, [], columns=["name"])

    assert client.store.write(unit) == (2500, 2600, 0)


def test_new_points_do_not_reread_the_history(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (s + 1), 1, s) for s in range(100)])
    history_reads = []

    @event.listens_for(client.store.engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " metrics" in statement.replace("latest_metrics", ""):
            history_reads.append(statement)

    client.log_batch(run_id, metrics=[Metric("loss", 0.5, 2, s) for s in range(100, 200)])
    event.remove(client.store.engine, "before_cursor_execute", _seen)
    assert history_reads == []
    assert len(client.get_metric_history(run_id, "loss")) == 200
