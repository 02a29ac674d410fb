"""Importing into a store whose artifact root is an fsspec URL is refused clearly, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqltrack import Client, import_mlruns
from sqltrack.errors import ImportFailure

SEED = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "seed-mlruns"


def test_url_artifact_root_is_refused(tmp_path):
    if not SEED.is_dir():
        pytest.skip(f"the seed fixture {SEED} is not here")
    client = Client(tmp_path / "s.db", artifact_root="memory://sqltrack-import-test")
    with pytest.raises(ImportFailure, match="sqltrack copy"):
        import_mlruns(SEED, client)
    assert client.search_runs(None, max_results=None) == []
    client.close()
