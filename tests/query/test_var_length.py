"""Variable-length patterns against a model: every trail (no relationship twice) of lo..hi hops,
enumerated in Python over a small random multigraph, counted per (start, end)."""
from collections import Counter

from hypothesis import HealthCheck, given, settings, strategies as st

import lpgdb

graphs = st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from("AB"), st.integers(0, n - 1)),
                         max_size=9)))
bounds = st.sampled_from([(0, 0), (1, 1), (1, 2), (0, 3), (2, 4), (1, None), (0, None), (3, None)])


def trails(n, edges, lo, hi, direction, types):
    """Counter of (start, end) over the trails the pattern matches (edges: index -> (s, t, d))."""
    out = Counter()

    def steps(node):
        for i, (s, t, d) in enumerate(edges):
            if types and t not in types:
                continue
            if direction in ("out", "both") and s == node:
                yield i, d
            if direction in ("in", "both") and d == node and not (direction == "both" and s == d):
                yield i, s

    def walk(start, node, used):
        if len(used) >= lo:
            out[(start, node)] += 1
        if hi is not None and len(used) >= hi:
            return
        for i, nxt in steps(node):
            if i not in used:
                walk(start, nxt, used | {i})
    for v in range(n):
        walk(v, v, frozenset())
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=graphs, bound=bounds, direction=st.sampled_from(["out", "in", "both"]),
       types=st.sampled_from(["", "A", "A|B"]))
def test_variable_length_matches_every_trail(graph, bound, direction, types):
    n, edges = graph
    lo, hi = bound
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        ids = [tx.create_node("V", {"i": i}) for i in range(n)]
        for s, t, d in edges:
            tx.create_edge(ids[s], t, ids[d])
    rng = f"*{lo}..{'' if hi is None else hi}"
    rel = f"[{':' + types if types else ''}{rng}]"
    arrow = {"out": f"-{rel}->", "in": f"<-{rel}-", "both": f"-{rel}-"}[direction]
    got = Counter({(a, b): c for a, b, c in db.execute(
        f"MATCH (a:V){arrow}(b:V) RETURN a.i, b.i, count(*)").fetchall()})
    assert got == trails(n, edges, lo, hi, direction, set(types.split("|")) if types else set())
    # each match's relationship list: a trail (distinct relationships) of lo..hi hops
    rel_named = f"[rs{':' + types if types else ''}{rng}]"
    arrow = {"out": f"-{rel_named}->", "in": f"<-{rel_named}-", "both": f"-{rel_named}-"}[direction]
    for (rids,) in db.execute(f"MATCH (a:V){arrow}(b:V) RETURN [r IN rs | id(r)]").fetchall():
        assert len(set(rids)) == len(rids) and lo <= len(rids) and (hi is None or len(rids) <= hi)
    db.close()
