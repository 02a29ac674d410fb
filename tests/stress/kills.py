"""Stress: a logging process is killed with SIGKILL at a random moment, again and again, on one store.

Each child process (forked from a pre-warmed fork server, so a kill costs no interpreter start)
logs through the fluent API in a random mix: per-call ``log_metric`` then ``flush()``,
``log_batch`` of up to 20,000 points, params and tags, artifacts of 0 B to 4 MB, runs ended
or left open. After each call returns it reports what became durable on a pipe. The parent
sends SIGKILL after a random delay (sometimes before the child has even opened the store),
then checks the store:

* ``PRAGMA integrity_check`` is ok and ``foreign_key_check`` finds nothing;
* every point, param, tag, artifact and run end that was reported durable, in this round or
  any earlier one, is there; ``latest_metrics`` agrees with the stored history;
* every blob file is complete (its bytes hash to its name); temp files are the only others.

After the last kill: ``sqltrack gc`` spares fresh temp files and ``gc --blob-grace 0`` removes
them, every reported artifact still reads back, ``sqltrack runs list`` marks the runs left
RUNNING as stale, and ``sqltrack runs mark-dead`` ends them KILLED at their last sign of life.

Usage (the full size of issue 6 is the default):
    python tests/stress/kills.py [--kills 50] [--max-delay 1.5] [--seed 1] [--store PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

EXPERIMENT = "kills"
ARTIFACT_SIZES = (0, 10, 1000, 100_000, 1_000_000, 4_000_000)
_DIGEST = re.compile(r"[0-9a-f]{64}")


# ----- the child: logs forever, reporting what the API has made durable -------------------------
def _child(path: str, seed: int, ack, scratch: str) -> None:
    import sqltrack as mlflow
    from sqltrack import Metric
    from sqltrack.store import liveness

    liveness.HEARTBEAT_SECONDS = 0.05
    rng = random.Random(seed)
    send = lambda *parts: ack.send_bytes(" ".join(map(str, parts)).encode())  # noqa: E731
    mlflow.set_tracking_uri(path)
    mlflow.set_experiment(EXPERIMENT)
    send("ready")
    for number in range(10**9):
        run_id = mlflow.start_run(run_name=f"s{seed}-{number}").info.run_id
        send("run", run_id)
        steps = {"m": 0, "b": 0}
        for op in range(rng.randint(1, 12)):
            choice = rng.random()
            if choice < 0.3:
                count, first = rng.randint(1, 3000), steps["m"]
                for step in range(first, first + count):
                    mlflow.log_metric("m", float(step), step=step)
                mlflow.flush()
                steps["m"] += count
                send("points", run_id, "m", steps["m"])
            elif choice < 0.55:
                count, first, now = rng.randint(1, 20_000), steps["b"], int(time.time() * 1000)
                mlflow.log_batch(metrics=[Metric("b", float(s), now, s) for s in range(first, first + count)])
                steps["b"] += count
                send("points", run_id, "b", steps["b"])
            elif choice < 0.7:
                mlflow.log_param(f"p{op}", f"value {seed} {number} {op}")
                mlflow.set_tag(f"t{op}", f"tag {seed} {number} {op}")
                mlflow.flush()
                send("param", run_id, f"p{op}", f"value {seed} {number} {op}".replace(" ", "_"))
                send("tag", run_id, f"t{op}", f"tag {seed} {number} {op}".replace(" ", "_"))
            else:
                data = rng.randbytes(rng.choice(ARTIFACT_SIZES))
                local = Path(scratch) / f"a{seed}-{number}-{op}.bin"
                local.write_bytes(data)
                mlflow.log_artifact(str(local), artifact_path=f"step{op}")
                send("artifact", run_id, f"step{op}/{local.name}", hashlib.sha256(data).hexdigest())
        mlflow.end_run()
        send("end", run_id)


# ----- the parent --------------------------------------------------------------------------------
@dataclass
class Reported:
    """Everything the children reported durable, over all rounds."""

    points: dict[tuple[str, str], int] = field(default_factory=dict)
    values: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (kind, run, key) -> value
    artifacts: dict[tuple[str, str], str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)

    def take(self, line: str) -> None:
        kind, *rest = line.split(" ")
        if kind == "points":
            self.points[(rest[0], rest[1])] = int(rest[2])
        elif kind in ("param", "tag"):
            self.values[(kind, rest[0], rest[1])] = rest[2].replace("_", " ")
        elif kind == "artifact":
            self.artifacts[(rest[0], rest[1])] = rest[2]
        elif kind == "run":
            self.started.add(rest[0])
        elif kind == "end":
            self.ended.add(rest[0])


@dataclass
class KillResult:
    kills: int = 0
    killed_before_ready: int = 0
    acknowledged_calls: int = 0
    points_reported: int = 0
    artifacts_reported: int = 0
    blobs_checked: int = 0
    temp_files_left: int = 0
    temp_files_removed_by_gc: int = 0
    runs_marked_dead: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.kills} SIGKILLs survived ({self.killed_before_ready} before the store was open); "
                f"{self.acknowledged_calls:,} durable calls reported, {self.points_reported:,} points and "
                f"{self.artifacts_reported} artifacts all present; {self.blobs_checked} blob files verified; "
                f"{self.temp_files_left} temp files left by kills, {self.temp_files_removed_by_gc} removed by gc; "
                f"{self.runs_marked_dead} runs marked dead; problems={len(self.problems)}")


def _read_acks(conn, lines: list[str], ready: threading.Event) -> None:
    while True:
        try:
            text = conn.recv_bytes().decode()
        except (EOFError, OSError):
            return
        if text == "ready":
            ready.set()
        else:
            lines.append(text)


def run_kills(path: str | os.PathLike, kills: int = 50, max_delay: float = 1.5, seed: int = 1,
              early_every: int = 10) -> KillResult:
    """Kill ``kills`` logging processes on the store at ``path``, checking it after each kill."""
    path, rng, result, reported = str(path), random.Random(seed), KillResult(), Reported()
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sqltrack.api.fluent", "sqltrack.api.client", "sqltrack.store.batch",
                                "sqltrack.store.liveness", "sqltrack.artifacts.repository", "sqltrack.store.migrate"])
    verified: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="sqltrack-kills-") as scratch:
        for round_number in range(kills):
            early = early_every and round_number % early_every == 0
            lines = _one_kill(ctx, path, seed * 100_000 + round_number, scratch, rng, max_delay, early, result)
            for line in lines:
                reported.take(line)
            result.acknowledged_calls += len(lines)
            result.problems += [f"after kill {round_number + 1}: {p}" for p in check_store(path, reported, verified)]
            if result.problems:
                break
    result.points_reported = sum(reported.points.values())
    result.artifacts_reported = len(reported.artifacts)
    result.blobs_checked = len(verified)
    if not result.problems:
        result.problems += _after_all_kills(path, reported, result)
    return result


def _one_kill(ctx, path: str, seed: int, scratch: str, rng: random.Random, max_delay: float, early: bool,
              result: KillResult) -> list[str]:
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(path, seed, send, scratch), daemon=True)
    lines: list[str] = []
    ready = threading.Event()
    proc.start()
    send.close()
    reader = threading.Thread(target=_read_acks, args=(receive, lines, ready), daemon=True)
    reader.start()
    if early:
        time.sleep(rng.uniform(0, 0.3))  # maybe while it opens (or creates) the store
        result.killed_before_ready += not ready.is_set()
    else:
        if not ready.wait(timeout=120):
            result.problems.append(f"child {seed} never opened the store (exit code {proc.exitcode})")
        time.sleep(rng.uniform(0, max_delay))
    if proc.exitcode is not None:
        result.problems.append(f"child {seed} ended by itself with exit code {proc.exitcode}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=60)
    reader.join(timeout=60)
    receive.close()
    result.kills += 1
    return list(lines)


def check_store(path: str, reported: Reported, verified: set[str]) -> list[str]:
    """Problems found in the store after a kill (empty when every guarantee held)."""
    if not os.path.exists(path):
        return [] if not reported.started else ["the store file is gone"]
    db = sqlite3.connect(path, timeout=60)
    try:
        problems = _check_database(db, reported)
    finally:
        db.close()
    return problems + _check_blobs(path, reported, verified)


def _check_database(db: sqlite3.Connection, reported: Reported) -> list[str]:
    problems = []
    integrity = db.execute("PRAGMA integrity_check").fetchall()
    if integrity != [("ok",)]:
        problems.append(f"integrity_check: {integrity[:5]}")
    if db.execute("PRAGMA foreign_key_check").fetchall():
        problems.append("foreign_key_check found dangling rows")
    has_tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'metrics'").fetchone()[0]
    if not has_tables:
        return problems + (["the schema is missing"] if reported.started else [])
    for (run_id, key), count in reported.points.items():
        stored = db.execute("SELECT count(DISTINCT m.step) FROM metrics m JOIN runs r ON r.id = m.run_id "
                            "JOIN key_names k ON k.id = m.key_id WHERE r.run_uuid = ? AND k.name = ? AND m.step < ?",
                            (run_id, key, count)).fetchone()[0]
        if stored != count:
            problems.append(f"run {run_id[:8]} metric {key}: {stored} of {count} reported points")
    for (kind, run_id, key), value in reported.values.items():
        table = "params" if kind == "param" else "tags"
        stored = db.execute(f"SELECT t.value FROM {table} t JOIN runs r ON r.id = t.run_id JOIN key_names k "
                            "ON k.id = t.key_id WHERE r.run_uuid = ? AND k.name = ?", (run_id, key)).fetchone()
        if stored is None or stored[0] != value:
            problems.append(f"run {run_id[:8]} {kind} {key}: {stored} instead of {value!r}")
    for (run_id, logical), digest in reported.artifacts.items():
        stored = db.execute("SELECT a.digest FROM artifacts a JOIN runs r ON r.id = a.run_id "
                            "WHERE r.run_uuid = ? AND a.path = ?", (run_id, logical)).fetchone()
        if stored is None or stored[0] != digest:
            problems.append(f"run {run_id[:8]} artifact {logical}: {stored} instead of {digest[:12]}")
    ended = db.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED' AND end_time IS NOT NULL AND run_uuid "
                       f"IN ({','.join('?' * len(reported.ended))})", sorted(reported.ended)).fetchone()[0]
    if ended != len(reported.ended):
        problems.append(f"{len(reported.ended) - ended} runs reported ended are not FINISHED")
    drift = db.execute("SELECT count(*) FROM latest_metrics lm WHERE lm.count != (SELECT count(*) FROM metrics m "
                       "WHERE m.run_id = lm.run_id AND m.key_id = lm.key_id)").fetchone()[0]
    if drift:
        problems.append(f"{drift} latest_metrics rows disagree with the stored history")
    return problems


def blob_folder(path: str) -> Path:
    from sqltrack.config import resolve

    return resolve(path).artifact_root / "blobs" / "sha256"


def _check_blobs(path: str, reported: Reported, verified: set[str]) -> list[str]:
    problems = []
    root = blob_folder(path)
    for file in sorted(root.glob("*/*")):
        name = file.name
        if name.startswith(".tmp-"):
            continue
        if not _DIGEST.fullmatch(name) or file.parent.name != name[:2]:
            problems.append(f"unexpected file {file}")
        elif name not in verified:
            actual = hashlib.sha256(file.read_bytes()).hexdigest()
            if actual != name:
                problems.append(f"blob {name[:12]} is partial or corrupt (its bytes hash to {actual[:12]})")
            else:
                verified.add(name)
    for digest in set(reported.artifacts.values()):
        if not (root / digest[:2] / digest).is_file():
            problems.append(f"blob {digest[:12]} of a reported artifact is missing")
    return problems


def temp_files(path: str) -> list[Path]:
    return sorted(blob_folder(path).glob("*/.tmp-*"))


def cli(path: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sqltrack", "--store", path, *args], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"sqltrack {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def _after_all_kills(path: str, reported: Reported, result: KillResult) -> list[str]:
    problems = []
    left = temp_files(path)
    result.temp_files_left = len(left)
    spared = json.loads(cli(path, "gc", "--json"))  # default grace: a fresh temp may be a live write
    if spared["temp_files"] != 0 or len(temp_files(path)) != len(left):
        problems.append(f"gc with the default grace removed fresh temp files: {spared}")
    cleaned = json.loads(cli(path, "gc", "--blob-grace", "0", "--json"))
    result.temp_files_removed_by_gc = cleaned["temp_files"]
    if temp_files(path) or cleaned["temp_files"] != len(left):
        problems.append(f"gc --blob-grace 0 left temp files: {temp_files(path)[:3]} ({cleaned})")
    problems += check_store(path, reported, set())  # gc removed no blob that a reported artifact needs
    problems += _check_stale_runs(path, reported, result)
    return problems


def _check_stale_runs(path: str, reported: Reported, result: KillResult) -> list[str]:
    problems = []
    time.sleep(1.5)  # every killed child stopped its heartbeat at least this long ago
    listed = json.loads(cli(path, "runs", "list", "--max-results", "50000", "--stale-after", "1s", "--json"))
    running = {r["run_id"] for r in listed if r["status"] == "RUNNING"}
    if {r["run_id"] for r in listed if r["stale"]} != running:
        problems.append("runs list did not mark every run left RUNNING by a kill as stale")
    status = {r["run_id"]: r["status"] for r in listed}
    unreported = {status.get(run_id) for run_id in reported.started - reported.ended}
    if not unreported <= {"RUNNING", "FINISHED"}:  # FINISHED: killed after end_run, before it could say so
        problems.append(f"runs started and not reported ended have the statuses {unreported}")
    if "RUNNING (stale" not in cli(path, "runs", "list", "--stale-after", "1s") and running:
        problems.append("the runs list table shows no stale marker")
    marked = json.loads(cli(path, "runs", "mark-dead", "--grace", "1s", "--json"))
    result.runs_marked_dead = len(marked)
    if {m["run_id"] for m in marked} != running:
        problems.append(f"mark-dead ended {len(marked)} runs, expected the {len(running)} RUNNING ones")
    db = sqlite3.connect(path)
    statuses = dict(db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    wrong_end = db.execute("SELECT count(*) FROM runs WHERE status = 'KILLED' AND end_time != "
                           "coalesce(last_activity_time, start_time)").fetchone()[0]
    db.close()
    if statuses.get("RUNNING") or statuses.get("KILLED", 0) != len(running):
        problems.append(f"after mark-dead: {statuses}")
    if wrong_end:
        problems.append(f"{wrong_end} runs marked dead do not end at their last sign of life")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--max-delay", type=float, default=1.5, help="longest wait before a kill (s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", help="SQLite file to use (default: a temporary folder)")
    args = parser.parse_args(argv)
    folder = None if args.store else tempfile.TemporaryDirectory(prefix="sqltrack-kills-")
    path = Path(args.store) if args.store else Path(folder.name) / "kills.db"
    started = time.perf_counter()
    result = run_kills(path, args.kills, args.max_delay, args.seed)
    print(result.summary(), f"({time.perf_counter() - started:.0f} s)")
    for problem in result.problems:
        print("  " + problem)
    print("OK" if not result.problems else "FAILED")
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
