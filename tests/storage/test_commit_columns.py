"""A transaction's new nodes and edges are logged as columnar ops (records.cols_ops), one per run
of consecutive ids; its other writes op by op.  Both forms must read back the same, live, after
replaying the log, and after a checkpoint."""
import pytest

import lpgdb
from lpgdb.storage import records


def _codes(ops):
    return [op[0] for op in ops]


def _state(db):
    with db.snapshot() as s:
        nodes = sorted((n.id, tuple(sorted(n.labels)), dict(n.properties)) for n in s.nodes())
        edges = sorted((e.id, tuple(sorted(e.labels)), e.src, e.dst, dict(e.properties)) for e in s.edges())
        keys = {k: s.key_lookup("P", "k", k) for k in range(-2, 12)}
    return nodes, edges, keys


def test_new_rows_go_as_runs_of_columns_and_read_back_after_replay_and_checkpoint(tmp_path):
    path = str(tmp_path / "g")
    db = lpgdb.connect(path)
    db.create_index("P", "k")
    with db.transaction() as tx:
        old = tx.create_node("P", {"k": -1})
        old2 = tx.create_node("P", {"k": -2})
        old_e = tx.create_edge(old, "R", old2, {"w": 0})
    with db.transaction() as tx:
        ids = [tx.create_node("P" if i % 3 else ["P", "Q"], {"k": i, "s": "x" * i}) for i in range(8)]
        tx.delete_node(ids[3])                       # a gap: two runs of new nodes
        tx.update_node(ids[5], set={"k": 10})        # a new node written twice: its last image
        tx.update_node(old, set={"k": 11})           # a committed node: op by op
        tx.create_node([], {})                       # no labels, no properties: an empty map
        es = [tx.create_edge(ids[i], "R", ids[i + 1] if i != 2 else old, {"w": i}) for i in range(3)]
        es += [tx.create_edge(old2, ["R", "S"], ids[7], {})]
        tx.delete_edge(es[1])                        # a gap among the new edges
        tx.update_edge(old_e, set={"w": 9})          # a committed edge: op by op
        ops = tx._ops()
        assert _codes(ops).count(records.NODES_COLS) == 2
        assert _codes(ops).count(records.EDGES_COLS) == 2
        assert records.NODE_PUT in _codes(ops) and records.EDGE_PUT in _codes(ops)
    want = _state(db)
    nodes, edges, keys = want
    assert keys[10] == [ids[5]] and keys[5] == [] and keys[3] == [] and keys[11] == [old]
    assert keys[-1] == [] and keys[-2] == [old2] and keys[7] == [ids[7]]
    assert [e for e in edges if e[0] == es[1]] == []
    assert [e[4] for e in edges if e[0] == old_e] == [{"w": 9}]
    db.close()
    db = lpgdb.connect(path)                         # replayed from the log
    assert _state(db) == want
    db.checkpoint()
    db.close()
    db = lpgdb.connect(path)
    assert _state(db) == want
    with db.transaction() as tx:                     # the next ids follow the columns' last
        assert tx.create_node("P", {"k": 1}) == max(n[0] for n in nodes) + 1
    db.close()


def test_a_transaction_holding_a_bulk_op_logs_its_own_rows_op_by_op(tmp_path):
    # a bulk op takes ids between the transaction's own: a columnar op must start above every id
    # the record created before it, so the transaction's rows are NODE_PUT / EDGE_PUT ops then
    db = lpgdb.connect(str(tmp_path / "g"))
    with db.transaction() as tx:
        a = tx.create_node("P", {"k": 0})
        cols = tx._bulk_columns()
        cols.add_node(0, {"k": 1})
        bulk = tx._log_bulk_nodes(cols, [frozenset({"P"})])
        b = tx.create_node("P", {"k": 2})
        tx.create_edge(a, "R", b, {})
        codes = _codes(tx._ops())
        assert records.NODES_COLS in codes and records.EDGES_COLS not in codes
        assert codes.count(records.NODE_PUT) == 2 and codes.count(records.EDGE_PUT) == 1
    with db.snapshot() as s:
        assert sorted(n["k"] for n in s.nodes("P")) == [0, 1, 2]
        assert list(bulk) == [a + 1] and b == a + 2
        assert [(e.src, e.dst) for e in s.edges()] == [(a, b)]
    db.close()


def test_cols_ops_refuse_ids_out_of_order():
    maps = [records.pack_props({"k": i}) for i in range(3)]
    ops = records.cols_ops([4, 5, 9], [frozenset({"P"})] * 3, maps)
    assert [(op[0], op[1]) for op in ops] == [(records.NODES_COLS, 4), (records.NODES_COLS, 9)]
    with pytest.raises(lpgdb.InternalError, match="not ascending"):
        records.cols_ops([4, 6, 5], [frozenset({"P"})] * 3, maps)
    with pytest.raises(lpgdb.InternalError, match="not ascending"):
        records.cols_ops([4, 4], [frozenset({"P"})] * 2, maps[:2])


def test_a_transaction_of_many_new_rows_is_logged_not_attached(tmp_path):
    # its new rows are columnar ops, as a bulk load's are, but only bulk ops are attached (files
    # built at commit): a transaction's commit stays one log append however big it is
    from lpgdb.storage import attach
    db = lpgdb.connect(str(tmp_path / "g"))
    eng = db._engine
    seq, end = eng.meta.manifest_seq, eng.wal.end_lsn
    n = attach.ATTACH_MIN_ROWS
    with db.transaction() as tx:
        ids = [tx.create_node("P", {"k": i}) for i in range(n)]
        for i in range(0, n, 2):
            tx.create_edge(ids[i], "R", ids[i + 1])
    assert eng.meta.manifest_seq == seq                  # no checkpoint image was built
    assert eng.wal.end_lsn - end > 12 * n                # the rows are in the log
    with db.snapshot() as s:
        assert s.node_count("P") == n and s.edge_count("R") == n // 2
    db.close()


@pytest.mark.parametrize("indexed", [False, True])
def test_a_columnar_op_with_a_malformed_row_is_corruption_whether_or_not_an_index_reads_it(tmp_path, indexed):
    """prepare checks every row of a NODES_COLS op (each empty or exactly one map): on its own,
    or in the same pass as the key a one-property index reads (core.rows_key).  A row that is
    damaged after the key, in a row the index does not read (another label), or followed by
    stray bytes, is CorruptionError before anything changes; the well-formed op prepares."""
    from array import array
    db = lpgdb.connect(str(tmp_path / "g"))
    if indexed:
        db.create_index("P", "k")
    state = db._engine.state
    first = state.catalog.next_node_id
    good = records.pack_props({"k": 1, "s": "x"})

    def op(maps, sets=(("P",), ("Q",)), idx=None):
        offs = array("Q", [0])
        for m in maps:
            offs.append(offs[-1] + len(m))
        ix = array("I", idx if idx is not None else [0] * len(maps))
        return [records.NODES_COLS, first, [list(s) for s in sets], ix.tobytes(), b"".join(maps), offs.tobytes()]

    state.prepare([op([good, b"", good], idx=[0, 1, 1])])
    bad_after_key = good[:-2] + b"\xc1" + good[-1:]         # "s"'s value: the never-used 0xc1
    for ops in ([op([good, bad_after_key])],                 # damaged past the key the index reads
                [op([good, bad_after_key], idx=[0, 1])],     # in a row of a label no index reads
                [op([good + b"\x01"])],                      # a map, then a stray byte
                [op([good[:-1]])],                           # a truncated map
                [op([b"\x01"])]):                            # not a map
        with pytest.raises(lpgdb.CorruptionError):
            state.prepare(ops)
    db.close()
