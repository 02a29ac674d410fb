"""What an import or export did, as a dataclass that prints as a report and serialises to JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .tree import Problem

#: ``progress(done, total)``: called as runs are processed (``total`` is known up front).
ProgressCallback = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """Counts and problems of one import (of an mlruns tree or an MLflow database)."""

    source: str
    dry_run: bool = False
    experiments_imported: int = 0
    experiments_updated: int = 0
    experiments_unchanged: int = 0
    experiments_failed: int = 0
    runs_total: int = 0
    runs_imported: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    runs_skipped: int = 0  # conflicts left alone
    runs_failed: int = 0
    metric_points: int = 0  # points written
    artifact_files: int = 0  # files of written runs
    artifact_bytes: int = 0
    artifacts_deduplicated: int = 0  # of those, files whose bytes were already stored
    artifact_bytes_deduplicated: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Problem]:
        """Runs (and experiments) left alone because the store holds different content."""
        return [p for p in self.problems if p.kind == "conflict"]

    @property
    def failures(self) -> list[Problem]:
        """What could not be read or written."""
        return [p for p in self.problems if p.kind == "failed"]

    @property
    def warnings(self) -> list[Problem]:
        """Imported, with a remark (artifacts not found, empty metric files, replaced runs)."""
        return [p for p in self.problems if p.kind == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)

    def render(self) -> str:
        """A short human-readable report."""
        verb = "Would import" if self.dry_run else "Imported"
        lines = [
            f"{verb} from {self.source} in {self.seconds:.1f}s",
            f"  experiments: {self.experiments_imported} new, {self.experiments_updated} updated, "
            f"{self.experiments_unchanged} unchanged, {self.experiments_failed} failed",
            f"  runs:        {self.runs_imported} imported, {self.runs_updated} updated, "
            f"{self.runs_unchanged} unchanged, {self.runs_skipped} skipped (conflicts), {self.runs_failed} failed",
            f"  metric points written: {self.metric_points:,}",
            f"  artifacts:   {self.artifact_files:,} files, {_size(self.artifact_bytes)}; "
            f"{self.artifacts_deduplicated:,} deduplicated ({_size(self.artifact_bytes_deduplicated)})",
        ]
        lines += [f"  {p.kind}: {p.message}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class ExportSummary:
    """Counts and problems of one export to an mlruns tree."""

    destination: str
    experiments: int = 0
    runs_exported: int = 0
    runs_failed: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)

    def render(self) -> str:
        """A short human-readable report."""
        lines = [
            f"Exported to {self.destination} in {self.seconds:.1f}s",
            f"  experiments: {self.experiments}",
            f"  runs:        {self.runs_exported} exported, {self.runs_failed} failed",
            f"  metric points: {self.metric_points:,}",
            f"  artifacts:   {self.artifact_files:,} files, {_size(self.artifact_bytes)}",
        ]
        lines += [f"  {p.kind}: {p.message}" for p in self.problems]
        return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"
