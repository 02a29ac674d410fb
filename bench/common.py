"""Shared pieces of the benchmark suite: timing, results, machine facts, the data every side logs.

The data of each workload is generated here, deterministically, so that sqltrack, MLflow
(``mlflow_side.py``, run in MLflow's own interpreter; it imports this module too, so keep
it free of sqltrack and third-party imports) and raw ``sqlite3`` log exactly the same values.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"

# W1/W2 shape: each run has 10 params, 10 tags, 10 metrics x 50 steps (520 values)
PARAMS, TAGS, METRICS, STEPS = 10, 10, 10, 50
PER_RUN = PARAMS + TAGS + METRICS * STEPS
BASE_TIME = 1_700_000_000_000

# W3/W4 shape: 20 params, 10 metrics x 10 steps, 5 tags (mlflow.runName + 4)
SEARCH_PARAMS, SEARCH_METRICS, SEARCH_STEPS, SEARCH_TAGS = 20, 10, 10, 4
OPTIMIZERS = ["adam", "sgd", "rmsprop", "adagrad", "lion"]
LRS = ["0.1", "0.03", "0.01", "0.003", "0.001", "0.0003", "0.0001", "3e-05", "1e-05", "3e-06"]


# ----- the data -----------------------------------------------------------------------------
def run_values(run: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, float, int, int]]]:
    """(params, tags, metrics as (key, value, timestamp, step)) of run number ``run`` in W1/W2/W9."""
    params = [(f"p{p}", str(p * 7 + run)) for p in range(PARAMS)]
    tags = [(f"t{t}", f"tag-{t}-{run % 13}") for t in range(TAGS)]
    metrics = [(f"m{m}", 1.0 / (step + 1) + m * 0.25 + run * 1e-6, BASE_TIME + step, step)
               for step in range(STEPS) for m in range(METRICS)]
    return params, tags, metrics


@dataclass
class SearchRun:
    """One run of the W3/W4 search store."""

    number: int
    uuid: str
    start_time: int
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, list[float]]  # key -> value per step (step = index, timestamp = start + step)


def search_runs_data(n_runs: int, seed: int = 5):
    """The runs of the search store, generated lazily (same on every side for the same n_runs)."""
    rnd = random.Random(seed)
    for i in range(1, n_runs + 1):
        params = {"p0": rnd.choice(OPTIMIZERS), "p1": rnd.choice(LRS)}
        params.update({f"p{p}": str(rnd.randrange(1000)) for p in range(2, SEARCH_PARAMS)})
        tags = {"mlflow.runName": f"run-{i}"}
        tags.update({f"t{t}": f"team-{rnd.randrange(50)}" for t in range(SEARCH_TAGS)})
        metrics = {f"m{m}": [rnd.random() for _ in range(SEARCH_STEPS)] for m in range(SEARCH_METRICS)}
        yield SearchRun(i, f"{rnd.getrandbits(128):032x}", BASE_TIME + i * 1000, params, tags, metrics)


#: The W3 queries: name -> (filter, order_by, max_results); None filter parts are sqltrack-only.
SEARCHES = {
    "selective": ("params.p0 = 'lion' AND metrics.m1 > 0.99", ["metrics.m1 DESC"], 100),
    "or": ("params.p2 = '42' OR metrics.m3 > 0.999", [], 100),
    "aggregate": ("min(metrics.m0) < 0.1", [], 100),
    "match_all_1000": ("", [], 1000),
}
MLFLOW_SEARCHES = ("selective", "match_all_1000")  # MLflow 3.17.2 rejects OR and min(...) in filters


# ----- timing and results ----------------------------------------------------------------------
@dataclass
class Sample:
    """Repeated measurements of one case on one side."""

    values: list[float]
    unit: str  # "s" (lower is better) or "points/s" (higher is better) or "bytes/point" or "errors"
    size: str = ""
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(median=self.median, min=min(self.values), max=max(self.values), reps=len(self.values))
        return data


@dataclass
class Case:
    """One row of the results table: a workload case on up to three sides, with its target."""

    workload: str
    name: str
    sqltrack: Sample | None = None
    mlflow: Sample | None = None
    raw: Sample | None = None
    target: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    def speedup_vs(self, other: Sample | None) -> float | None:
        """How many times better sqltrack is than ``other`` (throughput ratio, or time ratio inverted)."""
        mine = self.sqltrack
        if mine is None or other is None or not other.values or mine.unit != other.unit:
            return None
        if mine.unit in ("points/s",):
            return mine.median / other.median
        if min(mine.values) <= 0:  # an "over bare Python" time within noise of zero: no meaningful ratio
            return None
        return other.median / mine.median

    def to_json(self) -> dict:
        return {"workload": self.workload, "case": self.name, "target": self.target, "met": self.met,
                "notes": self.notes,
                **{side: (getattr(self, side).to_json() if getattr(self, side) else None)
                   for side in ("sqltrack", "mlflow", "raw")},
                "speedup_vs_mlflow": self.speedup_vs(self.mlflow), "fraction_of_raw": self.speedup_vs(self.raw)}


def timed(call: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def repeat(call: Callable[[], float], reps: int, warmup: int = 0) -> list[float]:
    """Run ``call`` (which returns its own measurement) warmup + reps times; keep the last reps."""
    for _ in range(warmup):
        call()
    return [call() for _ in range(reps)]


def machine() -> dict:
    """Cores, CPU model, Python and SQLite versions, OS."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cores": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(), "load_at_start": load}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))


def checkpoint(path: Path) -> None:
    """Fold a SQLite file's WAL back into it, so its size on disk is the data's."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
