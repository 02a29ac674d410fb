"""The schema's tables, loaded when first used.

Building SQLAlchemy's ``Table`` objects (``schema``) takes about 10 ms of a cold start. A SQLite
process that only logs never needs them: its statements are plain SQL (``sqlite_path``) and a
new store's DDL is pre-rendered (``sqlite_ddl``). Modules on that path reach a table as
``tables.runs`` at call time rather than importing it with the module.
"""

from __future__ import annotations

from typing import Any


class _Tables:
    def __getattr__(self, name: str) -> Any:
        from . import schema  # the import lock makes a first use from two threads safe

        value = getattr(schema, name)
        setattr(self, name, value)
        return value


tables = _Tables()
