"""An experiment purged by ``sqltrack gc`` keeps its id: no newer experiment is given it."""

from __future__ import annotations

import pytest

from sqltrack import Client
from sqltrack.errors import ExperimentNotFound
from sqltrack.store.experiments import create_experiment
from sqltrack.store.gc import collect


def test_a_purged_experiments_id_is_never_given_to_a_newer_experiment(client):
    client.create_experiment("kept")
    purged = client.create_experiment("purged")
    client.create_run(purged)  # its runs go with it
    client.delete_experiment(purged)
    report = collect(client.store)
    assert report.experiments == 1 and report.runs == 1, report
    newer = client.create_experiment("newer")
    assert int(newer) > int(purged)
    with pytest.raises(ExperimentNotFound):
        client.create_run(purged)  # a client still holding the purged id cannot log into "newer"
    assert client.search_runs([newer]) == []
    client.close()
    reopened = Client(client.store.url, artifact_root=client.store.artifact_root)
    reopened.delete_experiment(newer)
    collect(reopened.store)
    assert int(reopened.create_experiment("newest")) > int(newer)
    reopened.close()


def test_an_explicit_experiment_id_is_still_taken_as_given(client):
    """mlruns imports keep MLflow's experiment ids, a purged one included."""
    purged = client.create_experiment("purged")
    client.delete_experiment(purged)
    collect(client.store)
    assert create_experiment(client.store, "imported", experiment_id=int(purged)) == purged
