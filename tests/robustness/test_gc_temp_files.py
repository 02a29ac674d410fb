"""Temp files left by a writer killed mid-blob are invisible to readers and removed by ``sqltrack gc``."""

from __future__ import annotations

import json
import os
import signal

from sqltrack import Client

from ._scripts import run_cli, start_script


def _kill_mid_blob_write(store_path) -> None:
    """A real process killed while it writes a big blob (fsynced temp file, then rename)."""
    proc = start_script("""
        import os, sqltrack as mlflow
        from sqltrack.artifacts import cas
        real = cas._write_temp
        def announce_then_write(tmp, fill):
            def slow_fill(out):
                out.write(b"partial")
                out.flush()
                print("writing", flush=True)
                import time
                time.sleep(60)
            return real(tmp, slow_fill)
        cas._write_temp = announce_then_write
        mlflow.start_run()
        mlflow.log_text("x" * 1000, "big.txt")
    """, store_path)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def test_gc_spares_fresh_temp_files_and_removes_old_ones(store_path):
    _kill_mid_blob_write(store_path)
    client = Client(store_path)
    temps = sorted((client.store.artifact_root / "blobs").rglob(".tmp-*"))
    assert len(temps) == 1 and temps[0].read_bytes() == b"partial"
    assert list(client.store.blobs.iter_digests()) == []  # readers never see it as a blob
    client.close()
    report = json.loads(run_cli(store_path, "gc", "--json").stdout)
    assert report["temp_files"] == 0 and temps[0].exists()  # fresh: it may be a write in progress
    os.utime(temps[0], (0, 0))  # as if the killed writer had died long ago
    report = json.loads(run_cli(store_path, "gc", "--json").stdout)
    assert report["temp_files"] == 1 and not temps[0].exists()


def test_gc_with_no_grace_removes_temp_files_at_once(store_path):
    _kill_mid_blob_write(store_path)
    report = json.loads(run_cli(store_path, "gc", "--blob-grace", "0", "--json").stdout)
    assert report["temp_files"] == 1
    assert list((store_path.parent / "sqltrack-artifacts").rglob(".tmp-*")) == []
