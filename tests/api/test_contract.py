"""The public API contract, shared/API.md, read from the file itself: every name it states exists,
every call it writes binds to the real signature (positional and keyword names, literal defaults),
and the errors it names form the hierarchy it draws.  Behaviour the contract states in words is
checked in the other tests of tests/api; the few statements no other test holds are at the end.

How API.md is read (where it is shorthand, the reading a Python developer would take):
- a call written in a code span, ``db.node(id) -> Node``, ``lpgdb.restore(source, dest,
  until=datetime | None, lsn=None)``, is a signature: its plain parameters bind positionally,
  ``name=default`` ones by keyword and, unless some span of the same function shows a bare ``*``,
  positionally too (``restore(src, dest, when)``); after a bare ``*``, by keyword only;
- a default that is a literal (``None``, ``"out"``, ``False``) is the real default when the span is
  a full signature (it shows ``*`` or ``-> type``); ``...`` and ``A | B`` defaults name a parameter
  without fixing its default;
- the lines of a ``python`` code block are example calls: they must bind as written;
- bare calls in the Reads paragraph (``nodes(label=None)``) are methods of both Transaction and
  Snapshot; a span starting with ``.`` is a Result method, except ``.execute`` (a PreparedQuery's).
"""
import ast
import builtins
import inspect
import re

import pytest

import lpgdb

from ..shared import shared_path

API = shared_path("API.md").read_text(encoding="utf-8")

RECEIVERS = {"lpgdb": [lpgdb], "db": [lpgdb.Database], "tx": [lpgdb.Transaction],
             "s": [lpgdb.Snapshot], "Result": [lpgdb.Result]}
READERS = [lpgdb.Transaction, lpgdb.Snapshot]


def _close(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start`` (quotes and nesting respected)."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise AssertionError(f"API.md: unbalanced call at {text[start - 20:start + 40]!r}")


def _calls():
    """``(owners, name, args_text, signature_like, example, where)`` for every call API.md writes."""
    out = []
    blocks = re.findall(r"```python\n(.*?)```", API, re.S)
    prose = re.sub(r"```.*?```", "", API, flags=re.S)
    section = ""
    for block in blocks:
        for m in re.finditer(r"(?<![\w.])(lpgdb|db|tx|s)\.(\w+)\(", block):
            end = _close(block, m.end() - 1)
            args = block[m.end():end]
            out.append((RECEIVERS[m.group(1)], m.group(2), args, " *" in f" {args}" or "*," in args,
                        "*," not in args, block[m.start():end + 1]))
    for line in prose.splitlines():
        if line.startswith("#"):
            section = line
        for span in re.findall(r"`([^`]+)`", line):
            m = re.match(r"(?:(lpgdb|db|tx|s|Result)\.|(\.))?(\w+)\(", span)
            if not m:
                continue
            end = _close(span, m.end() - 1)
            args, rest = span[m.end():end], span[end + 1:]
            name = m.group(3)
            if not (m.group(1) or m.group(2)) and (name in dir(__builtins__) or name in dir(builtins)
                                                   or name.isupper()):
                continue                                   # str(db.schema), dict(), COUNT { }
            if m.group(1):
                owners = RECEIVERS[m.group(1)]
            elif m.group(2) and "`Node`/`Edge`" in line:
                owners = [lpgdb.Node, lpgdb.Edge]
            elif m.group(2):
                owners = [lpgdb.PreparedQuery] if name == "execute" else [lpgdb.Result]
            elif name == "connect":
                owners = [lpgdb]
            elif name in ("node", "edge", "nodes", "edges", "find_nodes", "neighbors", "edges_of",
                          "degree", "node_count", "edge_count"):
                owners = READERS
            else:
                raise AssertionError(f"API.md {section}: whose is `{span}`? (teach test_contract.py)")
            full = bool(re.match(r"\s*->", rest)) or bool(re.search(r"(^|,)\s*\*\s*(,|$)", args))
            out.append((owners, name, args, full, False, span))
    return out


CALLS = _calls()
STARRED = {(id(o), n) for owners, n, args, *_ in CALLS for o in owners
           if re.search(r"(^|,)\s*\*\s*(,|$)", args)}


def _parse(args: str):
    """``(positional, keyword, literal_defaults, partial)`` of a call's text: how many plain
    items, the names written ``name=...``, the literal defaults by name, and whether a ``...``
    item stands for parameters written elsewhere (``tx.execute(...)``: only what is named binds)."""
    text = args.replace("…", "...")
    partial = bool(re.search(r"(^|,)\s*\.\.\.\s*(,|$)", text))
    text = re.sub(r"(^|,)\s*\.\.\.\s*(?=,|$)", r"\1", text).strip().strip(",").replace(",,", ",")
    try:
        fn = ast.parse(f"def f({text}): pass").body[0].args
    except SyntaxError:
        call = ast.parse(f"f({text})", mode="eval").body
        return (len(call.args), [k.arg for k in call.keywords if k.arg], {}, partial)
    plain = fn.posonlyargs + fn.args
    n_required = len(plain) - len(fn.defaults)
    defaults = {}
    for a, d in zip(plain[n_required:], fn.defaults):
        defaults[a.arg] = d
    for a, d in zip(fn.kwonlyargs, fn.kw_defaults):
        defaults[a.arg] = d
    literals = {}
    for k, d in defaults.items():
        if isinstance(d, ast.Constant) and d.value is not Ellipsis:
            literals[k] = d.value
    keywords = [a.arg for a in plain[n_required:]] + [a.arg for a in fn.kwonlyargs]
    return (n_required, keywords, literals, partial)


def _target(owner, name):
    return getattr(owner, name)


def _ids(call):
    owners, name, args, *_ = call
    return f"{owners[0].__name__}.{name}({args[:40]})"


@pytest.mark.parametrize("call", CALLS, ids=[_ids(c) for c in CALLS])
def test_every_call_api_md_writes_binds_to_the_real_signature(call):
    owners, name, args, full, example, span = call
    assert len(CALLS) > 40                       # the reading found API.md's calls
    n_pos, keywords, literals, partial = _parse(args)
    for owner in owners:
        f = getattr(owner, name, None)
        assert f is not None, f"API.md `{span}`: {owner.__name__}.{name} is missing"
        if isinstance(f, type):
            f = f.__init__
        sig = inspect.signature(f)
        if inspect.isfunction(f) and not isinstance(inspect.getattr_static(owner, name), staticmethod) \
                and owner is not lpgdb:
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])   # self
        where = f"API.md `{span}` vs {owner.__name__}.{name}{sig}"
        # as written: the plain items by position, the named ones by keyword
        try:
            (sig.bind_partial if partial else sig.bind)(*range(n_pos), **{k: None for k in keywords})
        except TypeError as e:
            pytest.fail(f"{where}: {e}")
        if example or partial:
            continue
        # a name=default parameter is optional, and positional too unless API.md shows a bare *
        sig.bind(*range(n_pos))
        if (id(owner), name) not in STARRED:
            try:
                sig.bind(*range(n_pos + len(keywords)))
            except TypeError as e:
                pytest.fail(f"{where}: the parameters after the first {n_pos} should also be "
                            f"accepted by position ({e})")
        if full:
            for k, v in literals.items():
                p = sig.parameters.get(k)
                if p is not None:
                    assert p.default == v and type(p.default) is type(v), f"{where}: default of {k}"


def test_every_lpgdb_name_api_md_states_exists():
    names = set(re.findall(r"lpgdb\.([A-Za-z_]\w*)", API))
    names |= {n for n in re.findall(r"`([A-Z]\w+)`", API)}            # Violation, Node, GraphType, errors
    names |= set(re.findall(r"-> ([A-Z]\w+)", API)) - {"Iterator"}   # Result, GraphType, PreparedQuery
    names -= {"DIR", "BOOL", "BOOLEAN", "INT", "INTEGER", "FLOAT", "DOUBLE", "STRING", "DATE", "TIME",
              "DATETIME", "DURATION", "BYTES", "LOOSE", "STRICT", "KEY", "EXPLAIN", "PROFILE",
              "CREATE", "LOAD", "CALL", "COUNT", "FOREACH", "Mapping"}
    names = {n for n in names if (not n.isupper() or n.endswith("Error")) and not hasattr(builtins, n)}
    assert {"connect", "parse_schema", "restore", "GraphType", "PreparedQuery", "Violation",
            "Node", "Edge", "Path", "Result", "Row", "NotFoundError"} <= names
    missing = sorted(n for n in names if not hasattr(lpgdb, n))
    assert not missing, f"API.md names these, lpgdb lacks them: {missing}"
    for n in names:
        assert n in lpgdb.__all__, f"lpgdb.{n} exists but is not in lpgdb.__all__"


def test_errors_form_the_hierarchy_api_md_draws():
    errors = re.search(r"## Errors.*?\n\n", API, re.S).group(0)
    named = set(re.findall(r"`(\w+Error)`", errors)) - {"KeyError"}
    assert named and all(issubclass(getattr(lpgdb, n), lpgdb.Error) for n in named)
    # "DatabaseError > ProgrammingError > (QuerySyntaxError, SchemaSyntaxError ...), SemanticError;
    # IntegrityError > SchemaViolationError; ..." -- SemanticError read as a ProgrammingError too
    parent = {"ProgrammingError": "DatabaseError", "QuerySyntaxError": "ProgrammingError",
              "SchemaSyntaxError": "ProgrammingError", "SemanticError": "ProgrammingError",
              "IntegrityError": "DatabaseError", "SchemaViolationError": "IntegrityError",
              "DataError": "DatabaseError", "OperationalError": "DatabaseError",
              "CorruptionError": "DatabaseError", "NotSupportedError": "DatabaseError",
              "InternalError": "DatabaseError", "InterfaceError": "Error", "DatabaseError": "Error"}
    assert named <= set(parent) | {"NotFoundError"}
    for child, base in parent.items():
        assert issubclass(getattr(lpgdb, child), getattr(lpgdb, base)), (child, base)
    assert not issubclass(lpgdb.InterfaceError, lpgdb.DatabaseError)
    assert issubclass(lpgdb.NotFoundError, KeyError) and issubclass(lpgdb.NotFoundError, lpgdb.Error)
    for err, attrs in ((lpgdb.SchemaSyntaxError, "line column snippet"), (lpgdb.CorruptionError, "path offset"),
                       (lpgdb.SchemaViolationError, "violations")):
        for a in attrs.split():
            assert f".{a}" in errors
            assert a in inspect.signature(err.__init__).parameters or hasattr(err, a) or \
                a in (getattr(err, "__slots__", ()) or ()) or _instance_has(err, a), (err, a)


def _instance_has(err, attr):
    try:
        e = err("x")
    except TypeError:
        e = err([]) if err is lpgdb.SchemaViolationError else None
    return e is not None and hasattr(e, attr)


# -- statements in words that no other test holds --------------------------------------------------

def test_violation_and_schema_error_kinds_are_the_contract_vocabulary():
    kinds = re.search(r"Kinds \(.*?\): (.*?)\nSchema-definition", API, re.S).group(1)
    vocab = set(re.findall(r"`(\w+)`", kinds))
    assert "key_duplicate" in vocab and len(vocab) == 11
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            tx.create_node("P", {"k": 1})
            tx.create_node("P", {"k": 1})
            tx.create_node("Q")
        with pytest.raises(lpgdb.SchemaViolationError) as e:
            db.set_schema("CREATE GRAPH TYPE g STRICT { (PT :P {k INT}), FOR (p:PT) EXCLUSIVE MANDATORY "
                          "SINGLETON p.k }")
        vs = e.value.violations
        assert {v.kind for v in vs} <= vocab and {"key_duplicate", "unknown_label"} <= {v.kind for v in vs}
        for v in vs:
            assert v.element in ("node", "edge") and isinstance(v.message, str) and v.message
            assert v.id is None or isinstance(v.id, int)
        assert db.schema is None and len(db.check()) == 0
    schema_kinds = set(re.findall(r"`(\w+)`", re.search(r"use\s+`\.kind`\s+too:(.*?)\n\n", API, re.S).group(1)))
    assert "duplicate_property" in schema_kinds and "parse_error" in schema_kinds
    with pytest.raises(lpgdb.SemanticError) as e:
        lpgdb.parse_schema("CREATE GRAPH TYPE g STRICT { (AT :A {x INT, x INT}) }")
    assert e.value.kind in schema_kinds and e.value.kind == "duplicate_property"
    with pytest.raises(lpgdb.SchemaSyntaxError) as e:
        lpgdb.parse_schema("CREATE GRAPH TYPE g STRICT { (")
    assert e.value.kind == "parse_error" and e.value.line == 1 and e.value.column >= 1 and e.value.snippet


def test_parse_schema_and_db_schema_round_trip_as_graph_types():
    ddl = ("CREATE GRAPH TYPE a LOOSE { (XT :X) } "
           "CREATE GRAPH TYPE b STRICT { (PT :Person {name STRING}), (:PT)-[KT :Knows]->(:PT) }")
    gt = lpgdb.parse_schema(ddl)
    assert isinstance(gt, lpgdb.GraphType) and gt.name == "b"                 # the last one
    assert lpgdb.parse_schema(ddl, "a").name == "a"                           # or the one named
    assert lpgdb.parse_schema(str(gt)) == gt
    assert isinstance(gt.warnings, (list, tuple))
    with lpgdb.connect(":memory:") as db:
        assert db.schema is None
        got = db.set_schema(ddl, "b")
        assert isinstance(got, lpgdb.GraphType) and db.schema == gt == got
        assert lpgdb.parse_schema(str(db.schema)) == db.schema
        assert isinstance(db.infer_schema(), lpgdb.GraphType) and db.check() == []
        db.drop_schema()
        assert db.schema is None


def test_prepared_query_is_what_prepare_returns():
    with lpgdb.connect(":memory:") as db:
        pq = db.prepare("RETURN $x + 1 AS y")
        assert isinstance(pq, lpgdb.PreparedQuery)
        r = pq.execute({"x": 1})
        assert isinstance(r, lpgdb.Result) and r.fetchall() == [(2,)]
        assert pq.execute(params={"x": 2}).value() == [3]
