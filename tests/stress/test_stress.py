"""The stress scripts of this folder, run by pytest (and so by ``.ci/run``) at a size CI can afford.

``SQLTRACK_STRESS=full`` runs the full sizes of issue 6 instead. Single sizes can be set too:

=========================  ==============================================  ===========  ============
variable                   meaning                                         CI default   full
=========================  ==============================================  ===========  ============
``SQLTRACK_SWEEP``         writers,runs per writer,steps,readers           8,5,500,2    8,25,500,2
``SQLTRACK_KILLS``         SIGKILLs of a logging process                   50           50
``SQLTRACK_KILL_DELAY``    longest wait before a kill (s)                  1.0          1.5
``SQLTRACK_FUZZ``          generated and mutated filter strings            100000       100000
``SQLTRACK_HYPOTHESIS``    hypothesis examples (parse only)                2000         20000
``SQLTRACK_ATHERIS``       atheris runs (only where atheris is installed)  2000         20000
=========================  ==============================================  ===========  ============

Each test prints its figures (``pytest -s`` shows them); the scripts print the same when run
directly (``python tests/stress/sweep.py`` etc.). No test asserts on time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import fuzz_filters, kills, sweep

pytestmark = pytest.mark.slow

FULL = os.environ.get("SQLTRACK_STRESS", "ci") == "full"


def _size(name: str, ci, full):
    value = os.environ.get(name)
    if value is None:
        return full if FULL else ci
    return type(ci)(value) if not isinstance(ci, tuple) else tuple(int(v) for v in value.split(","))


def test_sweep_of_writers_while_readers_search(tmp_path):
    workers, runs, steps, readers = _size("SQLTRACK_SWEEP", (8, 5, 500, 2), (8, 25, 500, 2))
    result = sweep.run_sweep(tmp_path / "sweep.db", workers, runs, steps, readers)
    print(result.summary())
    assert result.errors == []  # not one "database is locked" (nor anything else) reached a process
    assert [i for i in result.inconsistencies if i][:20] == [] and len(result.inconsistencies) == 0
    assert result.count_problems == []  # nothing lost, nothing twice, aggregates exact
    assert result.searches >= readers  # the readers did search, while the writers wrote and after


def test_sigkill_at_random_moments(tmp_path):
    count = _size("SQLTRACK_KILLS", 50, 50)
    delay = _size("SQLTRACK_KILL_DELAY", 1.0, 1.5)
    result = kills.run_kills(tmp_path / "kills.db", kills=count, max_delay=delay, seed=1)
    print(result.summary())
    assert result.problems == []
    assert result.kills == count and result.acknowledged_calls > count


def test_filter_fuzz_raises_only_filter_syntax_errors():
    count = _size("SQLTRACK_FUZZ", 100_000, 100_000)
    result = fuzz_filters.run_fuzz(count, seed=1, workers=2)
    print(result.summary())
    assert result.failures == []
    assert result.inputs >= count and result.accepted > 0 and result.rejected > 0 and result.executed > 0


_tokens = st.lists(st.sampled_from(fuzz_filters.TOKENS), max_size=15).map(" ".join)
_filters = st.one_of(st.text(max_size=120), _tokens, st.builds(fuzz_filters.mutate, st.randoms(use_true_random=False),
                                                               st.sampled_from(fuzz_filters.corpus())))


@settings(max_examples=_size("SQLTRACK_HYPOTHESIS", 2_000, 20_000), deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(text=_filters)
def test_filter_fuzz_with_hypothesis(text):
    result = fuzz_filters.FuzzResult()
    fuzz_filters.check_one(text, result, order_by=True)
    assert result.failures == []


def test_filter_fuzz_with_atheris(tmp_path):
    pytest.importorskip("atheris",
                        reason="atheris is not installed (pip install atheris) - coverage-guided run skipped")
    runs = _size("SQLTRACK_ATHERIS", 2_000, 20_000)
    script = Path(fuzz_filters.__file__)
    done = subprocess.run([sys.executable, str(script), "--atheris", str(runs)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=3600)
    executed = re.search(r"number_of_executed_units: (\d+)", done.stderr)
    print(f"atheris: {executed.group(1) if executed else '?'} inputs, exit status {done.returncode}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert executed and int(executed.group(1)) >= runs
