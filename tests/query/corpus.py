"""Read fixtures/filters.txt: one search case per blank-line-separated block (format in the file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Case:
    """One golden search case."""

    line: int
    filter: str | None = None
    order_by: list[str] = field(default_factory=list)
    experiments: list[int] = field(default_factory=lambda: [1])
    view: str = "ACTIVE_ONLY"
    expect: list[str] | None = None
    error: str | None = None
    position: int | None = None
    mlflow: str = "accepts"

    @property
    def id(self) -> str:
        text = self.filter if self.filter is not None else " | ".join(self.order_by) or "<none>"
        return f"L{self.line}:{text[:60]}"


def _apply(case: Case, name: str, value: str) -> None:
    if name == "filter":
        case.filter = value
    elif name == "order_by":
        case.order_by.append(value)
    elif name == "experiments":
        case.experiments = [int(v) for v in value.split(",")]
    elif name == "view":
        case.view = value.strip()
    elif name == "expect":
        case.expect = [] if value.strip() == "-" else [v.strip() for v in value.split(",")]
    elif name == "error":
        case.error = value
    elif name == "position":
        case.position = int(value)
    elif name == "mlflow":
        case.mlflow = value.strip()
    else:
        raise ValueError(f"unknown field {name!r} at line {case.line}")


def load_cases(path: Path = FIXTURES / "filters.txt") -> list[Case]:
    """Parse the corpus; each case must have exactly one of expect: and error:."""
    cases, current = [], None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            current = None
            continue
        if raw.startswith("#"):
            continue
        if current is None:
            current = Case(line=number)
            cases.append(current)
        name, _, value = raw.partition(":")
        _apply(current, name.strip(), value[1:] if value.startswith(" ") else value)
    for case in cases:
        if (case.expect is None) == (case.error is None):
            raise ValueError(f"case at line {case.line} needs exactly one of expect: / error:")
    return cases
