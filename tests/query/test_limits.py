"""B10: the query parser's length and nesting limits, and the timeout while parsing.

Before the limits, ``"WITH 1 AS x " * 30000`` crashed the process (a segfault in the executor's
chain of generators) and about 1,000 nesting levels gave RecursionError. Every query now either
runs or is refused with QuerySyntaxError (``code == "QueryTooComplex"``); a query at the limit
runs through every phase, even when the caller's own stack is already deep."""
import subprocess
import sys
import textwrap
import time

import pytest

import lpgdb
from lpgdb.query import prepare
from lpgdb.query.parser import MAX_NESTING, MAX_QUERY_LENGTH, MAX_TOKENS, parse

# One family of nested queries per construct that nests; f(d) nests d levels.
SHAPES = {
    "parentheses": lambda d: "RETURN " + "(" * d + "1" + ")" * d,
    "addition": lambda d: "RETURN " + "1 + " * d + "1",
    "not": lambda d: "RETURN " + "NOT " * d + "true",
    "negation": lambda d: "RETURN " + "- " * d + "1",
    "lists": lambda d: "RETURN " + "[" * d + "1" + "]" * d,
    "maps": lambda d: "RETURN " + "{a: " * d + "1" + "}" * d,
    "functions": lambda d: "RETURN " + "abs(" * d + "1" + ")" * d,
    "case": lambda d: "RETURN " + "CASE WHEN true THEN " * d + "1" + " END" * d,
    "comprehensions": lambda d: "RETURN " + "[x IN " * d + "[1]" + " | x]" * d,
    "or": lambda d: "RETURN " + "false OR " * d + "true",
    "concatenation": lambda d: "RETURN " + "'a' + " * d + "'a'",
    "power": lambda d: "RETURN " + "1 ^ " * d + "1",
    "exists": lambda d: "MATCH (n) WHERE " + "EXISTS { MATCH (n) WHERE " * d + "true" + " }" * d + " RETURN n",
    "with chain": lambda d: "WITH 1 AS x " * d + "RETURN x",
    "match chain": lambda d: "MATCH (a) " * d + "RETURN 1",
    "foreach": lambda d: "FOREACH (x IN [1] | " * d + "CREATE ()" + ")" * d,
    "call subquery": lambda d: "CALL { " * d + "RETURN 1 AS one" + " } RETURN one" * d,
    "pattern steps": lambda d: "MATCH (a)" + "-->()" * d + " RETURN 1",
    "count subquery": lambda d: "RETURN " + "COUNT { MATCH (n) WHERE " * d + "true" + " } > -1" * d,
}


def _too_complex(query) -> bool:
    try:
        parse(query)
    except lpgdb.QuerySyntaxError as e:
        if e.code == "QueryTooComplex":
            return True
        raise
    return False


def _deepest_accepted(shape) -> int:
    """The largest d for which SHAPES[shape](d) parses. Depth grows linearly in d, so two
    measurements place the limit; parentheses only fill the parser stack (tree depth 0)."""
    from lpgdb.query.parser import _PARSER, _nesting
    f = SHAPES[shape]
    if shape == "parentheses":
        lo, hi = MAX_NESTING, 8 * MAX_NESTING
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if _too_complex(f(mid)) else (mid, hi)
        return lo
    a, b = (_nesting(_PARSER.parse(f(d)))[0] for d in (10, 20))
    slope = (b - a) // 10
    d = 10 + (MAX_NESTING - a) // slope
    assert not _too_complex(f(d)) and _too_complex(f(d + 1))
    return d


@pytest.mark.parametrize("shape", SHAPES)
def test_a_thousand_levels_are_refused_with_a_typed_error(shape):
    with pytest.raises(lpgdb.QuerySyntaxError, match="nested too deeply") as e:
        parse(SHAPES[shape](1000))
    assert e.value.code == "QueryTooComplex" and e.value.line == 1 and e.value.column >= 1


@pytest.mark.parametrize("shape", SHAPES)
def test_the_deepest_accepted_query_runs_through_every_phase(shape):
    """At the limit the semantic pass, the planner and the executor do not run out of stack,
    with 150 frames of the caller's own below them."""
    query = SHAPES[shape](_deepest_accepted(shape))
    db = lpgdb.connect(":memory:")

    def run(depth):
        if depth:
            return run(depth - 1)
        return db.execute(query).fetchall()

    assert run(150) is not None
    db.close()


def test_with_chain_that_crashed_the_process_is_refused_in_a_subprocess():
    """B10's reproduction: run it in a child, so a regression fails this test instead of
    killing pytest."""
    code = textwrap.dedent("""
        import lpgdb
        db = lpgdb.connect(":memory:")
        try:
            db.execute("WITH 1 AS x " * 30000 + "RETURN x")
        except lpgdb.QuerySyntaxError as e:
            print("refused", e.code)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["refused", "QueryTooComplex"]


def test_a_run_of_create_clauses_counts_once():
    """CREATE a CREATE b is CREATE a, b: the openCypher TCK's movie graph is 500 CREATEs."""
    db = lpgdb.connect(":memory:")
    db.execute("CREATE (:A)" + " CREATE (:A)" * 999)
    assert db.execute("MATCH (n:A) RETURN count(n)").fetchone()[0] == 1000
    with pytest.raises(lpgdb.QuerySyntaxError, match="nested too deeply"):
        db.execute("CREATE (a:A) " + "WITH a CREATE (b:A) " * 300)
    db.close()


def test_length_and_token_limits(monkeypatch):
    with pytest.raises(lpgdb.QuerySyntaxError, match="characters long") as e:
        parse("RETURN '" + "x" * MAX_QUERY_LENGTH + "'")
    assert e.value.code == "QueryTooComplex"
    assert len(e.value.snippet) < 400          # a window of the line, not a megabyte of it
    parse("RETURN '" + "x" * 100_000 + "'")       # one long string is one token
    from lpgdb.query import parser
    monkeypatch.setattr(parser, "MAX_TOKENS", 1000)     # the real limit, MAX_TOKENS, is 100,000
    assert MAX_TOKENS == 100_000
    parse("RETURN [" + ", ".join(["1"] * 490) + "]")
    with pytest.raises(lpgdb.QuerySyntaxError, match="more than 1,000 tokens"):
        parse("RETURN [" + ", ".join(["1"] * 510) + "]")


def test_syntax_error_snippets_stay_short_on_long_lines():
    with pytest.raises(lpgdb.QuerySyntaxError) as e:
        parse("RETURN [" + "1, " * 2000 + "}]")
    assert e.value.column > 6000
    src, caret = e.value.snippet.split("\n")
    assert len(src) <= 160 and src[len(caret) - 1:] == "}]"


def test_parsing_respects_the_query_timeout():
    db = lpgdb.connect(":memory:")
    query = "RETURN [" + ", ".join(str(i) for i in range(600)) + "] AS big"   # > 256 tokens
    with pytest.raises(lpgdb.OperationalError, match="while being parsed"):
        db.execute(query, timeout=0.0)
    with db.snapshot() as s:
        with pytest.raises(lpgdb.OperationalError, match="timed out"):
            s.execute(query, timeout=0.0)
    with pytest.raises(lpgdb.OperationalError):
        prepare(query, deadline=time.monotonic() - 1)
    assert len(db.execute(query, timeout=600).fetchone()[0]) == 600
    db.close()


@pytest.mark.parametrize("bad", [-1, "1", float("nan"), True, [1]])
def test_bad_timeouts_are_interface_errors(bad):
    db = lpgdb.connect(":memory:")
    with pytest.raises(lpgdb.InterfaceError, match="timeout"):
        db.execute("RETURN 1", timeout=bad)
    with pytest.raises(lpgdb.InterfaceError, match="unknown query option"):
        db.execute("RETURN 1", tiemout=1)
    with pytest.raises(lpgdb.InterfaceError, match="mapping"):
        db.execute("RETURN $x", [1])
    db.close()
