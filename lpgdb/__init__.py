"""lpgdb: an embedded labeled-property-graph database with native PG-Schema enforcement.

Start with ``lpgdb.connect(path)``; docs/api.md is the guide, the docstrings the reference.
Runs on POSIX systems (Linux, macOS, the BSDs): the engine relies on flock(2) and fdatasync(2).
"""
import os as _os

if _os.name != "posix":  # pragma: no cover - there is no Windows build
    raise ImportError("lpgdb runs on POSIX systems only (Linux, macOS, the BSDs): its storage engine "
                      "relies on flock(2) and fdatasync(2); on Windows, use it inside WSL")
from .errors import (CorruptionError, DatabaseError, DataError, Error, IntegrityError, InterfaceError,
                     InternalError, NotFoundError, NotSupportedError, OperationalError, ProgrammingError,
                     QuerySyntaxError, SchemaSyntaxError, SchemaViolationError, SemanticError, Violation)
from .values import Edge, Node, Path, Relationship
from .database import Database, PreparedQuery, bulk_import, connect, restore, upgrade
from .transaction import Snapshot, Transaction
from .result import Notification, Result, Row
from .cursor import Cursor
from .schema import GraphType, parse_schema
from .ingest import CsvFiles

__version__ = "0.1.0"   # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "Error", "InterfaceError", "DatabaseError", "ProgrammingError", "QuerySyntaxError",
    "SchemaSyntaxError", "SemanticError", "IntegrityError", "SchemaViolationError", "DataError",
    "OperationalError", "CorruptionError", "NotSupportedError", "InternalError", "NotFoundError",
    "Violation", "Node", "Edge", "Relationship", "Path", "connect", "bulk_import", "restore", "upgrade", "Database", "Transaction", "Snapshot", "Result", "Row", "Notification", "Cursor",
    "PreparedQuery", "GraphType", "parse_schema", "CsvFiles",
]
