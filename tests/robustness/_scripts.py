"""Running small user scripts in real child processes, and reading the store they leave."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Make a script's logged values stay pending until something flushes them: the buffer's own
# timer and threshold must not be what makes them durable in these tests.
HOLD_BUFFER = "mlflow.get_client()._buffer._flush_seconds = 3600\n"


def script_env(store_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLTRACK_", "MLFLOW_"))}
    env["SQLTRACK_TRACKING_URI"] = str(store_path)
    return env


def start_script(code: str, store_path: Path) -> subprocess.Popen:
    """Start ``python -c code`` with the store as its tracking URI; stdout and stderr are pipes."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=script_env(store_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_script(code: str, store_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=script_env(store_path),
                          capture_output=True, text=True, timeout=timeout)


def read_run(store_path: Path, run_id: str, key: str = "m"):
    """(run, number of points of ``key``) as a fresh reader sees them."""
    from sqltrack import Client

    reader = Client(store_path, read_only=True)
    try:
        return reader.get_run(run_id), len(reader.get_metric_history(run_id, key))
    finally:
        reader.close()


def run_cli(store: Path | str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m sqltrack --store STORE args…`` in a child process."""
    done = subprocess.run([sys.executable, "-m", "sqltrack", "--store", str(store), *args],
                          capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"sqltrack {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done
