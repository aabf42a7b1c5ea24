"""The C projection of a point query's row (store.c lpg_store_point1, view.PointRead): the
properties ``MATCH (p:P {k: $k}) RETURN p.a, p.b, ...`` returns are picked out of the stored row
in C, each copied as stored when it is an int, float, bool or str, and the query's general path
answers anything else (lists, temporal values).  Checked against a plain-dict model for random
rows and projections, with the rows in the overlay and in checkpointed partition files, and
with the fast runner's own answer compared, so that a fallback cannot hide a wrong projection."""
import datetime as dt
import math

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

import lpgdb

NAMES = ["a", "b", "é名", "a b", "k"]
SCALARS = st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True), st.booleans(),
                    st.text(max_size=40))
VALUES = st.one_of(SCALARS, SCALARS, st.sampled_from([dt.date(2020, 1, 2), dt.datetime(2021, 3, 4, 5, 6)]),
                   st.lists(st.integers(-5, 5), max_size=3))
ROWS = st.lists(st.dictionaries(st.sampled_from([n for n in NAMES if n != "k"]), VALUES, max_size=4),
                min_size=1, max_size=6)
PROJECTIONS = st.lists(st.sampled_from(NAMES), min_size=1, max_size=5)


def _same(a, b):
    if type(a) is float and type(b) is float and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def _rows_same(got, want):
    return len(got) == len(want) and all(
        len(g) == len(w) and all(_same(x, y) for x, y in zip(g, w)) for g, w in zip(got, want))


def _query(names):
    return "MATCH (p:P {k: $k}) RETURN " + ", ".join(f"p.`{n}` AS c{i}" for i, n in enumerate(names))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=ROWS, names=PROJECTIONS, checkpoint=st.booleans())
def test_the_projection_agrees_with_the_stored_rows(tmp_path_factory, rows, names, checkpoint):
    path = str(tmp_path_factory.mktemp("proj") / "g.lpg")
    db = lpgdb.connect(path)
    try:
        db.create_index("P", "k")
        with db.transaction() as tx:
            for k, props in enumerate(rows):
                tx.create_node("P", {**props, "k": k})
        if checkpoint:
            db.checkpoint()             # the rows are read from partition files, not the overlay
        q = _query(names)
        for k, props in enumerate(rows + [{}]):
            want = [tuple({**props, "k": k}.get(n) for n in names)] if k < len(rows) else []
            for _ in range(2):          # made, then kept
                got = db.execute(q, {"k": k}).fetchall()
                assert _rows_same([tuple(r) for r in got], want), (q, k, got, want)
            fast = db._statements[q]._fast(dict(k=k), db.query_defaults)
            scalar = all(type(v) in (int, float, bool, str) for v in props.values())
            if scalar:                  # the runner answered itself (no fallback hides a wrong answer)
                assert fast is not None and _rows_same([tuple(r) for r in fast.fetchall()], want)
            else:
                assert fast is None or _rows_same([tuple(r) for r in fast.fetchall()], want)
    finally:
        db.close()


def test_a_projection_past_one_answer_and_names_stored_twice(tmp_path):
    db = lpgdb.connect(str(tmp_path / "g.lpg"))
    props = {f"p{i}": i for i in range(20)}
    db.create_index("P", "k")
    with db.transaction() as tx:
        tx.create_node("P", {"k": 1, **props})
    wide = "MATCH (p:P {k: $k}) RETURN " + ", ".join(f"p.p{i}" for i in range(20))
    assert db.execute(wide, {"k": 1}).fetchall() == [tuple(range(20))]   # 20 > 13: general path
    same = "MATCH (p:P {k: $k}) RETURN p.p3 AS x, p.p3 AS y, p.nope AS z"
    assert db.execute(same, {"k": 1}).fetchall() == [(3, 3, None)]
    assert db._statements[same]._fast({"k": 1}, db.query_defaults).fetchall() == [(3, 3, None)]
    db.close()


def test_point_queries_in_threads_across_commits_and_checkpoints(tmp_path):
    """Threads asking point queries at once (the C call runs without the GIL, its answer in a
    per-thread buffer) while commits change the rows and checkpoints move them to partition
    files: every answer is one committed row, whole (its two properties agree), and no key's
    value goes back in time for a thread."""
    import threading

    db = lpgdb.connect(str(tmp_path / "g.lpg"))
    keys = 40
    db.create_index("P", "k")
    with db.transaction() as tx:
        ids = [tx.create_node("P", {"k": k, "v": 0, "tag": f"k{k}v0"}) for k in range(keys)]
    q = "MATCH (p:P {k: $k}) RETURN p.v AS v, p.tag AS tag"
    stop = threading.Event()
    problems = []

    def reader(seed):
        last = [0] * keys
        i = seed
        while not stop.is_set():
            k = i % keys
            i += 7
            rows = db.execute(q, {"k": k}).fetchall()
            if len(rows) != 1 or rows[0][1] != f"k{k}v{rows[0][0]}" or rows[0][0] < last[k]:
                problems.append((k, rows, last[k]))
                return
            last[k] = rows[0][0]

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    try:
        for v in range(1, 61):
            with db.transaction() as tx:
                for k in range(v % 3, keys, 3):
                    tx.update_node(ids[k], set={"v": v, "tag": f"k{k}v{v}"})
            if v % 20 == 0:
                db.checkpoint()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    assert [tuple(r) for r in db.execute(q, {"k": 5}).fetchall()] == [(59, "k5v59")]
    db.close()
