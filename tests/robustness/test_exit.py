"""What a normal interpreter exit does: pending values written, connections closed, one file left.

Each case runs a real child process and reads what it left behind with a fresh reader.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._scripts import read_run, run_script

POINTS = 40

CLIENT_SCRIPT = f"""
import sqltrack
client = sqltrack.Client({{store!r}})
client._buffer._flush_seconds = 3600  # only the exit may write these values
run = client.create_run("0")
for i in range({POINTS}):
    client.log_metric(run.info.run_id, "m", i, step=i)
client.log_param(run.info.run_id, "lr", "0.1")
client.set_tag(run.info.run_id, "stage", "exit")
assert client._buffer.pending_count() == {POINTS} + 2
print(run.info.run_id)
"""

FLUENT_SCRIPT = f"""
import sqltrack as mlflow
mlflow.set_tracking_uri({{store!r}})
with mlflow.start_run() as run:
    mlflow.log_param("lr", "0.1")
    for i in range({POINTS}):
        mlflow.log_metric("m", i, step=i)
print(run.info.run_id)
"""


def _run(script: str, store_path) -> str:
    done = run_script(script.format(store=str(store_path)), store_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_a_clients_pending_values_are_written_when_the_interpreter_exits(tmp_path):
    store_path = tmp_path / "s.db"
    run_id = _run(CLIENT_SCRIPT, store_path)
    run, points = read_run(store_path, run_id)
    assert points == POINTS
    assert run.data.params == {"lr": "0.1"} and run.data.tags["stage"] == "exit"


@pytest.mark.parametrize("script", [CLIENT_SCRIPT, FLUENT_SCRIPT], ids=["client", "fluent"])
def test_a_script_that_ends_leaves_everything_in_the_database_file(tmp_path, script):
    """No commit is left behind in a ``-wal`` file: the .db file copied alone holds the run."""
    store_path = tmp_path / "s.db"
    run_id = _run(script, store_path)
    wal = tmp_path / "s.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    copy = tmp_path / "copy" / "s.db"
    copy.parent.mkdir()
    shutil.copyfile(store_path, copy)
    run, points = read_run(copy, run_id)
    assert points == POINTS and run.data.params == {"lr": "0.1"}


def test_values_that_cannot_be_written_at_exit_are_reported_and_the_store_stays_sound(tmpfs):
    mnt = tmpfs("4m")
    store_path = mnt.path / "s.db"
    script = f"""
import sqltrack
client = sqltrack.Client({str(store_path)!r})
client._buffer._flush_seconds = 3600
run = client.create_run("0")
with open({str(mnt.ballast)!r}, "ab", buffering=0) as out:  # fill the disk to the last byte
    for chunk in (bytes(65536), bytes(1)):
        try:
            while out.write(chunk):
                pass
        except OSError:
            pass
for i in range(5000):  # below the size threshold: only the exit writes them
    client.log_metric(run.info.run_id, "m", float(i), step=i)
print(run.info.run_id)
"""
    done = run_script(script, store_path)
    assert done.returncode == 0, done.stderr
    assert "sqltrack: logged values could not be written at exit" in done.stderr
    assert "disk is full" in done.stderr and "Traceback" not in done.stderr
    mnt.free()
    run, points = read_run(store_path, done.stdout.split()[-1])
    assert points == 0 and run.info.status == "RUNNING"  # nothing half-written


MULTIPROCESSING_SCRIPT = """
import multiprocessing as mp, sys
import sqltrack as mlflow

STORE = sys.argv[2]


def work(queue):
    mlflow.set_tracking_uri(STORE)
    run = mlflow.start_run()
    for step in range({points}):
        mlflow.log_metric("m", 1.0 / (step + 1), step=step)
    queue.put(run.info.run_id)  # returns without end_run: the child's exit must end it


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1])
    if sys.argv[3] == "parent-logs-first":  # sqltrack's modules are loaded before the fork
        mlflow.set_tracking_uri(STORE)
        with mlflow.start_run():
            mlflow.log_metric("m", 0.0)
    queue = mp.Queue()
    children = [mp.Process(target=work, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    ids = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join()
    print(" ".join(ids), *[child.exitcode for child in children])
"""


@pytest.mark.parametrize("order", ["parent-logs-first", "child-loads-sqltrack"])
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_multiprocessing_child_that_returns_without_ending_its_run_ends_it(tmp_path, method, order):
    """A forked child leaves through os._exit (no atexit): its runs and pending values were lost."""
    script = tmp_path / "sweep.py"
    script.write_text(MULTIPROCESSING_SCRIPT.format(points=POINTS))
    store_path = tmp_path / "s.db"
    done = subprocess.run([sys.executable, str(script), method, str(store_path), order], capture_output=True,
                          text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    *ids, first_exit, second_exit = done.stdout.split()
    assert (first_exit, second_exit) == ("0", "0")
    for run_id in ids:
        run, points = read_run(store_path, run_id)
        assert points == POINTS and run.info.status == "FINISHED"


def _freeze_count_at_exit(code: str) -> str:
    """Run ``code`` after registering an exit handler that runs last and prints whether the GC was frozen."""
    probe = ("import atexit, gc\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n" + code)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_the_command_skips_the_final_collection_and_the_library_does_not(tmp_path):
    """The CLI owns its process and freezes the GC at exit; a user's script keeps Python's normal exit."""
    store = str(tmp_path / "s.db")
    _run(FLUENT_SCRIPT, tmp_path / "s.db")
    command = f"from sqltrack.cli import main\nmain(['--store', {store!r}, 'runs', 'list'])\n"
    assert _freeze_count_at_exit(command) == "True"
    library = FLUENT_SCRIPT.format(store=store)
    assert _freeze_count_at_exit(library) == "False"
