"""The latest_metrics row (latest value and history aggregates) always equals a recount of the history."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sqltrack import Metric
from sqltrack.store.schema import key_names, latest_metrics
from sqltrack.store.values import MAX_FLOAT, decode_metric

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, 1.0, -1.0, math.nan, math.inf, -math.inf]))
points = st.lists(st.tuples(values, st.integers(0, 50), st.integers(-3, 3)), min_size=1, max_size=30)


def _expected(history: list[tuple[float, int, int]]) -> dict:
    order = lambda p: (p[2], p[1], 0.0 if p[0] != p[0] else p[0])  # noqa: E731
    finite = [v for v, _, _ in history if v == v]
    return {"latest": max(history, key=order)[0], "first": min(history, key=order)[0],
            "count": len(history), "min": min(finite) if finite else None, "max": max(finite) if finite else None}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (a != a and b != b) or a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(points, min_size=1, max_size=3))
def test_aggregates_match_history(client, batches):
    run_id = client.create_run("0").info.run_id
    stored: dict[tuple, tuple] = {}
    for batch in batches:
        client.log_batch(run_id, metrics=[Metric("m", v, t, s) for v, t, s in batch])
        for v, t, s in batch:
            key = (s, t, "nan" if v != v else v)
            stored[key] = (v, t, s)  # exact duplicates are stored once
    history = list(stored.values())
    want = _expected(history)
    row = client.store.read(lambda c: c.execute(
        select(latest_metrics).join(key_names, key_names.c.id == latest_metrics.c.key_id)
        .where(key_names.c.name == "m", latest_metrics.c.run_id == client.store.cached_run_id(run_id))).one())
    assert _same(client.get_run(run_id).data.metrics["m"], want["latest"])
    assert row.count == want["count"]
    fold = _fold(client.store.rules.native_inf)
    assert _same(fold(row.min_value), fold(want["min"])) and _same(fold(row.max_value), fold(want["max"]))
    assert _same(decode_metric(row.first_value, row.first_kind), want["first"])


def _fold(native_inf: bool):
    """Backends without infinity (MySQL/MariaDB) cannot tell ±max-float from ±inf in an aggregate column."""
    def convert(value):
        if value is None or native_inf or abs(value) < MAX_FLOAT:
            return value
        return math.copysign(math.inf, value)

    return convert
