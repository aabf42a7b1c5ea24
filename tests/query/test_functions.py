"""reduce(), elementId(), randomUUID(), the to*OrNull conversions, nullIf(), valueType() and ORDER BY ... NULLS FIRST / LAST."""
import functools
import uuid

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

import lpgdb


@pytest.fixture(scope="module")
def db():
    d = lpgdb.connect(":memory:")
    yield d
    d.close()


def one(db, q, params=None):
    rows = db.execute(q, params).fetchall()
    assert len(rows) == 1
    return tuple(rows[0])


# ---------------------------------------------------------------- reduce
@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.integers(-1000, 1000), max_size=12), init=st.integers(-5, 5))
def test_reduce_folds_left_like_functools_reduce(db, xs, init):
    got = one(db, "RETURN reduce(acc = $i, x IN $xs | acc * 2 - x) AS a, "
                  "reduce(s = '', x IN $xs | s + toString(x) + ',') AS b", {"i": init, "xs": xs})
    assert got == (functools.reduce(lambda a, x: a * 2 - x, xs, init),
                   "".join(f"{x}," for x in xs))


def test_reduce_scoping_nulls_and_nesting(db):
    assert one(db, "RETURN reduce(t = 0, x IN null | t + x)") == (None,)
    assert one(db, "RETURN reduce(t = 7, x IN [] | t + x)") == (7,)
    assert one(db, "WITH 3 AS k RETURN reduce(t = k, x IN range(1, k) | t * x)") == (18,)
    assert one(db, "RETURN reduce(t = 0, x IN [1, 2] | t + reduce(u = 0, y IN [x, x] | u + y))") == (6,)
    assert one(db, "RETURN REDUCE (t = [], x IN [1, 2] | [x] + t)") == ([2, 1],)
    assert db.execute("UNWIND [[1, 2], [3]] AS l RETURN reduce(a = 0, x IN l | a + x) AS s").fetchall() == [(3,), (3,)]
    # the accumulator and element are local: the outer t is untouched
    assert one(db, "WITH 100 AS t RETURN reduce(t = 0, x IN [1] | t + x), t") == (1, 100)
    with pytest.raises(lpgdb.DataError):
        db.execute("RETURN reduce(t = 0, x IN $l | t)", {"l": 5})            # not a list, at runtime


@pytest.mark.parametrize("q, error, code", [
    ("RETURN reduce(t, x IN [1] | t)", lpgdb.QuerySyntaxError, None),
    ("RETURN reduce(t = 0, [1] | t)", lpgdb.QuerySyntaxError, None),
    ("RETURN reduce(x = 0, x IN [1] | x)", lpgdb.SemanticError, "VariableAlreadyBound"),
    ("RETURN reduce(t = 0, x IN 5 | t)", lpgdb.SemanticError, "InvalidArgumentType"),
    ("RETURN reduce(t = 0, x IN [1] | t + y)", lpgdb.SemanticError, "UndefinedVariable"),
    ("RETURN reduce(t = 0, x IN [1] | count(x))", lpgdb.SemanticError, None),
    ("RETURN reduce(t = 0, x IN [1] | t), t", lpgdb.SemanticError, "UndefinedVariable"),
])
def test_reduce_errors(db, q, error, code):
    with pytest.raises(error) as e:
        db.execute(q)
    if code:
        assert e.value.code == code


# ---------------------------------------------------------------- elementId, randomUUID
def test_element_id_names_nodes_and_relationships_by_their_ids(db):
    with lpgdb.connect(":memory:") as d:
        d.execute("CREATE (:A)-[:R]->(:B), (:C)")
        rows = d.execute("MATCH (a)-[r]->(b) RETURN elementId(a), elementId(r), elementId(b), id(a), id(r), id(b)")
        for ea, er, eb, ia, ir, ib in rows:
            assert (ea, er, eb) == (f"n:{ia}", f"r:{ir}", f"n:{ib}")
        ids = d.execute("MATCH (n) RETURN elementId(n) AS e ORDER BY e").fetchall()
        assert len(set(ids)) == 3
        assert one(d, "RETURN elementId(null)") == (None,)
        with pytest.raises(lpgdb.SemanticError):
            d.execute("RETURN elementId(1)")
        with pytest.raises(lpgdb.DataError):
            d.execute("RETURN elementId($x)", {"x": 1})


def test_random_uuid_is_a_fresh_version_4_uuid(db):
    rows = db.execute("UNWIND range(1, 20) AS i RETURN randomUUID() AS u").fetchall()
    us = [r[0] for r in rows]
    assert len(set(us)) == 20
    for u in us:
        assert uuid.UUID(u).version == 4 and str(uuid.UUID(u)) == u
    with pytest.raises(lpgdb.SemanticError) as e:
        db.execute("RETURN count(randomUUID())")      # non-deterministic in an aggregate, like rand()
    assert e.value.code == "NonConstantExpression"


# ---------------------------------------------------------------- conversions
def test_or_null_conversions_return_null_where_the_plain_ones_raise(db):
    for bad in ("[1]", "{a: 1}", "date('2020-01-01')"):
        assert one(db, f"RETURN toIntegerOrNull({bad}), toFloatOrNull({bad}), toBooleanOrNull({bad})") == \
            (None, None, None)
        for fn in ("toInteger", "toFloat", "toBoolean"):
            with pytest.raises((lpgdb.DataError, lpgdb.SemanticError)):
                db.execute(f"WITH {bad} AS v RETURN {fn}(v)")
    assert one(db, "RETURN toStringOrNull([1]), toStringOrNull({a: 1}), toStringOrNull(1.5), "
                   "toStringOrNull(date('2020-01-02')), toStringOrNull(null)") == (None, None, "1.5", "2020-01-02", None)
    assert one(db, "RETURN toIntegerOrNull(true), toIntegerOrNull('7'), toIntegerOrNull(' 2.9 '), "
                   "toIntegerOrNull('x'), toIntegerOrNull(null)") == (1, 7, 2, None, None)
    assert one(db, "RETURN toFloatOrNull(true), toFloatOrNull(3), toFloatOrNull('1.5'), toFloatOrNull('x')") == \
        (None, 3.0, 1.5, None)
    assert one(db, "RETURN toBooleanOrNull(1.5), toBooleanOrNull('TRUE'), toBooleanOrNull(0), "
                   "toBooleanOrNull('yes')") == (None, True, False, None)


def test_to_integer_stays_within_64_bits(db):
    """toInteger(1e300) returned a 1000-digit Python int (and a string of 20 digits one past
    the 64-bit range): every integer of the language fits in 64 bits."""
    for v in ("1e300", "-1e19", "'99999999999999999999'", "'9223372036854775808'"):
        with pytest.raises(lpgdb.DataError) as e:
            db.execute(f"RETURN toInteger({v})")
        assert "64-bit" in str(e.value) and e.value.code == "NumberOutOfRange"
        assert one(db, f"RETURN toIntegerOrNull({v})") == (None,)
    assert one(db, "RETURN toInteger('9223372036854775807'), toInteger('-9223372036854775808')") == \
        (2 ** 63 - 1, -(2 ** 63))


def test_numbers_are_read_from_text_as_cypher_reads_them(db):
    """Python's int() and float() also read '1_000', 'inf', 'nan' and non-ASCII digits."""
    assert one(db, "RETURN toInteger('1_000'), toInteger('١٢'), toFloat('1_0'), toFloat('inf'), toFloat('nan'), "
                   "toInteger('+-1')") == (None,) * 6
    got = one(db, "RETURN toFloat('NaN'), toFloat('-Infinity'), toFloat(' 2.5e1 '), toInteger('-12'), toInteger('+3')")
    assert got[0] != got[0] and got[1:] == (float("-inf"), 25.0, -12, 3)


@settings(max_examples=100, deadline=None)
@given(n=st.one_of(st.integers(), st.integers(-(2 ** 63), 2 ** 63 - 1)), pad=st.sampled_from(["", " ", "\t"]))
def test_integer_text_round_trips_when_it_fits(db, n, pad):
    want = n if -(2 ** 63) <= n < 2 ** 63 else None
    assert one(db, "RETURN toIntegerOrNull($s)", {"s": f"{pad}{n}{pad}"}) == (want,)


# ---------------------------------------------------------------- nullIf, valueType
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([1.0, 2.5, "a", "b"]),
                   st.lists(st.sampled_from([1, 2, None]), max_size=2))


def _eq(a, b):
    """Cypher's a = b for these values: True, False or None."""
    if a is None or b is None:
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        rs = [_eq(x, y) for x, y in zip(a, b)]
        return False if False in rs else None if None in rs else True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


@settings(max_examples=100, deadline=None)
@given(a=VALUES, b=VALUES)
def test_null_if_is_null_exactly_when_the_values_are_equal(db, a, b):
    assert one(db, "RETURN nullIf($a, $b)", {"a": a, "b": b}) == (None if _eq(a, b) is True else a,)


def test_value_type_names_the_gql_type(db):
    got = one(db, "RETURN valueType(1), valueType(1.0), valueType('a'), valueType(true), valueType(null), "
                  "valueType([]), valueType([1, 2]), valueType([1, null]), valueType([1, 'a', 2.0]), "
                  "valueType([null]), valueType({a: 1}), valueType(date('2020-01-01')), "
                  "valueType(duration('P1D')), valueType([[1]]), valueType(localdatetime('2020-01-01T00:00'))")
    assert got == ("INTEGER NOT NULL", "FLOAT NOT NULL", "STRING NOT NULL", "BOOLEAN NOT NULL", "NULL",
                   "LIST<NOTHING> NOT NULL", "LIST<INTEGER NOT NULL> NOT NULL", "LIST<INTEGER> NOT NULL",
                   "LIST<STRING NOT NULL | INTEGER NOT NULL | FLOAT NOT NULL> NOT NULL", "LIST<NULL> NOT NULL",
                   "MAP NOT NULL", "DATE NOT NULL", "DURATION NOT NULL",
                   "LIST<LIST<INTEGER NOT NULL> NOT NULL> NOT NULL", "LOCAL DATETIME NOT NULL")
    with lpgdb.connect(":memory:") as d:
        d.execute("CREATE (:A)-[:R]->(:B)")
        assert one(d, "MATCH p = (a)-[r]->() RETURN valueType(a), valueType(r), valueType(p)") == \
            ("NODE NOT NULL", "RELATIONSHIP NOT NULL", "PATH NOT NULL")


# ---------------------------------------------------------------- ORDER BY ... NULLS FIRST / LAST
@settings(max_examples=40, deadline=None)
@given(xs=st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=8),
       desc=st.booleans(), nulls=st.sampled_from([None, "FIRST", "LAST"]), limit=st.one_of(st.none(), st.integers(0, 9)))
def test_order_by_nulls_first_or_last(db, xs, desc, nulls, limit):
    """Without NULLS, null sorts after every value (last ascending, first descending)."""
    q = ("UNWIND $xs AS x RETURN x ORDER BY x" + (" DESC" if desc else "") + (f" NULLS {nulls}" if nulls else "")
         + (f" LIMIT {limit}" if limit is not None else ""))
    values = sorted((x for x in xs if x is not None), reverse=desc)
    none = [None] * (len(xs) - len(values))
    first = nulls == "FIRST" if nulls else desc
    want = none + values if first else values + none
    assert [r[0] for r in db.execute(q, {"xs": xs})] == want[:limit]


def test_order_by_nulls_in_with_and_explain(db):
    q = "UNWIND [2, null, 1] AS x WITH x ORDER BY x DESC NULLS LAST RETURN collect(coalesce(x, 0)) AS c"
    assert one(db, q) == ([2, 1, 0],)
    assert "ORDER BY x DESC NULLS LAST" in str(db.execute("EXPLAIN " + q).plan)
    assert one(db, "WITH 1 AS nulls RETURN nulls ORDER BY nulls") == (1,)       # still a name
    with pytest.raises(lpgdb.QuerySyntaxError):
        db.execute("UNWIND [1] AS x RETURN x ORDER BY x NULLS")


# ---------------------------------------------------------------- grouping keys inside comprehensions
@pytest.mark.parametrize("q", [
    "UNWIND [[1], [2, 3]] AS l RETURN [x IN l | x] + count(*) AS r",
    "UNWIND [[1], [2, 3]] AS l RETURN any(x IN l WHERE x > 1) AND count(*) > 0 AS r",
    "UNWIND [[1], [2, 3]] AS l RETURN reduce(a = 0, x IN l | a + x) + count(*) AS r",
    "UNWIND [[1], [2, 3]] AS l WITH l, 1 AS k RETURN k, [x IN l WHERE x > k] + count(*) AS r",
])
def test_a_comprehension_next_to_an_aggregate_may_only_read_grouping_keys(db, q):
    """A comprehension (or quantifier, or reduce) beside an aggregate was not checked at all:
    the first query answered [1, 2], l of the first row with the count of both."""
    with pytest.raises(lpgdb.SemanticError) as e:
        db.execute(q)
    assert e.value.code == "AmbiguousAggregationExpression"


def test_comprehensions_over_keys_and_aggregates_still_run(db):
    assert db.execute("UNWIND [[1], [2, 3]] AS l RETURN l, [x IN l | x] + count(*) AS r ORDER BY size(l)").fetchall() \
        == [([1], [1, 1]), ([2, 3], [2, 3, 1])]
    assert one(db, "UNWIND [1, 2, 3] AS y RETURN [x IN collect(y) WHERE x > 1 | x * 2], "
                   "reduce(a = 0, x IN collect(y) | a + x)") == ([4, 6], 6)
    assert one(db, "UNWIND [1, 2] AS y WITH y, 10 AS k RETURN k, [x IN collect(y) | x + k]") == (10, [11, 12])


@pytest.mark.parametrize("q", [
    "UNWIND [[1], [2, 3]] AS l WITH l, size(l) AS s RETURN DISTINCT s ORDER BY [x IN l | x]",
    "UNWIND [[1], [2, 3]] AS l RETURN count(*) AS c ORDER BY [x IN l | x]",
    "UNWIND [[1], [2, 3]] AS l RETURN DISTINCT size(l) AS s ORDER BY reduce(a = 0, x IN l | a + x)",
    "UNWIND [[1], [2, 3]] AS l RETURN DISTINCT size(l) AS s ORDER BY all(x IN l WHERE x > 0)",
])
def test_order_by_after_distinct_or_aggregation_reads_no_dropped_name_inside_a_comprehension(db, q):
    """ORDER BY after DISTINCT or aggregation accepted any comprehension: the second query
    sorted by l, a name the aggregation had dropped (l of some row)."""
    with pytest.raises(lpgdb.SemanticError) as e:
        db.execute(q)
    assert e.value.code == "UndefinedVariable"


def test_order_by_a_comprehension_of_projected_names_still_runs(db):
    assert db.execute("UNWIND [[1], [2, 3]] AS l RETURN DISTINCT l ORDER BY [x IN l | -x] DESC").fetchall() == \
        [([1],), ([2, 3],)]
    assert db.execute("UNWIND [[1], [2, 3]] AS l RETURN l, count(*) AS c "
                      "ORDER BY reduce(a = 0, x IN l | a + x * c) DESC").fetchall() == [([2, 3], 1), ([1], 1)]
    assert db.execute("UNWIND [[1], [2, 3]] AS l RETURN collect(l) AS c "
                      "ORDER BY [x IN collect(l) | size(x)]").fetchall() == [([[1], [2, 3]],)]
