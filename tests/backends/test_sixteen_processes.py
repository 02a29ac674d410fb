"""16 processes of a sweep logging at once into one PostgreSQL / MariaDB store: zero errors, zero lost rows.

Every worker starts at the same moment (a barrier) on an *empty* database, so the schema
is created, the experiment and the key names made by 16 processes at once. Transient
failures (deadlocks, serialisation failures, lock timeouts) may happen; each must be
retried as a whole unit of work, so none surfaces and no row is lost or doubled. The
parent samples the server's connection count meanwhile: the default pool settings must
keep 16 processes well under the server's ``max_connections``. Run with ``-s`` to see the
figures (also recorded as test properties).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from sqltrack import Client
from sqltrack.config import pool_settings
from sqltrack.store.schema import artifacts, latest_metrics, metrics, params, runs, tags
from sqltrack.testing import admin_url

pytestmark = [pytest.mark.servers_only, pytest.mark.slow]

WORKERS = 16
RUNS_PER_WORKER = 4
STEPS = 250
METRIC_KEYS = ("loss", "acc", "lr")


def _count_transient_errors(counter: list[int]) -> None:
    """Count the transient errors the drivers raise in this process (each is retried by the store)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from sqltrack.store.retry import is_transient

    @event.listens_for(Engine, "handle_error")
    def _seen(context) -> None:
        if is_transient(context.sqlalchemy_exception):
            counter[0] += 1


def _worker(url: str, artifact_root: str, worker: int, barrier, results) -> None:
    import os

    os.environ["SQLTRACK_ARTIFACT_ROOT"] = artifact_root
    retried = [0]
    _count_transient_errors(retried)
    try:
        import sqltrack as mlflow

        barrier.wait(timeout=120)
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("sweep")  # opens the store: schema and experiment created by 16 processes at once
        for index in range(RUNS_PER_WORKER):
            with mlflow.start_run(run_name=f"w{worker}-{index}"):
                mlflow.log_params({"worker": worker, "index": index, "lr": 10 ** -index, "opt": "adam"})
                mlflow.set_tag("team", f"t{worker % 4}")
                for step in range(STEPS):
                    mlflow.log_metrics({"loss": 1 / (step + 1), "acc": step / STEPS, "lr": 0.1 * 0.99 ** step},
                                       step=step)
                mlflow.log_text(f"worker {worker} run {index}", "notes.txt")
        results.put(("ok", worker, retried[0]))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        results.put(("error", worker, f"{type(error).__name__}: {error}"))


class _ConnectionSampler(threading.Thread):
    """Samples the server's open connections every 50 ms; ``peak`` is the most seen."""

    def __init__(self, backend: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(admin_url(backend), poolclass=NullPool)
        self.query = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                      if backend == "postgresql" else "SELECT COUNT(*) FROM information_schema.processlist")
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                self.peak = max(self.peak, conn.execute(text(self.query)).scalar() - 1)
                conn.rollback()
                time.sleep(0.05)

    def finish(self) -> int:
        self.stop.set()
        self.join(timeout=10)
        self.engine.dispose()
        return self.peak


def _server_facts(backend: str) -> tuple[int, int]:
    """(max_connections, deadlocks so far) of the server."""
    engine = create_engine(admin_url(backend), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                limit = int(conn.execute(text("SHOW max_connections")).scalar())
                deadlocks = conn.execute(text("SELECT COALESCE(sum(deadlocks), 0) FROM pg_stat_database")).scalar()
            else:
                limit = int(conn.execute(text("SELECT @@max_connections")).scalar())
                deadlocks = conn.execute(text("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")).one()[1]
            return limit, int(deadlocks)
    finally:
        engine.dispose()


def test_sixteen_processes_log_at_once(store_url, store_backend, tmp_path, record_property):
    limit, deadlocks_before = _server_facts(store_backend)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    root = str(tmp_path / "artifacts")
    procs = [ctx.Process(target=_worker, args=(store_url, root, w, barrier, results)) for w in range(WORKERS)]
    sampler = _ConnectionSampler(store_backend)
    sampler.start()
    for proc in procs:
        proc.start()
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=60)
    peak = sampler.finish()
    _, deadlocks_after = _server_facts(store_backend)

    errors = [o for o in outcomes if o[0] == "error"]
    retried = sum(o[2] for o in outcomes if o[0] == "ok")
    total_runs = WORKERS * RUNS_PER_WORKER
    client = Client(store_url, artifact_root=root)
    count = lambda table: client.store.read(  # noqa: E731
        lambda c: c.execute(select(func.count()).select_from(table)).scalar())
    counts = {t.name: count(t) for t in (runs, params, tags, metrics, latest_metrics, artifacts)}
    figures = {"backend": store_backend, "workers": WORKERS, "seconds": round(elapsed, 1),
               "metric_points": counts["metrics"], "points_per_second": round(counts["metrics"] / elapsed),
               "errors": len(errors), "retried_transient_errors": retried,
               "server_deadlocks": deadlocks_after - deadlocks_before,
               "peak_connections": peak, "max_connections": limit}
    for key, value in figures.items():
        record_property(key, value)
    print(f"\n16 processes on {store_backend}: {figures}")

    assert errors == [] and [p.exitcode for p in procs] == [0] * WORKERS
    tags_per_run = len(client.search_runs(None, max_results=1)[0].data.tags)  # 'team' and the mlflow.* tags
    assert counts == {"runs": total_runs, "params": total_runs * 4, "tags": total_runs * tags_per_run,
                      "metrics": total_runs * STEPS * len(METRIC_KEYS),
                      "latest_metrics": total_runs * len(METRIC_KEYS), "artifacts": total_runs}
    assert [e.name for e in client.search_experiments(order_by=["name"])] == ["Default", "sweep"]
    found = client.search_runs(None, "params.opt = 'adam'", max_results=None)
    assert len(found) == total_runs and {r.info.status for r in found} == {"FINISHED"}
    assert all(r.data.metrics["loss"] == 1 / STEPS and r.data.metrics["acc"] == (STEPS - 1) / STEPS for r in found)
    assert client.load_text(found[0].info.run_id, "notes.txt").startswith("worker ")
    pool = pool_settings()
    assert peak <= WORKERS * (pool.size + pool.max_overflow) < limit
    client.close()

