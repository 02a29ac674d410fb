"""Finding the experiments and run folders of an mlruns tree (``.trash`` included)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import ImportFailure
from ..store.bulk import ExperimentContent
from .files import MAX_META_FILE, TreeGuard, list_dirs, read_file
from .reader import ModelDir
from .records import ExperimentRecord
from .values_io import read_values
from .yaml_safe import line_of, load_mapping

#: Folders inside an experiment that are never runs (FileStore.RESERVED_EXPERIMENT_FOLDERS).
RESERVED = frozenset({"tags", "datasets", "traces", "models"})


@dataclass
class Problem:
    """Something that was not imported (or exported), and why."""

    kind: str  # 'failed', 'conflict' or 'warning'
    where: str
    message: str
    run_id: str | None = None


@dataclass
class TreeScan:
    """The experiments of a tree, their run folders, and what could not be read."""

    experiments: list[ExperimentRecord] = field(default_factory=list)
    run_dirs: list[tuple[int, str]] = field(default_factory=list)
    models: dict[str, list[ModelDir]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def scan_tree(root: str, guard: TreeGuard, only: Sequence[str] | None = None) -> TreeScan:
    """List experiments (active, then deleted in .trash) and their run folders; ``only`` filters by name or id."""
    if not os.path.isdir(root):
        raise ImportFailure(f"{root}: no such folder; give the path of an mlruns folder (it holds 0/meta.yaml).")
    scan = TreeScan()
    seen: set[int] = set()
    for base, deleted in ((root, False), (os.path.join(root, ".trash"), True)):
        for entry in list_dirs(base):
            if not entry.name.isdigit():
                continue
            try:
                _scan_experiment(scan, guard, entry, deleted, seen, only)
            except ImportFailure as error:
                scan.problems.append(Problem("failed", entry.path, str(error)))
    return scan


def _scan_experiment(scan: TreeScan, guard: TreeGuard, entry: os.DirEntry, deleted: bool, seen: set[int],
                     only: Sequence[str] | None) -> None:
    folder = guard.follow(entry.path) if entry.is_symlink() else entry.path
    meta_path = os.path.join(entry.path, "meta.yaml")
    if not os.path.exists(meta_path):
        raise ImportFailure(f"{meta_path}: missing, so {entry.path} is not an experiment MLflow can read; skipped.")
    record = read_experiment(guard, entry.path, deleted)
    eid = record.content.experiment_id
    if eid in seen:
        raise ImportFailure(f"{meta_path}: experiment {eid} appears twice (also in or out of .trash); skipped.")
    seen.add(eid)
    if only and str(eid) not in only and record.content.name not in only:
        return
    scan.experiments.append(record)
    for run in list_dirs(folder):
        if run.name not in RESERVED and os.path.exists(os.path.join(run.path, "meta.yaml")):
            scan.run_dirs.append((eid, run.path))
    for model in list_dirs(os.path.join(folder, "models")):
        _scan_model(scan, model.path)


def read_experiment(guard: TreeGuard, folder: str, deleted: bool) -> ExperimentRecord:
    """Read an experiment folder's meta.yaml and tags/."""
    meta_path = os.path.join(folder, "meta.yaml")
    raw = read_file(meta_path, MAX_META_FILE, "meta.yaml")
    meta = load_mapping(raw, meta_path)
    name_of_dir = os.path.basename(folder)
    if str(meta.get("experiment_id")) != name_of_dir:
        raise ImportFailure(f"{meta_path}, line {line_of(raw, 'experiment_id') or 1}: experiment_id "
                            f"{meta.get('experiment_id')!r} does not match the folder name {name_of_dir!r}.")
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ImportFailure(f"{meta_path}, line {line_of(raw, 'name') or 1}: the experiment has no name.")
    stage = "deleted" if deleted else (meta.get("lifecycle_stage") or "active")
    if stage not in ("active", "deleted"):
        raise ImportFailure(f"{meta_path}, line {line_of(raw, 'lifecycle_stage') or 1}: lifecycle_stage "
                            f"{stage!r} is neither 'active' nor 'deleted'.")
    content = ExperimentContent(int(name_of_dir), name, stage, _time(meta, raw, meta_path, "creation_time"),
                                _time(meta, raw, meta_path, "last_update_time"),
                                read_values(guard, os.path.join(folder, "tags"), "tag"))
    return ExperimentRecord(content, folder)


def _time(meta: dict, raw: bytes, where: str, key: str) -> int | None:
    value = meta.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ImportFailure(f"{where}, line {line_of(raw, key) or 1}: {key} is {value!r}; "
                        "expected milliseconds since 1970 or null.")


def _scan_model(scan: TreeScan, folder: str) -> None:
    """Note a 3.x logged model so that its files can go with its source run."""
    meta_path = os.path.join(folder, "meta.yaml")
    try:
        meta = load_mapping(read_file(meta_path, MAX_META_FILE, "meta.yaml"), meta_path)
    except ImportFailure as error:
        scan.problems.append(Problem("warning", folder, f"logged model not read: {error}"))
        return
    run_id, name = meta.get("source_run_id"), meta.get("name")
    if isinstance(run_id, str) and isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
        scan.models.setdefault(run_id, []).append(ModelDir(name, folder, meta.get("artifact_location")))
