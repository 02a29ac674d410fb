"""Running the Alembic migrations in the top-level ``migrations/`` folder from code.

An installed wheel carries that folder as the package ``sqltrack._migrations``;
a source checkout uses the folder itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import Connection


def migrations_dir() -> Path:
    """Where the migration scripts are: the installed package, else the checkout's folder."""
    spec = importlib.util.find_spec("sqltrack._migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "migrations"


def make_config(connection: Connection | None = None):
    """An Alembic Config built in code (no alembic.ini needed at run time)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    """Every revision id this sqltrack knows how to upgrade from."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(make_config())
    return {rev.revision for rev in script.walk_revisions()}


def head_revision() -> str:
    """The newest revision id of the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(make_config()).get_current_head()


def run_upgrade(connection: Connection, target: str = "head") -> None:
    """Upgrade inside the caller's transaction (so the caller's lock covers it)."""
    from alembic import command

    command.upgrade(make_config(connection), target)
