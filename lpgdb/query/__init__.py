"""lpgdb's openCypher-style query language (tested against the openCypher TCK).

Pipeline: parser.py (text -> AST, the only lark importer) -> semantic.py (scopes, variable
kinds, TCK compile-time errors) -> planner.py (AST -> logical plan of logical.py, using the
read view's statistics and the enforced graph type) -> operators.py (the plan's physical,
batched operators) -> lpgdb.result.Result.  execute.py wires planner, operators and
expressions.py (which, with functions.py and temporal.py, evaluates expressions) together;
context.py holds a run's state and its limits (time, memory, rows); runtime.py the in-query
values and their comparison rules; diagnostics.py builds every error; procedures.py is the
CALL registry.

Entry points:
    execute(source, params, tx, readonly, **options) -> Result
        what ``db.execute``, ``tx.execute`` and ``snapshot.execute`` call.
    prepare(source) -> PreparedQuery     parse + check once (cached by text); ``.run(tx, ...)``
        plans on first use and keeps the plan while the catalog and the graph's size allow.
    prepare_shaped(source) -> (PreparedQuery, hidden)   ``prepare`` of the text with its
        literals made hidden parameters (literals.py), so texts differing only in literals
        share one; ``hidden`` (None: the text was prepared as written) goes with the params.
    is_read_only(source) -> bool         True when the query has no write clause.

Options (per call; the database passes its defaults): ``timeout`` (seconds), ``memory``
(bytes, estimated), ``max_rows``, the internal ``deadline`` (a ``time.monotonic()`` value: where parsing a new text
spent part of the timeout, the run ends there), and the database's hooks ``import_dir``,
``commit_batch`` (CALL { } IN TRANSACTIONS) and ``schema_command`` (CREATE/DROP INDEX ...).
A caller gives the first three only (``check_options``); the others come from the database.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Optional

from ..errors import DataError, Error, InterfaceError, OperationalError
from ..result import Result
from ..values import as_dict, plain
from . import ast as A
from . import literals, procedures
from .context import ROW_BYTES, new_context
from .diagnostics import parameter_missing, semantic as _semantic_error
from .execute import Plan, compile_query, notification, too_many_rows
from .parser import MAX_QUERY_LENGTH, parse
from .procedures import register_procedure, unregister_procedure
from .runtime import from_user, to_user
from .semantic import check

__all__ = ["execute", "prepare", "prepare_shaped", "is_read_only", "check_options", "PreparedQuery", "Plan", "register_procedure",
           "unregister_procedure"]

_OPTIONS = ("timeout", "memory", "max_rows")     # what a caller of execute() may pass; the rest are hooks
_NO_PARAMS: dict = {}


def _calls(clauses) -> bool:
    """True if the clauses call a procedure (their plan depends on the procedure registry)."""
    for c in clauses:
        if isinstance(c, A.Call):
            return True
        if isinstance(c, A.CallSubquery) and any(_calls(p) for p in c.query.parts):
            return True
    return False


def _writes(clauses) -> bool:
    for c in clauses:
        if isinstance(c, A.WRITE_CLAUSES):
            return True
        if isinstance(c, A.CallSubquery) and any(_writes(p) for p in c.query.parts):
            return True
    return False


class PreparedQuery:
    """A parsed and checked query, with its plans; run it any number of times.

    Plans are made on first use against the view's statistics and catalog (schema, indexes)
    and kept per catalog; a plan that used statistics is remade when the graph's node count
    moves by more than a factor of 4 from when it was planned (checked every
    ``_SIZE_CHECK_EVERY`` runs, so a repeated run costs a comparison, not a count)."""

    __slots__ = ("source", "ast", "params", "readonly", "mode", "_plans", "_lock", "schema_command", "batched",
                 "_last", "_runs", "uses_procedures", "registry", "free")

    def __init__(self, source: str, deadline: Optional[float] = None):
        self.source = source
        self.ast = parse(source, deadline=deadline)
        self.params = check(self.ast, source)
        self.readonly = not any(_writes(part) for part in self.ast.parts)
        self.mode = self.ast.mode
        self._plans: dict = {}
        self._lock = threading.Lock()
        self._last = None          # (catalog version, CompiledQuery, size): the plan used last
        self.free = None           # the plan, when it reads no graph (run_free)
        self._runs = 0
        first = self.ast.parts[0]
        self.schema_command = first[0] if len(first) == 1 and isinstance(first[0], A.SchemaCommand) else None
        self.batched = any(isinstance(c, A.CallSubquery) and c.in_transactions for part in self.ast.parts
                           for c in part)
        self.uses_procedures = any(_calls(part) for part in self.ast.parts)
        self.registry = procedures.version

    def plan_for(self, view):
        """The compiled plan for ``view`` (cached per catalog, replanned on big size changes)."""
        key = view.catalog_version()
        last = self._last
        if last is not None and last[0] == key:
            cq = last[1]
            if not cq.used_stats:
                return cq
            self._runs += 1
            if self._runs % _SIZE_CHECK_EVERY:
                return cq
            size = last[2]
            if size // 4 <= _size(view) <= size * 4 + 64:
                return cq
        else:
            entry = self._plans.get(key)
            if entry is not None:
                cq, size = entry
                if not cq.used_stats or size // 4 <= _size(view) <= size * 4 + 64:
                    self._last = (key, cq, size)
                    return cq
        try:
            cq = compile_query(self.ast, view, self.source, profile=self.mode == "PROFILE")
        except RecursionError:
            raise _semantic_error("the query is too long or too deeply nested to plan; split it into several "
                                  "queries", "QueryTooComplex") from None
        size = _size(view) if cq.used_stats else 0
        if not cq.reads_graph and self.mode is None:
            self.free = cq         # no statistics, no catalog: valid for any view
        with self._lock:
            if len(self._plans) > 8:
                self._plans.clear()
            self._plans[key] = (cq, size)
            self._last = (key, cq, size)
        return cq

    def explain(self, view) -> Plan:
        return Plan(self.plan_for(view).root)

    def bind(self, params) -> dict:
        """The parameters as runtime values, checked: InterfaceError for a name that is not a
        str, SemanticError (ParameterMissing) for one the query uses and ``params`` lacks."""
        if params is None or (type(params) is dict and not params):
            out = _NO_PARAMS
        else:
            if type(params) is not dict:
                params = as_dict(params, "query parameters")
            out = {}
            for name, v in params.items():
                if type(name) is not str:
                    raise InterfaceError(f"parameter names must be str, not {type(name).__name__}")
                out[name] = v if type(v) in _PLAIN_PARAM else _param(name, v)
        for name in self.params:
            if name not in out:
                raise parameter_missing(name)
        return out

    def run(self, tx, params: Optional[Mapping[str, Any]] = None, readonly: bool = False,
            options: Mapping[str, Any] = _NO_PARAMS, **more: Any) -> Result:
        """Run on ``tx`` (a Transaction, a Snapshot or the reader ``db.execute`` pins) with
        ``options`` (already checked by ``check_options``: timeout, memory, max_rows, hooks);
        options given as keywords (``timeout=1.0``) are checked and added to them."""
        if more:
            options = {**options, **check_options(more)}
        bound = self.bind(params)
        if readonly and not self.readonly and self.mode != "EXPLAIN":   # EXPLAIN writes nothing
            raise _semantic_error("this query writes to the graph, but it runs on a read-only snapshot; "
                                  "use db.execute() or a transaction", "ReadOnly", phase="compile")
        cq = self.plan_for(tx)
        if self.mode == "EXPLAIN":
            return Result(cq.columns, [], plan=cq.plan, notifications=list(cq.notifications))
        ctx = new_context(tx, bound, readonly, options)
        if self.mode == "PROFILE":
            ctx.profile = {}
        direct = cq.direct
        try:
            rows = direct(ctx) if direct is not None else cq.run(ctx)
        except RecursionError:
            raise OperationalError("the query nests too deeply to run (too many clauses or nested "
                                   "subqueries); split it into several queries") from None
        if ctx.max_rows is not None and len(rows) > ctx.max_rows:
            raise too_many_rows(ctx.max_rows)
        if ctx.profile is not None:
            plan = Plan(cq.root, {k: tuple(v) for k, v in ctx.profile.items()})
        else:
            plan = cq.plan
        if rows and not _plain(rows):
            rows = [tuple([to_user(v, tx) for v in r]) for r in rows]
        return Result._of(cq.cols, cq.row_type, rows, plan, cq.notes)

    def fast(self, point_read, key) -> Optional[Callable]:
        """A runner ``run(params, options) -> Result | None`` for the plan cached for catalog
        ``key`` (a view's ``catalog_version``), when that plan can run with no view, reader or
        Context built per call; None when it cannot.

        * A plan that reads no graph (``RETURN $x + 1``): ``run_free``, when every parameter is
          a plain value (a node, relationship or path could bring the graph in).
        * The point plan of ``MATCH (n:L {k: $p}) RETURN n.a, ...`` over a user index on (L, k)
          (``CompiledQuery.point``; the planner reads no statistics for it, so it is the plan
          of this text under ``key`` at any graph size): ``point_read(L, k, (a, ...), key,
          make)``, storage's prepared read (one pin, and one C key probe unless the answer was
          made or confirmed at this LSN; the answer of a key is kept while the probe finds the
          same node version), answers it when ``params`` holds
          exactly ``$p`` as an int or a str, at most one node has that key and every value
          read is a plain scalar.  Its Result shares the plan's column tuple and the kept tuple
          of one Row: a call builds nothing but the Result.

        ``run`` returns None whenever the general path must run instead (which answers, and
        reports errors, the same way): the database's catalog is no longer ``key`` (storage
        checks it), other parameters, limits too small for one row, a value needing
        conversion.  The runner depends only on ``key``'s plan, not on the plan this (shared)
        PreparedQuery ran last, so databases running one text in turn each keep theirs."""
        if self.uses_procedures or self.mode is not None:
            return None
        if self.free is not None:
            return self.run_free
        entry = self._plans.get(key)
        if entry is None or entry[0].point is None or entry[0].used_stats or type(key) is not int:
            return None
        cq = entry[0]
        label, prop, pname, props = cq.point
        cols, rt, plan, notes = cq.cols, cq.row_type, cq.plan, cq.notes
        new = object.__new__
        read = point_read(label, prop, props, key, rt)     # rows of rt holding plain scalars

        def run(params, options):
            if type(params) is not dict or len(params) != 1:
                return None
            rows = read(params.get(pname))       # None unless an int or a str (PointRead)
            if rows is None:
                return None
            if rows and options:
                mem, max_rows = options.get("memory"), options.get("max_rows")
                if (mem is not None and mem < ROW_BYTES) or (max_rows is not None and max_rows < 1):
                    return None                  # run() raises the limit's error
            res = new(Result)
            res._cols = cols
            res._rows = rows
            res._pos = 0
            res.plan = plan
            res._notes = notes
            return res
        return run

    def run_free(self, params, options) -> Optional[Result]:
        """Run the plan ``free`` (it reads no graph) with no view at all: ``RETURN $x + 1``;
        None when a parameter is not a plain value (a node, relationship or path could bring
        the graph in: the caller runs the plan on a view)."""
        if params is not None and not plain_params(params):
            return None
        cq = self.free
        bound = self.bind(params) if params or self.params else _NO_PARAMS
        ctx = new_context(_NO_GRAPH, bound, True, options)
        direct = cq.direct
        rows = direct(ctx) if direct is not None else cq.run(ctx)
        if ctx.max_rows is not None and len(rows) > ctx.max_rows:
            raise too_many_rows(ctx.max_rows)
        if rows and not _plain(rows):
            rows = [tuple([to_user(v, None) for v in r]) for r in rows]
        return Result._of(cq.cols, cq.row_type, rows, cq.plan, cq.notes)

    def execute(self, *args, **kwargs):
        raise InterfaceError("a PreparedQuery from lpgdb.query.prepare() runs with .run(tx, params); "
                             "db.prepare(text).execute(params) runs one in its own transaction")


_SIZE_CHECK_EVERY = 64


class _NoGraph:
    """The graph of a run that reads none (``PreparedQuery.run_free``): any read is a bug."""

    def __getattr__(self, name):
        from ..errors import InternalError
        raise InternalError(f"a query planned as reading no graph called {name}(); please report this query")


_NO_GRAPH = _NoGraph()
_PLAIN_PARAM = frozenset({int, float, str, bool, type(None), bytes})


def plain_params(params) -> bool:
    """True when ``params`` is None or a dict whose values are all plain: no parameter value can
    bring a node, relationship or path into a query (anything else: bind() converts or reports it)."""
    return params is None or (type(params) is dict and all(type(v) in _PLAIN_PARAM for v in params.values()))


def _param(name: str, v):
    """The runtime value of parameter ``name`` (``from_user``); DataError naming the parameter."""
    try:
        return from_user(v)
    except RecursionError:
        raise DataError(f"query parameter ${name} contains itself or nests too deeply") from None
    except DataError as e:
        raise DataError(f"query parameter ${name}: {e}") from None


_SCALAR = (int, float, str, bool, type(None), bytes)


def _plain(rows) -> bool:
    """True if every value is a plain scalar (no conversion needed for the user)."""
    for r in rows:
        for v in r:
            if type(v) not in _SCALAR:
                return False
    return True


def _size(view) -> int:
    try:
        return view.node_count()
    except Exception:
        return 0


_CACHE: "OrderedDict[tuple, PreparedQuery]" = OrderedDict()
_CACHE_SIZE = 512
_CACHE_LOCK = threading.Lock()  # prepared queries are immutable; only the cache needs the lock


def deadline(timeout, start: Optional[float] = None) -> Optional[float]:
    """The ``time.monotonic()`` deadline of a ``timeout`` in seconds from ``start`` (default:
    now); None: no limit.

    Raises InterfaceError for a timeout that is not a number >= 0."""
    timeout = check_limit("timeout", timeout)
    if timeout is None:
        return None
    return (time.monotonic() if start is None else start) + timeout


def prepare(source: str, *, deadline: Optional[float] = None) -> PreparedQuery:
    """Parse and check ``source`` (cached by text and procedure registry version).

    ``deadline`` (a ``time.monotonic()`` value) bounds the parse: OperationalError past it."""
    if type(source) is not str:
        raise InterfaceError(f"a query must be a str, not {type(source).__name__}")
    key = (source, procedures.version)
    pq = _CACHE.get(key)
    if pq is not None:
        return pq
    pq = PreparedQuery(source, deadline)  # outside the lock: parsing may raise, and takes time
    with _CACHE_LOCK:
        _CACHE[key] = pq
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pq


_SHAPES: dict = {}          # (shaped text, procedure registry version) -> usable (literals.usable)
_SHAPES_SIZE = 4096


def prepare_shaped(source: str, *, deadline: Optional[float] = None):
    """``(PreparedQuery, hidden)``: ``prepare`` of ``source`` with its literals hidden
    (``literals.shape``) when the shape is usable (``literals.usable``), ``hidden`` then
    being the literals' values by parameter name; else ``(prepare(source), None)``.

    A new shape is prepared and judged once (a shape that fails to parse or check is
    remembered as unusable: its texts are prepared as written, and report their own errors);
    a text of a known shape costs a scan of the text and two dictionary lookups."""
    if type(source) is str and len(source) <= MAX_QUERY_LENGTH:
        found = literals.shape(source)
        if found is not None:
            shaped, hidden = found
            key = (shaped, procedures.version)
            ok = _SHAPES.get(key)
            if ok is None:
                try:
                    ok = literals.usable(prepare(shaped, deadline=deadline), hidden)
                except OperationalError:
                    raise                    # the deadline passed: the text's own run would too
                except Error:
                    ok = False
                if len(_SHAPES) >= _SHAPES_SIZE:
                    _SHAPES.clear()
                _SHAPES[key] = ok
            if ok:
                return prepare(shaped, deadline=deadline), hidden
    return prepare(source, deadline=deadline), None


def restore_positions(res: Result, text: str) -> None:
    """Give ``res`` (a run of ``text``'s shaped statement, ``prepare_shaped``) notifications
    whose positions are in ``text`` as written, not in its shaped text."""
    spans: list = []
    literals.shape(text, spans)
    res.notifications = [
        n if n["position"] is None else
        notification(n["code"], n["title"], n["description"],
                     literals.original_offset(n["position"]["offset"], spans), text)
        for n in res._notes]


def check_options(options: Mapping[str, Any]) -> dict:
    """The options a caller of ``execute`` gives, checked (InterfaceError for one it does not
    know, or a ``timeout``, ``memory`` or ``max_rows`` that is not a number >= 0 or None) and
    returned with those values as plain numbers (``values.plain``).  The database's hooks
    (``import_dir``, ``commit_batch``, ``schema_command``, ``deadline``) are never taken from a
    caller: LOAD CSV's sandbox is the ``import_dir`` the database was opened with."""
    out = {}
    for k, v in options.items():
        if type(k) is not str or k not in _OPTIONS:
            hint = " (import_dir is an option of lpgdb.connect)" if k == "import_dir" else ""
            raise InterfaceError(f"unknown query option {k!r}: execute() takes {', '.join(_OPTIONS)}{hint}")
        out[k] = check_limit(k, v)
    return out


_LIMITS = ("timeout", "memory", "max_rows")


def check_limit(name: str, v):
    """``v`` as the limit ``name`` (seconds, bytes or rows): a plain number >= 0, or None;
    InterfaceError for anything else (NaN included)."""
    v = plain(v)
    if v is not None and (type(v) not in (int, float) or not v >= 0):
        raise InterfaceError(f"{name} must be a number >= 0 or None, not {v!r:.80}")
    return v


def execute(source: str, params: Optional[Mapping[str, Any]], tx, readonly: bool = False,
            options: Mapping[str, Any] = _NO_PARAMS, **more: Any) -> Result:
    """Run a query on ``tx`` (a Transaction or a Snapshot) and return its Result; ``options``:
    the database's defaults and hooks with the caller's options already checked by
    ``check_options``; options given as keywords (``timeout=1.0``) are checked and added.

    Raises:
        QuerySyntaxError / SemanticError: the query is invalid (``.code`` names the TCK detail).
        DataError: a runtime type or argument error.
        NotSupportedError: a feature lpgdb's query language does not implement.
        OperationalError: the query passed its time, memory or row limit.
    """
    options = {**options, **check_options(more)}
    timeout = options.get("timeout")
    if timeout is None:
        return prepare(source).run(tx, params, readonly, options)
    until = deadline(timeout)      # one budget for parsing and running
    pq = prepare(source, deadline=until)
    options["deadline"] = until
    return pq.run(tx, params, readonly, options)


def is_read_only(source: str) -> bool:
    """True if the query has no write clause (so it can run on a snapshot)."""
    try:
        return prepare(source).readonly
    except Exception:
        return False
