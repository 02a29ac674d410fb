"""Alembic environment for sqltrack: always runs on a connection handed in by sqltrack."""

from alembic import context
from sqlalchemy import create_engine

config = context.config


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:  # `alembic -c migrations/alembic.ini …` by a developer, with sqlalchemy.url set
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run_with(conn)
