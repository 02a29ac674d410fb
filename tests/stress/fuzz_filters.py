"""Fuzz: filter and order_by strings, generated and mutated, must raise nothing but FilterSyntaxError.

Three sources of input, all counted:

* this script's own engine (the bulk): token soups from the filter language, well-formed
  filters built from a small grammar and then mutated, mutations of a seed corpus (the golden
  filters of ``tests/query/fixtures/filters.txt``, SQL-injection attempts), random Unicode and
  control characters, and inputs far over the size and nesting caps. Deterministic per seed.
* hypothesis (in ``test_stress.py``), and
* atheris, coverage-guided, when it is installed (``--atheris RUNS``).

Every string is parsed as a run filter, and one in five also as an experiment filter and an
order_by clause. One accepted filter in three is also compiled and run against a real store with a few
runs, so what the parser accepts must also compile and execute cleanly.

Usage:
    python tests/stress/fuzz_filters.py [--inputs 100000] [--seed 1] [--workers 2]
    python tests/stress/fuzz_filters.py --atheris 20000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "query" / "fixtures" / "filters.txt"

INJECTIONS = [
    "params.p = 'x' OR '1'='1'",
    "params.p = 'x'' OR ''1''=''1'",
    "params.p = 'x\\' OR 1=1 --'",
    "params.p = 'a'; DROP TABLE runs; --'",
    "params.p = \"a\"; DELETE FROM metrics",
    "metrics.m > 0 UNION SELECT * FROM runs",
    "metrics.m > 0) UNION SELECT run_uuid FROM runs --",
    "params.`p'; DROP TABLE runs; --` = 'x'",
    "tags.`a` = 'b' /* comment */",
    "attributes.run_id IN ('a', 'b'); ATTACH DATABASE '/tmp/x' AS x",
    "params.p LIKE '%' ESCAPE '\\'",
    "params.p = 'nul\x00byte'",
    "params.p = 'back\\\\slash'",
    "metrics.`m\x00` > 1",
    "attributes.status = 'FINISHED' -- and metrics.m > 1",
    "params.p = char(65)||char(66)",
    "params.p = (SELECT name FROM sqlite_master)",
    "metrics.m > load_extension('x')",
    "params.p = 'x' AND 1=(SELECT COUNT(*) FROM runs)",
    "tags.t = 'pragma writable_schema=1'",
]

TOKENS = [
    "metrics.", "params.", "tags.", "attributes.", "attr.", "run.", "dataset.", "metric.", "param.", "tag.",
    "mse", "acc", "`val loss`", "`a.b`", '"q"', "'k'", "mlflow.runName", "status", "start_time", "end_time",
    "run_id", "run_name", "artifact_uri", "user_id", "created", "lifecycle_stage",
    "=", "!=", "<>", "==", "<", "<=", ">", ">=", "LIKE", "ILIKE", "like", "NOT LIKE", "IN", "NOT IN", "IS",
    "IS NOT", "NULL", "AND", "OR", "NOT", "and", "or", "not", "(", ")", ",", "'", '"', "`", "\\", "%", "_",
    "0", "1", "-1", "1.5", ".5", "1e308", "1e999", "-0.0", "nan", "inf", "9223372036854775808",
    "'x'", "''", "'it''s'", "'FINISHED'", "'%a%'", '"0.9"', "max(", "min(", "avg(", "count(", "first(",
    "last(", "CAST(", "AS", "REAL", "INTEGER", "ASC", "DESC", "--", "/*", "*/", ";", "UNION", "SELECT", "$", "@", "#",
    "DROP", "TABLE", "ATTACH", "PRAGMA", "\x00", "\n", "\t", " ", "é", "𝄞", "\u202e", "\ufeff", "\x7f",
]

SIMPLE_FIELDS = ["metrics.mse", "metrics.`val loss`", "params.lr", "params.`a b`", "tags.t", "tags.`mlflow.runName`",
                 "attributes.status", "attributes.start_time", "attributes.run_name", "run_id", "status",
                 "metrics.acc", "params.model", "attr.end_time"]
OPS = ["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "NOT LIKE"]
VALUES = ["0.5", "1", "-3", "1e3", "'x'", "'FINISHED'", "'%a%'", '"0.9"', "'it''s'", "''", "nan", "'\\''"]


def corpus() -> list[str]:
    seeds = list(INJECTIONS)
    if CORPUS.exists():
        seeds += [line[len("filter: "):].rstrip("\n") for line in CORPUS.open(encoding="utf-8")
                  if line.startswith("filter: ")]
    return seeds


def well_formed(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        glue = rng.choice([" AND ", " OR ", " and ", " or "])
        return "(" + well_formed(rng, depth + 1) + glue + well_formed(rng, depth + 1) + ")"
    if depth < 3 and roll < 0.3:
        return "NOT " + well_formed(rng, depth + 1)
    field_ = rng.choice(SIMPLE_FIELDS)
    if roll < 0.4:
        return f"{field_} IN ({', '.join(rng.choice(VALUES) for _ in range(rng.randint(1, 4)))})"
    if roll < 0.45:
        return f"{field_} IS {rng.choice(['NULL', 'NOT NULL'])}"
    return f"{field_} {rng.choice(OPS)} {rng.choice(VALUES)}"


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        roll, pos = rng.random(), rng.randrange(len(chars) + 1)
        if roll < 0.2 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif roll < 0.45:
            chars[pos:pos] = list(rng.choice(TOKENS))
        elif roll < 0.6 and chars:
            chars[min(pos, len(chars) - 1)] = chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x3000),
                                                             rng.randrange(0x10000, 0x10FFFF)]))
        elif roll < 0.75 and chars:
            end = rng.randrange(pos, len(chars) + 1)
            chars[pos:pos] = chars[pos:end]  # duplicate a chunk
        elif roll < 0.85:
            chars = chars[:pos]  # truncate
        else:
            cut = rng.randrange(len(chars) + 1)
            chars = chars[cut:] + chars[:cut]  # rotate
    return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)


def generate(rng: random.Random, seeds: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return mutate(rng, rng.choice(seeds))
    if roll < 0.5:
        text = well_formed(rng)
        return mutate(rng, text) if rng.random() < 0.5 else text
    if roll < 0.75:
        return rng.choice(["", " ", ""]).join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
    if roll < 0.98:
        return "".join(chr(rng.randrange(0, 0x250)) for _ in range(rng.randint(0, 60)))
    return rng.choice([
        lambda: "(" * rng.randint(10, 3000) + "metrics.m > 1" + ")" * rng.randint(0, 3000),
        lambda: " AND ".join(well_formed(rng) for _ in range(rng.randint(100, 400))),
        lambda: "params.p = '" + "x" * rng.randint(5_000, 20_000) + "'",
        lambda: "NOT " * rng.randint(10, 500) + "metrics.m > 1",
        lambda: "metrics.m IN (" + ", ".join("1" for _ in range(rng.randint(100, 3000))) + ")",
        lambda: "'" * rng.randint(1, 5000),
    ])()


#: Failures already reported to the query engineer, counted apart so that a new one stands out.
#: Each: (a substring of the exception text, the issue). Remove an entry once it is fixed.
KNOWN_ISSUES: list[tuple[str, str]] = []  # both found by this fuzz (NOT chains, '$' after a keyword) are fixed


def known_issue(report: str) -> str | None:
    return next((issue for needle, issue in KNOWN_ISSUES if needle in report), None)


@dataclass
class FuzzResult:
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0
    order_by_checked: int = 0
    executed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)  # known issue -> how many inputs hit it

    def add(self, other: "FuzzResult") -> None:
        for name in ("inputs", "accepted", "rejected", "order_by_checked", "executed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        for issue, count in other.known.items():
            self.known[issue] = self.known.get(issue, 0) + count

    def summary(self) -> str:
        known = "".join(f"; known issue hit {n} times: {issue}" for issue, n in self.known.items())
        return (f"{self.inputs:,} filter strings fuzzed in {self.seconds:.0f} s: {self.accepted:,} accepted, "
                f"{self.rejected:,} refused with FilterSyntaxError, {self.order_by_checked:,} also as experiment "
                f"filter and order_by, {self.executed:,} accepted filters run on a real store; other exceptions: "
                f"{len(self.failures)}{known}")


def check_one(text: str, result: FuzzResult, client=None, order_by: bool = False) -> None:
    """Parse (and maybe run) one string; anything but FilterSyntaxError is recorded as a failure."""
    from sqltrack.errors import FilterSyntaxError
    from sqltrack.query.parse import parse_filter, parse_filter_for, parse_order_by

    result.inputs += 1
    try:
        if order_by:  # one in five: also as an experiment filter and an order_by clause
            result.order_by_checked += 1
            for call in (lambda: parse_order_by([text]), lambda: parse_filter_for(text, "experiment")):
                try:
                    call()
                except FilterSyntaxError:
                    pass
        try:
            parse_filter(text)
        except FilterSyntaxError as error:
            result.rejected += 1
            if not (0 <= error.position <= len(text)) or not str(error):
                result.failures.append(f"{text!r:.300}: FilterSyntaxError without a usable position/message")
            return
        result.accepted += 1
        if client is not None and result.accepted % 3 == 0:
            result.executed += 1
            try:
                client.search_runs(None, text, max_results=5)
            except FilterSyntaxError:
                pass
    except Exception:  # noqa: BLE001 - the point of the fuzz
        report = traceback.format_exc(limit=6)
        issue = known_issue(report)
        if issue is not None:
            result.known[issue] = result.known.get(issue, 0) + 1
        elif len(result.failures) < 50:
            result.failures.append(f"{text!r:.300}:\n{report}")


def make_store(path: str) -> None:
    """A few runs with the fields the generated filters name, so that searches have something to match."""
    from sqltrack import Client

    client = Client(path)
    for index in range(4):
        run = client.create_run("0", run_name=f"r{index}")
        run_id = run.info.run_id
        client.log_metric(run_id, "mse", 0.5 * index)
        client.log_metric(run_id, "val loss", float("nan") if index == 2 else index)
        client.log_param(run_id, "lr", str(10 ** -index))
        client.log_param(run_id, "model", "it's")
        client.set_tag(run_id, "t", "x" if index % 2 else "%a%")
        if index % 2:
            client.set_terminated(run_id)
    client.close()


def _fuzz_slice(args: tuple) -> FuzzResult:
    store, seed, count = args
    from sqltrack import Client

    rng, seeds, result = random.Random(seed), corpus(), FuzzResult()
    client = Client(store, read_only=True) if store else None
    try:
        for number in range(count):
            check_one(generate(rng, seeds), result, client, order_by=number % 5 == 0)
    finally:
        if client is not None:
            client.close()
    return result


def run_fuzz(inputs: int = 100_000, seed: int = 1, workers: int = 2, store: str | None = None) -> FuzzResult:
    """Fuzz ``inputs`` strings in ``workers`` processes (with the seed corpus first, verbatim)."""
    started = time.perf_counter()
    total = FuzzResult()
    with tempfile.TemporaryDirectory(prefix="sqltrack-fuzz-") as folder:
        path = store or str(Path(folder) / "fuzz.db")
        if not os.path.exists(path):
            make_store(path)
        seeds = corpus()
        from sqltrack import Client

        client = Client(path, read_only=True)
        for text in seeds:
            check_one(text, total, client, order_by=True)
        client.close()
        remaining = max(0, inputs - len(seeds))
        chunks = [(path, seed * 1000 + i, remaining // workers + (i < remaining % workers)) for i in range(workers)]
        if workers == 1:
            parts = [_fuzz_slice(chunks[0])]
        else:
            with mp.get_context("spawn").Pool(workers) as pool:
                parts = pool.map(_fuzz_slice, chunks)
        for part in parts:
            total.add(part)
    total.seconds = time.perf_counter() - started
    return total


# ----- atheris -----------------------------------------------------------------------------------
def run_atheris(runs: int, seed: int = 1) -> None:
    """Coverage-guided fuzzing of the parser with atheris (libFuzzer); a non-zero exit is a finding."""
    import atheris

    with atheris.instrument_imports():
        from sqltrack.errors import FilterSyntaxError
        from sqltrack.query import parse as parse_module

    known: dict[str, int] = {}

    def one_input(data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        text = provider.ConsumeUnicodeNoSurrogates(provider.remaining_bytes())
        for call in (lambda: parse_module.parse_filter(text), lambda: parse_module.parse_order_by([text]),
                     lambda: parse_module.parse_filter_for(text, "experiment")):
            try:
                call()
            except FilterSyntaxError:
                pass
            except Exception:  # a known issue is counted; anything else is a finding (atheris stops)
                issue = known_issue(traceback.format_exc(limit=6))
                if issue is None:
                    raise
                known[issue] = known.get(issue, 0) + 1

    with tempfile.TemporaryDirectory(prefix="sqltrack-atheris-") as corpus_dir:
        for index, text in enumerate(corpus()):
            Path(corpus_dir, f"seed{index}").write_bytes(text.encode("utf-8", "surrogatepass"))
        atheris.Setup([sys.argv[0], f"-runs={runs}", f"-seed={seed}", "-max_len=400", "-timeout=30",
                       "-print_final_stats=1", corpus_dir], one_input)
        atheris.Fuzz()  # exits the process: with status 0 after -runs inputs, else at the first finding


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--atheris", type=int, metavar="RUNS", help="run atheris for RUNS inputs instead")
    args = parser.parse_args(argv)
    if args.atheris:
        run_atheris(args.atheris, args.seed)
        return 0
    result = run_fuzz(args.inputs, args.seed, args.workers)
    print(result.summary())
    for failure in result.failures[:10]:
        print("  " + failure.replace("\n", "\n  "))
    print("OK" if not result.failures else "FAILED")
    return 0 if not result.failures else 1


if __name__ == "__main__":
    sys.exit(main())
