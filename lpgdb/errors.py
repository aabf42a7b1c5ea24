"""The whole lpgdb exception tree (PEP 249 shape) and nothing else.

    Error                          base, never raised directly
    ├─ InterfaceError              API misuse: closed Database, finished Transaction, bad argument type
    └─ DatabaseError
       ├─ ProgrammingError
       │  ├─ QuerySyntaxError      .line .column .snippet .expected
       │  ├─ SchemaSyntaxError     same fields, for PG-Schema DDL
       │  └─ SemanticError         unknown variable / type reference, bad schema definition, ...
       ├─ IntegrityError           e.g. deleting a node that still has edges
       │  └─ SchemaViolationError  .violations: every violation; nothing was written
       ├─ DataError                a value lpgdb cannot store, or out of its declared range
       ├─ OperationalError         database locked, missing, read-only, disk full, closed handle
       ├─ CorruptionError          checksum / format mismatch: .path .offset
       ├─ NotSupportedError        a feature not implemented yet; the message names it
       ├─ InternalError            an invariant check failed: a bug, please report it
       └─ NotFoundError            unknown node / edge id (also a KeyError)

Third-party exceptions (lark, msgpack, cffi) never escape: the module that uses the
library wraps them with ``raise ... from e``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = [
    "Error", "InterfaceError", "DatabaseError", "ProgrammingError", "QuerySyntaxError",
    "SchemaSyntaxError", "SemanticError", "IntegrityError", "SchemaViolationError", "DataError",
    "OperationalError", "CorruptionError", "NotSupportedError", "InternalError", "NotFoundError",
    "Violation",
]


class Error(Exception):
    """Base class of every lpgdb error."""


class InterfaceError(Error):
    """The API was misused: closed database, finished transaction, wrong argument type."""


class DatabaseError(Error):
    """Base class of errors about the database and the statements run on it."""


class ProgrammingError(DatabaseError):
    """A statement or schema is wrong (syntax, semantics)."""


class _PositionedError(ProgrammingError):
    """A syntax error with a 1-based position and the offending source line with a caret."""

    kind = "parse_error"

    def __init__(self, message: str, *, line: Optional[int] = None, column: Optional[int] = None,
                 snippet: str = "", expected: Optional[list] = None):
        self.line = line
        self.column = column
        self.snippet = snippet
        self.expected = list(expected or [])
        self.message = message
        text = message
        if line is not None:
            text = f"line {line}, column {column}: {message}"
        if snippet:
            text = f"{text}\n{snippet}"
        super().__init__(text)


class QuerySyntaxError(_PositionedError):
    """A query does not parse. ``.line``, ``.column`` (1-based), ``.snippet``, ``.expected``."""


class SchemaSyntaxError(_PositionedError):
    """PG-Schema DDL does not parse. ``.line``, ``.column`` (1-based), ``.snippet``, ``.expected``."""


class SemanticError(ProgrammingError):
    """A statement parses but is meaningless: unknown variable, bad type reference, ...

    ``.kind`` names the problem (for schemas: ``unknown_type_reference``,
    ``duplicate_type_name``, ...; see API.md); ``.line``/``.column`` locate it when known.
    """

    def __init__(self, message: str, *, kind: str = "semantic_error", line: Optional[int] = None,
                 column: Optional[int] = None):
        self.kind = kind
        self.line = line
        self.column = column
        self.message = message
        super().__init__(message if line is None else f"line {line}, column {column}: {message}")


class IntegrityError(DatabaseError):
    """A write would break the integrity of the graph (dangling edges, schema violations)."""


@dataclass(frozen=True)
class Violation:
    """One way in which the data breaks the graph type.

    Attributes:
        kind: one of ``unknown_label``, ``missing_property``, ``property_type``,
            ``closed_extra_property``, ``bad_endpoint``, ``key_duplicate``, ``key_missing``,
            ``participation_min``, ``participation_max``, ``abstract_only``, ``check_failed``.
        element: ``"node"`` or ``"edge"``.
        id: the element id, or None for a graph-level violation.
        type_name: the type or constraint concerned, if any.
        message: a sentence a person understands.
    """

    kind: str
    element: str
    id: Optional[int]
    type_name: Optional[str]
    message: str

    def __str__(self) -> str:
        return self.message


class SchemaViolationError(IntegrityError):
    """The data would violate the graph type; nothing was written.

    Attributes:
        violations: the ``Violation`` records (all of them, unless ``complete`` is False).
        counts: ``{kind: number}`` of every violation found, in order of first appearance.
        complete: False when validation stopped early (``violations`` then holds the first
            ones, up to a bound, and ``counts`` what was counted until it stopped).

    The message gives the total, a count per kind and the first ``EXAMPLES`` of each kind.
    """

    EXAMPLES = 3

    def __init__(self, violations, message: Optional[str] = None, *, counts: Optional[dict] = None,
                 complete: bool = True):
        self.violations = list(violations)
        if counts is None:
            counts = {}
            for v in self.violations:
                counts[v.kind] = counts.get(v.kind, 0) + 1
        self.counts = dict(counts)
        self.complete = complete
        if message is None:
            message = self.summary()
        super().__init__(message)

    def __reduce__(self):
        return (_rebuild_violation_error, (self.violations, str(self), self.counts, self.complete))

    def summary(self, examples: Optional[int] = None) -> str:
        """The total, a count per kind and the first ``examples`` messages of each kind."""
        examples = self.EXAMPLES if examples is None else examples
        n = sum(self.counts.values())
        head = f"{n:,}{'' if self.complete else '+'} schema violation{'s' if n != 1 else ''}"
        if not self.counts:
            return head
        lines = [head + " (" + ", ".join(f"{k}: {c:,}" for k, c in self.counts.items()) + ")"
                 + ("" if self.complete else "; validation stopped early") + ":"]
        by_kind: dict = {}
        for v in self.violations:
            by_kind.setdefault(v.kind, []).append(v)
        for kind, count in self.counts.items():
            shown = by_kind.get(kind, [])[:examples]
            lines += [f"  {kind}: {v.message}" for v in shown]
            if count > len(shown):
                lines.append(f"  ... and {count - len(shown):,} more {kind}")
        return "\n".join(lines)


def _rebuild_violation_error(violations, message, counts, complete):
    return SchemaViolationError(violations, message, counts=counts, complete=complete)


class DataError(DatabaseError):
    """A value cannot be stored (unsupported Python type, out of range, NaN in a key, ...)."""


class OperationalError(DatabaseError):
    """The database cannot do what was asked right now: locked, missing, read-only, disk full.

    ``.reason`` names the cause when a caller may act on it, else None: ``"locked"`` (another
    process holds the writer lock), ``"no_database"`` (there is no database at the path),
    ``"read_only"`` (a write through a read-only handle), ``"disk_full"`` (no space, quota or
    file-size limit: free space, then reopen), ``"io_error"`` (the storage device failed),
    ``"query_timeout"``, ``"query_memory"``, ``"max_rows"`` (a query passed one of its limits).
    Errors from the file system also carry ``.errno`` and ``.filename``.
    """

    def __init__(self, message: str = "", *, reason: Optional[str] = None):
        super().__init__(message)
        self.reason = reason


class CorruptionError(DatabaseError):
    """Stored bytes fail their checksum or format check. ``.path`` and ``.offset`` locate them."""

    def __init__(self, message: str, *, path: Optional[str] = None, offset: Optional[int] = None):
        self.path = path
        self.offset = offset
        where = ""
        if path is not None:
            where = f" ({path}" + (f" at offset {offset}" if offset is not None else "") + ")"
        super().__init__(message + where)


class NotSupportedError(DatabaseError):
    """A feature lpgdb does not implement (yet); the message names it."""


class InternalError(DatabaseError):
    """An internal invariant failed. This is a bug in lpgdb."""


class NotFoundError(DatabaseError, KeyError):
    """No node or edge with that id exists (in this snapshot). Also a ``KeyError``."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
