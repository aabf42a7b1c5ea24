"""Bad or odd query text only ever raises lpgdb errors (never lark or Python internals)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb

_TOKENS = ["MATCH", "OPTIONAL", "RETURN", "WITH", "WHERE", "UNWIND", "AS", "CREATE", "MERGE", "SET", "DELETE",
           "DETACH", "REMOVE", "ORDER", "BY", "SKIP", "LIMIT", "DISTINCT", "UNION", "ALL", "AND", "OR", "NOT",
           "IN", "IS", "NULL", "CASE", "WHEN", "THEN", "ELSE", "END", "count", "(", ")", "[", "]", "{", "}",
           "-->", "<--", "-[", "]->", "]-", ":", ",", ".", "..", "*", "+", "-", "/", "%", "^", "=", "<>", "<",
           "|", "n", "m", "r", "p", "x", "$p", "1", "0", "-1", "2.5", "'s'", "true", "null", "size", "range",
           "labels", "type", "n.k", "[1, 'a', null]", "{k: 1}", "x IN [1, 2]", "(n)", "(n:A {k: 1})",
           "()-[r:T]->()", "keys", "toInteger", "collect", "sum", "avg", "min", "max", "head", "tail"]

_DB = None


def _db():
    global _DB
    if _DB is None:
        _DB = lpgdb.connect(":memory:")
        _DB.execute("CREATE (:A {k: 1, s: 'x'})-[:T {w: 2}]->(:B {k: [1, 2]}), (:A {k: 'two'})")
    return _DB


@settings(max_examples=int(__import__("os").environ.get("LPGDB_FUZZ_EXAMPLES", "400")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=14))
def test_token_soup_raises_only_lpgdb_errors(tokens):
    text = " ".join(tokens)
    db = _db()
    tx = db.transaction()
    try:
        from lpgdb import query as lq
        lq.execute(text, {"p": 1}, tx, timeout=2.0)
    except lpgdb.Error:
        pass
    finally:
        tx.rollback()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_raises_only_lpgdb_errors(text):
    from lpgdb.query import prepare
    try:
        prepare(text)
    except lpgdb.Error:
        pass


@pytest.mark.parametrize("query", [
    "RETURN [1, 2][0..'a']", "RETURN {a: 1}[1]", "RETURN 1 / 0", "RETURN 1 % 0", "RETURN 'a' * 2",
    "UNWIND [1, 'a'] AS x RETURN sum(x)", "RETURN toInteger([1])", "RETURN range(1, 3, 0)",
    "MATCH (n) SET n.k = {a: 1}", "MATCH (n) SET n = 1", "RETURN -9223372036854775808 - 1",
    "RETURN 9223372036854775807 * 2", "RETURN 'x' =~ '('", "RETURN substring('abc', -1)",
])
def test_runtime_failures_are_lpgdb_errors(query):
    with pytest.raises(lpgdb.Error):
        tx = _db().transaction()
        try:
            from lpgdb import query as lq
            lq.execute(query, {}, tx)
        finally:
            tx.rollback()


_ATOMS = st.sampled_from(["1", "-2", "0", "2.5", "'s'", "''", "true", "false", "null", "[]", "[1, 'a', null]",
                          "{k: 1}", "n", "r", "p", "n.k", "r.w", "$p", "x", "labels(n)", "nodes(p)"])


def _combine(children):
    bin_ops = st.sampled_from(["+", "-", "*", "/", "%", "^", "AND", "OR", "XOR", "=", "<>", "<", ">=", "IN",
                               "STARTS WITH", "CONTAINS", "=~"])
    return st.one_of(
        st.tuples(children, bin_ops, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"NOT ({c})"), children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"({c}) IS NULL"), children.map(lambda c: f"[{c}, {c}]"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}..]"),
        st.tuples(st.sampled_from(["size", "toInteger", "toString", "head", "keys", "abs", "coalesce", "type",
                                   "collect", "count", "sum", "max", "reverse", "toBoolean", "properties"]),
                  children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, children).map(lambda t: f"[x IN {t[0]} WHERE {t[1]} | x]"),
        st.tuples(children, children).map(lambda t: f"any(x IN {t[0]} WHERE {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
    )


_EXPR = st.recursive(_ATOMS, _combine, max_leaves=6)


@settings(max_examples=int(__import__("os").environ.get("LPGDB_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_EXPR, _EXPR, st.sampled_from(["", "DISTINCT "]))
def test_random_expressions_raise_only_lpgdb_errors(where, ret, distinct):
    text = (f"MATCH p = (n)-[r]->(m) UNWIND [1, 'a', null] AS x WITH * WHERE {where} "
            f"RETURN {distinct}{ret} AS v ORDER BY v")
    tx = _db().transaction()
    try:
        from lpgdb import query as lq
        lq.execute(text, {"p": [1, 2]}, tx, timeout=2.0)
    except lpgdb.Error:
        pass
    finally:
        tx.rollback()
