"""Read-only SQL views: the documented, stable face of a store for ad-hoc SQL.

Tables may change between schema revisions; these views keep their names and
columns. Keys are shown by name, runs by their 32-hex id, NaN metric values as
NULL with ``is_nan = 1``. The SQL is portable (SQLite, PostgreSQL, MySQL).
"""

from __future__ import annotations

from sqlalchemy import Connection

VIEWS: dict[str, str] = {
    "experiments_view": """
        SELECT e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location,
               e.creation_time, e.last_update_time
        FROM experiments e""",
    "runs_view": """
        SELECT r.run_uuid AS run_id, r.experiment_id, r.name AS run_name, r.status, r.user_id,
               r.start_time, r.end_time, r.end_time - r.start_time AS duration_ms,
               r.lifecycle_stage, r.artifact_uri
        FROM runs r""",
    "params_view": """
        SELECT r.run_uuid AS run_id, k.name AS "key", p.value, p.value_num
        FROM params p JOIN runs r ON r.id = p.run_id JOIN key_names k ON k.id = p.key_id""",
    "tags_view": """
        SELECT r.run_uuid AS run_id, k.name AS "key", t.value
        FROM tags t JOIN runs r ON r.id = t.run_id JOIN key_names k ON k.id = t.key_id""",
    "metrics_view": """
        SELECT r.run_uuid AS run_id, k.name AS "key", m.step, m.timestamp,
               CASE WHEN m.kind = 1 THEN NULL ELSE m.value END AS value,
               CASE WHEN m.kind = 1 THEN 1 ELSE 0 END AS is_nan
        FROM metrics m JOIN runs r ON r.id = m.run_id JOIN key_names k ON k.id = m.key_id""",
    "latest_metrics_view": """
        SELECT r.run_uuid AS run_id, k.name AS "key",
               CASE WHEN l.kind = 1 THEN NULL ELSE l.value END AS value,
               CASE WHEN l.kind = 1 THEN 1 ELSE 0 END AS is_nan,
               l.step, l.timestamp, l.min_value, l.max_value, l.avg_value,
               CASE WHEN l.first_kind = 1 THEN NULL ELSE l.first_value END AS first_value,
               l.count
        FROM latest_metrics l JOIN runs r ON r.id = l.run_id JOIN key_names k ON k.id = l.key_id""",
    "artifacts_view": """
        SELECT r.run_uuid AS run_id, a.path, a.digest, a.size, a.created_time
        FROM artifacts a JOIN runs r ON r.id = a.run_id""",
}


def create_views(conn: Connection) -> None:
    """Create every view (used by new stores and by the migration that introduced them)."""
    quote = conn.dialect.identifier_preparer.quote
    for name, body in VIEWS.items():
        mysql = conn.dialect.name in ("mysql", "mariadb")
        sql = body.replace('"key"', "`key`") if mysql else body
        conn.exec_driver_sql(f"CREATE VIEW {quote(name)} AS {sql.strip()}")
