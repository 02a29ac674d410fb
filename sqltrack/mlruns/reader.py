"""Reading one run folder of an mlruns tree into a :class:`RunRecord`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from ..artifacts.paths import normalize_artifact_path
from ..errors import ImportFailure
from ..store.bulk import RunContent, derive
from .blobsink import BlobSink
from .files import MAX_META_FILE, TreeGuard, read_file, walk_files
from .records import ArtifactSource, RunRecord, source_type_from, status_from
from .values_io import read_metrics, read_values
from .yaml_safe import line_of, load_mapping

RUN_NAME_TAG = "mlflow.runName"
_RUN_ID = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


@dataclass
class ModelDir:
    """A 3.x logged model: its name, and where its artifacts may be."""

    name: str
    folder: str  # <experiment>/models/<model_id>
    artifact_location: str | None


@dataclass
class TreeContext:
    """What every run reader of one tree shares."""

    root: str
    guard: TreeGuard
    sink: BlobSink
    allow_external: bool = False
    models: dict[str, list[ModelDir]] = field(default_factory=dict)  # by source run id
    native_inf: bool = True  # the store keeps ±inf natively (for rows derived ahead of the write)


def read_run(ctx: TreeContext, experiment_id: int, run_dir: str) -> RunRecord:
    """Read a run folder completely (meta, params, tags, metrics, artifacts), or raise ImportFailure."""
    if os.path.islink(run_dir):
        ctx.guard.follow(run_dir)
    meta_path = os.path.join(run_dir, "meta.yaml")
    raw = read_file(meta_path, MAX_META_FILE, "meta.yaml")
    meta = load_mapping(raw, meta_path)
    run_uuid = _run_id(meta, raw, meta_path, os.path.basename(run_dir))
    _check_experiment(meta, raw, meta_path, experiment_id)
    warnings: list[str] = []
    tags = read_values(ctx.guard, os.path.join(run_dir, "tags"), "tag")
    content = RunContent(run_uuid, experiment_id, _attrs(meta, raw, meta_path, tags),
                         params=read_values(ctx.guard, os.path.join(run_dir, "params"), "param"), tags=tags,
                         points=read_metrics(ctx.guard, os.path.join(run_dir, "metrics"), warnings))
    record = RunRecord(content, run_dir, warnings=warnings)
    folder = locate_artifacts(ctx, run_dir, meta.get("artifact_uri"), warnings)
    if folder is not None:
        add_artifacts(ctx, record, folder, "", inside=folder.startswith(run_dir))
    for model in ctx.models.get(run_uuid, ()):
        _add_model(ctx, record, model)
    derive(content, ctx.native_inf)  # here, in a reader, rather than in the writing process
    return record


def _run_id(meta: dict, raw: bytes, where: str, folder: str) -> str:
    value = meta.get("run_id") or meta.get("run_uuid")
    run_id = "" if value is None else str(value)
    if run_id != folder or not _RUN_ID.match(run_id):
        line = line_of(raw, "run_id") or line_of(raw, "run_uuid") or 1
        raise ImportFailure(f"{where}, line {line}: run_id {run_id!r} does not match the run's folder name "
                            f"{folder!r} (MLflow ignores such runs); rename the folder or fix the file.")
    return run_id


def _check_experiment(meta: dict, raw: bytes, where: str, experiment_id: int) -> None:
    value = meta.get("experiment_id")
    if str(value) != str(experiment_id):
        line = line_of(raw, "experiment_id") or 1
        raise ImportFailure(f"{where}, line {line}: experiment_id {value!r} names another experiment than the "
                            f"folder it is in ({experiment_id}); MLflow ignores such runs. Move the run folder "
                            "into its experiment, or fix experiment_id.")


def _attrs(meta: dict, raw: bytes, where: str, tags: dict[str, str]) -> dict:
    def number(key: str) -> int | None:
        value = meta.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63):
            return value
        raise ImportFailure(f"{where}, line {line_of(raw, key) or 1}: {key} is {value!r}; "
                            "expected milliseconds since 1970 (an integer) or null.")

    def text(key: str) -> str | None:
        value = meta.get(key)
        return None if value in (None, "") else str(value)

    stage = meta.get("lifecycle_stage") or "active"
    if stage not in ("active", "deleted"):
        raise ImportFailure(f"{where}, line {line_of(raw, 'lifecycle_stage') or 1}: lifecycle_stage {stage!r} "
                            "is neither 'active' nor 'deleted'.")
    try:
        status = status_from(meta.get("status"), where)
    except ImportFailure:
        raise ImportFailure(f"{where}, line {line_of(raw, 'status') or 1}: unknown run status "
                            f"{meta.get('status')!r}; MLflow writes 1-5.") from None
    user = meta.get("user_id")
    return {"name": text("run_name") or tags.get(RUN_NAME_TAG) or None, "user_id": None if user is None else str(user),
            "status": status, "start_time": number("start_time"), "end_time": number("end_time"),
            "lifecycle_stage": stage, "deleted_time": number("deleted_time"),
            "source_type": source_type_from(meta.get("source_type")), "source_name": text("source_name"),
            "entry_point_name": text("entry_point_name"), "source_version": text("source_version")}


def local_path(uri: object) -> str | None:
    """The local path a ``file:`` URI or plain absolute path names; None for remote URIs."""
    if not isinstance(uri, str) or not uri:
        return None
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            return None
        return unquote(parsed.path)
    return uri if os.path.isabs(uri) else None


def locate_artifacts(ctx: TreeContext, run_dir: str, uri: object, warnings: list[str]) -> str | None:
    """Where a run's artifacts are: ``<run>/artifacts`` (URIs from another machine are rebased onto it),
    else the URI's folder if it is inside the tree (or outside it, when allowed)."""
    rebased = os.path.join(run_dir, "artifacts")
    path = local_path(uri)
    if os.path.isdir(rebased):
        return rebased
    if path is not None and ctx.guard.inside(os.path.realpath(path)) and os.path.isdir(path):
        return path
    if path is not None and os.path.exists(path):
        if ctx.allow_external:
            return path
        raise ImportFailure(f"{os.path.join(run_dir, 'meta.yaml')}: artifact_uri {uri!r} leads outside the tree "
                            f"{ctx.root}; it is not read. Copy the files into {rebased}, or allow outside "
                            "artifact folders (--allow-external-artifacts).")
    if isinstance(uri, str) and uri and path is None:
        warnings.append(f"{run_dir}: artifacts at {uri} are not in the tree and were not imported.")
    return None


def add_artifacts(ctx: TreeContext, record: RunRecord, folder: str, prefix: str, inside: bool = False) -> None:
    """Hash (and store) every file below ``folder`` as artifacts of the run under ``prefix``.

    Symlinks must stay inside the tree, or inside ``folder`` itself when it is outside the tree.
    """
    if inside or ctx.guard.inside(os.path.realpath(folder)):
        guard = ctx.guard
    else:
        guard = TreeGuard.for_root(folder)
    for rel, path in walk_files(guard, folder):
        try:
            logical = normalize_artifact_path(prefix + rel, allow_root=False)
        except ValueError as error:
            raise ImportFailure(f"{path}: {error}") from None
        if logical in record.content.artifacts:
            continue
        digest, size, mtime, new = ctx.sink.put(path)
        record.content.artifacts[logical] = (digest, size, mtime)
        record.files.append(ArtifactSource(logical, path, digest, size, mtime, new))


def _add_model(ctx: TreeContext, record: RunRecord, model: ModelDir) -> None:
    """Attach a 3.x logged model's files to its source run under ``<model name>/``, as runs:/ URIs see it."""
    prefix = f"{model.name}/"
    if any(p.startswith(prefix) for p in record.content.artifacts):
        record.warnings.append(f"{model.folder}: the run already has artifacts under {prefix!r}; "
                               "this logged model's files were not attached.")
        return
    folder = locate_artifacts(ctx, model.folder, model.artifact_location, record.warnings)
    if folder is not None:
        add_artifacts(ctx, record, folder, prefix, inside=folder.startswith(model.folder))
