"""MLflow interoperability: import mlruns trees and MLflow databases, export mlruns trees.

Design decisions (issue 4):

* **Ids and times are kept.** Experiment ids, run ids, names, start/end/deleted times,
  statuses, users, lifecycle stages, params, tags (system tags included) and every metric
  point with its own timestamp and step. Exact duplicate metric lines collapse into one
  point (the store's primary key is the whole point, as in MLflow's SQL store).
* **Artifacts go into the content-addressed blob store**; a run's artifact URI becomes
  ``runs:/<id>`` and an imported experiment's artifact location is the store's artifact
  folder, so a moved tree or an export/import round trip changes nothing. A file's mtime
  becomes the artifact's created time (and an export sets it back).
* **Idempotent and incremental.** Identical runs are left alone; a run whose stored params
  and points are all still in the source is updated (new points, params, tags, status,
  artifacts); anything else is a conflict, skipped unless ``overwrite``.
* **Atomicity.** "One transaction per run" is met by committing *complete* runs a group
  at a time (up to 256 runs or 200,000 points per transaction, each run in its own
  savepoint): no half run is ever visible, an interruption (Ctrl-C, kill, power loss)
  loses at most the group being written, and a run the store refuses is rolled back
  alone. A bad file is found while reading, before its run reaches the database. One
  transaction per run would cost a commit (and a connection) per run. See :mod:`.pipeline`.
* **Blobs** are written atomically (temp file + rename) but synced once at the end of an
  import instead of once per file (see :mod:`.blobsink`); every import re-checks that the
  blobs it relies on are present, so importing again repairs what a power loss took.
* **Speed.** Big trees are read by forked worker processes while the importing process
  writes (see :mod:`.parallel`); ``bench/bench_import.py`` measures it.
* **3.x logged models** (``<experiment>/models/<id>/``) have no entity in sqltrack: their
  files are attached to their source run under ``<model name>/``, which is what MLflow's
  ``runs:/<run>/<name>`` URIs resolve to. Datasets, inputs/outputs and traces are not imported.
"""

from __future__ import annotations

from .importer import import_mlruns
from .mlflow_db import import_mlflow_db
from .summary import ExportSummary, ImportSummary
from .tree import Problem
from .writer import export_mlruns

__all__ = ["import_mlruns", "export_mlruns", "import_mlflow_db", "ImportSummary", "ExportSummary", "Problem"]
