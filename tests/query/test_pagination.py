"""Client.search_runs pages: a page token keeps later pages stable while runs are logged.

Runs on every backend the ``client`` fixture provides (tests/conftest.py).

The token carries the largest internal run id the first page saw; later pages search only
runs up to it, so a run logged between two pages (which would sort anywhere, even first)
cannot shift the next page, and nothing is returned twice or skipped.
"""

from __future__ import annotations

import pytest

from sqltrack import Client
from sqltrack.errors import InvalidParameter


@pytest.fixture
def ten_runs(client: Client):
    """Ten finished runs r0..r9 with start times 1000..10000 and a metric 'score' = index."""
    experiment = client.create_experiment("paging")
    names = {}
    for index in range(10):
        run = client.create_run(experiment, start_time=1000 * (index + 1), run_name=f"r{index}")
        client.log_metric(run.info.run_id, "score", float(index), timestamp=1, step=0)
        client.set_terminated(run.info.run_id, end_time=1000 * (index + 1) + 1)
        names[run.info.run_id] = f"r{index}"
    return client, experiment, names


def _names(page, names) -> list[str]:
    return [names.get(run.info.run_id, run.info.run_name) for run in page]


def _log(client: Client, experiment: str, name: str, start: int, score: float) -> None:
    run = client.create_run(experiment, start_time=start, run_name=name)
    client.log_metric(run.info.run_id, "score", score, timestamp=1, step=0)
    client.set_terminated(run.info.run_id, end_time=start + 1)


def test_a_run_logged_between_pages_does_not_shift_the_next_page(ten_runs):
    client, experiment, names = ten_runs
    first = client.search_runs([experiment], max_results=4)
    assert _names(first, names) == ["r9", "r8", "r7", "r6"] and first.token
    # newest of all: plain OFFSET paging would now return r6 again on page two
    _log(client, experiment, "newest", 99_000, 100.0)
    second = client.search_runs([experiment], max_results=4, page_token=first.token)
    assert _names(second, names) == ["r5", "r4", "r3", "r2"]
    _log(client, experiment, "oldest", 1, -1.0)
    third = client.search_runs([experiment], max_results=4, page_token=second.token)
    assert _names(third, names) == ["r1", "r0"] and third.token is None
    fresh = client.search_runs([experiment], max_results=None)
    assert _names(fresh, names)[0] == "newest" and _names(fresh, names)[-1] == "oldest" and len(fresh) == 12


def test_pages_ordered_by_a_metric_with_a_filter_stay_stable(ten_runs):
    client, experiment, names = ten_runs
    query = dict(filter_string="metrics.score >= 2", order_by=["metrics.score DESC"], max_results=3)
    pages = [client.search_runs([experiment], **query)]
    _log(client, experiment, "middle", 5_500, 6.5)      # would sort between r7 and r6
    _log(client, experiment, "top", 500, 50.0)          # would sort first
    while pages[-1].token:
        pages.append(client.search_runs([experiment], page_token=pages[-1].token, **query))
        _log(client, experiment, f"late{len(pages)}", 700, 4.5)
    assert [_names(page, names) for page in pages] == [["r9", "r8", "r7"], ["r6", "r5", "r4"], ["r3", "r2"]]


def test_concatenated_pages_equal_one_search(ten_runs):
    client, experiment, names = ten_runs
    whole = _names(client.search_runs([experiment], max_results=None, order_by=["metrics.score"]), names)
    for size in (1, 3, 5, 10):
        seen, token = [], None
        while True:
            page = client.search_runs([experiment], max_results=size, order_by=["metrics.score"], page_token=token)
            seen.extend(_names(page, names))
            token = page.token
            if token is None:
                break
        assert seen == whole, size


def test_an_exactly_full_last_page_has_no_token(ten_runs):
    client, experiment, _ = ten_runs
    page = client.search_runs([experiment], max_results=5)
    last = client.search_runs([experiment], max_results=5, page_token=page.token)
    assert len(last) == 5 and last.token is None
    assert client.search_runs([experiment], max_results=10).token is None


def test_deleting_a_run_between_pages(ten_runs):
    """The snapshot covers new runs only: a deleted run leaves the scope, and later pages move up."""
    client, experiment, names = ten_runs
    first = client.search_runs([experiment], max_results=4)
    client.delete_run(first[0].info.run_id)
    second = client.search_runs([experiment], max_results=4, page_token=first.token)
    assert _names(second, names) == ["r4", "r3", "r2", "r1"]


def test_bad_tokens_are_refused(ten_runs):
    client, experiment, _ = ten_runs
    for token in ("not a token", "eyJvZmZzZXQiOiAtMX0=", "e30="):  # garbage, {"offset": -1}, {}
        with pytest.raises(InvalidParameter, match="page token"):
            client.search_runs([experiment], max_results=4, page_token=token)
