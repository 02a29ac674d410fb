"""How metric values and params are encoded in columns, so that NaN and ±inf survive.

A metric point is stored as ``(value, kind)``. ``kind`` is exact on every backend (-0.0 included);
``value`` is a number that sorts right: NaN is stored as 0 (never compared: queries
check ``kind``), ±inf natively where the backend can and as ±max-float elsewhere.
"""

from __future__ import annotations

import math

FINITE = 0
NAN = 1
POS_INF = 2
NEG_INF = 3
NEG_ZERO = 4  # SQLite stores -0.0 as integer 0; the sign lives here

MAX_FLOAT = 1.7976931348623157e308


def encode_metric(value: float, native_inf: bool = True) -> tuple[float, int]:
    """Return ``(stored_value, kind)`` for a metric value."""
    if value != value:
        return 0.0, NAN
    if value == math.inf:
        return (value if native_inf else MAX_FLOAT), POS_INF
    if value == -math.inf:
        return (value if native_inf else -MAX_FLOAT), NEG_INF
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return 0.0, NEG_ZERO
    return value, FINITE


def decode_metric(stored: float | None, kind: int | None) -> float:
    """Return the exact metric value from its stored form."""
    if kind == NAN or stored is None:
        return math.nan
    if kind == POS_INF:
        return math.inf
    if kind == NEG_INF:
        return -math.inf
    if kind == NEG_ZERO:
        return -0.0
    return float(stored)


def param_number(value: str) -> float | None:
    """The param value as a finite number if it reads as one (``'0.95'``, ``'64'``, ``'1e-3'``), else None.

    Used for numeric comparison of params (``params.lr < 0.01``); NaN/inf/words stay strings.
    """
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if math.isfinite(number) and text.lower() not in ("infinity", "nan"):
        return number
    return None
