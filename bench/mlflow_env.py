"""MLflow's own virtual environment (bench/.venv-mlflow), created on first use.

The project never imports MLflow: its side of the suite runs as subprocess scripts in
this interpreter (``mlflow_side.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .common import BENCH_DIR

VENV = BENCH_DIR / ".venv-mlflow"
REQUIREMENTS = BENCH_DIR / "requirements-mlflow.txt"
SIDE_SCRIPT = BENCH_DIR / "mlflow_side.py"


def python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure(log=print) -> Path:
    """The venv's interpreter, creating the venv and installing the pinned MLflow when needed."""
    interpreter = python()
    stamp = VENV / ".installed"
    wanted = REQUIREMENTS.read_text()
    if interpreter.exists() and stamp.exists() and stamp.read_text() == wanted:
        return interpreter
    log(f"creating {VENV} with {wanted.strip()} (once; a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(interpreter), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True,
                   stdout=subprocess.DEVNULL)
    stamp.write_text(wanted)
    return interpreter


def version() -> str:
    out = subprocess.run([str(python()), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run(command: str, args: dict, timeout: float = 1800) -> dict:
    """Run one command of mlflow_side.py in MLflow's interpreter; its JSON answer."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}
    done = subprocess.run([str(python()), str(SIDE_SCRIPT), command, json.dumps(args)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"mlflow_side.py {command} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
