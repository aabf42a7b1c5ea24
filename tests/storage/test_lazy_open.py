"""A clean open reads META and the manifest only: each data file is opened, size-checked,
header-checked and mapped at the first read that needs it (files.MappedFile, store.c
open_lazy).  Damage found then is a CorruptionError for the reads that need that file, and
only for them; ``verify`` still checks every file in full."""
import os
import shutil

import pytest

import lpgdb
from lpgdb.storage import files

P1 = 1 << 17            # the first node id of partition 1
N = P1 + 100


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("lazy") / "db")
    db = lpgdb.connect(path)
    db.bulk_load(nodes=[("N", {"i": i}) for i in range(N)],
                 edges=[(i, "E", i + 1, {"k": i}) for i in range(0, N - 1, 1000)])
    db.create_index("N", "i")
    db.close()
    names = sorted(os.listdir(os.path.join(path, "data")))
    assert [n[:11] for n in names if n.startswith("part")] == ["part-000000", "part-000001"]
    return path


@pytest.fixture
def opens(monkeypatch):
    """The data files opened (names), in order."""
    seen = []
    real = files.MappedFile._open

    def spy(self):
        seen.append(self.name)
        return real(self)
    monkeypatch.setattr(files.MappedFile, "_open", spy)
    return seen


def test_open_touches_no_data_file_and_reads_open_each_once(pristine, tmp_path, opens):
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    with lpgdb.connect(path) as db:
        assert opens == []
        with db.snapshot() as s:
            assert s.node(5)["i"] == 5
            assert s.node(7)["i"] == 7
            assert [n[:11] for n in opens] == ["part-000000"]
            assert s.node(P1 + 3)["i"] == P1 + 3
        assert [n[:11] for n in opens] == ["part-000000", "part-000001"]
        with db.transaction() as tx:          # a write and a new generation share the files
            tx.create_node("N", {"i": -1})
        db.checkpoint()
        with db.snapshot() as s:
            assert s.node(8)["i"] == 8 and s.node(P1 + 4)["i"] == P1 + 4
            assert [n.id for n in s.find_nodes("N", i=-1)] == [N]
        assert len(opens) == len(set(opens)), opens     # never opened twice
        db.verify()                                     # every file, in full
        assert set(os.listdir(os.path.join(path, "data"))) <= set(opens)


def _damage(path, how):
    (name,) = [n for n in os.listdir(os.path.join(path, "data")) if n.startswith("part-000001")]
    f = os.path.join(path, "data", name)
    if how == "missing":
        os.unlink(f)
        return name
    with open(f, "r+b") as fh:
        if how == "truncated":
            fh.truncate(os.path.getsize(f) - 1)
        elif how == "bit-flip":          # in the header: its CRC no longer matches
            fh.seek(33)
            b = fh.read(1)
            fh.seek(33)
            fh.write(bytes([b[0] ^ 0x10]))
        elif how == "zeroed":
            fh.write(bytes(4096))
    return name


@pytest.mark.parametrize("how", ["truncated", "bit-flip", "zeroed", "missing"])
def test_damage_is_corruption_exactly_when_a_read_needs_the_file(pristine, tmp_path, how):
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    name = _damage(path, how)
    with lpgdb.connect(path) as db:                     # opens: no data file is read
        with db.snapshot() as s:
            assert s.node(5)["i"] == 5                  # partition 0: correct answers
            assert [n.id for n in s.find_nodes("N", i=42)] == [42]
            assert sorted(e["k"] for e in s.edges("E")) == list(range(0, N - 1, 1000))
            for _ in range(2):                          # every read that needs it, not just the first
                with pytest.raises(lpgdb.CorruptionError) as ei:
                    s.node(P1 + 3)
                assert name in str(ei.value.path)
            assert s.node(6)["i"] == 6
        with db.snapshot() as s:                        # the point-read fast paths
            try:                                        # the right answer or CorruptionError
                ids = s.key_lookup("N", "i", P1 + 3)
            except lpgdb.CorruptionError:
                pass
            else:
                assert ids == [P1 + 3]
                with pytest.raises(lpgdb.CorruptionError):
                    s.node(ids[0])
            with pytest.raises(lpgdb.CorruptionError):
                s.degree(P1 + 3, "out", "E")
            assert s.node(s.key_lookup("N", "i", 9)[0])["i"] == 9 and s.degree(1000, "out", "E") == 1
        with pytest.raises(lpgdb.CorruptionError):
            db.verify()


def test_a_snapshot_keeps_reading_files_a_checkpoint_deleted(pristine, tmp_path):
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    with lpgdb.connect(path) as db:
        s = db.snapshot()                               # nothing of the base opened yet
        with db.transaction() as tx:
            tx.update_node(P1 + 3, set={"i": -3})
            tx.update_node(9, set={"i": -9})
        db.checkpoint()                                 # rewrites (and deletes) both partitions
        before = set(os.listdir(os.path.join(path, "data")))
        assert not any(n.endswith("0000000000000001.lpg") and n.startswith("part") for n in before)
        assert s.node(P1 + 3)["i"] == P1 + 3 and s.node(9)["i"] == 9
        assert [n.id for n in s.find_nodes("N", i=P1 + 5)] == [P1 + 5]
        s.close()
        with db.snapshot() as t:
            assert t.node(P1 + 3)["i"] == -3 and [n.id for n in t.find_nodes("N", i=-9)] == [9]


# -- read-only opens and followers: the same lazy open, safe beside a writer process -----------
def _writer(path, code):
    """Run ``code`` with ``db`` a writer connection of ``path``, in a second process."""
    import subprocess
    import sys
    import textwrap
    prog = f"import lpgdb\ndb = lpgdb.connect({path!r})\n" + textwrap.dedent(code) + "\ndb.close()\n"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             [os.path.dirname(os.path.dirname(lpgdb.__file__))]
                             + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])})
    assert out.returncode == 0, out.stderr


def _data(path):
    return set(os.listdir(os.path.join(path, "data")))


def test_readonly_open_touches_no_data_file_and_reads_open_each_once(pristine, tmp_path, opens):
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    with lpgdb.connect(path, readonly=True) as db:
        assert opens == []
        with db.snapshot() as s:
            assert s.node(5)["i"] == 5 and s.node(7)["i"] == 7
            assert [n[:11] for n in opens] == ["part-000000"]
            assert [n.id for n in s.find_nodes("N", i=P1 + 9)] == [P1 + 9]
            assert s.node(P1 + 3)["i"] == P1 + 3
        assert len(opens) == len(set(opens)), opens
        db.verify()
        assert _data(path) <= set(opens)


@pytest.mark.parametrize("how", ["truncated", "bit-flip", "zeroed", "missing"])
def test_readonly_damage_is_corruption_exactly_when_a_read_needs_the_file(pristine, tmp_path, how):
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    name = _damage(path, how)
    with lpgdb.connect(path, readonly=True) as db, db.snapshot() as s:
        assert s.node(5)["i"] == 5
        assert sorted(e["k"] for e in s.edges("E")) == list(range(0, N - 1, 1000))
        for _ in range(2):
            with pytest.raises(lpgdb.CorruptionError) as ei:
                s.node(P1 + 3)
            assert name in str(ei.value.path)
        assert s.node(6)["i"] == 6


def test_a_writer_process_keeps_the_files_a_lazy_reader_has_not_opened_yet(pristine, tmp_path):
    """A reader opens (touching no data file); a writer in another process rewrites both
    partitions and checkpoints twice; the reader's first reads then still find its
    checkpoint's files (pinned: the writer kept them) and answer from its own snapshot.  Once
    it has moved on (refresh) and dropped the old generation, the writer deletes them."""
    import gc
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    first = _data(path)
    r = lpgdb.connect(path, readonly=True)
    _writer(path, f"""
        for k in range(2):
            with db.transaction() as tx:
                tx.update_node({P1 + 3}, set={{"i": -3 - k}})
                tx.update_node(9, set={{"i": -9 - k}})
                tx.create_node("N", {{"i": -100 - k}})
            db.checkpoint()
    """)
    assert first <= _data(path)                         # kept for the reader's checkpoint
    with r.snapshot() as s:                             # first reads: the old checkpoint, whole
        assert s.node(P1 + 3)["i"] == P1 + 3 and s.node(9)["i"] == 9
        assert [n.id for n in s.find_nodes("N", i=P1 + 5)] == [P1 + 5]
        assert list(s.find_nodes("N", i=-101)) == [] and s.node_count("N") == N
    r.refresh()                                         # the follower moves to the new checkpoint
    with r.snapshot() as s:
        assert s.node(P1 + 3)["i"] == -4 and s.node(9)["i"] == -10
        assert [n.id for n in s.find_nodes("N", i=-101)] == [N + 1] and s.node_count("N") == N + 2
        assert s.node(P1 + 7)["i"] == P1 + 7
    gc.collect()                                        # the old generation is gone: so is its pin
    _writer(path, """
        with db.transaction() as tx:
            tx.create_node("N", {"i": -200})
        db.checkpoint()
    """)
    left = _data(path)
    gone = {n for n in first if n.startswith("part")}
    assert gone and not (gone & left), sorted(left)     # superseded partitions deleted now
    with r.snapshot() as s:                             # still reading its (pinned) checkpoint
        assert s.node(P1 + 3)["i"] == -4 and s.node(P1 + 8)["i"] == P1 + 8
    r.refresh()
    with r.snapshot() as s:
        assert [n.id for n in s.find_nodes("N", i=-200)] == [N + 2]
    r.close()


def test_a_writer_deletes_what_no_reader_pins(pristine, tmp_path):
    """Without a reader, a checkpoint deletes the superseded files and manifests at once;
    a reader that closed holds nothing."""
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    first = _data(path)
    r = lpgdb.connect(path, readonly=True)
    with r.snapshot() as s:
        assert s.node(3)["i"] == 3
    r.close()
    del s                       # (a closed snapshot object still names its generation)
    _writer(path, f"""
        with db.transaction() as tx:
            tx.update_node({P1 + 3}, set={{"i": -3}})
            tx.update_node(9, set={{"i": -9}})
        db.checkpoint()
    """)
    parts = {n for n in first if n.startswith("part")}
    assert not (parts & _data(path))
    assert len(os.listdir(os.path.join(path, "manifest"))) == 1


def test_a_checkpoint_between_reading_meta_and_pinning_its_manifest(pristine, tmp_path, monkeypatch):
    """The writer retires (deletes) the checkpoint a reader just read from META before the
    reader pins its manifest: the reader loads the newer checkpoint instead, never a mix."""
    from lpgdb.storage import checkpoint
    path = str(tmp_path / "db")
    shutil.copytree(pristine, path)
    real = checkpoint.ManifestPin.__init__
    calls = []

    def late_pin(self, mpath):
        if not calls:
            _writer(path, f"""
                with db.transaction() as tx:
                    tx.update_node({P1 + 3}, set={{"i": -3}})
                    tx.update_node(9, set={{"i": -9}})
                db.checkpoint()
            """)
        calls.append(mpath)
        real(self, mpath)
    monkeypatch.setattr(checkpoint.ManifestPin, "__init__", late_pin)
    with lpgdb.connect(path, readonly=True) as r, r.snapshot() as s:
        assert len(calls) == 2 and calls[0] != calls[1]
        assert s.node(P1 + 3)["i"] == -3 and s.node(9)["i"] == -9 and s.node(P1 + 4)["i"] == P1 + 4
