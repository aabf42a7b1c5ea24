"""Fuzz targets and input generators for both parsers and the native boundary (issue 9, harness 5).

A target takes one input and returns normally when lpgdb behaved: it succeeded or raised a typed
``lpgdb.Error``. Anything else (an untyped exception, a wrong round trip) raises ``Finding``. A
hang or a crash is caught by the process running the target (harness.py), not here.

Targets:
    query    prepare + run in a rolled-back transaction on a small graph (query timeout 1 s)
    schema   parse_schema; for a valid schema also str() round trip and set_schema + check
    native   a program of calls on core.Adjacency / KeyIndex / LabelIndex with hostile ids,
             sizes and buffers, then each structure's invariant check
    csv      the C CSV parser (native/csv.c) over hostile bytes with random column kinds and ID
             maps, then the row packer (native/ingest.c) over what it produced: a bad input may
             only raise core.InputFault; every packed row must decode

Generators (``generate(target, rnd)``) mix mutations of valid seeds, token soup and deep
nesting, so that a CI-sized run reaches the parser limits and the later phases alike.
"""
from __future__ import annotations

import array
import datetime as dt
import random

import lpgdb


class Finding(Exception):
    """lpgdb misbehaved on an input: an untyped exception or a broken invariant."""


# ---- query ---------------------------------------------------------------------------------------

QUERY_SEEDS = [
    "MATCH (n) RETURN n", "MATCH (a:A)-[r:T]->(b) WHERE a.k = 1 RETURN a, r, b",
    "MATCH p = (a)-[*1..3]->(b) RETURN p, length(p)", "OPTIONAL MATCH (n:B) RETURN n.k",
    "UNWIND [1, 2, 3] AS x WITH x WHERE x > 1 RETURN x ORDER BY x DESC SKIP 1 LIMIT 1",
    "CREATE (:A {k: 1})-[:T {w: 2}]->(:B)", "MERGE (a:A {k: 9}) ON CREATE SET a.n = 1 ON MATCH SET a.n = a.n + 1",
    "MATCH (n) SET n.x = 1, n:L REMOVE n.k", "MATCH (n) DETACH DELETE n",
    "MATCH (n) RETURN count(*), collect(n.k), sum(n.k), avg(n.k), min(n.k), max(n.k)",
    "RETURN [x IN range(1, 10) WHERE x % 2 = 0 | x * x] AS l, {a: 1, b: [1, 'x']} AS m",
    "RETURN CASE WHEN 1 < 2 THEN 'a' ELSE 'b' END, coalesce(null, 1), toInteger('12')",
    "MATCH (n) WHERE n:A AND (n.k IS NULL OR n.k STARTS WITH 'x') RETURN DISTINCT labels(n)",
    "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) } RETURN a", "MATCH (a) RETURN [(a)-->(b) | b.k]",
    "MATCH (n) RETURN n {.k, z: 1}", "RETURN 1 AS x UNION ALL RETURN 2 AS x",
    "WITH date('2024-01-02') AS d RETURN d.year, duration('P1D'), datetime('2024-01-01T00:00:00Z')",
    "MATCH (a)-[r]-(b) RETURN type(r), startNode(r), endNode(r), id(a), properties(b)",
    "RETURN $p + 1, $l[0], $m.a, size($l), reverse($l), keys($m)",
    "CALL db.labels() YIELD label RETURN label", "RETURN 'a' =~ 'a.*', substring('abc', 1), split('a,b', ',')",
    "MATCH (n) WITH n.k AS k, count(*) AS c ORDER BY c RETURN k, c",
    "RETURN any(x IN [1, 2] WHERE x > 1), all(x IN [] WHERE false), none(x IN [1] WHERE x = 2)",
]
QUERY_TOKENS = [
    "MATCH", "OPTIONAL", "RETURN", "WITH", "WHERE", "UNWIND", "AS", "CREATE", "MERGE", "SET", "DELETE",
    "DETACH", "REMOVE", "ORDER", "BY", "SKIP", "LIMIT", "DISTINCT", "UNION", "ALL", "AND", "OR", "XOR",
    "NOT", "IN", "IS", "NULL", "CASE", "WHEN", "THEN", "ELSE", "END", "EXISTS", "CALL", "YIELD", "ON",
    "STARTS", "ENDS", "CONTAINS", "count", "(", ")", "[", "]", "{", "}", "-->", "<--", "--", "-[", "]->",
    "]-", "<-[", ":", ",", ".", "..", "*", "+", "-", "/", "%", "^", "=", "<>", "<", "<=", "=~", "|",
    "n", "m", "r", "p", "x", "$p", "$l", "$m", "$missing", "1", "0", "-1", "2.5", "1e309",
    "9223372036854775807", "9223372036854775808", "0x7fffffffffffffff", "'s'", "'\\u00e9'", "'\\uZZ'",
    "\"q\"", "true", "false", "null", "size", "range", "labels", "type", "n.k", "keys", "toInteger",
    "collect", "sum", "head", "tail", "date", "duration", "`esc aped`", "/* c */", "// c\n", "\n", "\t",
    "\u00e9", "\u2192", "\x00", "\ud7ff", "'", "\"", "`",
]
_WRAPS = ["({})", "NOT ({})", "-({})", "[{}]", "{{a: {}}}", "abs({})", "CASE WHEN true THEN {} END",
          "[x IN [{}] | x]", "({}) + 1", "size([{}])", "coalesce({}, 1)"]


def _mutate(text: str, rnd: random.Random, tokens) -> str:
    for _ in range(rnd.randint(1, 5)):
        op = rnd.randrange(7)
        i = rnd.randint(0, len(text))
        j = min(len(text), i + rnd.randint(1, 16))
        if op == 0:
            text = text[:i] + text[j:]
        elif op == 1:
            text = text[:i] + " " + rnd.choice(tokens) + " " + text[i:]
        elif op == 2:
            text = text[:j] + text[i:j] * rnd.randint(1, 4) + text[j:]
        elif op == 3 and j - i >= 2:
            text = text[:i] + text[j - 1] + text[i + 1:j - 1] + text[i] + text[j:]
        elif op == 4:
            text = text[:i] + chr(rnd.choice([0, 9, 10, 39, 40, 41, 91, 93, 96, 123, 125, 0xe9, 0x2028,
                                               0xffff, 0x10ffff])) + text[j:]
        elif op == 5:
            text = text[:i] + str(rnd.choice([0, -1, 2 ** 63, 2 ** 64, 10 ** 400, 1.5e308])) + text[j:]
        else:
            text = text[:i] + rnd.choice(tokens) + text[j:]
    return text


def generate_query(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.55:
        return _mutate(rnd.choice(QUERY_SEEDS), rnd, QUERY_TOKENS)
    if kind < 0.8:
        return " ".join(rnd.choice(QUERY_TOKENS) for _ in range(rnd.randint(1, 30)))
    if kind < 0.95:       # nesting around the limit, through every wrapper at once
        expr = "1"
        for _ in range(rnd.choice([5, 50, 150, 199, 201, 400])):
            expr = rnd.choice(_WRAPS).format(expr)
        return rnd.choice(["RETURN {}", "WITH {} AS v RETURN v", "MATCH (n) WHERE {} = n.k RETURN n"]).format(expr)
    return "".join(chr(rnd.randint(1, 0x2FF)) for _ in range(rnd.randint(0, 60)))


_QUERY_DB = None


def _query_db():
    global _QUERY_DB
    if _QUERY_DB is None:
        _QUERY_DB = db = lpgdb.connect(":memory:")
        db.execute("CREATE (:A {k: 1, s: 'x'})-[:T {w: 2}]->(:B {k: [1, 2]}), (:A {k: 'two'}), "
                   "(:B {d: date('2024-01-01')})")
    return _QUERY_DB


def run_query(text: str) -> None:
    from lpgdb import query
    try:
        pq = query.prepare(text)
    except lpgdb.Error:
        return
    except Exception as e:
        raise Finding(f"prepare raised {type(e).__name__}: {e}") from e
    tx = _query_db().transaction()
    try:
        pq.run(tx, {"p": 1, "l": [1, 2], "m": {"a": 1}}, timeout=1.0)
    except lpgdb.Error:
        pass
    except Exception as e:
        raise Finding(f"running raised {type(e).__name__}: {e}") from e
    finally:
        tx.rollback()


# ---- schema --------------------------------------------------------------------------------------

SCHEMA_SEEDS = [
    "CREATE NODE TYPE (p: Person {name STRING, OPTIONAL age INT32});\n"
    "CREATE GRAPH TYPE g STRICT IMPORTS h { p, (a: p & A OPEN {OPTIONAL x INT32, OPEN}),\n"
    "  (:p | a)-[k: K & L {since DATE}]->(OPEN {OPEN}),\n"
    "  FOR (x:a) WHERE x.x >= 1 COUNT 1..2 OF y WITHIN (x)-[:K]->(y), FOR (x:p) KEY x.name }\n"
    "CREATE GRAPH TYPE h LOOSE {}",
    "CREATE GRAPH TYPE s STRICT { (personType: Person {id INT, name STRING}),\n"
    "  (cityType: City {name STRING}), (:personType)-[livesIn: LIVES_IN]->(:cityType),\n"
    "  FOR (p:personType) KEY p.id, FOR (p:personType) MANDATORY c WITHIN (p)-[:LIVES_IN]->(c:cityType),\n"
    "  FOR ()-[e:livesIn]->() EXCLUSIVE e.since }",
    "CREATE GRAPH TYPE l LOOSE { (a: A | B? {OPTIONAL v ANY}), ABSTRACT (b: [A & C] OPEN),\n"
    "  FOR (x: A & !B) WHERE NOT x.v IS NULL AND (x.v = 'q' OR x.v <> -2.5) SINGLETON x.v,\n"
    "  FOR (x) COUNT 0..3 OF (x)<-[:R]-(y) }",
]
SCHEMA_TOKENS = [
    "(", ")", "{", "}", "[", "]", ",", ":", "&", "|", "?", "!", "-", ">", "<", ".", "..", ";", "`",
    "'", '"', "CREATE", "GRAPH", "NODE", "EDGE", "TYPE", "STRICT", "LOOSE", "OPEN", "OPTIONAL",
    "ABSTRACT", "IMPORTS", "FOR", "WHERE", "WITHIN", "COUNT", "OF", "KEY", "EXCLUSIVE", "MANDATORY",
    "SINGLETON", "IDENTIFIER", "x.id", "x", "y", "0", "1..2", "-1", "1.5", "INT", "STRING", "NULL",
    "TRUE", "IS", "NOT", "AND", "OR", "=", ">=", "//", "/*", "\n", "\u00e9", "\u2192", "\x00", "g", "h",
    "p", "a", "A", "B", "IMPORTS g", "IMPORTS h", "IMPORTS g, h",
]


def generate_schema(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.55:
        return _mutate(rnd.choice(SCHEMA_SEEDS), rnd, SCHEMA_TOKENS)
    if kind < 0.8:
        return "CREATE GRAPH TYPE g STRICT { " + " ".join(rnd.choice(SCHEMA_TOKENS)
                                                          for _ in range(rnd.randint(1, 40)))
    if kind < 0.9:      # label and boolean nesting around the limit
        lx = "A"
        for _ in range(rnd.choice([5, 50, 150, 250])):
            lx = rnd.choice(["({})", "[{}]", "{} | B", "{} & C", "{}?"]).format(lx)
        return f"CREATE GRAPH TYPE g LOOSE {{ (t: {lx}) }}"
    n = rnd.randint(2, 40)      # import graphs: chains, diamonds, cycles
    out = ["CREATE GRAPH TYPE g0 LOOSE { (t0: T0 {k INT}) }"]
    for i in range(1, n):
        imps = sorted({f"g{rnd.randrange(i + (1 if rnd.random() < 0.05 else 0))}" for _ in range(rnd.randint(1, 3))})
        out.append(f"CREATE GRAPH TYPE g{i} LOOSE IMPORTS {', '.join(imps)} "
                   f"{{ (t{i}: t{rnd.randrange(i)} & T{i}), FOR (x:t{i}) KEY x.k }}")
    return "\n".join(out)


_SCHEMA_DB = None


def run_schema(text: str) -> None:
    global _SCHEMA_DB
    try:
        gt = lpgdb.parse_schema(text)
    except lpgdb.Error:
        return
    except Exception as e:
        raise Finding(f"parse_schema raised {type(e).__name__}: {e}") from e
    try:
        again = lpgdb.parse_schema(str(gt))
    except Exception as e:
        raise Finding(f"str(graph_type) does not parse back: {type(e).__name__}: {e}") from e
    if again != gt:
        raise Finding("str(graph_type) parses back to a different graph type")
    if _SCHEMA_DB is None:
        _SCHEMA_DB = lpgdb.connect(":memory:")
        with _SCHEMA_DB.transaction() as tx:
            a = tx.create_node(["A", "Person"], {"name": "x", "k": 1})
            tx.create_edge(a, "K", tx.create_node("B", {"v": 2.5}), {"since": dt.date(2024, 1, 1)})
    try:
        _SCHEMA_DB.set_schema(text)
        _SCHEMA_DB.check()
        _SCHEMA_DB.drop_schema()
    except lpgdb.Error:
        pass
    except Exception as e:
        raise Finding(f"set_schema raised {type(e).__name__}: {e}") from e


# ---- native boundary -----------------------------------------------------------------------------

_IDS = [0, 1, 2, 3, 7, 2 ** 32 - 1, 2 ** 32, 2 ** 40 - 1, 2 ** 40, 2 ** 63, 2 ** 64 - 1, 2 ** 64, -1,
        -(2 ** 63), 1.5, None, "1", True, b"\x01"]
_SNAPS = [0, 1, 5, 2 ** 64 - 2, 2 ** 64 - 1, 2 ** 64, -1, None]
_DIRS = ["out", "in", "both", "OUT", 0, None, b"out"]


def _hostile_seq(rnd, pool):
    kind = rnd.randrange(8)
    n = rnd.choice([0, 1, 2, 5, 300])
    if kind == 0:
        return [rnd.choice(pool) for _ in range(n)]
    if kind == 1:
        return array.array("Q", [rnd.randrange(2 ** 64) if rnd.random() < 0.1 else rnd.randrange(8) for _ in range(n)])
    if kind == 2:
        return array.array(rnd.choice("bBhHiIlLqd"), [rnd.randrange(8) for _ in range(n)])
    if kind == 3:
        return tuple(rnd.randrange(8) for _ in range(n))
    if kind == 4:
        return (x for x in range(n))
    if kind == 5:
        return rnd.choice([None, 5, "abc", b"\x00" * 8, {1: 2}, {3}, memoryview(b"\x00" * 16)])
    if kind == 6:
        return [rnd.randrange(8) for _ in range(n)]
    return range(n)


def _hostile_key(rnd):
    return rnd.choice([b"", b"abc", b"\x00" * 65536, b"x" * 65537, bytearray(b"key"), memoryview(b"mv"),
                       array.array("Q", [1, 2]), "str", None, 5, [b"a"], b"\xff" * rnd.randint(0, 40)])


def generate_native(rnd: random.Random) -> list:
    """A program: a list of (structure, method, args) calls."""
    prog = []
    for _ in range(rnd.randint(1, 25)):
        which = rnd.randrange(3)
        if which == 0:
            m = rnd.choice(["add", "add_many", "remove", "get", "get_many", "expand", "neighbors", "edges",
                            "degree", "degree_many", "count_reach", "scan", "count", "gc", "compact",
                            "stats", "check", "close"])
            ids = lambda: rnd.choice(_IDS)   # noqa: E731
            types = rnd.choice([None, [], [0], [1, 2], [2 ** 32], [-1], "x", [None], (0,) * 600])
            snap = rnd.choice(_SNAPS)
            args = {
                "add": lambda: (ids(), rnd.choice([0, 1, 2 ** 32, -1]), ids(), ids(), snap),
                "add_many": lambda: (_hostile_seq(rnd, _IDS), _hostile_seq(rnd, [0, 1, 2 ** 32, -1]),
                                     _hostile_seq(rnd, _IDS), _hostile_seq(rnd, _IDS), snap),
                "remove": lambda: (ids(), snap), "get": lambda: (ids(), snap),
                "get_many": lambda: (_hostile_seq(rnd, _IDS), snap),
                "expand": lambda: (_hostile_seq(rnd, _IDS), rnd.choice(_DIRS), types, snap),
                "neighbors": lambda: (ids(), rnd.choice(_DIRS), types, snap),
                "edges": lambda: (ids(), rnd.choice(_DIRS), types, snap),
                "degree": lambda: (ids(), rnd.choice(_DIRS), types, snap),
                "degree_many": lambda: (_hostile_seq(rnd, _IDS), rnd.choice(_DIRS), types, snap),
                "count_reach": lambda: (ids(), rnd.choice([0, 1, 3, 2 ** 20, 2 ** 20 + 1, 2 ** 33, -1, 1.5]),
                                        rnd.choice(_DIRS), types, snap, rnd.choice([True, False, 2])),
                "scan": lambda: (types, snap), "count": lambda: (types, snap), "gc": lambda: (snap,),
            }.get(m, lambda: ())()
            prog.append(("adj", m, args))
        elif which == 1:
            m = rnd.choice(["put", "delete", "get", "get_first_many", "drop", "gc", "len", "check", "close"])
            idx = rnd.choice([0, 1, 2 ** 32 - 1, 2 ** 32, -1, None])
            snap = rnd.choice(_SNAPS)
            args = {
                "put": lambda: (idx, _hostile_key(rnd), rnd.choice(_IDS), snap),
                "delete": lambda: (idx, _hostile_key(rnd), rnd.choice(_IDS), snap),
                "get": lambda: (idx, _hostile_key(rnd), snap),
                "get_first_many": lambda: (idx, [_hostile_key(rnd) for _ in range(rnd.randint(0, 4))], snap),
                "drop": lambda: (idx,), "gc": lambda: (snap,),
            }.get(m, lambda: ())()
            prog.append(("keys", m, args))
        else:
            m = rnd.choice(["add", "add_many", "remove", "scan", "count", "has", "gc", "check", "close"])
            label = rnd.choice([0, 1, 2 ** 24 - 1, 2 ** 24, -1, None])
            snap = rnd.choice(_SNAPS)
            args = {
                "add": lambda: (label, rnd.choice(_IDS), snap),
                "add_many": lambda: (label, _hostile_seq(rnd, _IDS), snap),
                "remove": lambda: (label, rnd.choice(_IDS), snap),
                "scan": lambda: (label, snap), "count": lambda: (label, snap),
                "has": lambda: (label, rnd.choice(_IDS), snap), "gc": lambda: (snap,),
            }.get(m, lambda: ())()
            prog.append(("labels", m, args))
    if rnd.random() < 0.3:
        prog.append(("crc", "crc32c", (_hostile_key(rnd), rnd.choice([0, 2 ** 32 - 1, 2 ** 32, -1, None]))))
    return prog


def run_native(prog: list) -> None:
    from lpgdb import core
    live = {"adj": core.Adjacency(), "keys": core.KeyIndex(), "labels": core.LabelIndex()}
    try:
        for where, method, args in prog:
            try:
                if where == "crc":
                    core.crc32c(*args)
                    continue
                obj = live[where]
                if method == "len":
                    len(obj)
                else:
                    out = getattr(obj, method)(*args)
                    if hasattr(out, "__next__"):
                        list(out)
            except lpgdb.Error:
                pass
            except Exception as e:
                raise Finding(f"{where}.{method}{_short(args)} raised {type(e).__name__}: {e}") from e
        for obj in live.values():
            try:
                obj.check()
            except lpgdb.InterfaceError:        # closed by the program: fine
                pass
            except lpgdb.InternalError as e:
                raise Finding(f"{obj._kind}.check() failed after {_short(prog)}: {e}") from e
    finally:
        for obj in live.values():
            obj.close()


def _short(x) -> str:
    r = repr(x)
    return r if len(r) < 300 else r[:297] + "..."


# ---- CSV parser -----------------------------------------------------------------------------------

CSV_SEEDS = [b'id:ID,name,:LABEL\n1,"Ada ""the"" first",P;Q\n2,,P\n', b'a,b\r\n"x\ny",2\r\n\r\n3,"",\n',
             b'1,2.5,true,x\n-9223372036854775808,nan,FALSE,\xc3\xa9\n18446744073709551615,1e309,t,\xff\n',
             b'"unclosed,1\n', b'"a"b,1\n', b'1,2,3,4,5\n,,\n', b'\xef\xbb\xbfk\n' + b'9' * 40 + b'\n']
_CSV_BYTES = [b",", b'"', b'""', b"\n", b"\r\n", b"\r", b";", b"\x00", b"\xff", b"\xc3", b"\xe2\x82",
              b"-", b"+", b"9" * 25, b"1.5e3", b"inf", b"nan(1)", b"0x10", b" ", b"true", b"\t"]
_CSV_KINDS = ["skip", "str", "int", "float", "bool", "char", "dict", "id", "ref"]


def generate_csv(rnd: random.Random) -> bytes:
    data = bytearray(rnd.choice(CSV_SEEDS))
    for _ in range(rnd.randint(0, 8)):
        i = rnd.randint(0, len(data))
        op = rnd.randrange(3)
        if op == 0:
            data[i:i] = rnd.choice(_CSV_BYTES)
        elif op == 1:
            del data[i:i + rnd.randint(1, 4)]
        else:
            data[i:i] = data[i:i + rnd.randint(1, 8)] * rnd.randint(1, 3)
    return bytes([rnd.randrange(256)]) + bytes(data)


def run_csv(data) -> None:
    from lpgdb import core
    from lpgdb.storage import records
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not data:
        return
    r = random.Random(data[0])
    body = data[1:]
    ncols = r.randint(1, 4)
    kinds = [r.choice(_CSV_KINDS) for _ in range(ncols)]
    ids = core.IdMap(r.random() < 0.5)
    p = core.CsvParser(kinds, b",", b'"')
    for i, k in enumerate(kinds):
        if k in ("id", "ref"):
            p.set_map(i, ids)
    p.set_input(body)
    pos, guard = 0, 0
    try:
        while pos < len(body):
            pos, rows = p.parse(pos, r.randint(1, 5))
            guard += 1
            if guard > len(body) + 2:
                raise Finding("the parser does not advance")
            cols = []
            for i, k in enumerate(kinds):
                if k in ("str", "int", "float", "bool", "char"):
                    valid, vals, d = p.column(i)
                    cols.append((f"c{i}", {"char": "str"}.get(k, k), 0, valid, vals, d))
            blob, offs = core.pack_rows(rows, cols)
            for a, b in zip(offs, offs[1:]):
                records.unpack_props(blob[a:b])
    except core.InputFault as e:
        if not (e.line is None or e.line >= 1) or e.offset + e.length > len(body):
            raise Finding(f"a fault points outside the input: {e.what} {e.offset}+{e.length}")
    finally:
        p.release_input()


TARGETS = {"query": (generate_query, run_query), "schema": (generate_schema, run_schema),
           "native": (generate_native, run_native), "csv": (generate_csv, run_csv)}
