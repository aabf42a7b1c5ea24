"""lpgdb: an embedded labeled-property-graph database with native PG-Schema enforcement."""
from .errors import (CorruptionError, DatabaseError, DataError, Error, IntegrityError, InterfaceError,
                     InternalError, NotFoundError, NotSupportedError, OperationalError, ProgrammingError,
                     QuerySyntaxError, SchemaSyntaxError, SchemaViolationError, SemanticError, Violation)
from .values import Edge, Node, Path, Relationship
from .database import Database, connect, restore
from .transaction import Snapshot, Transaction
from .result import Result, Row
from .cursor import Cursor
from .schema import parse_schema

__version__ = "0.1.0"

__all__ = [
    "Error", "InterfaceError", "DatabaseError", "ProgrammingError", "QuerySyntaxError",
    "SchemaSyntaxError", "SemanticError", "IntegrityError", "SchemaViolationError", "DataError",
    "OperationalError", "CorruptionError", "NotSupportedError", "InternalError", "NotFoundError",
    "Violation", "Node", "Edge", "Relationship", "Path", "connect", "restore", "Database", "Transaction", "Snapshot", "Result", "Row", "Cursor",
    "parse_schema",
]
