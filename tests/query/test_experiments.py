"""search_experiments: MLflow's experiment filter/order rules, plus our extensions."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.pool import StaticPool

from sqltrack.entities import ViewType
from sqltrack.errors import FilterSyntaxError
from sqltrack.query.experiments import build_experiment_search
from sqltrack.store import schema

EXPERIMENTS = [  # id, name, stage, creation_time, tags
    (0, "Default", "active", 100, {}),
    (1, "mnist", "active", 300, {"team": "vision", "owner": "ann"}),
    (2, "cifar", "active", 300, {"team": "Vision"}),
    (3, "imdb", "active", 200, {"team": "nlp"}),
    (4, "old", "deleted", 400, {"team": "nlp"}),
    (5, "untimed", "active", None, {}),
]


@pytest.fixture(scope="module")
def engine():
    engine = create_engine("sqlite://", poolclass=StaticPool)
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        for eid, name, stage, created, tags in EXPERIMENTS:
            conn.execute(insert(schema.experiments).values(
                experiment_id=eid, name=name, lifecycle_stage=stage, creation_time=created,
                last_update_time=created))
            for key, value in tags.items():
                conn.execute(insert(schema.experiment_tags).values(experiment_id=eid, key=key, value=value))
    yield engine
    engine.dispose()


def search(engine, filter_string=None, order_by=None, view=ViewType.ACTIVE_ONLY) -> list[int]:
    query = build_experiment_search(filter_string, order_by, view, "sqlite")
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


@pytest.mark.parametrize("filter_string, expected", [
    (None, [1, 2, 3, 0, 5]),                       # creation_time DESC (missing last), then id ASC
    ("name = 'mnist'", [1]),
    ("attribute.name LIKE '%i%'", [1, 2, 3, 5]),
    ("name ILIKE 'MNIST'", [1]),
    ("tags.team = 'vision'", [1]),
    ("tags.team ILIKE 'vision'", [1, 2]),
    ("tag.team != 'nlp'", [1, 2]),
    ("experiment_id = '3'", [3]),
    ("experiment_id IN ('1', '2')", [1, 2]),
    ("creation_time > 150", [1, 2, 3]),
    ("last_update_time <= 200", [3, 0]),
    ("attributes.name = 'imdb' OR tags.owner = 'ann'", [1, 3]),   # extensions: attributes., OR
    ("tags.team IS NULL", [0, 5]),
    ("NOT tags.team LIKE '%ision'", [3, 0, 5]),
    ("creation_time IS NULL", [5]),
])
def test_filters(engine, filter_string, expected):
    assert search(engine, filter_string) == expected


def test_view_types(engine):
    assert search(engine, "tags.team = 'nlp'", view=ViewType.ALL) == [4, 3]
    assert search(engine, None, view=ViewType.DELETED_ONLY) == [4]


@pytest.mark.parametrize("order_by, expected", [
    (["name"], [0, 2, 3, 1, 5]),                   # code-point order: "Default" < "cifar"
    (["creation_time ASC"], [0, 3, 2, 1, 5]),       # tie 300: experiment_id DESC is appended
    (["experiment_id DESC"], [5, 3, 2, 1, 0]),
    (["tags.team"], [2, 3, 1, 5, 0]),               # extension: order by a tag (missing last)
])
def test_order_by(engine, order_by, expected):
    assert search(engine, None, order_by) == expected


@pytest.mark.parametrize("filter_string, fragment", [
    ("metrics.acc > 1", "valid prefixes are tags., attributes."),
    ("experiment_id = 'abc'", "must be an integer"),
    ("lifecycle_stage = 'active'", "not searchable"),
    ("nme = 'x'", "did you mean name?"),
    ("creation_time > 'x'", "is a number"),
])
def test_errors(engine, filter_string, fragment):
    with pytest.raises(FilterSyntaxError, match=fragment):
        search(engine, filter_string)
