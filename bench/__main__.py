"""sqltrack's benchmark suite: the same workloads against MLflow's SQLite store and raw sqlite3.

    python -m bench                 # the full suite (about 10-15 minutes on 2 cores)
    python -m bench --quick         # small sizes, no MLflow side (under 2 minutes)
    python -m bench --only W2,W5    # some workloads
    python -m bench --no-mlflow     # skip MLflow (no virtual environment needed)

Writes bench/results/<timestamp>.json and .md; ``--write-results-md`` (on by default for
a full run) also copies the table to bench/RESULTS.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import common
from .common import Case

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9")


@dataclass
class Config:
    """Sizes and repetitions; every size is a command-line parameter."""

    reps: int = 5
    #: W3's searches take about a millisecond: a median of 5 moves by ±10% on a shared VM.
    search_reps: int = 20
    #: W6's cold start takes a third of a second, and a fresh process's time varies the most.
    cold_reps: int = 15
    log_runs: int = 200
    mlflow_w1_runs: int = 3
    mlflow_w2_runs: int = 20
    search_runs: int = 100_000
    mlflow_search_runs: int = 10_000
    frame_runs: int = 10_000
    mlflow_frame_runs: int = 10_000
    history_steps: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    mlflow_history_max: int = 100_000
    w9_procs: int = 8
    mlflow_w9_runs: int = 8
    w9_timeout: float = 900
    import_runs: int = 2_000
    tmp: str = ""
    log: object = print


QUICK = dict(log_runs=40, search_runs=10_000, mlflow_search_runs=2_000, frame_runs=2_000, mlflow_frame_runs=2_000,
             history_steps=[10_000, 100_000], mlflow_history_max=10_000, cold_reps=5, mlflow_w1_runs=1,
             mlflow_w2_runs=5, import_runs=200)


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, and no MLflow unless --with-mlflow")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow's side")
    parser.add_argument("--with-mlflow", action="store_true", help="with --quick: measure MLflow too")
    parser.add_argument("--out", default=str(common.RESULTS_DIR), help="folder for the JSON and Markdown results")
    parser.add_argument("--render", metavar="JSON", help="only re-render a results JSON as Markdown (to stdout,"
                        " and to RESULTS.md with --write-results-md yes)")
    parser.add_argument("--write-results-md", choices=("auto", "yes", "no"), default="auto",
                        help="copy the table to bench/RESULTS.md (auto: only for a full run of every workload)")
    defaults = Config()
    for name, value in vars(defaults).items():
        if name in ("tmp", "log"):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, list):
            parser.add_argument(flag, type=lambda s: [int(x) for x in s.split(",")], default=None,
                                help=f"default {','.join(map(str, value))}")
        else:
            parser.add_argument(flag, type=type(value), default=None, help=f"default {value}")
    args = parser.parse_args(argv)
    cfg = Config(**(QUICK if args.quick else {}))
    for name in vars(defaults):
        given = getattr(args, name, None)
        if given is not None:
            setattr(cfg, name, given)
    if min(cfg.reps, cfg.search_reps, cfg.cold_reps) < 5:
        parser.error("--reps, --search-reps and --cold-reps must be at least 5 "
                     "(medians of fewer are noise on a shared machine)")
    return cfg, args


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse_args(argv)
    if args.render:
        return rerender(Path(args.render), args.write_results_md == "yes")
    selected = [w.strip().upper() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    use_mlflow = not args.no_mlflow and (not args.quick or args.with_mlflow)
    started = time.perf_counter()
    sys.path.insert(0, str(common.REPO_DIR))
    mlflow_python = mlflow_run = None
    meta = {"machine": common.machine(), "config": {k: v for k, v in vars(cfg).items() if k not in ("tmp", "log")},
            "quick": args.quick, "mlflow": None}
    if use_mlflow:
        from . import mlflow_env

        mlflow_python = str(mlflow_env.ensure())
        meta["mlflow"] = mlflow_env.version()
        mlflow_run = mlflow_env.run
    import sqltrack

    meta["sqltrack"] = sqltrack.__version__
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="sqltrack-bench-") as tmp:
        cfg.tmp = tmp
        for workload, runner in _runners(mlflow_python, mlflow_run):
            if not any(w in selected for w in workload.split("+")):
                continue
            t0 = time.perf_counter()
            print(f"[{time.perf_counter() - started:6.0f} s] {workload} ...", flush=True)
            try:
                cases += runner(cfg)
            except Exception:  # noqa: BLE001 - one broken workload must not hide the others
                traceback.print_exc()
                cases.append(Case(workload, "FAILED to run", notes=[traceback.format_exc(limit=3)[-800:]]))
            print(f"         {workload} took {time.perf_counter() - t0:.0f} s", flush=True)
    meta["seconds"] = time.perf_counter() - started
    report = render(cases, meta)
    print(report)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out)
    common.write_json(out / f"{stamp}.json", {**meta, "cases": [c.to_json() for c in cases]})
    (out / f"{stamp}.md").write_text(report)
    full = not args.quick and len(selected) == len(WORKLOADS) and use_mlflow
    if args.write_results_md == "yes" or (args.write_results_md == "auto" and full):
        (common.BENCH_DIR / "RESULTS.md").write_text(report)
    print(f"results: {out / stamp}.json / .md ({meta['seconds']:.0f} s)")
    return 0


def _runners(mlflow_python, mlflow_run):
    from . import cold_bench, import_bench, logging_bench, search_bench

    return [
        ("W1+W2+W7", lambda cfg: logging_bench.run_w1_w2_w7(cfg, mlflow_run)),
        ("W3", lambda cfg: search_bench.run_w3(cfg, mlflow_run)),
        ("W4", lambda cfg: search_bench.run_w4(cfg, mlflow_run)),
        ("W5", lambda cfg: search_bench.run_w5(cfg, mlflow_run)),
        ("W6", lambda cfg: cold_bench.run_w6(cfg, mlflow_python)),
        ("W8", lambda cfg: import_bench.run_w8(cfg, mlflow_run is not None)),
        ("W9", lambda cfg: logging_bench.run_w9(cfg, mlflow_python)),
    ]


# ----- the report ----------------------------------------------------------------------------------
def rerender(path: Path, to_results_md: bool) -> int:
    """Markdown of a saved results JSON (e.g. after editing bench/analysis.md)."""
    import json

    from .common import Sample

    data = json.loads(path.read_text())

    def sample(d):
        return None if d is None else Sample(d["values"], d["unit"], d.get("size", ""), d.get("note", ""))

    cases = [Case(c["workload"], c["case"], sample(c["sqltrack"]), sample(c["mlflow"]), sample(c["raw"]),
                  c.get("target", ""), c.get("met"), c.get("notes", [])) for c in data["cases"]]
    report = render(cases, data)
    print(report)
    if to_results_md:
        (common.BENCH_DIR / "RESULTS.md").write_text(report)
    return 0


def _fmt(sample, with_range: bool = True) -> str:
    if sample is None or not sample.values:
        return "n/a"
    unit = sample.unit

    def one(v: float) -> str:
        if unit == "s":
            return f"{v * 1000:,.1f} ms" if v < 10 else f"{v:,.1f} s"
        if unit == "points/s":
            return f"{v:,.0f}/s"
        return f"{v:,.1f}"

    text = one(sample.median)
    if with_range:
        text += f" ({one(min(sample.values))} – {one(max(sample.values))})"
    return text


def _ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    if percent:
        return f"{value:.0%}"
    return f"{value:,.1f}×" if value < 100 else f"{value:,.0f}×"


def render(cases: list[Case], meta: dict) -> str:
    m = meta["machine"]
    lines = [
        "# sqltrack benchmark results",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}; Python {m['python']}; SQLite {m['sqlite']}; {m['platform']}; "
        f"load average at start {m['load_at_start']}.  ",
        f"sqltrack {meta.get('sqltrack')}; MLflow {meta['mlflow'] or 'not measured'}; "
        f"{'quick' if meta['quick'] else 'full'} run, {meta['config']['reps']} timed repetitions per case "
        f"({meta['config'].get('search_reps', meta['config']['reps'])} for W3's searches; median, with min – max), "
        f"suite wall time {meta.get('seconds', 0):.0f} s.",
        "",
        "Columns: *vs MLflow* = how many times faster sqltrack is than MLflow (same workload, measured in this "
        "run; sizes can differ, see the size columns); *of raw* = sqltrack's speed as a fraction of raw sqlite3 "
        "doing the same work by hand (100% = as fast as raw; for bytes/point, raw size / sqltrack size).",
        "",
        "| workload | case | sqltrack | size | MLflow | MLflow size | raw sqlite3 | vs MLflow | of raw "
        "| target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        met = "" if c.met is None else ("yes" if c.met else "**no**")
        lines.append(" | ".join([
            f"| {c.workload}", c.name, _fmt(c.sqltrack), c.sqltrack.size if c.sqltrack else "",
            _fmt(c.mlflow), c.mlflow.size if c.mlflow else "", _fmt(c.raw, with_range=False),
            _ratio(c.speedup_vs(c.mlflow)), _ratio(c.speedup_vs(c.raw), percent=True), c.target, met]) + " |")
    notes = [(c.workload, c.name, n) for c in cases for n in c.notes + [s.note for s in (c.sqltrack, c.mlflow)
                                                                          if s is not None and s.note]]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {w} {name}: {n}" for w, name, n in notes]
    analysis = common.BENCH_DIR / "analysis.md"
    if analysis.exists():
        lines += ["", analysis.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
