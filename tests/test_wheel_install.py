"""The built wheel carries the migrations: an installed sqltrack (not the checkout) creates and upgrades stores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "store" / "fixtures" / "migrations"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = _build_copy(tmp_path_factory.mktemp("source"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"could not build a wheel here (pip wheel failed: {proc.stderr.strip()[-300:]})")
    return next(out.glob("sqltrack-*.whl"))


def _build_copy(folder: Path) -> Path:
    """What the wheel is built from, copied: setuptools builds in the source's ``build/`` folder, which two
    pytest workers building at once would share (failing with 'File exists') and which would litter the checkout."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("sqltrack", "migrations"):
        shutil.copytree(ROOT / name, folder / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def test_wheel_contains_every_migration(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for script in (ROOT / "migrations" / "versions").glob("*.py"):
        assert f"sqltrack/_migrations/versions/{script.name}" in names
    assert "sqltrack/_migrations/env.py" in names


def test_installed_wheel_upgrades_fixture_stores(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    for fixture in sorted(FIXTURES.glob("*.db")):
        shutil.copy(fixture, tmp_path / fixture.name)
    code = (
        "import sys, pathlib, sqltrack\n"
        "from sqltrack.store.alembic_config import migrations_dir, head_revision\n"
        "assert 'site-packages' in sqltrack.__file__, sqltrack.__file__\n"
        "assert 'site-packages' in str(migrations_dir()), migrations_dir()\n"
        "for db in sorted(pathlib.Path(sys.argv[1]).glob('*.db')):\n"
        "    c = sqltrack.Client(db, artifact_root=db.with_suffix('.artifacts'))\n"
        "    assert [e.name for e in c.search_experiments() if e.name == 'fixture']\n"
        "    c.close()\n"
        "print(head_revision())\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the installed wheel may answer
    proc = subprocess.run([str(python), "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    from sqltrack.store.schema import SCHEMA_REVISION

    assert proc.stdout.strip() == SCHEMA_REVISION
