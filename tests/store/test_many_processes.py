"""A sweep of 8 worker processes logging into one new store file: no errors, no lost rows."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys

from sqlalchemy import func, select

from sqltrack import Client
from sqltrack.store.schema import metrics, params, runs

WORKERS = 8
RUNS_PER_WORKER = 5
STEPS = 200


def _worker(path: str, worker: int, errors) -> None:
    import sqltrack as mlflow

    try:
        mlflow.set_tracking_uri(path)  # the very first open creates the schema, from 8 processes at once
        mlflow.set_experiment("sweep")
        for index in range(RUNS_PER_WORKER):
            with mlflow.start_run(run_name=f"w{worker}-{index}"):
                mlflow.log_params({"worker": worker, "index": index, "lr": 10 ** -index})
                for step in range(STEPS):
                    mlflow.log_metrics({"loss": 1 / (step + 1), "acc": step / STEPS}, step=step)
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        errors.put(f"worker {worker}: {type(error).__name__}: {error}")


def test_eight_processes_one_file(store_path):
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(store_path), w, errors)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert all(proc.exitcode == 0 for proc in procs)
    client = Client(store_path)
    count = lambda table: client.store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar())  # noqa: E731
    assert count(runs) == WORKERS * RUNS_PER_WORKER
    assert count(params) == WORKERS * RUNS_PER_WORKER * 3
    assert count(metrics) == WORKERS * RUNS_PER_WORKER * STEPS * 2
    assert len(client.search_experiments()) == 2  # Default and one "sweep", not eight
    statuses = {r.info.status for r in client.search_runs(None, max_results=None)}
    assert statuses == {"FINISHED"}
    client.close()


def _open_when_told(path: str, go: int) -> int:
    """In a forked child: wait for the go byte, open the store, return an exit status."""
    os.read(go, 1)
    try:
        Client(path).close()
        return 0
    except Exception as error:  # noqa: BLE001 - reported through the exit status and stderr
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1


def test_processes_opening_one_new_store_at_the_same_moment(tmp_path):
    """Forked processes open a brand-new file within microseconds of each other: SQLite refuses
    all but one switch to WAL at once (no busy wait), and the refused ones must try again."""
    for round_ in range(20):
        path = str(tmp_path / f"new{round_}.db")
        go_read, go_write = os.pipe()
        pids = []
        for _ in range(WORKERS):
            pid = os.fork()
            if pid == 0:
                os.close(go_write)
                os._exit(_open_when_told(path, go_read))
            pids.append(pid)
        os.close(go_read)
        os.write(go_write, b"x" * WORKERS)
        os.close(go_write)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        assert statuses == [0] * WORKERS, f"round {round_}: {statuses}"
