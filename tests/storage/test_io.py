"""The I/O layer (lpgdb/storage/io.py): typed errors, short writes, fault injection, call-site
listing, and the power-loss model (kept / dropped / torn unsynced writes, unsynced directory
operations)."""
import errno
import os
import random

import pytest

import lpgdb
from lpgdb.storage import io


@pytest.fixture(autouse=True)
def _no_simulator_left_behind():
    yield
    io.uninstall()


def _read(p):
    with open(p, "rb") as f:
        return f.read()


def test_oserrors_become_typed_errors_with_a_hint(tmp_path):
    with pytest.raises(lpgdb.OperationalError, match="no such file") as ei:
        io.open(str(tmp_path / "missing"), os.O_RDONLY)
    assert ei.value.errno == errno.ENOENT and ei.value.filename.endswith("missing")
    assert io.open(str(tmp_path / "missing"), os.O_RDONLY, missing_ok=True) is None
    assert io.read_file(str(tmp_path / "missing"), missing_ok=True) is None
    with pytest.raises(lpgdb.OperationalError, match="exists"):
        io.mkdir(str(tmp_path))
    io.mkdir(str(tmp_path), exist_ok=True)
    os.symlink(str(tmp_path), str(tmp_path / "link"))
    with pytest.raises(lpgdb.OperationalError, match="symbolic link"):
        io.read_file(str(tmp_path / "link"))
    io.unlink(str(tmp_path / "nothing"), missing_ok=True)
    with pytest.raises(lpgdb.OperationalError):
        io.unlink(str(tmp_path / "nothing"))


def test_injected_errors_name_the_problem(tmp_path):
    sim = io.Simulator(str(tmp_path))
    sim.fail("write", error="ENOSPC")
    sim.fail("sync", error="EIO")
    with io.installed(sim):
        fd = io.open(str(tmp_path / "f"), os.O_RDWR | os.O_CREAT)
        with pytest.raises(lpgdb.OperationalError, match="disk full.*free disk space") as ei:
            io.pwrite(fd, b"abc", 0)
        assert ei.value.errno == errno.ENOSPC
        io.pwrite(fd, b"abc", 0)              # once, not persistent
        with pytest.raises(lpgdb.OperationalError, match="I/O error.*check the device"):
            io.fdatasync(fd)
        io.close(fd)
    assert [e[3] for e in sim.injected] == ["ENOSPC", "EIO"]


def test_short_write_is_disk_full_and_writes_a_prefix(tmp_path):
    sim = io.Simulator(str(tmp_path))
    sim.fail("write", error="short")
    with io.installed(sim):
        fd = io.open(str(tmp_path / "f"), os.O_RDWR | os.O_CREAT)
        with pytest.raises(lpgdb.OperationalError, match="short write.*4 of 8"):
            io.pwrite(fd, b"12345678", 0)
        io.close(fd)
    assert _read(tmp_path / "f") == b"1234"


def test_short_pwrite_from_the_kernel_is_an_error(tmp_path, monkeypatch):
    fd = io.open(str(tmp_path / "f"), os.O_RDWR | os.O_CREAT)
    monkeypatch.setattr(os, "pwrite", lambda fd, data, off: len(data) - 1)
    with pytest.raises(lpgdb.OperationalError, match="disk full: short write"):
        io.pwrite(fd, b"12345678", 0)
    io.close(fd)


def test_nth_and_persistent_faults_by_site(tmp_path):
    sim = io.Simulator(str(tmp_path))
    f = sim.fail("write", site="here", nth=2, persistent=True)
    with io.installed(sim):
        fd = io.open(str(tmp_path / "f"), os.O_RDWR | os.O_CREAT)
        io.pwrite(fd, b"a", 0, site="here")
        io.pwrite(fd, b"a", 0, site="elsewhere")
        for _ in range(3):
            with pytest.raises(lpgdb.OperationalError):
                io.pwrite(fd, b"a", 0, site="here")
        io.close(fd)
    assert f.fired == 3
    assert sim.calls[("write", "here")] == 4 and sim.calls[("write", "elsewhere")] == 1


def test_sites_default_to_the_calling_function(tmp_path):
    sim = io.Simulator(str(tmp_path))

    def writer():
        io.write_file(str(tmp_path / "x"), b"data")

    with io.installed(sim):
        writer()
    kinds = {k for k, _ in sim.sites()}
    assert kinds == {"open", "write", "sync"}
    assert all(s.startswith("test_io.writer:") for _, s in sim.sites())


def test_calls_outside_root_are_not_counted(tmp_path):
    (tmp_path / "in").mkdir()
    sim = io.Simulator(str(tmp_path / "in"))
    sim.fail(error="EIO", persistent=True)
    with io.installed(sim):
        io.write_file(str(tmp_path / "out"), b"x")
    assert sim.n == 0


def test_power_loss_keeps_synced_data_and_models_unsynced_writes(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    p = str(root / "f")
    with open(p, "wb") as f:
        f.write(b"A" * 2048)                     # existed before: durable
    sim = io.Simulator(str(root), record=True, real_sync=False)
    with io.installed(sim):
        fd = io.open(p, os.O_RDWR)
        io.pwrite(fd, b"B" * 1024, 0)
        io.fdatasync(fd)                          # B is durable
        io.pwrite(fd, b"C" * 1024, 1024)          # C is not
        io.pwrite(fd, b"D" * 1024, 2048)          # nor the growth
        io.close(fd)
        full = sim.image(str(tmp_path / "keep"), 0, mode="keep_all")
        sim.image(str(tmp_path / "drop"), 0, mode="drop_all")
        seen = set()
        for seed in range(40):
            dest = str(tmp_path / f"r{seed}")
            sim.image(dest, seed)
            data = _read(os.path.join(dest, "f"))
            assert data[:1024] == b"B" * 1024
            seen.add(data[1024:2048] in (b"A" * 1024, b"C" * 1024))
    assert full == {"keep": 2, "dirops_dropped": 0}
    assert _read(tmp_path / "keep" / "f") == b"B" * 1024 + b"C" * 1024 + b"D" * 1024
    assert _read(tmp_path / "drop" / "f") == b"B" * 1024 + b"A" * 1024
    assert seen == {True, False}                  # whole sectors kept or dropped, and torn ones
    assert _read(p) == b"B" * 1024 + b"C" * 1024 + b"D" * 1024   # the live file is untouched


def test_power_loss_drops_directory_ops_until_the_directory_is_synced(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "old").write_bytes(b"old")
    sim = io.Simulator(str(root), record=True, real_sync=False)
    with io.installed(sim):
        io.write_file(str(root / "tmp"), b"new")          # data synced, name not
        io.rename(str(root / "tmp"), str(root / "old"))   # replaces old
        io.mkdir(str(root / "sub"))
        sim.image(str(tmp_path / "a"), 0, mode="drop_all")
        io.fsync_dir(str(root))
        sim.image(str(tmp_path / "b"), 0, mode="drop_all")
        io.unlink(str(root / "old"))
        sim.image(str(tmp_path / "c"), 0, mode="drop_all")
        sim.image(str(tmp_path / "d"), 0, mode="keep_all")
    assert sorted(os.listdir(tmp_path / "a")) == ["old"] and _read(tmp_path / "a" / "old") == b"old"
    assert sorted(os.listdir(tmp_path / "b")) == ["old", "sub"] and _read(tmp_path / "b" / "old") == b"new"
    assert _read(tmp_path / "c" / "old") == b"new"       # the unlink was not durable
    assert sorted(os.listdir(tmp_path / "d")) == ["sub"]


def test_unsynced_new_file_may_lose_its_data(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    sim = io.Simulator(str(root), record=True, real_sync=False)
    with io.installed(sim):
        io.write_file(str(root / "f"), b"x" * 600, sync=False)
        io.fsync_dir(str(root))
        sim.image(str(tmp_path / "a"), random.Random(1), mode="drop_all")
    assert _read(tmp_path / "a" / "f") == b""


def test_build_dir_is_atomic_and_never_touches_other_files(tmp_path):
    dest = str(tmp_path / "d")
    (tmp_path / "d.tmp").write_bytes(b"someone else's")
    with pytest.raises(ZeroDivisionError):
        with io.build_dir(dest) as tmp:
            io.write_file(os.path.join(tmp, "a"), b"1")
            1 / 0
    assert not os.path.exists(dest)
    assert sorted(os.listdir(tmp_path)) == ["d.tmp"]      # the private temp dir is gone
    with io.build_dir(dest) as tmp:
        io.write_file(os.path.join(tmp, "a"), b"1")
    assert _read(os.path.join(dest, "a")) == b"1"
    with pytest.raises(lpgdb.OperationalError, match="exists"):
        with io.build_dir(dest):
            pass
    os.mkdir(tmp_path / "empty")
    with io.build_dir(str(tmp_path / "empty"), replace_empty=True) as tmp:
        io.write_file(os.path.join(tmp, "b"), b"2")
    assert os.listdir(tmp_path / "empty") == ["b"]


def test_link_or_copy_and_copy_file(tmp_path):
    src = str(tmp_path / "s")
    io.write_file(src, b"payload")
    io.link_or_copy(src, str(tmp_path / "l"))
    io.copy_file(src, str(tmp_path / "c"))
    assert _read(tmp_path / "l") == _read(tmp_path / "c") == b"payload"
    with pytest.raises(lpgdb.OperationalError, match="exists"):
        io.copy_file(src, str(tmp_path / "c"))


def test_remove_tree_never_deletes_through_a_symbolic_link(tmp_path):
    """A staging directory replaced by a link (by a user, or restored from an archive that kept
    links) is unlinked itself; the files it points to, and those a link inside it points to,
    stay."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"keep me")
    stage = tmp_path / "db" / "ship"
    stage.parent.mkdir()
    os.symlink(outside, stage)
    io.remove_tree(str(stage))
    assert not os.path.lexists(stage) and _read(outside / "precious") == b"keep me"

    stage.mkdir()
    (stage / "sub").mkdir()
    (stage / "sub" / "f").write_bytes(b"x")
    os.symlink(outside, stage / "sub" / "link")
    os.symlink(outside / "precious", stage / "file-link")
    io.remove_tree(str(stage))
    assert not os.path.lexists(stage) and _read(outside / "precious") == b"keep me"
    io.remove_tree(str(stage))             # missing: nothing to do


def _child_env():
    """The environment for a child python that imports this lpgdb."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(lpgdb.__file__)))
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join([here] + rest))


def _killed_builder(dest):
    """A child process that dies (os._exit, no cleanup) in the middle of build_dir(dest)."""
    import subprocess
    import sys
    code = ("import os, sys\n"
            "from lpgdb.storage import io\n"
            "with io.build_dir(sys.argv[1]) as tmp:\n"
            "    io.write_file(os.path.join(tmp, 'half'), b'x' * 1000)\n"
            "    os._exit(9)\n")
    env = _child_env()
    assert subprocess.run([sys.executable, "-c", code, dest], env=env).returncode == 9


def test_build_dir_sweeps_what_a_killed_builder_left(tmp_path):
    dest = str(tmp_path / "d")
    _killed_builder(dest)
    left = sorted(os.listdir(tmp_path))
    assert len(left) == 2 and left[0].startswith(".d.tmp-") and left[1] == left[0] + ".lock"
    (tmp_path / "d.tmp").write_bytes(b"someone else's")
    os.mkdir(tmp_path / ".other.tmp-0123456789ab")          # another destination's build
    (tmp_path / ".other.tmp-0123456789ab.lock").write_bytes(b"")
    with io.build_dir(dest) as tmp:
        io.write_file(os.path.join(tmp, "a"), b"1")
    assert sorted(os.listdir(tmp_path)) == [".other.tmp-0123456789ab",
                                            ".other.tmp-0123456789ab.lock", "d", "d.tmp"]
    assert os.listdir(dest) == ["a"]


def test_build_dir_never_sweeps_a_live_build(tmp_path):
    dest = str(tmp_path / "d")
    with io.build_dir(dest) as first:
        io.write_file(os.path.join(first, "a"), b"1")
        with pytest.raises(ZeroDivisionError):
            with io.build_dir(dest):          # sweeps: the first build's lock is held
                1 / 0
        assert os.listdir(first) == ["a"]
    assert os.listdir(dest) == ["a"]
    assert sorted(os.listdir(tmp_path)) == ["d"]


def test_restore_after_a_killed_restore_leaves_nothing_behind(tmp_path):
    import signal
    import subprocess
    import sys
    path, bak, dest = str(tmp_path / "db"), str(tmp_path / "bak"), str(tmp_path / "r")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            for i in range(200):
                tx.create_node(["P"], {"i": i, "s": "x" * 200})
        db.backup(bak)
    code = ("import os, signal, sys, lpgdb\n"
            "from lpgdb.storage import io\n"
            "real = io.fsync_dir\n"
            "def die(*a, **k):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "io.fsync_dir = die\n"
            "lpgdb.restore(sys.argv[1], sys.argv[2])\n")
    env = _child_env()
    rc = subprocess.run([sys.executable, "-c", code, bak, dest], env=env).returncode
    assert rc == -signal.SIGKILL
    assert any(n.startswith(".r.tmp-") for n in os.listdir(tmp_path))
    lpgdb.restore(bak, dest)
    assert sorted(os.listdir(tmp_path)) == ["bak", "db", "r"]
    with lpgdb.connect(dest, readonly=True) as db:
        with db.snapshot() as s:
            assert sorted(n["i"] for n in s.find_nodes("P")) == list(range(200))
