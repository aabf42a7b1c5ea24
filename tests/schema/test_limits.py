"""B10 and B12 for PG-Schema DDL: nesting and size limits, and resolution that stays polynomial.

Before: a chain of IMPORTS took 0.36 s for 50 graph types and 7.6 s for 100 (the import closure
was recomputed for every visibility test), a diamond of imports was exponential, and a chain of
types built on each other recursed once per type."""
import subprocess
import sys
import textwrap

import pytest

import lpgdb
from lpgdb import SchemaSyntaxError, SemanticError, parse_schema
from lpgdb.schema import resolve, types
from lpgdb.schema.parser import MAX_NESTING, parse_ddl


def import_chain(n: int, constraint: bool = False) -> str:
    out = ["CREATE GRAPH TYPE g0 STRICT { (t0: T0 {id INT}) }"]
    for i in range(1, n):
        extra = f", FOR (x:t{i}) KEY x.id" if constraint else ""
        out.append(f"CREATE GRAPH TYPE g{i} STRICT IMPORTS g{i - 1} {{ (t{i}: t{i - 1} & T{i}){extra} }}")
    return "\n".join(out)


def import_diamond(depth: int) -> str:
    """g(i) imports a(i) and b(i), which both import g(i-1): 2**depth import paths to g0."""
    out = ["CREATE GRAPH TYPE g0 STRICT { (t0: T0 {id INT}) }"]
    for i in range(1, depth + 1):
        out += [f"CREATE GRAPH TYPE a{i} LOOSE IMPORTS g{i - 1} {{}}",
                f"CREATE GRAPH TYPE b{i} LOOSE IMPORTS g{i - 1} {{}}",
                f"CREATE GRAPH TYPE g{i} STRICT IMPORTS a{i}, b{i} {{ FOR (x:t0) KEY x.id }}"]
    return "\n".join(out)


def test_import_chain_resolves_each_graph_type_once(monkeypatch):
    """Each constraint compiles once and each import closure is computed once, however many
    graph types import it (before: once per importer, O(n^2) and more)."""
    calls = {"constraint": 0, "closure": 0}
    real_constraint = resolve._Resolver.constraint

    def counting(self, c, vis):
        calls["constraint"] += 1
        return real_constraint(self, c, vis)

    monkeypatch.setattr(resolve._Resolver, "constraint", counting)
    gt = parse_schema(import_chain(120, constraint=True))
    assert len(gt.node_types) == 120 and len(gt.constraints) == 119
    assert calls["constraint"] == 119
    assert gt.node_types["t119"].conforms(frozenset(f"T{i}" for i in range(120)), {"id": 1})


def test_import_diamond_does_not_hang_in_a_subprocess():
    """2**40 import paths: exponential before (it never returned), linear now. In a child, with
    a timeout far above what it needs (about a second), so a regression fails instead of hanging."""
    code = textwrap.dedent(f"""
        from lpgdb import parse_schema
        from tests.schema.test_limits import import_diamond
        gt = parse_schema(import_diamond(40))
        print(gt.name, len(gt.constraints))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["g40", "1"]


def test_long_chains_of_types_need_no_recursion():
    ddl = ["CREATE NODE TYPE (t0: T0 {id INT})"]
    ddl += [f"CREATE NODE TYPE (t{i}: t{i - 1} OPEN)" for i in range(1, 400)]
    ddl.append("CREATE GRAPH TYPE g LOOSE { t399 }")

    def deep(n):        # the caller's stack is already deep: resolution must not recurse per type
        return deep(n - 1) if n else parse_schema("\n".join(ddl))

    gt = deep(600)
    assert gt.node_types["t399"].conforms(frozenset({"T0", "Extra"}), {"id": 1})
    cyclic = "\n".join(ddl[:-1] + ["CREATE NODE TYPE (u: t399 & u)", "CREATE GRAPH TYPE g LOOSE { u }"])
    with pytest.raises(SemanticError, match="cycle: u -> u") as e:
        parse_schema(cyclic)
    assert e.value.kind == "cyclic_type_reference"


def test_resolution_is_bounded(monkeypatch):
    monkeypatch.setattr(resolve, "MAX_IMPORT_REACH", 1000)
    with pytest.raises(SemanticError, match="IMPORTS") as e:
        parse_schema(import_chain(60))           # 60 * 59 / 2 = 1770 import pairs
    assert e.value.kind == "schema_too_complex"
    monkeypatch.setattr(resolve, "MAX_TOTAL_SHAPE_SIZE", 1000)
    ddl = ["CREATE NODE TYPE (t0: T0)"] + [f"CREATE NODE TYPE (t{i}: t{i - 1} & T{i})" for i in range(1, 60)]
    with pytest.raises(SemanticError, match="labels and properties") as e:
        parse_schema("\n".join(ddl + ["CREATE GRAPH TYPE g LOOSE { t59 }"]))
    assert e.value.kind == "schema_too_complex"
    wide = " | ".join(f"L{i}" for i in range(types.MAX_SHAPES + 1))
    with pytest.raises(SemanticError, match="alternatives") as e:
        parse_schema(f"CREATE GRAPH TYPE g LOOSE {{ (t: {wide}) }}")
    assert e.value.kind == "schema_too_complex"


@pytest.mark.parametrize("ddl", [
    "CREATE GRAPH TYPE g STRICT { (a: " + "(" * 1000 + "A" + ")" * 1000 + ") }",
    "CREATE GRAPH TYPE g STRICT { (a: " + " & ".join(["(A | B)"] * 3) + " & " + "[" * 900 + "C" + "]" * 900 + ") }",
    "CREATE GRAPH TYPE g STRICT { (a: A), FOR (x:a) WHERE " + "NOT " * 1000 + "x.k = 1 MANDATORY x.k }",
    "CREATE GRAPH TYPE g STRICT { (a: A), FOR (x:a) WHERE " + "(" * 1000 + "x.k = 1" + ")" * 1000 + " MANDATORY x.k }",
    "CREATE GRAPH TYPE g STRICT { (a: A), FOR (x: " + "!" * 1000 + "a) MANDATORY x.k }",
], ids=["parentheses", "brackets", "not", "where parentheses", "label not"])
def test_deep_nesting_is_a_schema_syntax_error(ddl):
    with pytest.raises(SchemaSyntaxError, match="nested too deeply") as e:
        parse_schema(ddl)
    assert e.value.line == 1 and e.value.column >= 1


def test_nesting_at_the_limit_resolves_and_validates():
    """Every phase (resolution, canonical text, validation) copes with the deepest accepted
    schema, with 250 frames of the caller's own below it."""
    def deepest(make):
        lo, hi = 1, 4 * MAX_NESTING
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            try:
                parse_ddl(make(mid))
                lo = mid
            except SchemaSyntaxError:
                hi = mid
        return make(lo)

    def run(n, ddl):
        if n:
            return run(n - 1, ddl)
        gt = parse_schema(ddl)
        assert parse_schema(str(gt)) == gt
        db = lpgdb.connect(":memory:")
        db.set_schema(ddl)
        with db.transaction() as tx:
            tx.create_node("A", {"k": 1})
        db.close()

    run(250, deepest(lambda d: "CREATE GRAPH TYPE g LOOSE { (a: A {k INT}), FOR (x:a) WHERE "
                               + "NOT NOT " * d + "x.k = 1 MANDATORY x.k }"))
    run(250, deepest(lambda d: "CREATE GRAPH TYPE g LOOSE { (a: " + "(" * d + "A" + ")" * d
                               + " {k INT}) }"))
    run(250, deepest(lambda d: "CREATE GRAPH TYPE g LOOSE { (a: A {k INT}), FOR (x:a) WHERE "
                               + " OR ".join(["(x.k = 1 AND (x.k = 2 OR"] * d) + " true" + "))" * d
                               + " MANDATORY x.k }"))


def test_size_limits(monkeypatch):
    from lpgdb.schema import parser
    monkeypatch.setattr(parser, "MAX_DDL_TOKENS", 50)
    with pytest.raises(SchemaSyntaxError, match="more than 50 tokens"):
        parse_schema("CREATE GRAPH TYPE g LOOSE { " + ", ".join(f"(t{i}: T)" for i in range(20)) + " }")
    monkeypatch.setattr(parser, "MAX_DDL_LENGTH", 100)
    with pytest.raises(SchemaSyntaxError, match="characters long"):
        parse_schema("CREATE GRAPH TYPE g LOOSE { (t: T) } " + " " * 100)


def test_a_decimal_too_large_for_a_double_is_a_syntax_error():
    """Found by the DDL fuzzer: 1e400 became inf, which printed as 'inf.0' and did not parse back."""
    with pytest.raises(SchemaSyntaxError, match="too large") as e:
        parse_schema("CREATE GRAPH TYPE g LOOSE { FOR (x: A) WHERE x.v <> -1" + "0" * 400 + ".5 MANDATORY x.v }")
    assert e.value.line == 1 and e.value.column == 54
    gt = parse_schema("CREATE GRAPH TYPE g LOOSE { FOR (x: A) WHERE x.v <> 1" + "0" * 300 + ".5 MANDATORY x.v }")
    assert parse_schema(str(gt)) == gt
