"""A full disk and read-only stores, on real (tmpfs) filesystems.

* Full disk: logging raises StoreFull (an OSError) naming the store and what to do; nothing is
  half-written; once space is back the same values can be logged and the store is sound.
* Read-only media or no write permission: the store can still be searched, shown, downloaded
  from and exported; logging raises StoreReadOnly (a PermissionError) saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from sqltrack import Client, Metric, Param
from sqltrack.errors import StoreFull, StoreReadOnly

from ._scripts import run_cli


def _integrity(path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _batch(start: int, size: int = 1000) -> list[Metric]:
    return [Metric("m", float(s), 1, s) for s in range(start, start + size)]


# ----- full disk ---------------------------------------------------------------------------------
def test_full_disk_refuses_a_batch_whole_and_recovers(tmpfs):
    mnt = tmpfs("4m")
    path = mnt.path / "full.db"
    client = Client(path)
    run_id = client.create_run("0").info.run_id
    mnt.fill()
    stored = 0
    with pytest.raises(StoreFull) as info:
        for _ in range(5000):  # the database grows until the disk refuses
            client.log_batch(run_id, metrics=_batch(stored), params=[Param(f"p{stored}", "v")])
            stored += 1000
    assert isinstance(info.value, OSError)
    assert str(path) in str(info.value) and "disk is full" in str(info.value) and "free some space" in str(info.value)
    failed = stored
    assert len(client.get_metric_history(run_id, "m")) == stored  # the refused batch left nothing behind
    assert f"p{failed}" not in client.get_run(run_id).data.params
    assert _integrity(path) == "ok"
    mnt.free()
    client.log_batch(run_id, metrics=_batch(failed), params=[Param(f"p{failed}", "v")])  # the same call again
    assert len(client.get_metric_history(run_id, "m")) == failed + 1000
    client.set_terminated(run_id)
    client.close()
    assert _integrity(path) == "ok"
    assert Client(path).search_runs(["0"], "metrics.m >= 0")[0].info.status == "FINISHED"


def test_full_disk_keeps_buffered_values_until_space_is_back(tmpfs):
    mnt = tmpfs("4m")
    path = mnt.path / "full.db"
    client = Client(path)
    run_id = client.create_run("0").info.run_id
    mnt.fill()
    logged = 0
    with pytest.raises(StoreFull):
        for _ in range(200):  # per-call logging; the buffer flushes on its own and meets the full disk
            for _ in range(1000):
                client.log_metric(run_id, "m", float(logged), step=logged)
                logged += 1
            client.flush()
    assert client._buffer.pending_count(run_id) > 0  # kept, not dropped
    with pytest.raises(StoreFull):
        client.flush()  # still full: still refused, still kept
    mnt.free()
    client.flush()
    history = client.get_metric_history(run_id, "m")
    assert [p.step for p in history] == list(range(logged))  # every value logged, none twice
    client.close()
    assert _integrity(path) == "ok"


def test_full_disk_for_artifacts_leaves_no_partial_blob(tmpfs, tmp_path):
    mnt = tmpfs("4m")
    client = Client(mnt.path / "full.db")
    run_id = client.create_run("0").info.run_id
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    mnt.fill()
    with pytest.raises(StoreFull, match="Free space"):
        client.log_artifact(run_id, big)
    blobs = client.store.artifact_root / "blobs"
    assert [p for p in blobs.rglob("*") if p.is_file()] == []
    assert client.list_artifacts(run_id) == []
    mnt.free()
    client.log_artifact(run_id, big)
    assert client.list_artifacts(run_id)[0].file_size == big.stat().st_size
    client.close()


def test_full_disk_when_creating_a_store(tmpfs):
    mnt = tmpfs("4m")
    mnt.fill()
    path = mnt.path / "new.db"
    with pytest.raises((StoreFull, StoreReadOnly)) as info:
        Client(path)
    assert str(path) in str(info.value)
    mnt.free()
    client = Client(path)  # not a half-made store: it opens and works
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, synchronous=True)
    client.close()
    assert _integrity(path) == "ok"


# ----- read-only stores --------------------------------------------------------------------------
def _make_store(path, artifact: bool = True) -> str:
    client = Client(path)
    eid = client.create_experiment("exp")
    run_id = client.create_run(eid, run_name="r").info.run_id
    client.log_batch(run_id, metrics=_batch(0, 10), params=[Param("lr", "0.1")])
    if artifact:
        client.log_text(run_id, "hello", "notes/a.txt")
    client.set_terminated(run_id)
    client.close()
    return run_id


def _check_reads_work(path, run_id: str, tmp_path, read_only: bool) -> None:
    client = Client(path, read_only=read_only)
    try:
        found = client.search_runs(None, "params.lr = '0.1' and metrics.m > 5")
        assert [r.info.run_id for r in found] == [run_id]
        assert len(client.get_metric_history(run_id, "m")) == 10
        assert client.load_text(run_id, "notes/a.txt") == "hello"
        out = client.download_artifacts(run_id, "", tmp_path / f"download-{read_only}")
        assert (tmp_path / f"download-{read_only}" / "notes" / "a.txt").read_text() == "hello" and out
    finally:
        client.close()


def _check_logging_is_refused(path, run_id: str) -> None:
    client = Client(path)  # asked for writing: it opens, and says no when asked to write
    try:
        for call in (lambda: client.log_metric(run_id, "m", 1.0, synchronous=True),
                     lambda: client.create_run("0"),
                     lambda: client.log_text(run_id, "x", "b.txt"),
                     lambda: client.set_terminated(run_id)):
            with pytest.raises(StoreReadOnly) as info:
                call()
            assert isinstance(info.value, PermissionError) and "read-only" in str(info.value)
        assert client.get_run(run_id).info.status == "FINISHED"
    finally:
        client.close()


def test_store_on_read_only_media(tmpfs, tmp_path):
    mnt = tmpfs("8m")
    path = mnt.path / "store.db"
    run_id = _make_store(path)
    mnt.read_only()
    for read_only in (True, False):
        _check_reads_work(path, run_id, tmp_path, read_only)
    _check_logging_is_refused(path, run_id)
    assert json.loads(run_cli(path, "runs", "list", "--json").stdout)[0]["run_id"] == run_id
    assert "lr: 0.1" in run_cli(path, "runs", "show", run_id).stdout
    gc = run_cli(path, "gc", check=False)
    assert gc.returncode == 1 and gc.stderr.startswith("Error:") and "read-only" in gc.stderr
    assert "Traceback" not in gc.stderr


def test_read_only_media_export(tmpfs, tmp_path):
    import sqltrack

    if getattr(sqltrack, "export_mlruns", None) is None:
        pytest.skip("sqltrack.export_mlruns is not there yet")
    mnt = tmpfs("8m")
    path = mnt.path / "store.db"
    run_id = _make_store(path)
    mnt.read_only()
    summary = sqltrack.export_mlruns(tmp_path / "mlruns", str(path))
    assert summary.runs_exported == 1 and not summary.problems
    assert list((tmp_path / "mlruns").rglob(f"{run_id}/meta.yaml"))


def test_read_only_media_with_a_leftover_write_ahead_log(tmpfs, tmp_path):
    """A store copied (or its writer killed) with its -wal file: readable with the WAL's data, or a clear error."""
    mnt = tmpfs("8m")
    path = mnt.path / "store.db"
    run_id = _make_store(path, artifact=False)
    code = textwrap.dedent(f"""
        import os, sqlite3
        db = sqlite3.connect({str(path)!r}, isolation_level=None)
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("UPDATE runs SET name = 'renamed'")  # committed to the WAL only
        os.kill(os.getpid(), 9)
    """)
    subprocess.run([sys.executable, "-c", code], check=False)
    assert os.path.getsize(f"{path}-wal") > 0
    os.unlink(f"{path}-shm")  # as a copy without the shared-memory file would be
    mnt.read_only()
    try:
        client = Client(path, read_only=True)
    except StoreReadOnly as error:  # refused clearly rather than showing data without the WAL's commits
        assert "-wal" in str(error)
        return
    assert client.get_run(run_id).info.run_name == "renamed"
    client.close()


# ----- no write permission -----------------------------------------------------------------------
_AS_NOBODY = """
import json, os, sys
from sqltrack import Client
from sqltrack.errors import StoreReadOnly
# Load every module this script needs while still root (the interpreter may live in root's home).
warm = Client(sys.argv[2])
warm.log_metric(warm.create_run("0").info.run_id, "m", 1.0, synchronous=True)
warm.search_runs(None, "params.lr = '0.1'")
warm.close()
Client(sys.argv[2], read_only=True).close()
os.setgroups([]); os.setgid(65534); os.setuid(65534)
path, run_id = sys.argv[1], sys.argv[3]
found = {}
for read_only in (True, False):
    client = Client(path, read_only=read_only)
    found[str(read_only)] = [r.info.run_id for r in client.search_runs(None, "params.lr = '0.1'")]
    client.close()
client = Client(path)
try:
    client.log_metric(run_id, "m", 1.0, synchronous=True)
    found["refused"] = "no"
except StoreReadOnly as error:
    found["refused"] = str(error)
print(json.dumps(found))
"""


@pytest.fixture
def shared_folder():
    """A folder that other users can read (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sqltrack-shared-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_store_without_write_permission(shared_folder, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    path = shared_folder / "store.db"
    run_id = _make_store(path)
    for p in [shared_folder, *shared_folder.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    done = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(path), str(tmp_path / "warm.db"), run_id],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["True"] == [run_id] and found["False"] == [run_id]
    assert "read-only" in found["refused"]
