"""lpg_labels through core.LabelIndex: versioned membership, ascending scans, gc, bad input."""
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lpgdb import errors
from lpgdb.core import LSN_INF, LabelIndex

LABEL_CAP = 2**24


@pytest.fixture
def li():
    x = LabelIndex()
    yield x
    x.close()


def test_add_remove_visibility(li):
    li.add(3, 10, 5)
    assert not li.has(3, 10, 4) and li.has(3, 10, 5)
    li.remove(3, 10, 8)
    assert li.has(3, 10, 7) and not li.has(3, 10, 8)
    assert li.count(3, 7) == 1 and li.count(3, 8) == 0
    li.add(3, 10, 8)
    assert li.scan(3, 8) == [10] and li.scan(3, 6) == [10] and li.scan(3, 4) == []
    assert li.count(9, 8) == 0 and li.scan(9, 8) == [] and not li.has(9, 1, 8)
    li.check()


def test_scan_is_ascending_across_pages(li):
    nodes = [5000, 3, 1024, 1023, 2047, 0, 99999, 1025]
    for i, n in enumerate(nodes):
        li.add(1, n, 1 + i)
    assert li.scan(1, 100) == sorted(nodes)
    assert li.scan(1, 3) == [3, 1024, 5000]
    assert li.count(1, 100) == len(nodes)
    li.check()


def test_large_label_scan_and_gc(li):
    for n in range(0, 20000, 3):
        li.add(0, n, 1)
    for n in range(0, 20000, 6):
        li.remove(0, n, 2)
    assert li.count(0, 1) == len(range(0, 20000, 3))
    assert li.scan(0, 2) == [n for n in range(0, 20000, 3) if n % 6]
    li.gc(2)
    li.check()
    assert li.scan(0, 2) == [n for n in range(0, 20000, 3) if n % 6]
    assert li.count(0, 2) == len(li.scan(0, 2))


def test_add_many_merges_into_pages(li):
    li.add(0, 5, 1)
    li.add(0, 2000, 1)
    li.remove(0, 5, 2)
    li.add_many(0, [3000, 7, 5, 1999, 0, 4096], 2)
    li.check()
    assert li.scan(0, 2) == [0, 5, 7, 1999, 2000, 3000, 4096]
    assert li.scan(0, 1) == [5, 2000]
    li.add_many(1, range(0, 5000, 2), 3)  # ascending: appends
    assert li.count(1, 3) == 2500 and li.has(1, 4998, 3) and not li.has(1, 4999, 3)
    li.check()


def test_add_many_is_all_or_nothing(li):
    li.add(0, 10, 1)
    with pytest.raises(errors.IntegrityError):
        li.add_many(0, [1, 2, 10, 5000], 2)  # 10 is live; 5000 would need a new page
    with pytest.raises(errors.IntegrityError):
        li.add_many(0, [3, 4, 3], 2)
    with pytest.raises(errors.InterfaceError):
        li.add_many(0, [1, 2**40], 2)
    li.remove(0, 10, 3)
    with pytest.raises(errors.InterfaceError):
        li.add_many(0, [11, 10], 2)  # 10's previous version ends at 3
    li.check()
    assert li.scan(0, 5) == [] and li.scan(0, 2) == [10]
    li.add_many(0, [], 4)
    li.check()


def test_errors(li):
    li.add(0, 1, 5)
    with pytest.raises(errors.IntegrityError):
        li.add(0, 1, 6)
    with pytest.raises(errors.NotFoundError):
        li.remove(0, 2, 6)
    with pytest.raises(errors.NotFoundError):
        li.remove(7, 1, 6)
    with pytest.raises(errors.InterfaceError):
        li.remove(0, 1, 4)  # before its begin
    li.remove(0, 1, 6)
    with pytest.raises(errors.InterfaceError):
        li.add(0, 1, 5)  # before the end of the previous version
    li.check()


@pytest.mark.parametrize("call", [
    lambda x: x.add(LABEL_CAP, 0, 1),
    lambda x: x.add(0, 2**40, 1),
    lambda x: x.add(-1, 0, 1),
    lambda x: x.add(0, 0, LSN_INF),
    lambda x: x.add("L", 0, 1),
    lambda x: x.remove(0, 2**40, 1),
    lambda x: x.scan(LABEL_CAP, 1),
    lambda x: x.scan(0, -1),
    lambda x: x.count(2**32, 1),
    lambda x: x.has(0, 2**40, 1),
    lambda x: x.has(0, None, 1),
    lambda x: x.gc(-1),
])
def test_bad_input_raises_interface_error(li, call):
    li.add(0, 1, 1)
    with pytest.raises(errors.InterfaceError):
        call(li)
    li.check()
    assert li.scan(0, 1) == [1]


def test_closed_handle_raises_interface_error():
    x = LabelIndex()
    x.close()
    for call in (lambda: x.add(0, 1, 1), lambda: x.remove(0, 1, 1), lambda: x.scan(0, 1),
                 lambda: x.count(0, 1), lambda: x.has(0, 1, 1), lambda: x.gc(1), lambda: x.check(),
                 lambda: x.add_many(0, [1], 1)):
        with pytest.raises(errors.InterfaceError):
            call()


NODES = st.one_of(st.integers(0, 20), st.integers(1020, 1030), st.integers(5000, 5003))


class LabelIndexModel(RuleBasedStateMachine):
    """LabelIndex against a list of [label, node, begin, end]; check() after every step."""

    @initialize()
    def setup(self):
        self.x = LabelIndex()
        self.m = []
        self.lsn = 1
        self.min_snap = 0

    def teardown(self):
        self.x.close()

    def _live(self, label, node):
        return any(v[:2] == [label, node] and v[3] == LSN_INF for v in self.m)

    @rule(label=st.integers(0, 3), node=NODES)
    def add(self, label, node):
        self.lsn += 1
        if self._live(label, node):
            with pytest.raises(errors.IntegrityError):
                self.x.add(label, node, self.lsn)
            return
        self.x.add(label, node, self.lsn)
        self.m.append([label, node, self.lsn, LSN_INF])

    @rule(label=st.integers(0, 3), nodes=st.lists(NODES, max_size=8))
    def add_many(self, label, nodes):
        self.lsn += 1
        if len(set(nodes)) != len(nodes) or any(self._live(label, n) for n in nodes):
            with pytest.raises(errors.IntegrityError):
                self.x.add_many(label, nodes, self.lsn)
            return
        self.x.add_many(label, nodes, self.lsn)
        self.m.extend([label, n, self.lsn, LSN_INF] for n in nodes)

    @precondition(lambda self: any(v[3] == LSN_INF for v in self.m))
    @rule(data=st.data(), same_lsn=st.booleans())
    def remove(self, data, same_lsn):
        v = data.draw(st.sampled_from([v for v in self.m if v[3] == LSN_INF]))
        if not same_lsn:
            self.lsn += 1
        self.x.remove(v[0], v[1], self.lsn)
        v[3] = self.lsn

    @rule(label=st.integers(0, 3), node=NODES)
    def remove_missing(self, label, node):
        if not self._live(label, node):
            with pytest.raises(errors.NotFoundError):
                self.x.remove(label, node, self.lsn)

    @rule(data=st.data())
    def gc(self, data):
        h = data.draw(st.integers(self.min_snap, self.lsn))
        self.x.gc(h)
        self.min_snap = h
        self.m = [v for v in self.m if v[3] > h]

    @rule(data=st.data(), label=st.integers(0, 4), nodes=st.lists(NODES, max_size=4))
    def reads(self, data, label, nodes):
        snap = data.draw(st.integers(self.min_snap, self.lsn + 1))
        want = sorted(v[1] for v in self.m if v[0] == label and v[2] <= snap < v[3])
        assert self.x.scan(label, snap) == want
        assert self.x.count(label, snap) == len(want)
        for n in nodes:
            assert self.x.has(label, n, snap) == (n in want)

    @invariant()
    def invariants_hold(self):
        self.x.check()


LabelIndexModel.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_labelindex_model = LabelIndexModel.TestCase


def test_concurrent_readers_during_writes():
    import threading
    x = LabelIndex()
    for n in range(0, 3000, 2):
        x.add(0, n, 1)
    stop = threading.Event()
    failures = []

    def reader():
        while not stop.is_set():
            if x.count(0, 1) != 1500 or not x.has(0, 2, 1) or len(x.scan(0, 1)) != 1500:
                failures.append("wrong answer at snapshot 1")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for n in range(1, 3000, 2):
        x.add(0, n, 2 + n)
        if n % 5 == 0:
            x.remove(0, n - 1, 3 + n)
        if n % 999 == 0:
            x.gc(1)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    x.check()
    x.close()


class LabelIndexModelSoak(LabelIndexModel):
    """The same machine with many more and longer runs (opt-in: -m slow)."""


LabelIndexModelSoak.TestCase.settings = settings(max_examples=2000, stateful_step_count=60, deadline=None)
test_labelindex_model_soak = pytest.mark.slow(LabelIndexModelSoak.TestCase)
