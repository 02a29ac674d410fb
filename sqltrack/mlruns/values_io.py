"""Reading the key/value folders of a run or experiment: params/, tags/ and metrics/."""

from __future__ import annotations

import os

from ..errors import ImportFailure
from ..store.bulk import PointRow, canonical_points
from ..store.validation import validate_param_value, validate_tag_value
from .files import MAX_METRIC_FILE, MAX_VALUE_FILE, TreeGuard, read_file, walk_files
from .records import check_key

_FORMAT = "expected 'timestamp value [step]' (MLflow's metric line format)"


def read_values(guard: TreeGuard, folder: str, what: str) -> dict[str, str]:
    """``{key: value}`` from a params/ or tags/ folder; a missing folder means none."""
    if not os.path.isdir(folder):
        return {}
    check = validate_param_value if what == "param" else validate_tag_value
    values = {}
    for key, path in walk_files(guard, folder):
        check_key(key, what, path)
        text = decode(read_file(path, MAX_VALUE_FILE, what), path)
        try:
            values[key] = check(key, text)
        except ValueError as error:
            raise ImportFailure(f"{path}: {error}") from None
    return values


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of a value file, or ImportFailure naming the file and line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailure(f"{path}, line {line}: not valid UTF-8 (byte {error.start}).") from None


def read_metrics(guard: TreeGuard, folder: str, warnings: list[str]) -> dict[str, list[PointRow]]:
    """``{key: canonical points}`` from a metrics/ folder; empty files are skipped with a warning."""
    if not os.path.isdir(folder):
        return {}
    found = {}
    for key, path in walk_files(guard, folder):
        check_key(key, "metric", path)
        points = parse_metric_lines(read_file(path, MAX_METRIC_FILE, "metric"), path)
        if points:
            found[key] = points
        else:
            warnings.append(f"{path}: empty metric file; the key {key!r} has no points and was left out.")
    return found


def parse_metric_lines(data: bytes, path: str) -> list[PointRow]:
    """Parse ``timestamp value [step]`` lines (also 2-field legacy and 5-field dataset lines)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailure(f"{path}, line {line}: {_FORMAT}; found non-ASCII bytes.") from None
    try:
        points = _fast_points(text)
    except (ValueError, IndexError):
        points = None
    if points is None:  # find the bad line, for the message
        points = [_point(line.strip().split(" "), path, number, line)
                  for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    return canonical_points(points)


def _fast_points(text: str) -> list[tuple[int, int, float]] | None:
    """Parse well-formed lines quickly; None (or ValueError) when a line needs a closer look."""
    points = []
    append = points.append
    for line in text.split("\n"):
        parts = line.split()
        count = len(parts)
        if count == 3 or count == 5:
            append((int(parts[2]), int(parts[0]), float(parts[1])))
        elif count == 2:
            append((0, int(parts[0]), float(parts[1])))
        elif count:
            return None
    if points and (min(p[1] for p in points) < 0 or max(p[1] for p in points) >= 2**63
                   or not -(2**63) <= min(p[0] for p in points) <= max(p[0] for p in points) < 2**63):
        return None
    return points


def _point(parts: list[str], path: str, number: int, line: str) -> tuple[int, int, float]:
    if len(parts) not in (2, 3, 5):
        raise ImportFailure(f"{path}, line {number}: {_FORMAT}; found {len(parts)} fields in {line.strip()[:80]!r}.")
    try:
        timestamp, value = int(parts[0]), float(parts[1])
        step = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ImportFailure(f"{path}, line {number}: {_FORMAT}; cannot read {line.strip()[:80]!r} "
                            "(timestamp and step are integers, value a number, nan, inf or -inf).") from None
    if not 0 <= timestamp < 2**63 or not -(2**63) <= step < 2**63:
        raise ImportFailure(f"{path}, line {number}: timestamp {timestamp} or step {step} is out of range "
                            "(timestamps are milliseconds since 1970, steps 64-bit integers).")
    return step, timestamp, value
