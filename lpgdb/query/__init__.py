"""lpgdb's openCypher-style query language (tested against the openCypher TCK).

Pipeline: parser.py (text -> AST, the only lark importer) -> semantic.py (scopes, variable
kinds, TCK compile-time errors) -> execute.py (clause operators; plan.py matches patterns;
expressions.py and functions.py evaluate, temporal.py holds date/time values, procedures.py
the CALL registry) -> lpgdb.result.Result.  runtime.py defines the in-query values and their
comparison rules; diagnostics.py builds every error (with ``.code``, ``.tck_type``, ``.phase``).

Entry points:
    execute(source, params, tx, readonly, timeout=None) -> Result
        what ``db.execute``, ``tx.execute`` and ``snapshot.execute`` call.
    prepare(source) -> PreparedQuery     parse + check once; ``.run(tx, params, ...)``.
    is_read_only(source) -> bool         True when the query has no write clause.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Mapping, Optional

from ..errors import InterfaceError
from ..result import Result
from . import ast as A
from .diagnostics import parameter_missing, semantic as _semantic_error
from .execute import Context, compile_query
from . import procedures
from .parser import parse
from .procedures import register_procedure, unregister_procedure
from .runtime import from_user, to_user
from .semantic import check

__all__ = ["execute", "prepare", "is_read_only", "PreparedQuery", "register_procedure", "unregister_procedure"]


class PreparedQuery:
    """A parsed, checked and compiled query; run it any number of times."""

    def __init__(self, source: str):
        self.source = source
        self.ast = parse(source)
        self.params = check(self.ast)
        self.readonly = not any(isinstance(c, A.WRITE_CLAUSES) for part in self.ast.parts for c in part)
        self.compiled = compile_query(self.ast)

    def run(self, tx, params: Optional[Mapping[str, Any]] = None, readonly: bool = False,
            timeout: Optional[float] = None) -> Result:
        params = dict(params or {})
        for name in params:
            if not isinstance(name, str):
                raise InterfaceError(f"parameter names must be str, not {type(name).__name__}")
        for name in self.params:
            if name not in params:
                raise parameter_missing(name)
        if readonly and not self.readonly:
            raise _semantic_error("this query writes to the graph, but it runs on a read-only snapshot; "
                           "use db.execute() or a transaction", "ReadOnly", phase="compile")
        ctx = Context(tx, {k: from_user(v) for k, v in params.items()}, timeout, readonly)
        columns, rows = self.compiled.run(ctx)
        return Result(columns, [tuple(to_user(v, tx) for v in r) for r in rows])


_CACHE: "OrderedDict[tuple, PreparedQuery]" = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()  # prepared queries are immutable; only the cache needs the lock


def prepare(source: str) -> PreparedQuery:
    """Parse, check and compile ``source`` (cached by text)."""
    if not isinstance(source, str):
        raise InterfaceError(f"a query must be a str, not {type(source).__name__}")
    key = (source, procedures.version)
    with _CACHE_LOCK:
        pq = _CACHE.get(key)
        if pq is not None:
            _CACHE.move_to_end(key)
            return pq
    pq = PreparedQuery(source)  # outside the lock: parsing may raise, and takes time
    with _CACHE_LOCK:
        _CACHE[key] = pq
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pq


def execute(source: str, params: Optional[Mapping[str, Any]], tx, readonly: bool = False, *,
            timeout: Optional[float] = None) -> Result:
    """Run a query on ``tx`` (a Transaction or a Snapshot) and return its Result.

    Raises:
        QuerySyntaxError / SemanticError: the query is invalid (``.code`` names the TCK detail).
        DataError: a runtime type or argument error.
        NotSupportedError: a feature lpgdb's query language does not implement.
        OperationalError: the query ran longer than ``timeout`` seconds.
    """
    return prepare(source).run(tx, params, readonly, timeout)


def is_read_only(source: str) -> bool:
    """True if the query has no write clause (so it can run on a snapshot)."""
    try:
        return prepare(source).readonly
    except Exception:
        return False
