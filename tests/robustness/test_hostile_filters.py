"""Filter strings typed by hand (or by an attacker): SQL in them is data, never SQL.

The broad fuzz (100,000 generated and mutated strings, hypothesis, atheris) is in
``tests/stress/fuzz_filters.py``; these are the targeted cases, on every backend.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from sqltrack import Metric, Param, RunTag
from sqltrack.errors import FilterSyntaxError, InvalidParameter
from sqltrack.store.schema import metrics, params, runs, tags

PAYLOADS = [
    "x' OR '1'='1",
    "x'' OR ''1''=''1",
    "'; DROP TABLE runs; --",
    "\"; DELETE FROM metrics; --",
    "a\\' OR 1=1 --",
    "1 UNION SELECT run_uuid FROM runs",
    "/* comment */ 1",
    "%",
    "_",
    "\\",
    "\\\\%",
    ";",
    "--",
    "') OR ('a'='a",
    "x\" OR \"1\"=\"1",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "PRAGMA writable_schema = 1",
    "char(39)||char(39)",
    "é𝄞\u202e\ufeff",
]

ATTACKS = [
    "params.p = 'x' OR '1'='1'",
    "params.p = 'x' OR 1=1",
    "params.p = 'x'; DROP TABLE runs; --'",
    "params.p = 'x' --",
    "params.p = 'x' /*",
    "params.p = 'x' UNION SELECT * FROM runs",
    "metrics.m > 0 UNION SELECT run_uuid FROM runs",
    "params.p = (SELECT value FROM params)",
    "params.p = char(115)||char(97)",
    "params.p IN ('x'); DELETE FROM runs",
    "params.`p` = 'x' OR `1`",
    "metrics.m > load_extension('evil')",
    "params.p LIKE '%' ESCAPE '\\'",
    "params.p = 'x\x00' OR 1=1",
    "tags.`t'; DROP TABLE tags; --` = 'x'",
    "attributes.status = 'FINISHED' OR attributes.status != 'FINISHED' -- safe",
]


def _key(payload: str) -> str:
    """A payload as a metric key (keys may not hold '\\' or be path-like with empty segments)."""
    return "m" + payload.replace("\\", "|").replace("/", "|")


def _literal(value: str) -> str | None:
    """The filter literal for a value: single quotes unless it holds one (MLflow does not unescape)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


@pytest.fixture
def hostile(client):
    """One run per payload (as param, tag and metric key), and decoy runs that no attack may reach."""
    ids = {}
    for index, payload in enumerate(PAYLOADS):
        run_id = client.create_run("0", run_name=f"payload{index}").info.run_id
        client.log_batch(run_id, metrics=[Metric(_key(payload), 1.0, 0, 0)],
                         params=[Param("p", payload)], tags=[RunTag("t", payload)])
        ids[payload] = run_id
    decoys = [client.create_run("0", run_name=f"decoy{i}").info.run_id for i in range(3)]
    for run_id in decoys:
        client.log_batch(run_id, metrics=[Metric("m", 5.0, 0, 0)], params=[Param("p", "safe")],
                         tags=[RunTag("t", "safe")])
    return ids, decoys


def _counts(client) -> dict:
    def unit(conn):
        tables = (runs, params, tags, metrics)
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in tables}

    return client.store.read(unit)


@pytest.mark.parametrize("field", ["params.p", "tags.t"])
def test_payload_values_are_found_exactly_as_data(client, hostile, field):
    ids, _ = hostile
    for payload, run_id in ids.items():
        literal = _literal(payload)
        if literal is None:
            continue
        found = client.search_runs(["0"], f"{field} = {literal}")
        assert [r.info.run_id for r in found] == [run_id], payload
        assert client.get_run(run_id).data.params["p"] == payload


def test_payload_keys_are_found_exactly_as_data(client, hostile):
    ids, _ = hostile
    for payload, run_id in ids.items():
        key = _key(payload)
        if "`" in key:
            continue
        found = client.search_runs(["0"], f"metrics.`{key}` = 1")
        assert [r.info.run_id for r in found] == [run_id], key


def test_like_wildcards_in_data_do_not_widen_an_equality(client, hostile):
    ids, decoys = hostile
    found = {r.info.run_id for r in client.search_runs(["0"], "params.p = '%'")}
    assert found == {ids["%"]}  # '=' compares literally: no wildcard meaning
    assert not {r.info.run_id for r in client.search_runs(["0"], "params.p = '_'")} & set(decoys)


def test_attacks_are_refused_or_harmless(client, hostile):
    _, decoys = hostile
    before = _counts(client)
    for attack in ATTACKS:
        try:
            found = client.search_runs(["0"], attack)
        except FilterSyntaxError:
            continue
        reached = {r.info.run_id for r in found} & set(decoys)
        if "status" not in attack:  # the one attack that is a valid, honest filter
            assert not reached, attack
    assert _counts(client) == before  # nothing was written, dropped or deleted


@pytest.mark.sqlite_only
def test_attacks_leave_the_schema_alone(client, hostile):
    def schema(conn):
        return sorted(conn.execute(text("SELECT type, name FROM sqlite_master")).all())

    before = client.store.read(schema)
    for attack in ATTACKS:
        try:
            client.search_runs(["0"], attack)
        except FilterSyntaxError:
            pass
    assert client.store.read(schema) == before
    attached = {row[1] for row in client.store.read(lambda c: c.execute(text("PRAGMA database_list")).all())}
    assert attached <= {"main", "temp"}  # nothing attached


def test_nul_cannot_be_stored_and_is_data_in_a_filter(client, hostile):
    run_id = next(iter(hostile[0].values()))
    with pytest.raises(InvalidParameter, match="NUL"):
        client.log_param(run_id, "q", "a\x00b")
    with pytest.raises(FilterSyntaxError, match="NUL"):  # no stored value can hold NUL, on any backend
        client.search_runs(["0"], "params.p = 'x\x00'")


def test_order_by_injection_is_refused(client, hostile):
    for clause in ["metrics.m DESC; DROP TABLE runs", "metrics.m, (SELECT 1)", "params.p ASC --", "1; --"]:
        with pytest.raises(FilterSyntaxError):
            client.search_runs(["0"], "", order_by=[clause])


# ----- found by the fuzz, fixed in the grammar ---------------------------------------------------
@pytest.mark.sqlite_only
def test_long_not_chains_are_a_filter_syntax_error_or_collapse(client):
    """NOT NOT x is x, so a long chain never reaches SQLite's parser stack; a huge one is too deep to parse."""
    for count in (40, 100, 199):
        try:
            found = client.search_runs(["0"], "NOT " * count + "metrics.m > 1")
        except FilterSyntaxError:
            continue
        expected = client.search_runs(["0"], ("NOT " if count % 2 else "") + "metrics.m > 1")
        assert [r.info.run_id for r in found] == [r.info.run_id for r in expected]


def test_dollar_after_a_keyword_is_a_filter_syntax_error():
    from sqltrack.query.parse import parse_filter

    for filter_string in ("NOT$a.b = 1", "x = 1 AND$params.p = 'y'", "x = 1 OR$b = 1"):
        with pytest.raises(FilterSyntaxError):
            parse_filter(filter_string)
