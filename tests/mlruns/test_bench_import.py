"""bench/bench_import.py: how its repetitions are kept apart (the numbers themselves are not tested)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH_IMPORT = Path(__file__).resolve().parents[2] / "bench" / "bench_import.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_import_under_test", BENCH_IMPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_repetition_starts_right_after_deleting_an_earlier_ones_output(tmp_path, monkeypatch):
    """Deleting 2,000 blob files just before an import slows its file creation (journal-less ext4),
    so every repetition's output, of both tree sizes, stays until the last measurement, then all of it goes."""
    bench = _load_bench()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    monkeypatch.setattr(bench, "tree_for", lambda runs: tree)
    outputs: list[Path] = []

    def contender(_tree, work: Path) -> float:
        assert all(p.exists() for p in outputs), "an earlier repetition's output was deleted mid-measurement"
        out = work / "blob"
        out.write_text("written")
        outputs.append(out)
        return 0.1

    monkeypatch.setattr(bench, "sqltrack_api", contender)
    monkeypatch.setattr(bench, "sqltrack_cli", contender)
    monkeypatch.setattr(bench.sys, "argv", ["bench_import.py", "--runs", "1", "--large", "2", "--reps", "3",
                                            "--large-reps", "2", "--no-mlflow"])
    monkeypatch.setattr(bench, "BENCH", tmp_path)  # results/import-*.json goes here
    bench.main()
    assert len(outputs) == 10 and len({p.parent for p in outputs}) == 10  # one folder per repetition
    assert not any(p.exists() for p in outputs)  # and all removed at the end


def test_w8_row_is_judged_against_both_halves_of_its_target(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH_IMPORT.parents[1]))
    from bench.common import Case, Sample
    from bench.import_bench import TARGET, judge

    def case(mine: float, mlflow: float | None, raw: float) -> Case:
        return Case("W8", "import", Sample([mine] * 5, "s"), Sample([mlflow] * 5, "s") if mlflow else None,
                    Sample([raw] * 5, "s"), target=TARGET)

    assert judge(case(1.9, 25.0, 1.0)) is True
    assert judge(case(2.1, 25.0, 1.0)) is False  # 2.1x the plain read
    assert judge(case(1.5, 7.0, 1.0)) is False  # 4.7x MLflow
    assert judge(case(1.5, None, 1.0)) is None  # MLflow not measured: not judged
