"""The deterministic history the crash harnesses run, and the check of what survived
(design/storage.md §3.2, invariants 1-3 and 7).

History
    Transaction ``s`` (s = 0, 1, 2, ...) is a function of ``s`` alone, so a writer can resume it
    from whatever a recovery left (``resume_from``):

    * ``s == INDEX_AT``: ``create_index("C", "i")``;
    * ``s == SCHEMA_AT``: ``set_schema`` (a LOOSE type with a KEY on C.i);
    * ``s % 10 == 3``: ``bulk_load`` of ``BULK`` B nodes ``{i: s, j}``;
    * otherwise a commit: node C ``{i: s, pad}``, an edge PREV to the previous C, and every
      fifth one sets ``u`` on the C three before it.

    Extra work between transactions (not part of the history): ``checkpoint()`` after ``s % 7
    == 6``, a ``backup`` after ``s % 13 == 12``.

Check
    ``check(db, acked)`` reads a recovered database through several paths (label scans, key
    lookups, adjacency both ways, degrees, the native invariant checks) and returns k such that
    the state is exactly the first k transactions (no hole, no partial transaction, no
    duplicate), asserting k >= ``acked``.
"""
import functools
import os

import lpgdb

INDEX_AT = 4
SCHEMA_AT = 11
BULK = 5
SEG = 64 * 1024
DDL = "CREATE GRAPH TYPE g LOOSE { (c: C {i INT}), FOR (x:c) KEY x.i }"


def kind(s: int) -> str:
    if s == INDEX_AT:
        return "index"
    if s == SCHEMA_AT:
        return "schema"
    if s % 10 == 3:
        return "bulk"
    return "commit"


@functools.lru_cache(maxsize=None)
def _prev_commit(s: int, n: int = 1):
    """The n-th commit (kind "commit") before s, or None."""
    p = s
    for _ in range(n):
        p -= 1
        while p >= 0 and kind(p) != "commit":
            p -= 1
        if p < 0:
            return None
    return p


def run_txn(db, s: int) -> None:
    """Run transaction ``s`` of the history (raises what the database raises)."""
    k = kind(s)
    if k == "index":
        db.create_index("C", "i")
    elif k == "schema":
        db.set_schema(DDL)
    elif k == "bulk":
        db.bulk_load(nodes=[("B", {"i": s, "j": j}) for j in range(BULK)])
    else:
        with db.transaction() as tx:
            fill_commit(tx, s)


def fill_commit(tx, s: int) -> None:
    """The writes of commit ``s`` inside an open transaction."""
    n = tx.create_node("C", {"i": s, "pad": "x" * (s * 37 % 400)})
    p = _prev_commit(s)
    if p is not None:
        (prev,) = list(tx.find_nodes("C", i=p))
        tx.create_edge(n, "PREV", prev.id, {"i": s})
    q = _prev_commit(s, 3) if s % 5 == 4 else None
    if q is not None:
        (old,) = list(tx.find_nodes("C", i=q))
        tx.update_node(old.id, set={"u": s})


def extra(db, s: int, backup_dir=None) -> None:
    """Maintenance after transaction ``s`` (checkpoint, backup)."""
    if s % 7 == 6:
        db.checkpoint()
    if backup_dir is not None and s % 13 == 12:
        dest = os.path.join(backup_dir, f"bak-{s}")
        if not os.path.exists(dest):
            db.backup(dest)


@functools.lru_cache(maxsize=4096)
def _expected(k: int) -> dict:
    return expected(k)


def expected(k: int) -> dict:
    """What the first k transactions leave."""
    commits = [s for s in range(k) if kind(s) == "commit"]
    u = {}
    for s in commits:
        q = _prev_commit(s, 3) if s % 5 == 4 else None
        if q is not None:
            u[q] = s
    prevs = sorted((s, _prev_commit(s)) for s in commits if _prev_commit(s) is not None)
    return {
        "C": commits,
        "B": sorted((s, j) for s in range(k) if kind(s) == "bulk" for j in range(BULK)),
        "u": u,
        "PREV": prevs,
        "index": k > INDEX_AT,
        "schema": k > SCHEMA_AT,
    }


def observe(db) -> dict:
    db.verify()
    with db.snapshot() as snap:
        cs = list(snap.nodes("C"))
        by_id = {n.id: n["i"] for n in cs}
        prevs = sorted((e["i"], by_id.get(e.dst)) for e in snap.edges("PREV"))
        got = {
            "C": sorted(n["i"] for n in cs),
            "B": sorted((n["i"], n["j"]) for n in snap.nodes("B")),
            "u": {n["i"]: n["u"] for n in cs if "u" in n.properties},
            "PREV": prevs,
            "index": ("C", ("i",)) in db.indexes(),
            "schema": db.schema is not None,
        }
        for n in cs[::max(1, len(cs) // 4)] if cs else ():   # other read paths agree
            assert [m.id for m in snap.find_nodes("C", i=n["i"])] == [n.id]
            out = [e for e in snap.edges_of(n.id, "out", "PREV")]
            assert snap.degree(n.id, "out", "PREV") == len(out) <= 1
            for e in out:
                assert e.src == n.id and e.id in {x.id for x in snap.edges_of(e.dst, "in", "PREV")}
    return got


def check(db, acked: int, submitted: int = None) -> int:
    """The k with state == expected(k); asserts acked <= k (<= submitted when given).

    Every transaction leaves a trace (a node, an index, the schema), so k is one past the
    newest trace; the whole state must then equal the history's first k transactions."""
    got = observe(db)
    traces = got["C"][-1:] + [b[0] for b in got["B"][-1:]]
    traces += [INDEX_AT] if got["index"] else []
    traces += [SCHEMA_AT] if got["schema"] else []
    k = max(traces, default=-1) + 1
    if _expected(k) != got:
        raise AssertionError(f"state is no prefix of the history: C={got['C'][-6:]} "
                             f"B={got['B'][-3:]} index={got['index']} schema={got['schema']} "
                             f"u={sorted(got['u'].items())[-3:]}; the first {k} transactions "
                             f"leave C={_expected(k)['C'][-6:]} u={sorted(_expected(k)['u'].items())[-3:]}")
    assert k >= acked, f"acknowledged transactions lost: {acked} acknowledged, {k} present"
    assert submitted is None or k <= submitted, f"{k} transactions present, only {submitted} ran"
    return k


def resume_from(db) -> int:
    """The number of transactions a database holds (it must be a prefix)."""
    return check(db, 0)


def open_db(path, **kw):
    kw.setdefault("checkpoint_wal_bytes", 48 * 1024)
    return lpgdb.connect(path, wal_segment_size=SEG, **kw)


def warm_up() -> None:
    """Import and build, once in a parent, what forked writers would each build again."""
    from lpgdb import schema
    from lpgdb.schema import validate  # noqa: F401 - imported lazily by set_schema
    schema.load(DDL, None)


def crash(db) -> None:
    """Drop a handle the way a killed process would (no checkpoint, no clean close)."""
    if db is not None and not db.closed:
        db._engine.close(checkpoint_on_close=False)
        db._closed = True
