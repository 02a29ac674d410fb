"""sqltrack's search language: parse filter/order_by strings and compile them to SQL.

``grammar`` (pyparsing) → ``ast`` (frozen dataclasses) → ``resolve`` (meaning and types)
→ ``compiler``/``order`` (SQLAlchemy Core). ``search.build_run_search`` ties them together.
"""

from __future__ import annotations

from .parse import parse_filter, parse_order_by

__all__ = ["parse_filter", "parse_order_by", "build_run_search", "build_experiment_search", "runs_to_frame"]


def __getattr__(name: str):
    # The compiler pulls in SQLAlchemy; keep ``import sqltrack.query`` light until it is needed.
    if name == "build_run_search":
        from .search import build_run_search
        return build_run_search
    if name == "build_experiment_search":
        from .experiments import build_experiment_search
        return build_experiment_search
    if name == "runs_to_frame":
        from .frame import runs_to_frame
        return runs_to_frame
    raise AttributeError(name)
