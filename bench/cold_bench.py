"""W6: cold start, each repetition a fresh process (wall time from spawn to exit)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import stores
from .common import Case, Sample

FIRST_RUN_SQLTRACK = """
import sys
import sqltrack as mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
"""
FIRST_RUN_MLFLOW = """
import sys
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
"""
FIRST_RUN_RAW = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE runs(id INTEGER PRIMARY KEY, uuid TEXT, start INTEGER)")
db.execute("CREATE TABLE m(run INTEGER, key TEXT, step INTEGER, ts INTEGER, value REAL,"
           " PRIMARY KEY(run, key, step, ts)) WITHOUT ROWID")
db.execute("INSERT INTO runs VALUES (1, 'x', ?)", (int(time.time() * 1000),))
db.execute("INSERT INTO m VALUES (1, 'm', 0, ?, 1.0)", (int(time.time() * 1000),))
db.close()
"""
LIST_RAW = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT run_uuid, name, status, start_time, end_time FROM runs"
                  " WHERE lifecycle_stage = 'active' ORDER BY start_time DESC, run_uuid LIMIT 50").fetchall()
print("\\n".join(map(str, rows)))
"""


def _wall(argv: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {done.stderr[-2000:]}")
    return elapsed


def _with_new_store(argv: list[str], tmp: str, env: dict | None = None) -> float:
    """Wall time of ``argv`` given the path of a store that does not exist yet."""
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        return _wall(argv + [str(Path(folder) / "store.db")], env)


def compile_bytecode(folder: Path | None = None) -> Path:
    """Compile sqltrack's modules (``folder``: the imported package's) into their ``__pycache__``, as
    ``pip install`` does; returns the folder.

    Run from a checkout (editable install, or ``PYTHONPATH``) where ``PYTHONDONTWRITEBYTECODE``
    is set, as on the machines this suite runs on, every fresh process would otherwise compile
    sqltrack from source, while MLflow's venv was compiled by pip: W6 would time the compiler.
    """
    if folder is None:
        import sqltrack

        folder = Path(sqltrack.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True, stdout=subprocess.DEVNULL)
    return folder


def _cli() -> list[str]:
    script = shutil.which("sqltrack")
    return [script] if script else [sys.executable, "-m", "sqltrack"]


def run_w6(cfg, mlflow_python: str | None) -> list[Case]:
    py, reps = sys.executable, cfg.reps
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "GIT_PYTHON_REFRESH": "quiet"}
    compile_bytecode()
    for argv in ([py, "-c", "pass"], [py, "-c", "import sqltrack"]):  # warm the OS file cache
        _wall(argv)
    bare, imp, floor, ml_bare, ml_imp = [], [], [], [], []
    for _ in range(reps):  # interleaved
        bare.append(_wall([py, "-c", "pass"]))
        imp.append(_wall([py, "-c", "import sqltrack"]))
        floor.append(_wall([py, "-c", "import sqlalchemy"]))
        if mlflow_python:
            ml_bare.append(_wall([mlflow_python, "-c", "pass"]))
            ml_imp.append(_wall([mlflow_python, "-c", "import mlflow"], env))
    extra = [b - a for a, b in zip(bare, imp, strict=True)]
    ml_extra = [b - a for a, b in zip(ml_bare, ml_imp, strict=True)]
    cases = [Case("W6", "import sqltrack / import mlflow, over bare Python", Sample(extra, "s", "fresh process"),
                  Sample(ml_extra, "s", "fresh process") if ml_extra else None, None, target="<= 60 ms",
                  notes=[f"bare python -c pass: {statistics.median(bare) * 1000:.0f} ms median"])]
    cases[0].met = cases[0].sqltrack.median <= 0.060
    first, raw, paired = _first_runs(py, cfg.tmp, cfg.cold_reps)
    ml = [_with_new_store([mlflow_python, "-c", FIRST_RUN_MLFLOW], cfg.tmp, env) for _ in range(reps + 1)][1:] \
        if mlflow_python else None
    case = Case("W6", "fresh process: import, new store, one run with one metric, exit",
                Sample(first, "s", "new store"), Sample(ml, "s", "new store") if ml else None,
                Sample(raw, "s", "new store", "sqlite3: 2 tables, 2 rows"), target="<= 0.3 s wall")
    case.met = case.sqltrack.median <= 0.3
    case.notes.append(_floor_note(bare, floor))
    cases.append(case)
    cases.append(Case("W6", "same, minus `python -c 'import sqlalchemy'` timed right before it (sqltrack's own part)",
                      Sample(paired, "s", "new store"),
                      notes=[f"{cfg.cold_reps} pairs; the floor varies with the machine, this part with sqltrack"]))
    try:
        cases.append(_runs_list(cfg, mlflow_python, env))
        cases[-1].notes.append(_floor_note(bare, floor))
    except (RuntimeError, OSError) as error:
        cases.append(Case("W6", "`sqltrack runs list` (CLI, fresh process)", notes=[f"failed: {error}"[:800]]))
    return cases


def _first_runs(py: str, tmp: str, reps: int) -> tuple[list[float], list[float], list[float]]:
    """W6's first run, raw sqlite3's, and the first run minus ``import sqlalchemy`` timed just before it.

    Interleaved repetition by repetition (after one unkept round), so that all three meet the
    same machine: a shared VM's speed drifts over the minutes a suite takes.
    """
    first, raw, paired = [], [], []
    for rep in range(reps + 1):
        floor = _wall([py, "-c", "import sqlalchemy"])
        mine = _with_new_store([py, "-c", FIRST_RUN_SQLTRACK], tmp)
        theirs = _with_new_store([py, "-c", FIRST_RUN_RAW], tmp)
        if rep:
            first.append(mine), raw.append(theirs), paired.append(mine - floor)
    return first, raw, paired


def _floor_note(bare: list[float], floor: list[float]) -> str:
    """What a fresh process pays before any store opens: the store is SQLAlchemy Core, on every backend."""
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    return (f"floor: `python -c 'import sqlalchemy'` {ms(floor):.0f} ms median "
            f"({ms(floor) - ms(bare):.0f} ms over bare Python's {ms(bare):.0f} ms)")


def _runs_list(cfg, mlflow_python: str | None, env: dict) -> Case:
    py, reps = sys.executable, cfg.reps
    path, eid = stores.sqltrack_search_store(cfg.frame_runs, log=cfg.log)
    listing = [_wall(_cli() + ["--store", str(path), "runs", "list"]) for _ in range(reps + 1)][1:]
    raw_list = [_wall([py, "-c", LIST_RAW, str(path)]) for _ in range(reps + 1)][1:]
    ml_list = None
    if mlflow_python:
        from . import mlflow_env

        ml_path, ml_eid = stores.mlflow_search_store(cfg.mlflow_frame_runs, lambda c, a: mlflow_env.run(c, a),
                                                     log=cfg.log)
        ml_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{ml_path}"}
        mlflow_cli = [mlflow_python, "-m", "mlflow", "runs", "list", "--experiment-id", ml_eid]
        ml_list = [_wall(mlflow_cli, ml_env) for _ in range(reps + 1)][1:]
    case = Case("W6", "`sqltrack runs list` (CLI, fresh process) / `mlflow runs list`",
                Sample(listing, "s", f"{cfg.frame_runs:,}-run store"),
                Sample(ml_list, "s", f"{cfg.mlflow_frame_runs:,}-run store") if ml_list else None,
                Sample(raw_list, "s", f"{cfg.frame_runs:,}-run store", "python -c sqlite3 SELECT ... LIMIT 50"),
                target="<= 0.5 s wall at 10,000 runs")
    case.met = case.sqltrack.median <= 0.5 and cfg.frame_runs >= 10_000
    return case
