"""bench/cold_bench.py: W6 times sqltrack from compiled bytecode, as a pip-installed package runs.

The numbers themselves are not tested; what is timed is.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_w6_compiles_sqltrack_before_timing_fresh_processes(tmp_path):
    shutil.copytree(REPO / "sqltrack", tmp_path / "sqltrack", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from bench.cold_bench import "
                    "compile_bytecode; compile_bytecode(Path(sys.argv[1]))", str(tmp_path / "sqltrack")],
                   env=env, check=True, cwd=REPO)
    sources = list((tmp_path / "sqltrack").rglob("*.py"))
    missing = [p for p in sources if not Path(importlib.util.cache_from_source(str(p))).exists()]
    assert sources and not missing, missing


def test_w6_reports_the_sqlalchemy_import_floor_beside_the_cold_start_cases(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from bench import cold_bench, common
    from bench.__main__ import Config

    monkeypatch.setattr(common, "CACHE_DIR", tmp_path / "cache")
    cfg = Config(reps=1, cold_reps=2, frame_runs=50, tmp=str(tmp_path), log=lambda *_: None)
    cases = {case.name: case for case in cold_bench.run_w6(cfg, mlflow_python=None)}
    for name in ("fresh process: import, new store, one run with one metric, exit",
                 "`sqltrack runs list` (CLI, fresh process) / `mlflow runs list`"):
        floor = [note for note in cases[name].notes if note.startswith("floor: `python -c 'import sqlalchemy'`")]
        assert len(floor) == 1 and " ms over bare Python's " in floor[0], cases[name].notes


def test_a_time_within_noise_of_zero_gets_no_ratio(monkeypatch):
    """``import sqltrack`` over bare Python can measure below zero: the table says n/a, not "-1,645×"."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench.common import Case, Sample

    mlflow = Sample([1.68], "s")
    assert Case("W6", "import", Sample([-0.001], "s"), mlflow).speedup_vs(mlflow) is None
    assert Case("W6", "import", Sample([0.0], "s"), mlflow).speedup_vs(mlflow) is None
    # a positive median whose repetitions reach below zero is noise too (the table printed "1,211×")
    assert Case("W6", "import", Sample([-0.0002, 0.0011, 0.0017], "s"), mlflow).speedup_vs(mlflow) is None
    assert Case("W6", "import", Sample([0.002], "s"), mlflow).speedup_vs(mlflow) == 1.68 / 0.002


def test_w6_pairs_each_cold_start_with_the_floor_timed_just_before_it(tmp_path, monkeypatch):
    """The cold start, raw sqlite3's and the floor are interleaved, and sqltrack's own part is each
    cold start minus its own repetition's ``import sqlalchemy``: a drifting VM moves both alike."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench import cold_bench

    timed = []
    real_wall = cold_bench._wall

    def wall(argv, env=None):
        timed.append("floor" if argv[-1] == "import sqlalchemy" else "raw" if "sqlite3.connect" in argv[2] else "mine")
        return real_wall(argv, env)

    monkeypatch.setattr(cold_bench, "_wall", wall)
    first, raw, paired = cold_bench._first_runs(sys.executable, str(tmp_path), reps=3)
    assert timed == ["floor", "mine", "raw"] * 4  # one unkept round, then 3 kept
    assert len(first) == len(raw) == len(paired) == 3
    assert all(p < f for p, f in zip(paired, first, strict=True))  # minus a floor that takes time
