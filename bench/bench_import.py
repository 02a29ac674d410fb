"""Import benchmark (issue 4): importing an mlruns tree into sqltrack, against MLflow's own
``mlflow migrate-filestore`` on the same tree and against simply reading every file in Python.

    python bench/bench_import.py                 # 2,000 runs x 5 reps, plus 20,000 runs x 2 reps
    python bench/bench_import.py --quick         # 300 runs x 3 reps, no large tree
    python bench/bench_import.py --runs 2000 --large 0 --reps 7

Trees are generated once (tests/fixtures/mlruns_gen.py: 10 params, 10 metrics x 5 steps,
3 tags + 3 system tags, one small artifact per run) under bench/.cache/, and read once
before timing so that every contender starts from a warm page cache. Repetitions are
interleaved so that background load hits every contender alike. A table of medians goes
to stdout, the raw numbers to bench/results/import-<time>.json, and the summary as JSON
on the last stdout line (bench/import_bench.py reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests" / "fixtures"))

from mlruns_gen import generate_tree  # noqa: E402


def tree_for(runs: int) -> Path:
    """The cached generated tree of ``runs`` runs (generated on first use)."""
    root = BENCH / ".cache" / f"mlruns-{runs}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"generating a {runs:,}-run tree in {root} ...", file=sys.stderr, flush=True)
        generate_tree(root, runs, experiments=2)
        done.write_text("ok")
    return root


def plain_read(tree: Path) -> float:
    """Walk the tree and read every file's bytes: the floor for any importer."""
    started = time.perf_counter()
    for folder, _dirs, files in os.walk(tree):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                f.read()
    return time.perf_counter() - started


def sqltrack_api(tree: Path, work: Path) -> float:
    """sqltrack.import_mlruns into a new store (artifacts into its blob store); modules already imported."""
    import sqltrack
    import sqltrack.mlruns.parallel  # noqa: F401 - module loading is not what is measured here

    target = work / "sqltrack.db"
    started = time.perf_counter()
    summary = sqltrack.import_mlruns(tree, str(target))
    elapsed = time.perf_counter() - started
    if summary.runs_failed or not summary.runs_imported:
        raise RuntimeError(summary.render())
    return elapsed


def sqltrack_cli(tree: Path, work: Path) -> float:
    """``sqltrack import mlruns`` as a command, Python start-up included."""
    argv = [sys.executable, "-m", "sqltrack", "--store", str(work / "cli.db"), "import", "mlruns", str(tree)]
    return _timed(argv, {})


def mlflow_command() -> list[str] | None:
    """How to run MLflow's CLI here: this interpreter, else bench/.venv-mlflow; None if neither has it."""
    candidates = [Path(sys.executable), BENCH / ".venv-mlflow" / "bin" / "python"]
    for python in candidates:
        if python.exists() and subprocess.run([str(python), "-c", "import mlflow.store.fs2db"],
                                              capture_output=True).returncode == 0:
            return [str(python), "-m", "mlflow"]
    return None


def mlflow_migrate(tree: Path, work: Path, command: list[str]) -> float:
    """``mlflow migrate-filestore`` (metadata only: it leaves artifacts where they are)."""
    argv = command + ["migrate-filestore", "--source", str(tree), "--target", f"sqlite:///{work / 'mlflow.db'}"]
    return _timed(argv, {"MLFLOW_ALLOW_FILE_STORE": "true"})


def _timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{done.stderr[-2000:]}")
    return elapsed


def measure(runs: int, reps: int, mlflow: list[str] | None, work_root: Path) -> dict[str, list[float]]:
    """Interleaved repetitions of every contender on the tree of ``runs`` runs.

    Every repetition writes into its own folder under ``work_root``, which the caller deletes
    only after the last measurement. Deleting one repetition's output (2,000+ blob files) right before the next
    one ran made the next one pay for it: on an ext4 without a journal (this VM's disk), the
    inode allocator skips every inode freed in the last 1-6 minutes one by one
    (``recently_deleted`` in ``ext4_create``), which tripled the kernel time of creating the
    next repetition's blob files. No user's import follows the deletion of the previous one's.
    """
    tree = tree_for(runs)
    plain_read(tree)  # warm the page cache for everyone
    times: dict[str, list[float]] = {"plain read": [], "sqltrack (API)": [], "sqltrack (CLI)": []}
    if mlflow:
        times["mlflow migrate-filestore"] = []
    for rep in range(reps):
        for name in times:
            work = Path(tempfile.mkdtemp(prefix=f"{runs}-rep{rep}-", dir=work_root))
            if name == "plain read":
                value = plain_read(tree)
            elif name == "sqltrack (API)":
                value = sqltrack_api(tree, work)
            elif name == "sqltrack (CLI)":
                value = sqltrack_cli(tree, work)
            else:
                value = mlflow_migrate(tree, work, mlflow)
            times[name].append(value)
            print(f"  {runs:>6,} runs  rep {rep + 1}/{reps}  {name:<26} {value:7.2f} s", file=sys.stderr,
                  flush=True)
    return times


def table(results: dict[int, dict[str, list[float]]]) -> str:
    """Medians with runs/s and ratios against sqltrack's API import."""
    lines = [f"{'runs':>7}  {'contender':<26} {'median s':>9} {'runs/s':>8} {'vs sqltrack':>11}  reps",
             "-" * 76]
    for runs, times in results.items():
        ours = statistics.median(times["sqltrack (API)"])
        for name, values in times.items():
            median = statistics.median(values)
            lines.append(f"{runs:>7,}  {name:<26} {median:9.2f} {runs / median:8,.0f} {median / ours:10.2f}x  "
                         f"{len(values)}")
    return "\n".join(lines)


def summary(results: dict[int, dict[str, list[float]]]) -> dict:
    """The headline numbers: medians per size and the two target ratios."""
    out: dict = {"sizes": {}}
    for runs, times in results.items():
        medians = {name: statistics.median(v) for name, v in times.items()}
        ours = medians["sqltrack (API)"]
        entry = {"medians_s": medians, "reps": len(times["sqltrack (API)"]),
                 "sqltrack_over_plain_read": ours / medians["plain read"]}
        if "mlflow migrate-filestore" in medians:
            entry["migrate_filestore_over_sqltrack"] = medians["mlflow migrate-filestore"] / ours
        out["sizes"][str(runs)] = entry
    return out


def main() -> None:
    """Parse the flags, run the contenders, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description="Benchmark importing mlruns trees.")
    parser.add_argument("--runs", type=int, default=2000, help="runs in the main tree (default 2000)")
    parser.add_argument("--large", type=int, default=20000, help="runs in the growth tree; 0 to skip")
    parser.add_argument("--reps", type=int, default=5, help="repetitions on the main tree (default 5)")
    parser.add_argument("--large-reps", type=int, default=2, help="repetitions on the growth tree (default 2)")
    parser.add_argument("--quick", action="store_true", help="300 runs x 3 reps, no growth tree")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow migrate-filestore")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.large, args.reps = 300, 0, 3
    mlflow = None if args.no_mlflow else mlflow_command()
    if mlflow is None and not args.no_mlflow:
        print("note: MLflow with migrate-filestore not found here or in bench/.venv-mlflow; skipped",
              file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as work_root:  # deleted after every size
        results = {args.runs: measure(args.runs, args.reps, mlflow, Path(work_root))}
        if args.large:
            results[args.large] = measure(args.large, args.large_reps, mlflow, Path(work_root))
    print(table(results))
    data = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "raw_s": results,
            **summary(results)}
    out = BENCH / "results" / f"import-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2))
    print(f"raw numbers: {out}", file=sys.stderr)
    print(json.dumps(summary(results)))


if __name__ == "__main__":
    main()
