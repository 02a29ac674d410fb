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
