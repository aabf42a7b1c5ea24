"""Regressions for the bugs the differential test against Kùzu (bench/differential.py) found,
each checked here against openCypher/Neo4j semantics without Kùzu."""
import itertools

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import lpgdb


@pytest.fixture
def db():
    d = lpgdb.connect(":memory:")
    yield d
    d.close()


# ---- relationship uniqueness across comma-separated pattern parts ----------------------------
_edges = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=0, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edges=_edges)
def test_two_pattern_parts_never_bind_one_relationship_twice(edges):
    """MATCH (a)-[r]->(b), (c)-[s]->(d): r and s are different relationships, whether the parts
    are planned as a product or (with an equality between them) as a hash join."""
    with lpgdb.connect(":memory:") as db:
        db.execute("UNWIND range(0, 3) AS i CREATE (:N {k: i, g: i % 2})")
        db.execute("UNWIND $es AS e MATCH (a:N {k: e[0]}), (b:N {k: e[1]}) CREATE (a)-[:T]->(b)",
                   {"es": [list(e) for e in edges]})
        pairs = [(e, f) for e, f in itertools.product(range(len(edges)), repeat=2) if e != f]
        g = lambda k: k % 2  # noqa: E731
        assert db.execute("MATCH (a)-[r]->(b), (c)-[s]->(d) RETURN count(*)").fetchall() == [(len(pairs),)]
        want = sum(1 for e, f in pairs if g(edges[e][0]) == g(edges[f][0]))
        q = "MATCH (a)-[r]->(b), (c)-[s]->(d) WHERE a.g = c.g RETURN count(*)"
        assert db.execute(q).fetchall() == [(want,)]
        triples = [t for t in itertools.permutations(range(len(edges)), 3)]
        q = "MATCH (a)-[r]->(), ()-[s]->(), (c)-[t]->() RETURN count(*)"
        assert db.execute(q).fetchall() == [(len(triples),)]
        # a variable-length relationship's list counts too
        want = sum(1 for e in range(len(edges)) for f in range(len(edges)) if e != f)
        q = "MATCH (a)-[r*1..1]->(b), (c)-[s]->(d) RETURN count(*)"
        assert db.execute(q).fetchall() == [(want,)]


def test_the_uniqueness_check_between_parts_shows_in_the_plan(db):
    db.execute("CREATE (:N {g: 1})-[:T]->(:N {g: 1})")
    r = db.execute("MATCH (a)-[r]->(b), (c)-[s]->(d) WHERE a.g = c.g RETURN count(*)")
    assert r.fetchall() == [(0,)]
    assert "RelationshipsDistinct" in r.plan.operators
