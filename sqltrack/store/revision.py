"""The Alembic revision that this code's tables correspond to (the head of ``migrations/``).

Kept apart from ``schema`` so that opening a store can check its revision without building
the tables (see ``tables``).
"""

SCHEMA_REVISION = "0004_run_ids_never_reused"
