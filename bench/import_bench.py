"""W8: import of an mlruns tree. The importer and its benchmark (bench/bench_import.py) belong to
another engineer; this suite only runs that script when it exists and reports what it measured.

bench_import.py is run as ``--runs N --large 0 --reps R`` (plus ``--no-mlflow`` when MLflow is
not measured); its raw numbers are read from the ``bench/results/import-*.json`` it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys

from . import common
from .common import Case, Sample

SCRIPT = common.BENCH_DIR / "bench_import.py"
SIDES = {"sqltrack": "sqltrack (API)", "mlflow": "mlflow migrate-filestore", "raw": "plain read"}


def run_w8(cfg, with_mlflow: bool) -> list[Case]:
    name = f"import of a {cfg.import_runs:,}-run mlruns tree (bench/bench_import.py)"
    if not SCRIPT.exists():
        return [Case("W8", name, notes=["skipped: bench/bench_import.py (owned by the importer's engineer) "
                                        "does not exist yet"])]
    before = set(common.RESULTS_DIR.glob("import-*.json"))
    argv = [sys.executable, str(SCRIPT), "--runs", str(cfg.import_runs), "--large", "0", "--reps", str(cfg.reps)]
    if not with_mlflow:
        argv.append("--no-mlflow")
    done = subprocess.run(argv, capture_output=True, text=True, cwd=common.REPO_DIR, timeout=3600)
    if done.returncode != 0:
        return [Case("W8", name, notes=[f"bench_import.py failed: {done.stderr[-800:]}"])]
    written = sorted(set(common.RESULTS_DIR.glob("import-*.json")) - before)
    if not written:
        return [Case("W8", name, notes=["bench_import.py wrote no results file"])]
    raw_s = json.loads(written[-1].read_text())["raw_s"]
    times = next(iter(raw_s.values()))
    size = f"{cfg.import_runs:,} runs"
    samples = {side: Sample(times[label], "s", size) if label in times else None for side, label in SIDES.items()}
    case = Case("W8", name, samples["sqltrack"], samples["mlflow"], samples["raw"], target=TARGET,
                notes=["raw = reading every file of the tree in Python (no database); "
                       "MLflow = `mlflow migrate-filestore` into a new SQLite store"])
    case.met = judge(case)
    return [case]


TARGET = ">= 5x MLflow, <= 2x the plain read"


def judge(case: Case) -> bool | None:
    """Issue 5's W8 target on medians; None when a side it compares against was not measured."""
    if case.sqltrack is None or case.raw is None or case.mlflow is None:
        return None
    return case.speedup_vs(case.mlflow) >= 5 and case.sqltrack.median <= 2 * case.raw.median
