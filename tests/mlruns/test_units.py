"""The small parts: the flat meta.yaml fast path, metric lines, latest_metrics rows."""

from __future__ import annotations

import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sqltrack.mlruns.values_io import parse_metric_lines
from sqltrack.mlruns.yaml_safe import _flat_mapping, dump, load_mapping
from sqltrack.store import values as V
from sqltrack.store.batch import LATEST_ROW_NAMES, Point, _Summary
from sqltrack.store.bulk import canonical_points, latest_row

_scalars = st.one_of(st.none(), st.integers(-(2**62), 2**62), st.booleans(), st.floats(allow_nan=False),
                     st.text(max_size=40), st.sampled_from(["yes", "No", "null", "~", "0b101", "1:20", "2021-01-01",
                                                            "abc123", "0x1f", "1e5", "file:///a b/c", "a: b"]))


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), _scalars, min_size=1, max_size=8))
@settings(max_examples=400, deadline=None)
def test_fast_path_agrees_with_the_safe_loader(data):
    text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=True)
    fast = _flat_mapping(text)
    if fast is not None:
        assert fast == yaml.safe_load(text)
    assert load_mapping(text.encode(), "x") == yaml.safe_load(text)


def test_dump_matches_mlflow_settings():
    meta = {"name": "ünï", "experiment_id": "0", "tags": [], "end_time": None, "status": 3}
    assert dump(meta) == "end_time: null\nexperiment_id: '0'\nname: ünï\nstatus: 3\ntags: []\n"


def test_metric_lines_all_formats():
    points = parse_metric_lines(b"10 1.5\n11 nan 2\r\n12 inf 3\n13 -inf 4 ds d1\n\n", "m")
    assert [(p[0], p[1], p[3]) for p in points] == [(0, 10, V.FINITE), (2, 11, V.NAN), (3, 12, V.POS_INF),
                                                    (4, 13, V.NEG_INF)]


def test_duplicate_metric_lines_collapse():
    assert len(parse_metric_lines(b"1 2.0 0\n1 2.0 0\n1 nan 0\n1 nan 0\n", "m")) == 2


_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0]))


@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 5), _values), min_size=1, max_size=30),
       st.booleans())
@settings(max_examples=400, deadline=None)
def test_latest_row_matches_batch_summary(points, native):
    canonical = canonical_points(points)
    exact = [Point("", s, t, V.decode_metric(v, k)) for s, t, v, k in canonical]
    expected = dict(zip(LATEST_ROW_NAMES, _Summary.of(exact).row(1, 2, native), strict=True))
    got = dict(zip(LATEST_ROW_NAMES, latest_row(1, 2, canonical, native), strict=True))
    for column, want in expected.items():
        have = got[column]
        if isinstance(want, float) and math.isnan(want):
            assert isinstance(have, float) and math.isnan(have)
        else:
            assert have == want, column
