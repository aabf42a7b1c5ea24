"""lpg_keyidx through core.KeyIndex: versioned lookups, batches, drop/gc, bad input."""
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lpgdb import errors
from lpgdb.core import LSN_INF, KeyIndex, ffi, lib

# keys on both sides of each slab class's limit (16 and 80 key bytes in keyidx.c) and past them
# (a malloc'd record): the model covers every way a record is stored
KEYS = st.one_of(st.binary(max_size=3), st.binary(min_size=15, max_size=17),
                 st.binary(min_size=79, max_size=81), st.binary(min_size=120, max_size=130))


@pytest.fixture
def ki():
    k = KeyIndex()
    yield k
    k.close()


def test_put_get_versions(ki):
    ki.put(1, b"\xa3bob", 7, lsn=5)
    assert ki.get(1, b"\xa3bob", 4) == []
    assert ki.get(1, b"\xa3bob", 5) == [7]
    assert ki.get(2, b"\xa3bob", 5) == []  # index ids separate key spaces
    ki.delete(1, b"\xa3bob", 7, lsn=9)
    assert ki.get(1, b"\xa3bob", 8) == [7]
    assert ki.get(1, b"\xa3bob", 9) == []
    ki.put(1, b"\xa3bob", 7, lsn=9)  # re-added at the lsn it ended
    assert ki.get(1, b"\xa3bob", 9) == [7]
    ki.check()


def test_duplicates_are_stored_and_returned_ascending(ki):
    for node in (9, 3, 5):
        ki.put(0, b"k", node, 1)
    assert ki.get(0, b"k", 1) == [3, 5, 9]
    assert ki.get_first_many(0, [b"k"], 1) == [3]
    ki.delete(0, b"k", 3, 2)
    assert ki.get_first_many(0, [b"k"], 2) == [5]
    assert ki.get_first_many(0, [b"k"], 1) == [3]
    with pytest.raises(errors.IntegrityError):
        ki.put(0, b"k", 5, 3)
    with pytest.raises(errors.InterfaceError):
        ki.put(0, b"k", 3, 1)  # before the end of node 3's previous version
    ki.check()


def test_empty_and_large_keys(ki):
    ki.put(0, b"", 1, 1)
    big = bytes(range(256)) * 256  # exactly 65536 bytes
    ki.put(0, big, 2, 1)
    assert ki.get(0, b"", 1) == [1]
    assert ki.get(0, big, 1) == [2]
    assert ki.get(0, bytearray(big), 1) == [2]
    assert ki.get_first_many(0, [big, b"", b"?"], 1) == [2, 1, -1]
    with pytest.raises(errors.InterfaceError):
        ki.put(0, big + b"!", 3, 1)
    with pytest.raises(errors.InterfaceError):
        ki.get_first_many(0, [big + b"!"], 1)
    ki.check()


def test_many_keys_grow_gc_and_drop(ki):
    n = 5000
    for i in range(n):
        ki.put(i % 3, i.to_bytes(4, "little"), i, 1 + i)
    assert len(ki) == n
    keys = [i.to_bytes(4, "little") for i in range(n)]
    assert ki.get_first_many(0, keys, LSN_INF - 1) == [i if i % 3 == 0 else -1 for i in range(n)]
    for i in range(0, n, 2):
        ki.delete(i % 3, keys[i], i, n + 10)
    ki.check()
    ki.gc(n + 10)
    ki.check()
    assert len(ki) == n // 2
    assert ki.get(1, keys[1], n + 10) == [1] and ki.get(0, keys[0], n + 10) == []
    ki.drop(1)
    ki.check()
    assert ki.get(1, keys[1], n + 10) == []
    assert ki.get(0, keys[3], n + 10) == [3]
    assert len(ki) == len([i for i in range(1, n, 2) if i % 3 != 1])


def test_get_returns_all_of_many_duplicates(ki):
    for node in range(1000, 0, -1):  # descending: every put inserts at the front
        ki.put(5, b"same", node, 1)
    for node in range(2000, 20000):  # a low-cardinality key: ascending puts append
        ki.put(5, b"same", node, 2)
    for node in range(1, 1000, 2):
        ki.delete(5, b"same", node, 3)
    assert ki.get(5, b"same", 1) == list(range(1, 1001))  # grows the output buffer
    assert ki.get(5, b"same", 3) == list(range(2, 1001, 2)) + list(range(2000, 20000))
    ki.check()


def test_errors(ki):
    ki.put(0, b"a", 1, 5)
    with pytest.raises(errors.NotFoundError):
        ki.delete(0, b"a", 2, 6)
    with pytest.raises(errors.NotFoundError):
        ki.delete(0, b"b", 1, 6)
    with pytest.raises(errors.InterfaceError):
        ki.delete(0, b"a", 1, 4)  # before its begin
    ki.check()


@pytest.mark.parametrize("call", [
    lambda k: k.put(0, "text", 1, 1),
    lambda k: k.put(0, None, 1, 1),
    lambda k: k.put(-1, b"a", 1, 1),
    lambda k: k.put(2**32, b"a", 1, 1),
    lambda k: k.put(0, b"a", 2**40, 1),
    lambda k: k.put(0, b"a", 1, LSN_INF),
    lambda k: k.put(0, b"a", 1, -5),
    lambda k: k.delete(0, b"a", 2**40, 1),
    lambda k: k.get(0, 12, 1),
    lambda k: k.get(0, b"a", -1),
    lambda k: k.get_first_many(0, [b"a", "b"], 1),
    lambda k: k.get_first_many(0, None, 1),
    lambda k: k.drop(-1),
    lambda k: k.gc(-1),
])
def test_bad_input_raises_interface_error(ki, call):
    ki.put(0, b"a", 1, 1)
    with pytest.raises(errors.InterfaceError):
        call(ki)
    ki.check()
    assert ki.get(0, b"a", 1) == [1]


def test_closed_handle_raises_interface_error():
    k = KeyIndex()
    k.close()
    for call in (lambda: k.put(0, b"a", 1, 1), lambda: k.delete(0, b"a", 1, 1),
                 lambda: k.get(0, b"a", 1), lambda: k.get_first_many(0, [b"a"], 1),
                 lambda: k.drop(0), lambda: k.gc(1), lambda: k.check(), lambda: len(k)):
        with pytest.raises(errors.InterfaceError):
            call()


class KeyIndexModel(RuleBasedStateMachine):
    """KeyIndex against a list of [index, key, node, begin, end]; check() after every step."""

    @initialize()
    def setup(self):
        self.k = KeyIndex()
        self.m = []
        self.lsn = 1
        self.min_snap = 0

    def teardown(self):
        self.k.close()

    @rule(index=st.integers(0, 2), key=KEYS, node=st.integers(0, 6))
    def put(self, index, key, node):
        self.lsn += 1
        if any(v[:3] == [index, key, node] and v[4] == LSN_INF for v in self.m):
            with pytest.raises(errors.IntegrityError):
                self.k.put(index, key, node, self.lsn)
            return
        self.k.put(index, key, node, self.lsn)
        self.m.append([index, key, node, self.lsn, LSN_INF])

    @rule(index=st.integers(0, 2), first=st.integers(0, 6), rows=st.lists(st.one_of(st.none(), KEYS), max_size=40))
    def put_many(self, index, first, rows):
        """lpg_keyidx_put_many (a columnar op's keys: node first + r for row r with a key, the
        table reserved once): all of them, or on a key already live for its node, the ones
        before it (*done)."""
        self.lsn += 1
        keys = b"".join(r for r in rows if r is not None)
        offs, at = [0], 0
        for r in rows:
            at += len(r) if r is not None else 0
            offs.append(at)
        flags = bytes(0 if r is None else 1 for r in rows)
        done = ffi.new("size_t *")
        rc = lib.lpg_keyidx_put_many(self.k._h, index, keys, len(keys), ffi.new("uint64_t[]", offs), flags,
                                     len(rows), first, self.lsn, done)
        want = [(r, first + i) for i, r in enumerate(rows) if r is not None]
        ok = 0
        for key, node in want:
            if any(v[:3] == [index, key, node] and v[4] == LSN_INF for v in self.m):
                assert rc == lib.LPG_EEXIST
                break
            self.m.append([index, key, node, self.lsn, LSN_INF])
            ok += 1
        else:
            assert rc == lib.LPG_OK
        assert done[0] == ok

    @precondition(lambda self: any(v[4] == LSN_INF for v in self.m))
    @rule(data=st.data())
    def delete(self, data):
        v = data.draw(st.sampled_from([v for v in self.m if v[4] == LSN_INF]))
        self.lsn += 1
        self.k.delete(v[0], v[1], v[2], self.lsn)
        v[4] = self.lsn

    @rule(index=st.integers(0, 2), key=KEYS, node=st.integers(0, 6))
    def delete_missing(self, index, key, node):
        if any(v[:3] == [index, key, node] and v[4] == LSN_INF for v in self.m):
            return
        with pytest.raises(errors.NotFoundError):
            self.k.delete(index, key, node, self.lsn)

    @rule(data=st.data())
    def gc(self, data):
        h = data.draw(st.integers(self.min_snap, self.lsn))
        self.k.gc(h)
        self.min_snap = h
        self.m = [v for v in self.m if v[4] > h]

    @rule(index=st.integers(0, 2))
    def drop(self, index):
        self.k.drop(index)
        self.m = [v for v in self.m if v[0] != index]

    def _want(self, index, key, snap):
        return sorted(v[2] for v in self.m if v[0] == index and v[1] == key and v[3] <= snap < v[4])

    @rule(data=st.data(), index=st.integers(0, 2))
    def reads(self, data, index):
        snap = data.draw(st.integers(self.min_snap, self.lsn + 1))
        known = sorted({v[1] for v in self.m})
        keys = data.draw(st.lists(st.one_of(st.sampled_from(known), st.binary(max_size=3))
                                  if known else st.binary(max_size=3), max_size=6))
        for key in keys:
            assert self.k.get(index, key, snap) == self._want(index, key, snap)
        assert self.k.get_first_many(index, keys, snap) == [
            (self._want(index, key, snap) or [-1])[0] for key in keys]
        assert len(self.k) == len({(v[0], v[1]) for v in self.m})

    @invariant()
    def invariants_hold(self):
        self.k.check()


KeyIndexModel.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_keyindex_model = KeyIndexModel.TestCase


def test_concurrent_readers_during_writes():
    import threading
    k = KeyIndex()
    base = [i.to_bytes(3, "big") for i in range(500)]
    for i, key in enumerate(base):
        k.put(0, key, i, 1)
    stop = threading.Event()
    failures = []

    def reader():
        while not stop.is_set():
            if k.get_first_many(0, base, 1) != list(range(500)) or k.get(0, base[7], 1) != [7]:
                failures.append("wrong answer at snapshot 1")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(500, 6000):  # forces several table growths under the readers
        k.put(i % 2, i.to_bytes(3, "big"), i, 2 + i)
        if i % 1000 == 0:
            k.gc(i)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    k.check()
    k.close()


def test_accepts_bytes_like_keys(ki):
    ki.put(0, memoryview(b"mv"), 1, 1)
    assert ki.get(0, bytearray(b"mv"), 1) == [1]
    assert ki.get_first_many(0, [bytearray(b"mv"), memoryview(b"mv")], 1) == [1, 1]


class KeyIndexModelSoak(KeyIndexModel):
    """The same machine with many more and longer runs (opt-in: -m slow)."""


KeyIndexModelSoak.TestCase.settings = settings(max_examples=2000, stateful_step_count=60, deadline=None)
test_keyindex_model_soak = pytest.mark.slow(KeyIndexModelSoak.TestCase)


@pytest.mark.parametrize("klen", [2, 16, 17, 80, 81, 300])
def test_records_freed_by_gc_and_drop_are_reused_and_the_table_grows_past_them(ki, klen):
    """Keys of one length (each slab class, its limits, and a malloc'd record): many puts (the
    table grows, the slab takes chunk after chunk), half ended and collected, an index dropped,
    then as many new keys again (freed cells reused): every answer as a dict says."""
    def key(i):
        return (i.to_bytes(4, "little") * (klen // 4 + 1))[:klen]
    n = 3000
    model = {}
    for i in range(n):
        ki.put(i % 2, key(i), i, 1)
        model[(i % 2, key(i))] = i
    for i in range(0, n, 3):
        ki.delete(i % 2, key(i), i, 2)
        del model[(i % 2, key(i))]
    ki.gc(2)
    ki.check()
    ki.drop(1)
    model = {k: v for k, v in model.items() if k[0] != 1}
    for i in range(n, 2 * n):
        ki.put(i % 2, key(i), i, 3)
        model[(i % 2, key(i))] = i
    ki.check()
    assert len(ki) == len(model)
    for index in (0, 1):
        keys = [key(i) for i in range(2 * n)]
        assert ki.get_first_many(index, keys, 3) == [model.get((index, kb), -1) for kb in keys]
