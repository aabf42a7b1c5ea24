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


# ---- functions and clauses applied to odd parameter values ------------------------------------------

@pytest.mark.parametrize("query, p, error", [
    ("RETURN $p * duration('P1D') AS r", float("nan"), lpgdb.DataError),       # was ValueError (Fraction)
    ("RETURN $p * duration('P1D') AS r", float("inf"), lpgdb.DataError),       # was OverflowError
    ("RETURN duration({days: $p}) AS r", float("-inf"), lpgdb.DataError),
    ("RETURN duration({days: $p}) AS r", 1e300, lpgdb.DataError),              # was a Duration past int64
    ("RETURN duration($p) AS r", "P99999999999999999999D", lpgdb.DataError),
    ("RETURN duration({days: 9223372036854775807}) + duration({days: $p}) AS r", 1, lpgdb.DataError),
    ("RETURN duration({days: 9223372036854775807}) * $p AS r", 2, lpgdb.DataError),
    ("RETURN date({year: $p}) AS r", 2 ** 63, lpgdb.DataError),                # was OverflowError
    ("RETURN range(0, $p) AS r", 2 ** 63 - 1, lpgdb.OperationalError),        # was OverflowError (len)
    ("RETURN range($p, 0, -1) AS r", 2 ** 63 - 1, lpgdb.OperationalError),
])
def test_odd_parameters_of_functions_are_lpgdb_errors(query, p, error):
    with pytest.raises(error):
        _db().execute(query, {"p": p}).fetchall()


def test_skip_and_limit_past_the_platform_size_after_order_by():
    db = _db()
    q = "UNWIND [3, 1, 2] AS x RETURN x ORDER BY x SKIP $s LIMIT $l"
    assert db.execute(q, {"s": 0, "l": 2 ** 63}).value() == [1, 2, 3]          # was ValueError (islice)
    assert db.execute(q, {"s": 2 ** 64, "l": 2 ** 64}).value() == []
    assert db.execute(q, {"s": 1, "l": 2 ** 63 - 1}).value() == [2, 3]


def _odd_values():
    import datetime as dt
    import math
    from lpgdb.values import Duration, LocalTime
    return [None, True, 0, -1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -2 ** 63, -2 ** 63 - 1, 10 ** 100, 1.5, -0.0,
            math.nan, math.inf, -math.inf, 1e308, 5e-324, "", "abc", "\ud800", "a\x00b", b"", b"\xff", [],
            [1, "a"], [[1]], [None], {"a": 1}, {"a": {"b": [1]}}, dt.date.min, dt.date.max, dt.datetime.min,
            dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-18))), dt.time.max, dt.timedelta.max,
            dt.timedelta.min, Duration(2 ** 63 - 1, 2 ** 63 - 1, 2 ** 63 - 1), Duration(-2 ** 63, -2 ** 63, -2 ** 63),
            LocalTime(86399999999999)]


_ODD_PARAMS = _odd_values()
_USES = ["RETURN $p AS r", "RETURN $p + 1 AS r", "RETURN $p * 2 AS r", "RETURN $p / 2 AS r", "RETURN $p % 2 AS r",
         "RETURN $p ^ 2 AS r", "RETURN -$p AS r", "RETURN $p + $p AS r", "RETURN $p * $p AS r", "RETURN $p < 1 AS r",
         "RETURN toInteger($p) AS r", "RETURN toFloat($p) AS r", "RETURN toString($p) AS r", "RETURN abs($p) AS r",
         "RETURN round($p, 2) AS r", "RETURN sqrt($p) AS r", "RETURN log($p) AS r", "RETURN range(0, $p) AS r",
         "RETURN range($p, 0, -1) AS r", "RETURN range(0, 10, $p) AS r", "RETURN size($p) AS r",
         "RETURN substring('abcdef', $p) AS r", "RETURN left('abc', $p) AS r", "RETURN split($p, ',') AS r",
         "RETURN [1, 2, 3][$p] AS r", "RETURN [1, 2, 3][$p..] AS r", "RETURN $p[0] AS r", "RETURN $p.a AS r",
         "RETURN keys($p) AS r", "RETURN date($p) AS r", "RETURN datetime($p) AS r", "RETURN time($p) AS r",
         "RETURN duration($p) AS r", "RETURN date('2020-01-01') + $p AS r", "RETURN $p + duration('P1D') AS r",
         "RETURN $p * duration('P1D') AS r", "RETURN date({year: $p}) AS r", "RETURN duration({days: $p}) AS r",
         "RETURN localtime({hour: $p}) AS r", "RETURN datetime({epochSeconds: $p}) AS r", "UNWIND $p AS x RETURN x",
         "RETURN 1 AS r SKIP $p", "RETURN 1 AS r LIMIT $p", "UNWIND [3, 1, 2] AS x RETURN x ORDER BY x LIMIT $p",
         "UNWIND [$p, 1, 'a', null] AS x RETURN x ORDER BY x",
         "UNWIND [$p, 1] AS x RETURN min(x) AS a, max(x) AS b, sum(x) AS c, avg(x) AS d, collect(DISTINCT x) AS e",
         "RETURN percentileCont($p, 0.5) AS r", "MATCH (n:A) WHERE n.k = $p RETURN n", "MATCH (n:A {k: $p}) RETURN n",
         "MATCH (n) WHERE n.k IN $p RETURN n", "CREATE (n:C {v: $p}) RETURN n", "MATCH (n:A) SET n.v = $p RETURN n",
         "MATCH (n:A) SET n += $p RETURN n", "MERGE (n:C {v: $p}) RETURN n", "FOREACH (x IN $p | CREATE (:F {v: x}))",
         "RETURN reduce(s = 0, x IN $p | s + x) AS r", "RETURN 'abc' =~ $p AS r", "RETURN 1 / $p AS r",
         "RETURN 9223372036854775807 + $p AS r", "RETURN COUNT { MATCH (n) WHERE n.k = $p } AS r"]


@settings(max_examples=int(__import__("os").environ.get("LPGDB_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.sampled_from(_USES), st.integers(0, len(_ODD_PARAMS) - 1))
def test_odd_parameter_values_raise_only_lpgdb_errors(query, which):
    tx = _db().transaction()
    try:
        tx.execute(query, {"p": _ODD_PARAMS[which]}, timeout=5.0).fetchall()
    except lpgdb.Error:
        pass
    finally:
        tx.rollback()
