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
