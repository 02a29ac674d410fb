"""A list with a page token, as MLflow's ``PagedList``."""

from __future__ import annotations

import base64
import json
from typing import Generic, Iterable, TypeVar

from ..errors import InvalidParameter

T = TypeVar("T")

MAX_RESULTS_LIMIT = 50_000


class PagedList(list, Generic[T]):
    """The items of one page; ``token`` is None on the last page."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def check_max_results(max_results: int | None) -> int | None:
    """MLflow's bounds: 1..50,000 per page, or None for everything."""
    if max_results is None:
        return None
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameter(f"Invalid value {max_results!r} for max_results: use a positive integer, or None.")
    if max_results > MAX_RESULTS_LIMIT:
        raise InvalidParameter(f"max_results is {max_results:,}; the limit per page is {MAX_RESULTS_LIMIT:,}. "
                               "Use page_token to get more, or max_results=None for everything.")
    return max_results


def encode_token(offset: int, snapshot: int) -> str:
    """A token for the page at ``offset`` of a result that sees runs up to internal id ``snapshot``."""
    raw = json.dumps({"offset": offset, "snapshot": snapshot}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None) -> tuple[int, int | None]:
    """(offset, snapshot) from a token; (0, None) for the first page."""
    if not token:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, snapshot = int(data["offset"]), data.get("snapshot")
        if offset < 0:
            raise ValueError(offset)
        return offset, None if snapshot is None else int(snapshot)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise InvalidParameter(f"Invalid page token {token!r}: pass the token of a previous result unchanged.") \
            from None
