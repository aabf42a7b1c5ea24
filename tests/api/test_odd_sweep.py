"""Every public callable of lpgdb, found from ``lpgdb.__all__`` and the objects its calls return,
called with the odd values of test_odd_arguments: each call succeeds or raises an lpgdb error,
never an untyped exception, a hang or a database that no longer opens.

The list of callables is derived, not written down: the module functions and classes of
``lpgdb.__all__``, the public methods (and ``__getitem__`` / ``__contains__``) of one instance of
each class (``_FACTORIES``), and of every lpgdb type those methods return when called without
arguments (``test_every_returned_type_has_a_factory`` fails when a new one has none).  The
default run draws a few hundred calls (``LPGDB_FUZZ_EXAMPLES``); ``-m soak`` draws many more.
Each draw is reproducible from hypothesis's seed (``--hypothesis-seed``)."""
import contextlib
import datetime as dt
import inspect
import io
import itertools
import os
import signal
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
import lpgdb.cli
from lpgdb import values as V
from lpgdb.database import IndexInfo, PreparedStatement
from lpgdb.query.execute import Plan
from lpgdb.result import NotificationPosition
from lpgdb.schema.constraints import IndexSpec
from lpgdb.schema.graphtype import GraphType
from lpgdb.storage.view import GraphView

from .test_odd_arguments import _ODD, _hostile

_HANG_SECONDS = 20


# ---- what to call ----------------------------------------------------------------------------------

def _env(path):
    """A small file database at ``path`` (sync off: the sweep is about arguments, not durability)."""
    db = lpgdb.connect(path, sync="off")
    with db.transaction() as tx:
        a = tx.create_node("A", {"k": 1})
        b = tx.create_node(["A", "B"], {"k": "x", "name": "n"})
        tx.create_edge(a, "R", b, {"w": 1})
    db.create_index("A", "k")
    return db


_QUERY = "MATCH p = (a:A)-[r:R]->(b) RETURN a, r, b, p, a.k AS k"


def _graph_type():
    return lpgdb.parse_schema("CREATE GRAPH TYPE g STRICT { (aType: A {k INT32}), (bType: B), "
                              "(:aType)-[rType: R]->(:bType), FOR (x:aType) EXCLUSIVE MANDATORY SINGLETON x.k }")


def _row(db):
    return db.execute(_QUERY).fetchone()


# type -> how to make one instance of it from the environment database
_FACTORIES = {
    lpgdb.Database: lambda db: db,
    lpgdb.Transaction: lambda db: db.transaction(),
    lpgdb.Snapshot: lambda db: db.snapshot(),
    lpgdb.Result: lambda db: db.execute(_QUERY),
    lpgdb.Row: _row,
    lpgdb.Cursor: lambda db: db.cursor().execute(_QUERY),
    lpgdb.Node: lambda db: _row(db)[0],
    lpgdb.Edge: lambda db: _row(db)[1],
    lpgdb.Path: lambda db: _row(db)[3],
    lpgdb.CsvFiles: lambda db: lpgdb.CsvFiles("a.csv"),
    lpgdb.Violation: lambda db: lpgdb.Violation("unknown_label", "node", 1, None, "m"),
    PreparedStatement: lambda db: db.prepare("MATCH (n:A) RETURN n.k AS k"),
    GraphType: lambda db: _graph_type(),
    IndexInfo: lambda db: db.indexes()[0],
    Plan: lambda db: db.prepare("MATCH (n:A) RETURN n.k AS k").explain(),
    IndexSpec: lambda db: _graph_type().index_specs()[0],
    GraphView: lambda db: db.snapshot().scan_view(),
    lpgdb.Notification: lambda db: lpgdb.Notification("lpgdb.Schema.UnknownLabel", "t", "d", "WARNING", "SCHEMA",
                                                      NotificationPosition(0, 1, 1)),
    NotificationPosition: lambda db: NotificationPosition(0, 1, 1),
    V.Duration: lambda db: V.Duration(1, 2, 3),
    V.Date: lambda db: V.Date(dt.date(2020, 1, 1)),
    V.LocalTime: lambda db: V.LocalTime(5),
    V.Time: lambda db: V.Time(5, 3600),
    V.LocalDateTime: lambda db: V.LocalDateTime(dt.date(2020, 1, 1), 5),
    V.DateTime: lambda db: V.DateTime(dt.date(2020, 1, 1), 5, 0),
}
_PROTOCOL = ("__getitem__", "__contains__", "get")


def _factory_of(t):
    for cls in t.__mro__:
        if cls in _FACTORIES:
            return _FACTORIES[cls]
    return None


def _own(t, name):
    """True when lpgdb defines ``t.name`` (not tuple, Mapping or object: those behave as Python's own)."""
    return any(name in vars(c) for c in t.__mro__ if c.__module__.startswith("lpgdb"))


def _methods(t):
    names = [n for n in dir(t) if not n.startswith("_") and callable(getattr(t, n, None))
             and not isinstance(getattr(t, n), type)]
    return sorted(n for n in names + list(_PROTOCOL) if hasattr(t, n) and _own(t, n))


# The engine's own interfaces, public by name for the layers above storage (the query engine, the
# schema validator) and not for users: types users never hold, constructors of objects only the
# database makes, and the readers' methods their docstrings give to the engine.  Odd arguments
# to these may raise anything; they must still never crash, hang or damage the database.
_ENGINE_TYPES = {"GraphView", "IndexSpec", "Plan", "GraphType"}
_MADE_BY_THE_DATABASE = {"Database", "IndexInfo", "Notification", "NotificationPosition", "Transaction", "Snapshot", "Result", "Cursor", "PreparedStatement",
                         "GraphType", "Plan", "IndexSpec", "GraphView"}
_ENGINE_METHODS = {"node_raw", "keys_fresh", "key_nodes", "untouched_key_nodes", "scan_view", "catalog_version",
                   "index_for", "statistics", "node_labels", "node_labels_many"}


def _engine_facing(owner, name):
    return owner in _ENGINE_TYPES or (name == "__new__" and owner in _MADE_BY_THE_DATABASE) or \
        (owner in ("Transaction", "Snapshot") and name in _ENGINE_METHODS)


def _classes():
    out = [getattr(lpgdb, n) for n in lpgdb.__all__]
    return [c for c in out if isinstance(c, type) and not issubclass(c, BaseException)] + \
        [t for t in _FACTORIES if t.__module__.startswith("lpgdb")]


_FUNCTIONS = sorted(n for n in lpgdb.__all__ if inspect.isfunction(getattr(lpgdb, n)))
_TARGETS = sorted({(t.__name__, m) for t in _FACTORIES for m in _methods(t)}
                  | {(c.__name__, "__new__") for c in _classes()}
                  | {("lpgdb", f) for f in _FUNCTIONS})
_TYPES = {t.__name__: t for t in _FACTORIES} | {c.__name__: c for c in _classes()}


def test_every_public_class_and_returned_type_has_a_factory(tmp_path):
    """A class added to ``lpgdb.__all__``, or a new type a public method returns, is swept too."""
    missing = [c.__name__ for c in _classes() if _factory_of(c) is None]
    assert missing == [], f"add a factory to _FACTORIES for {missing}"
    db = _env(str(tmp_path / "db"))
    try:
        for t, make in list(_FACTORIES.items()):
            obj = make(db)
            for name in _methods(t):
                if name.startswith("_") or name in _NO_ARGS_SKIP:
                    continue
                fn = getattr(obj, name)
                try:
                    if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                           for p in inspect.signature(fn).parameters.values()):
                        continue
                except ValueError:
                    continue
                try:
                    out = fn()
                except (lpgdb.Error, ImportError):
                    continue
                if isinstance(out, lpgdb.Transaction):
                    out.rollback()
                for item in (out if isinstance(out, (list, tuple)) else [out]):
                    u = type(item)
                    if u.__module__.startswith("lpgdb") and _methods(u) and _factory_of(u) is None \
                            and not issubclass(u, BaseException):
                        missing.append(f"{t.__name__}.{name}() -> {u.__name__}")
            if isinstance(obj, lpgdb.Transaction) and obj.status == "active":
                obj.rollback()
    finally:
        db.close()
    assert missing == [], f"add a factory to _FACTORIES for {missing}"


# methods that end the object or the database, run without arguments by the coverage test above
_NO_ARGS_SKIP = {"close", "commit", "rollback", "checkpoint", "refresh", "drop_schema", "verify", "df", "pl",
                 "arrow", "get_as_df", "get_as_arrow", "get_as_networkx"}


# ---- how to call it --------------------------------------------------------------------------------

_OPTION_NAMES = {"connect": ["readonly", "create", "sync", "timeout", "query_timeout", "query_memory", "max_rows",
                             "import_dir", "wal_segment_size", "checkpoint_wal_bytes", "checkpoint_mem_bytes",
                             "archive", "archive_interval", "archive_retention", "follow", "follow_interval",
                             "recover", "bogus"],
                 "execute": ["timeout", "memory", "max_rows", "import_dir", "commit_batch", "deadline", "bogus"],
                 "to_json": ["indent", "sort_keys", "default", "bogus"]}
_WORDS = st.sampled_from(["A", "B", "R", "k", "name", "out", "in", "both", "x.csv", "db", "-", "",
                          "MATCH (n) RETURN n", "RETURN $p AS p", "CREATE (:A {k: 1})",
                          "CREATE GRAPH TYPE g LOOSE {}", "\ud800", "a\x00b", "2020-01-01T00:00:00Z"])
_ARG = _ODD | _WORDS | st.sampled_from([lambda: _hostile(str, "k"), lambda: _hostile(int, 0)]).map(lambda make: make())


def _arguments(draw, fn, name):
    args, kwargs = [], {}
    try:
        params = list(inspect.signature(fn).parameters.values())
    except ValueError:                      # a builtin without a signature
        return draw(st.lists(_ARG, max_size=3)), {}
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty or draw(st.booleans()):
                if p.kind == p.POSITIONAL_ONLY or varargs or not kwargs and draw(st.booleans()):
                    args.append(draw(_ARG))
                else:
                    kwargs[p.name] = draw(_ARG)
        elif p.kind == p.VAR_POSITIONAL:
            args += draw(st.lists(_ARG, max_size=3))
        elif p.kind == p.KEYWORD_ONLY and (p.default is p.empty or draw(st.booleans())):
            kwargs[p.name] = draw(_ARG)
        elif p.kind == p.VAR_KEYWORD:
            names = _OPTION_NAMES.get(name, ["k", "timeout", "name"])
            kwargs.update(draw(st.dictionaries(st.sampled_from(names), _ARG, max_size=2)))
    return args, kwargs


class _Hang(BaseException):
    pass


def _on_alarm(*_):
    raise _Hang()


@contextlib.contextmanager
def _bounded():
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(_HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _call(fn, args, kwargs, shown, engine=False):
    """``fn(*args, **kwargs)`` (and the first items when it returns an iterator): its value, or
    None when it raised an lpgdb error.  For a protocol method (``x[odd]``, ``odd in x``) the
    built-in protocols' KeyError, IndexError and TypeError are right too; for the engine's
    interfaces (``engine``) any exception is."""
    try:
        with _bounded(), warnings.catch_warnings():
            warnings.simplefilter("ignore")         # Result.single() warns of a second row, as it should
            out = fn(*args, **kwargs)
            if hasattr(out, "__next__"):
                list(itertools.islice(out, 3))
        return out
    except lpgdb.Error:
        return None
    except _Hang:
        raise AssertionError(f"{shown} did not return within {_HANG_SECONDS} s") from None
    except Exception as e:
        if engine or isinstance(e, (KeyError, IndexError, TypeError)) and \
                shown.split("(")[0].endswith(_PROTOCOL):
            return None
        raise AssertionError(f"{shown} raised {type(e).__name__}: {e}") from e


def _paths_under(value, root):
    """A str argument of a function that takes paths, moved under ``root``."""
    return os.path.join(root, value.replace("/", "_")[:40] or "empty") if type(value) is str else value


def _sweep_one(data, root):
    path = os.path.join(root, "db")
    owner, name = data.draw(st.sampled_from(_TARGETS))
    db = _env(path)
    made = None
    try:
        if owner == "lpgdb":
            fn = getattr(lpgdb, name)
            args, kwargs = _arguments(data.draw, fn, name)
            args = [_paths_under(a, root) for a in args]
            kwargs = {k: _paths_under(v, root) if k in ("path", "source", "dest") else v for k, v in kwargs.items()}
            if name in ("connect", "restore", "bulk_import", "upgrade") and data.draw(st.booleans()):
                real = [path] if name != "restore" else [path, os.path.join(root, "r")]   # the database itself
                args = real + args[len(real):]
                kwargs = {k: v for k, v in kwargs.items() if k not in ("path", "source", "dest")}
                db.close()
        elif name == "__new__":
            fn = _TYPES[owner]
            args, kwargs = _arguments(data.draw, fn, owner)
        else:
            made = _factory_of(_TYPES[owner])(db)
            fn = getattr(made, name)
            args, kwargs = _arguments(data.draw, fn, name)
            if owner == "Database" and name in ("backup",):
                args = [_paths_under(a, root) for a in args]
        shown = f"{owner}.{name}(*{args!r:.300}, **{kwargs!r:.300})"
        out = _call(fn, args, kwargs, shown, _engine_facing(owner, name))
        for o in (out, made):
            if isinstance(o, lpgdb.Transaction) and o.status == "active":
                o.rollback()
            elif isinstance(o, lpgdb.Database) and o is not db:
                o.close()
    finally:
        db.close()
    with lpgdb.connect(path) as again:       # whatever was called, the database still opens and is whole
        again.verify()
        assert again.snapshot().node_count() >= 0


def _cli_one(data, root):
    path = os.path.join(root, "db")
    _env(path).close()
    words = data.draw(st.lists(st.sampled_from(
        ["demo", "shell", "query", "schema", "set", "show", "check", "infer", "draw", "import", "export", "index",
         "list", "create", "drop", "backup", "verify", "checkpoint", "upgrade", "restore", "-c", "--readonly",
         "--bail", "-p", "--json", "--format", "--nodes", "--edges", "--until", "--lsn", "A", "k", "k=1",
         "k=\ud800", "RETURN 1 AS x", "MATCH (n) RETURN n", "\x00", "-", "--", "1e400", "-1", "nan", "dot",
         "csv", "A=x.csv", "2020-01-01T00:00:00Z", "CREATE GRAPH TYPE g LOOSE {}"]), min_size=1, max_size=6))
    spot = data.draw(st.integers(0, len(words)))
    argv = words[:1] + ([path] if spot else []) + words[1:]
    argv = [os.path.join(root, a) if a in ("x.csv", "A=x.csv") else a for a in argv]
    err = io.StringIO()
    shown = f"lpgdb.cli.main({argv!r})"
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            _stdin(io.StringIO("RETURN 1 AS x;\n")):
        try:
            with _bounded():
                status = lpgdb.cli.main(argv)
        except SystemExit as e:
            status = e.code
        except _Hang:
            raise AssertionError(f"{shown} did not return within {_HANG_SECONDS} s") from None
        except BaseException as e:
            raise AssertionError(f"{shown} raised {type(e).__name__}: {e}") from e
    assert status in (0, 1, 2, None), f"{shown} exited {status!r}"
    assert "internal error" not in err.getvalue(), f"{shown}: {err.getvalue()}"
    with lpgdb.connect(path) as again:
        again.verify()


@contextlib.contextmanager
def _stdin(f):
    import sys
    old, sys.stdin = sys.stdin, f
    try:
        yield
    finally:
        sys.stdin = old


def _run(data, tmp_path_factory, what):
    root = str(tmp_path_factory.mktemp("sweep"))
    cwd = os.getcwd()
    os.chdir(root)                 # a relative path an odd argument names lands in the temporary directory
    try:
        what(data, root)
    finally:
        os.chdir(cwd)


_EXAMPLES = int(os.environ.get("LPGDB_FUZZ_EXAMPLES", "100"))
_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_every_public_callable_survives_odd_arguments(data, tmp_path_factory):
    _run(data, tmp_path_factory, _sweep_one)


@settings(max_examples=max(_EXAMPLES // 5, 10), deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_the_command_line_survives_odd_argv(data, tmp_path_factory):
    _run(data, tmp_path_factory, _cli_one)


@pytest.mark.soak
@settings(max_examples=20000, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_every_public_callable_survives_odd_arguments_soak(data, tmp_path_factory):
    _run(data, tmp_path_factory, _sweep_one)


@pytest.mark.soak
@settings(max_examples=3000, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_the_command_line_survives_odd_argv_soak(data, tmp_path_factory):
    _run(data, tmp_path_factory, _cli_one)
