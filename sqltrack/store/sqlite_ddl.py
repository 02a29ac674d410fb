"""SQLite's DDL of a new store at schema revision 0004_run_ids_never_reused: generated, do not edit.

Made by ``schema.render_sqlite_ddl_module()`` from the tables in ``schema``; rewrite it with
``python -m sqltrack.store.schema > sqltrack/store/sqlite_ddl.py``.
"""

STATEMENTS = (
    """CREATE TABLE store_info (
    "key" VARCHAR(64) NOT NULL,
    value VARCHAR(255) NOT NULL,
    PRIMARY KEY ("key")
)""",
    """CREATE TABLE experiments (
    experiment_id BIGINT NOT NULL,
    name VARCHAR(500) NOT NULL,
    artifact_location TEXT,
    lifecycle_stage VARCHAR(32) DEFAULT 'active' NOT NULL,
    creation_time BIGINT,
    last_update_time BIGINT,
    PRIMARY KEY (experiment_id),
    CONSTRAINT uq_experiments_name UNIQUE (name)
)""",
    """CREATE TABLE key_names (
    id INTEGER NOT NULL,
    name VARCHAR(250) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_key_names_name UNIQUE (name)
)""",
    """CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL,
    "key" VARCHAR(250) NOT NULL,
    value TEXT,
    PRIMARY KEY (experiment_id, "key"),
    FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)""",
    """CREATE TABLE runs (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_uuid VARCHAR(32) NOT NULL,
    experiment_id BIGINT NOT NULL,
    name VARCHAR(250),
    user_id VARCHAR(256),
    status VARCHAR(9) NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    lifecycle_stage VARCHAR(20) DEFAULT 'active' NOT NULL,
    deleted_time BIGINT,
    artifact_uri TEXT,
    source_type VARCHAR(20),
    source_name VARCHAR(500),
    entry_point_name VARCHAR(50),
    source_version VARCHAR(50),
    last_activity_time BIGINT,
    CONSTRAINT uq_runs_run_uuid UNIQUE (run_uuid),
    FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_runs_experiment_start ON runs (experiment_id, lifecycle_stage, start_time)""",
    """CREATE TABLE params (
    run_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value TEXT NOT NULL,
    value_num FLOAT,
    PRIMARY KEY (run_id, key_id),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE,
    FOREIGN KEY(key_id) REFERENCES key_names (id)
)
 WITHOUT ROWID""",
    """CREATE INDEX ix_params_key_num ON params (key_id, value_num)""",
    """CREATE INDEX ix_params_key_value ON params (key_id, value)""",
    """CREATE TABLE tags (
    run_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key_id),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE,
    FOREIGN KEY(key_id) REFERENCES key_names (id)
)""",
    """CREATE INDEX ix_tags_key_value ON tags (key_id, value)""",
    """CREATE TABLE metrics (
    run_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value FLOAT NOT NULL,
    kind SMALLINT NOT NULL,
    PRIMARY KEY (run_id, key_id, step, timestamp, value, kind),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE,
    FOREIGN KEY(key_id) REFERENCES key_names (id)
)
 WITHOUT ROWID""",
    """CREATE TABLE latest_metrics (
    run_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value FLOAT NOT NULL,
    kind SMALLINT NOT NULL,
    min_value FLOAT,
    max_value FLOAT,
    avg_value FLOAT,
    sum_value FLOAT,
    first_value FLOAT,
    first_kind SMALLINT,
    first_step BIGINT,
    first_timestamp BIGINT,
    count BIGINT NOT NULL,
    nan_count BIGINT NOT NULL,
    PRIMARY KEY (run_id, key_id),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE,
    FOREIGN KEY(key_id) REFERENCES key_names (id)
)
 WITHOUT ROWID""",
    """CREATE INDEX ix_latest_metrics_key_max ON latest_metrics (key_id, max_value)""",
    """CREATE INDEX ix_latest_metrics_key_min ON latest_metrics (key_id, min_value)""",
    """CREATE INDEX ix_latest_metrics_key_value_kind ON latest_metrics (key_id, value, kind)""",
    """CREATE TABLE artifacts (
    run_id INTEGER NOT NULL,
    path VARCHAR(700) NOT NULL,
    digest VARCHAR(64) NOT NULL,
    size BIGINT NOT NULL,
    created_time BIGINT NOT NULL,
    PRIMARY KEY (run_id, path),
    FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
)""",
    """CREATE INDEX ix_artifacts_digest ON artifacts (digest)""",
)
