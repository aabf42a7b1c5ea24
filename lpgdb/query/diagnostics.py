"""How query errors are raised: lpgdb error classes carrying the openCypher TCK category.

Owns: the mapping from TCK error kinds to lpgdb exception classes (documented in
docs/query.md).  Every error raised by the query package comes from one of these helpers, so
each carries three extra attributes:

    .code      the TCK detail code, e.g. 'UndefinedVariable', 'InvalidArgumentType'
    .tck_type  the TCK error type: 'SyntaxError', 'TypeError', 'ArgumentError', ...
    .phase     'compile' (raised before anything runs) or 'runtime'

Mapping (TCK type -> lpgdb class):
    SyntaxError (grammar)            -> QuerySyntaxError
    SyntaxError (semantic check)     -> SemanticError (kind = code)
    TypeError, ArgumentError         -> DataError
    EntityNotFound                   -> NotFoundError
    ConstraintVerificationFailed     -> IntegrityError (raised by the transaction)
    ParameterMissing, ProcedureError -> SemanticError
    unimplemented feature            -> NotSupportedError
"""
from __future__ import annotations

from ..errors import DataError, NotFoundError, NotSupportedError, SemanticError


def _tag(err, code, tck_type, phase):
    err.code = code
    err.tck_type = tck_type
    err.phase = phase
    return err


def semantic(message: str, code: str, phase: str = "compile") -> SemanticError:
    """A query that parses but is invalid (TCK SyntaxError with a detail code)."""
    return _tag(SemanticError(message, kind=code), code, "SyntaxError", phase)


def runtime_semantic(message: str, code: str) -> SemanticError:
    """A TCK SemanticError raised while running (e.g. MERGE on a null property value)."""
    return _tag(SemanticError(message, kind=code), code, "SemanticError", "runtime")


def type_error(message: str, code: str = "InvalidArgumentType", phase: str = "runtime") -> DataError:
    """An operation applied to a value of the wrong type (TCK TypeError)."""
    return _tag(DataError(message), code, "TypeError", phase)


def argument_error(message: str, code: str = "InvalidArgumentValue") -> DataError:
    """A function argument with a bad value (TCK ArgumentError)."""
    return _tag(DataError(message), code, "ArgumentError", "runtime")


def entity_not_found(message: str) -> NotFoundError:
    return _tag(NotFoundError(message), "DeletedEntityAccess", "EntityNotFound", "runtime")


def not_supported(feature: str) -> NotSupportedError:
    return _tag(NotSupportedError(f"{feature} is not supported by lpgdb's query language yet"),
                "NotSupported", "NotSupported", "compile")


def parameter_missing(name: str) -> SemanticError:
    return _tag(SemanticError(f"missing parameter ${name}: pass it in the params dict",
                              kind="MissingParameter"), "MissingParameter", "ParameterMissing", "compile")


def procedure_error(message: str, code: str = "ProcedureNotFound") -> SemanticError:
    return _tag(SemanticError(message, kind=code), code, "ProcedureError", "compile")
