"""When logged values become durable: thresholds, timer, flush, end_run, exit, and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from sqltrack import Client


def _points_in_store(path, run_id: str, key: str = "m") -> int:
    reader = Client(path)
    try:
        return len(reader.get_metric_history(run_id, key))
    finally:
        reader.close()


def test_values_wait_in_memory_until_a_flush(client, store_path):
    run_id = client.create_run("0").info.run_id
    for step in range(10):
        client.log_metric(run_id, "m", step, step=step)
    assert client._buffer.pending_count(run_id) == 10
    client.flush()
    assert client._buffer.pending_count() == 0
    assert _points_in_store(store_path, run_id) == 10


def test_threshold_flushes_without_being_asked(client, store_path):
    from sqltrack.api.buffer import FLUSH_POINTS

    run_id = client.create_run("0").info.run_id
    for step in range(FLUSH_POINTS):
        client.log_metric(run_id, "m", 1.0, step=step)
    assert _points_in_store(store_path, run_id) == FLUSH_POINTS


def test_timer_flushes_an_idle_program(client, store_path):
    from sqltrack.api.buffer import FLUSH_SECONDS

    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0)
    deadline = time.monotonic() + FLUSH_SECONDS + 10
    while _points_in_store(store_path, run_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _points_in_store(store_path, run_id) == 1


def test_synchronous_flag_writes_at_once(client, store_path):
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, synchronous=True)
    assert _points_in_store(store_path, run_id) == 1


def _run_script(code: str, store_path, wait: bool = True):
    script = textwrap.dedent(code)
    env = {**os.environ, "SQLTRACK_TRACKING_URI": str(store_path)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    if wait:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        return out
    return proc


def test_interpreter_exit_flushes_and_ends_the_run(store_path):
    out = _run_script("""
        import sqltrack as mlflow
        run = mlflow.start_run()
        for i in range(123):
            mlflow.log_metric("m", i, step=i)
        print(run.info.run_id)
    """, store_path)
    run_id = out.strip()
    assert _points_in_store(store_path, run_id) == 123
    reader = Client(store_path)
    assert reader.get_run(run_id).info.status == "FINISHED"
    reader.close()


def test_sigkill_keeps_every_flushed_point(store_path):
    proc = _run_script("""
        import sys, sqltrack as mlflow
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        step = 0
        while True:
            for _ in range(50):
                mlflow.log_metric("m", step, step=step)
                step += 1
            mlflow.flush()
            print(step, flush=True)
    """, store_path, wait=False)
    run_id = proc.stdout.readline().strip()
    acknowledged = 0
    for _ in range(20):
        acknowledged = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _points_in_store(store_path, run_id) >= acknowledged
    reader = Client(store_path)
    assert reader.get_run(run_id).info.status == "RUNNING"  # killed: recognisable as never ended
    reader.close()
