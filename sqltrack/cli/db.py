"""``sqltrack db``: the schema revision of a store, and upgrading it."""

from __future__ import annotations

import click

from ._common import chosen_format, emit_object, format_option


def _url(ctx: click.Context) -> str:
    from ..config import resolve

    return resolve(ctx.find_root().obj.get("store")).url


@click.group("db")
def db() -> None:
    """Inspect and upgrade the store's schema."""


@db.command("current")
@format_option
@click.pass_context
def current(ctx: click.Context, fmt: str, as_json: bool) -> None:
    """Show the store's schema revision and the one this sqltrack expects."""
    from .._version import __version__
    from ..store import schema
    from ..store.engine import make_engine
    from ..store.migrate import read_library_version, read_revision

    url = _url(ctx)
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            revision, library = read_revision(conn), read_library_version(conn)
    finally:
        engine.dispose()
    state = "empty" if revision is None else "current" if revision == schema.SCHEMA_REVISION else "different"
    from sqlalchemy.engine import make_url

    emit_object({"store": make_url(url).render_as_string(hide_password=True), "revision": revision,
                 "written_by": library, "expected": schema.SCHEMA_REVISION, "sqltrack": __version__,
                 "state": state}, chosen_format(fmt, as_json))


@db.command("upgrade")
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Upgrade the store to this sqltrack's schema (a SQLite store is backed up first)."""
    from ..store import schema
    from ..store.engine import enable_wal, make_engine
    from ..store.migrate import read_revision
    from ..store.migrate import upgrade as run_upgrade

    url = _url(ctx)
    engine = make_engine(url)
    try:
        enable_wal(engine)
        with engine.connect() as conn:
            before = read_revision(conn)
        backup = run_upgrade(engine, url)
    finally:
        engine.dispose()
    if before == schema.SCHEMA_REVISION:
        click.echo(f"Already at revision {before}; nothing to do.")
        return
    click.echo(f"Upgraded from {before or 'an empty database'} to {schema.SCHEMA_REVISION}.")
    if backup:
        click.echo(f"Backup of the old store: {backup}")


def register(group: click.Group) -> None:
    group.add_command(db)
