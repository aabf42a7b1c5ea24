"""A key index through commits, log replay and checkpoints, against a dict.

Nodes with an indexed property ``k`` (ints, and strs whose key bytes fall on each side of the
key index's record classes: short, around 16 and 80 bytes, and past them) are created in
batches (one columnar op a transaction), updated (the key moves), deleted, and the database is
reopened after a crash (everything since the checkpoint replayed) or checkpointed.  After every
step every value's key_lookup answers what the dict says, and the store's invariants hold."""
import shutil
import tempfile

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

VALUES = st.one_of(st.integers(-3, 3), st.integers(2**40, 2**40 + 3),
                   st.sampled_from(["", "a", "x" * 13, "x" * 14, "y" * 77, "y" * 78, "z" * 120]))
ROW = st.tuples(st.sampled_from([("P",), ("P", "Q"), ("Q",)]), st.one_of(st.none(), VALUES))


class KeysThroughReplay(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lpgdb-keys-")
        self.path = self.dir + "/db"
        self.db = lpgdb.connect(self.path, sync="off", wal_segment_size=64 * 1024)
        self.db.create_index("P", "k")
        self.nodes = {}           # id -> (labels, k or None)

    def teardown(self):
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(rows=st.lists(ROW, min_size=1, max_size=30))
    def create(self, rows):
        with self.db.transaction() as tx:
            for labels, k in rows:
                nid = tx.create_node(list(labels), {} if k is None else {"k": k, "n": "v"})
                self.nodes[nid] = (labels, k)

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), k=st.one_of(st.none(), VALUES))
    def update(self, data, k):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        with self.db.transaction() as tx:
            if k is None:
                tx.update_node(nid, remove=["k"])
            else:
                tx.update_node(nid, set={"k": k})
        self.nodes[nid] = (self.nodes[nid][0], k)

    @precondition(lambda self: self.nodes)
    @rule(data=st.data())
    def delete(self, data):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        with self.db.transaction() as tx:
            tx.delete_node(nid)
        del self.nodes[nid]

    @rule()
    def checkpoint(self):
        self.db.checkpoint()

    @rule()
    def crash_reopen(self):
        self.db._engine.close(checkpoint_on_close=False)    # the log since the checkpoint replays
        self.db._closed = True
        self.db = lpgdb.connect(self.path, sync="off", wal_segment_size=64 * 1024)

    @invariant()
    def lookups_match(self):
        values = {k for _l, k in self.nodes.values() if k is not None} | {0, "b", "y" * 78}
        with self.db.snapshot() as s:
            for v in values:
                want = sorted(n for n, (ls, k) in self.nodes.items() if "P" in ls and k is not None
                              and type(k) is type(v) and k == v)
                assert sorted(s.key_lookup("P", "k", v)) == want, v
        self.db._engine.state.check()


KeysThroughReplay.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestKeysThroughReplay = KeysThroughReplay.TestCase
