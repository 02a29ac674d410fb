"""The one exception hierarchy of sqltrack.

Every error a user can see derives from :class:`SqltrackError` and also from the
matching built-in, so ``except LookupError`` or ``except ValueError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "SqltrackError",
    "StoreError",
    "SchemaVersionError",
    "SchemaOutOfDate",
    "StoreReadOnly",
    "StoreFull",
    "NotFound",
    "RunNotFound",
    "ExperimentNotFound",
    "ArtifactNotFound",
    "InvalidParameter",
    "ParamConflict",
    "ExperimentAlreadyExists",
    "InvalidArtifactPath",
    "ArtifactIntegrityError",
    "FilterSyntaxError",
    "ImportFailure",
]


class SqltrackError(Exception):
    """Base class of every error raised by sqltrack."""


class StoreError(SqltrackError, RuntimeError):
    """The database could not do what was asked (locked too long, unreachable, corrupt)."""


class SchemaVersionError(StoreError):
    """The store's schema does not match this version of sqltrack."""


class SchemaOutOfDate(SchemaVersionError):
    """The store's schema is older than this sqltrack and must be upgraded first."""


class StoreReadOnly(StoreError, PermissionError):
    """The store (or its artifact folder) cannot be written."""


class StoreFull(StoreError, OSError):
    """The disk holding the store or its artifacts is full."""


class NotFound(SqltrackError, LookupError):
    """Something that was asked for by id or name does not exist."""


class RunNotFound(NotFound):
    """No run with that id exists in the store."""


class ExperimentNotFound(NotFound):
    """No experiment with that id or name exists in the store."""


class ArtifactNotFound(NotFound, FileNotFoundError):
    """The run has no artifact at that path."""


class InvalidParameter(SqltrackError, ValueError):
    """A value given to the API is not acceptable (bad key, too long, wrong type)."""


class ParamConflict(InvalidParameter):
    """A param was logged again with a different value; params are write-once."""


class ExperimentAlreadyExists(InvalidParameter):
    """An experiment with that name exists already (possibly in deleted state)."""


class InvalidArtifactPath(InvalidParameter):
    """An artifact path is absolute, contains '..', or otherwise escapes its run."""


class ArtifactIntegrityError(SqltrackError, IOError):
    """A stored blob does not match its SHA-256 digest (corruption or tampering)."""


class ImportFailure(SqltrackError, ValueError):
    """An mlruns tree or MLflow database could not be imported as asked."""


class FilterSyntaxError(InvalidParameter):
    """A filter or order_by string is malformed; carries the position of the problem.

    Attributes:
        filter: the whole string that was parsed.
        position: 0-based character offset of the problem.
        line, col: 1-based line and column of that offset.
        reason: what was wrong or expected, without the caret drawing.
    """

    def __init__(self, reason: str, filter: str = "", position: int = 0) -> None:
        self.reason = reason
        self.filter = filter
        self.position = max(0, min(position, len(filter)))
        before = filter[: self.position]
        self.line = before.count("\n") + 1
        self.col = self.position - (before.rfind("\n") + 1) + 1
        super().__init__(self._render())

    @property
    def highlight(self) -> str:
        """The offending line of the string with a caret under the problem."""
        lines = self.filter.split("\n") or [""]
        text = lines[self.line - 1] if self.line - 1 < len(lines) else ""
        return f"  {text}\n  {' ' * (self.col - 1)}^"

    def _render(self) -> str:
        if not self.filter:
            return self.reason
        where = f"at position {self.position}"
        if "\n" in self.filter:
            where += f" (line {self.line}, column {self.col})"
        return f"{self.reason} {where}:\n{self.highlight}"

    def __reduce__(self):  # keep the structured fields across pickling (multiprocessing)
        return (type(self), (self.reason, self.filter, self.position))
