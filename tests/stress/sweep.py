"""Stress: a sweep of writer processes logging into one SQLite store while readers search it.

Each writer process creates ``runs`` runs the way MLflow code does (``import sqltrack as
mlflow``): ``log_params`` (20 params), ``set_tags`` (10 tags), ``log_metrics`` of 5 metrics
per step for ``steps`` steps, one artifact (``log_text``), then the run ends. Reader
processes meanwhile search the store in a loop (filters, ordering, paging, read-only and
read-write clients) and check that every result is a state some sequence of whole calls
could have produced: a run has all 20 params or none, all 10 tags or none, its 5 metrics at
the same latest step (``log_metrics`` is one call), and a FINISHED run has everything.

At the end the parent counts every row: no run, param, tag, point or artifact lost or
duplicated, and the history aggregates are exact. Any exception in any process (a
"database is locked" above all) is an error.

Usage (the full size of issue 6 is the default):
    python tests/stress/sweep.py [--workers 8] [--runs 25] [--steps 500] [--readers 2] [--store PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

PARAMS = 20
TAGS = 10
METRICS = 5
EXPERIMENT = "stress-sweep"


@dataclass
class SweepResult:
    """What a sweep did and found."""

    workers: int
    runs_per_worker: int
    steps: int
    readers: int
    seconds: float = 0.0
    points: int = 0
    searches: int = 0
    runs_seen: int = 0
    errors: list[str] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)
    count_problems: list[str] = field(default_factory=list)

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0

    @property
    def locked_errors(self) -> int:
        return sum("database is locked" in e.lower() or "locked" in e.lower() for e in self.errors)

    def summary(self) -> str:
        return (f"{self.workers} writers x {self.runs_per_worker} runs x {METRICS} metrics x {self.steps} steps "
                f"= {self.points:,} points (+{self.workers * self.runs_per_worker * (PARAMS + TAGS):,} params/tags, "
                f"{self.workers * self.runs_per_worker} artifacts) in {self.seconds:.1f} s: "
                f"{self.points_per_second:,.0f} points/s aggregate, with {self.readers} readers doing "
                f"{self.searches:,} searches ({self.runs_seen:,} runs checked); errors={len(self.errors)} "
                f"(locked={self.locked_errors}), inconsistent searches={len(self.inconsistencies)}, "
                f"count problems={len(self.count_problems)}")


def artifact_text(worker: int, index: int) -> str:
    return f"result of worker {worker}, run {index}\n" * (1 + index % 7)


def _writer(path: str, worker: int, runs: int, steps: int, pause: float, barrier, errors) -> None:
    try:
        import sqltrack as mlflow

        mlflow.set_tracking_uri(path)
        mlflow.set_experiment(EXPERIMENT)
        barrier.wait()
        for index in range(runs):
            with mlflow.start_run(run_name=f"w{worker}-r{index}"):
                mlflow.log_params({f"p{k:02d}": f"v{k}-{worker}-{index}" for k in range(PARAMS)})
                mlflow.set_tags({f"t{k:02d}": f"tag{k}" for k in range(TAGS)})
                for step in range(steps):
                    if pause:
                        time.sleep(pause)  # "training": the buffer's timer fires between and inside calls
                    mlflow.log_metrics({f"m{k}": float(step) for k in range(METRICS)}, step=step)
                mlflow.log_text(artifact_text(worker, index), "outputs/result.txt")
    except BaseException:  # noqa: BLE001 - every failure is reported to the parent
        errors.put(f"writer {worker}: {traceback.format_exc()}")


def check_run(run, steps: int) -> list[str]:
    """Problems with one run as a search returned it (empty when it is a consistent state)."""
    problems = []
    rid, data = run.info.run_id[:8], run.data
    params = [k for k in data.params if k.startswith("p")]
    tags = [k for k in data.tags if k.startswith("t") and len(k) == 3]
    metrics = {k: v for k, v in data.metrics.items() if k.startswith("m")}
    if len(params) not in (0, PARAMS):
        problems.append(f"run {rid}: {len(params)} of {PARAMS} params (log_params is one call)")
    if len(tags) not in (0, TAGS):
        problems.append(f"run {rid}: {len(tags)} of {TAGS} tags (set_tags is one call)")
    if metrics and (len(metrics) != METRICS or len(set(metrics.values())) != 1):
        problems.append(f"run {rid}: latest metrics {sorted(metrics.items())} (log_metrics is one call)")
    if run.info.status == "FINISHED":
        complete = len(params) == PARAMS and len(tags) == TAGS and metrics and set(metrics.values()) == {steps - 1}
        if not complete or run.info.end_time is None:
            problems.append(f"run {rid}: FINISHED but incomplete ({len(params)} params, {len(tags)} tags, "
                            f"metrics {metrics})")
    elif run.info.status != "RUNNING":
        problems.append(f"run {rid}: status {run.info.status}")
    return problems


_FILTERS = [
    ("", None),
    ("metrics.m0 >= 0", lambda r: "m0" in r.data.metrics),
    ("params.p00 LIKE 'v0-%' and attributes.status = 'RUNNING'", None),
    ("attributes.status = 'FINISHED'", lambda r: r.info.status == "FINISHED"),
    ("metrics.m4 > 10 or tags.t09 = 'tag9'", None),
]
_ORDERS = [None, ["metrics.m0 DESC"], ["attributes.start_time ASC"], ["params.p03 ASC", "metrics.m2 DESC"]]


def _reader(path: str, reader: int, steps: int, barrier, stop, errors, counts) -> None:
    problems: list[str] = []
    try:
        from sqltrack import Client

        client = Client(path, read_only=reader % 2 == 0)
        eid = None
        barrier.wait()
        searches = seen = 0
        while True:
            finished = stop.is_set()  # one more full pass after the writers are done
            if eid is None:
                experiment = client.get_experiment_by_name(EXPERIMENT)
                eid = experiment.experiment_id if experiment else None
            if eid is not None:
                for number, (text, must_hold) in enumerate(_FILTERS):
                    order = _ORDERS[(searches + number) % len(_ORDERS)]
                    page_size = [None, 7, 1000][(searches + number) % 3]
                    found = _search_all_pages(client, eid, text, order, page_size)
                    searches += 1
                    seen += len(found)
                    for run in found:
                        for problem in check_run(run, steps):
                            problems.append(f"reader {reader}, filter {text!r}: {problem}")
                        if must_hold is not None and not must_hold(run):
                            problems.append(f"reader {reader}: run {run.info.run_id[:8]} does not match {text!r}")
            if finished:
                break
        counts.put((searches, seen, len(problems), problems[:50]))
        client.close()
    except BaseException:  # noqa: BLE001
        errors.put(f"reader {reader}: {traceback.format_exc()}")


def _search_all_pages(client, eid: str, text: str, order, page_size) -> list:
    found, token = [], None
    while True:
        page = client.search_runs([eid], text, max_results=page_size, order_by=order, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _join(procs, queues, received: list, timeout: float) -> None:
    """Wait for processes while emptying their queues (a child cannot exit with unsent queue data)."""
    deadline = time.monotonic() + timeout
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        for queue in queues:
            received.extend(_drain(queue, wait=0.05))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join()


def _drain(queue, wait: float = 0.2) -> list:
    items = []
    while True:
        try:
            items.append(queue.get(timeout=wait))
        except Exception:  # noqa: BLE001 - queue.Empty
            return items


def run_sweep(path: str | os.PathLike, workers: int = 8, runs: int = 25, steps: int = 500,
              readers: int = 2, pause: float = 0.0, timeout: float = 3600) -> SweepResult:
    """Run the sweep on a new store at ``path`` and check it; returns the figures and every problem."""
    from sqltrack import Client

    path = str(path)
    Client(path).close()  # the store exists before anyone browses it
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + readers + 1)
    stop, errors, counts = ctx.Event(), ctx.Queue(), ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(path, w, runs, steps, pause, barrier, errors)) for w in range(workers)]
    browsers = [ctx.Process(target=_reader, args=(path, r, steps, barrier, stop, errors, counts))
                for r in range(readers)]
    for proc in writers + browsers:
        proc.start()
    result = SweepResult(workers, runs, steps, readers)
    barrier.wait(timeout=300)
    start = time.perf_counter()
    received: list = []
    _join(writers, [errors], received, timeout)
    result.seconds = time.perf_counter() - start
    stop.set()
    _join(browsers, [errors, counts], received, timeout)
    for proc in writers + browsers:
        if proc.exitcode != 0:
            result.errors.append(f"process {proc.name} exited with {proc.exitcode}")
    for item in received + _drain(errors) + _drain(counts):
        if isinstance(item, str):
            result.errors.append(item)
            continue
        searches, seen, problem_count, sample = item
        result.searches += searches
        result.runs_seen += seen
        result.inconsistencies.extend(sample)
        result.inconsistencies.extend([""] * (problem_count - len(sample)))  # counted, not all shown
    result.points = workers * runs * steps * METRICS
    result.count_problems = count_rows(path, workers, runs, steps)
    return result


def count_rows(path: str, workers: int, runs: int, steps: int) -> list[str]:
    """Every expected row is there exactly once; returns the differences."""
    import sqlite3

    problems = []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    one = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731
    total = workers * runs
    checks = {
        "runs": (one("SELECT count(*) FROM runs"), total),
        "distinct run names": (one("SELECT count(DISTINCT name) FROM runs"), total),
        "FINISHED runs": (one("SELECT count(*) FROM runs WHERE status = 'FINISHED' AND end_time IS NOT NULL"), total),
        "params": (one("SELECT count(*) FROM params"), total * PARAMS),
        "user tags": (one("SELECT count(*) FROM tags JOIN key_names k ON k.id = tags.key_id "
                          "WHERE k.name GLOB 't[0-9][0-9]'"), total * TAGS),
        "metric points": (one("SELECT count(*) FROM metrics"), total * METRICS * steps),
        "latest_metrics rows": (one("SELECT count(*) FROM latest_metrics"), total * METRICS),
        "exact aggregates": (one("SELECT count(*) FROM latest_metrics WHERE count = ? AND step = ? AND value = ? "
                                 "AND min_value = 0 AND max_value = ? AND sum_value = ? AND nan_count = 0",
                                 steps, steps - 1, float(steps - 1), float(steps - 1), steps * (steps - 1) / 2),
                             total * METRICS),
        "artifacts": (one("SELECT count(*) FROM artifacts WHERE path = 'outputs/result.txt'"), total),
        "integrity_check": (one("PRAGMA integrity_check"), "ok"),
    }
    db.close()
    for name, (got, want) in checks.items():
        if got != want:
            problems.append(f"{name}: {got}, expected {want}")
    problems.extend(_check_artifacts(path, workers, runs))
    return problems


def _check_artifacts(path: str, workers: int, runs: int) -> list[str]:
    from sqltrack import Client

    client = Client(path, read_only=True)
    problems = []
    try:
        for run in client.search_runs(None, "", max_results=None):
            worker, index = (int(x[1:]) for x in run.info.run_name.split("-"))
            if client.load_text(run.info.run_id, "outputs/result.txt") != artifact_text(worker, index):
                problems.append(f"run {run.info.run_name}: wrong artifact")
    finally:
        client.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds of 'training' before each step")
    parser.add_argument("--store", help="SQLite file to create (default: a temporary folder)")
    args = parser.parse_args(argv)
    folder = None if args.store else tempfile.TemporaryDirectory(prefix="sqltrack-sweep-")
    path = Path(args.store) if args.store else Path(folder.name) / "sweep.db"
    result = run_sweep(path, args.workers, args.runs, args.steps, args.readers, args.pause)
    print(result.summary())
    for line in result.errors + [i for i in result.inconsistencies if i][:20] + result.count_problems:
        print("  " + line.rstrip().replace("\n", "\n  "))
    ok = not (result.errors or result.inconsistencies or result.count_problems)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
