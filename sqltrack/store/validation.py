"""Limits and checks on keys and values, with errors that say what to change.

Limits (documented in README "Guarantees"): keys up to 250 characters; param and
tag values up to 1,000,000 characters (MLflow stops at 6,000/8,000); up to 100,000
metric points per batch call.
"""

from __future__ import annotations

import math
import re

from ..errors import InvalidParameter

MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 1_000_000
MAX_BATCH_POINTS = 100_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_GOOD_KEYS: set[str] = set()


def validate_key(key: object, what: str) -> str:
    """Return the key if it is usable: a non-empty string, no control characters, a safe relative path."""
    if key in _GOOD_KEYS:  # keys repeat on every step of a training loop
        return key  # type: ignore[return-value]
    _check_key(key, what)
    if len(_GOOD_KEYS) < 100_000:
        _GOOD_KEYS.add(key)  # type: ignore[arg-type]
    return key  # type: ignore[return-value]


def _check_key(key: object, what: str) -> None:
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"Invalid {what} key {key!r}: keys are non-empty strings.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(f"The {what} key {key[:40]!r}… is {len(key)} characters; the limit is {MAX_KEY_LENGTH}.")
    if _CONTROL.search(key) or "\\" in key:
        raise InvalidParameter(f"Invalid {what} key {key!r}: control characters and backslashes are not allowed.")
    parts = key.split("/")
    if key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidParameter(
            f"Invalid {what} key {key!r}: '/' may separate names (as in 'train/loss') but a key cannot start or end "
            "with '/', repeat it, or contain '.' or '..' segments.")


def _validate_text(key: str, value: object, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidParameter(
            f"The value of {what} {key!r} is {len(text):,} characters; the limit is {MAX_VALUE_LENGTH:,}. "
            "Log large content as an artifact instead (log_text / log_dict).")
    if "\x00" in text:
        raise InvalidParameter(f"The value of {what} {key!r} contains a NUL character, which databases cannot store.")
    return text


def validate_param_value(key: str, value: object) -> str:
    """Params are stored as strings (``str(value)``), as MLflow does."""
    return _validate_text(key, value, "param")


def validate_tag_value(key: str, value: object) -> str:
    return _validate_text(key, value, "tag")


def validate_metric_value(key: str, value: object) -> float:
    """Metrics are floats; NaN and ±inf are kept exactly. Booleans and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise InvalidParameter(f"Metric {key!r} got {value!r} of type {type(value).__name__}; metrics are numbers.")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameter(f"Metric {key!r} got {value!r}, which is not a number.") from None


def validate_step(key: str, step: object) -> int:
    """Steps are 64-bit integers."""
    if isinstance(step, bool) or not isinstance(step, int) and not hasattr(step, "__index__"):
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        else:
            raise InvalidParameter(f"Metric {key!r}: step {step!r} is not an integer.")
    step = int(step)
    if not -(2**63) <= step < 2**63:
        raise InvalidParameter(f"Metric {key!r}: step {step} does not fit in 64 bits.")
    return step


def validate_timestamp(key: str, timestamp: object) -> int:
    """Timestamps are milliseconds since the epoch."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or (
            isinstance(timestamp, float) and not math.isfinite(timestamp)):
        raise InvalidParameter(f"Metric {key!r}: timestamp {timestamp!r} is not a number of milliseconds.")
    timestamp = int(timestamp)
    if not 0 <= timestamp < 2**63:
        raise InvalidParameter(f"Metric {key!r}: timestamp {timestamp} is out of range (ms since 1970).")
    return timestamp
