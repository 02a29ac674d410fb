"""Fixtures for the mlruns tests: trees and databases written by real MLflow, in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "seed-mlruns"
TOOL = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow_tool.py"


def _need_mlflow() -> None:
    pytest.importorskip("mlflow", reason="real MLflow (pip install mlflow-skinny==3.17.2, in the 'test' extra) "
                                         "writes and reads the trees these tests compare against")


def run_tool(*args: str, cwd: Path) -> str:
    """Run tests/fixtures/mlflow_tool.py in a subprocess (file stores allowed); returns stdout."""
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet",
           "MLFLOW_TRACKING_URI": "", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}
    env.pop("MLFLOW_TRACKING_URI")
    done = subprocess.run([sys.executable, str(TOOL), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mlflow_tool {args[0]} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def mlflow_dump(uri: str, cwd: Path) -> dict:
    """What MLflow's own API reports for a tracking URI (a file: tree or a database)."""
    out = cwd / f"dump-{abs(hash(uri))}.json"
    run_tool("dump", uri, str(out), cwd=cwd)
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_root() -> Path:
    if not SEED.is_dir():
        pytest.skip(f"the seed fixture {SEED} is not here")
    return SEED


@pytest.fixture(scope="session")
def mlflow_tree(tmp_path_factory) -> tuple[Path, dict]:
    """(an mlruns tree written by MLflow, what MLflow reports for it)."""
    _need_mlflow()
    base = tmp_path_factory.mktemp("mlflow-tree")
    tree = base / "mlruns"
    run_tool("write", tree.as_uri(), cwd=base)
    return tree, mlflow_dump(tree.as_uri(), base)


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory) -> tuple[str, dict]:
    """(the URL of an MLflow SQLite database written by MLflow, what MLflow reports for it)."""
    _need_mlflow()
    base = tmp_path_factory.mktemp("mlflow-db")
    url = f"sqlite:///{base / 'mlflow.db'}"
    run_tool("write", url, cwd=base)
    return url, mlflow_dump(url, base)


@pytest.fixture
def tree_copy(tmp_path, mlflow_tree) -> Path:
    """A private, writable copy of the MLflow-written tree."""
    target = tmp_path / "mlruns"
    shutil.copytree(mlflow_tree[0], target, symlinks=True)
    return target


@pytest.fixture
def seed_copy(tmp_path, seed_root) -> Path:
    """A private, writable copy of the seed fixture."""
    target = tmp_path / "seed"
    shutil.copytree(seed_root, target)
    for folder, _dirs, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return target
