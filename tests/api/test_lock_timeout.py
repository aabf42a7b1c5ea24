"""connect(..., timeout=s): wait for the writer lock like sqlite3's busy timeout."""
import multiprocessing as mp
import threading

import pytest

import lpgdb


def _hold(path, ready, release):
    with lpgdb.connect(path):
        ready.set()
        release.wait(30)


@pytest.fixture
def holder(db_path):
    lpgdb.connect(db_path).close()
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(db_path, ready, release))
    p.start()
    assert ready.wait(30)
    yield release
    release.set()
    p.join(30)


def test_without_timeout_a_locked_database_fails_at_once_with_a_reason(db_path, holder):
    with pytest.raises(lpgdb.OperationalError, match="timeout=SECONDS") as e:
        lpgdb.connect(db_path)
    assert e.value.reason == "locked"
    with pytest.raises(lpgdb.OperationalError, match="after waiting 0.05s") as e:
        lpgdb.connect(db_path, timeout=0.05)
    assert e.value.reason == "locked"
    with lpgdb.connect(db_path, readonly=True, timeout=0.05) as ro:   # readers take no lock
        assert ro.snapshot().node_count() == 0


def test_a_writer_waits_for_the_lock_to_be_released(db_path, holder):
    threading.Timer(0.3, holder.set).start()
    with lpgdb.connect(db_path, timeout=30) as db:   # returns once the holder closed
        db.execute("CREATE (:Waited)")
        assert db.execute("MATCH (n:Waited) RETURN count(n)").value() == [1]


def test_timeout_is_checked(tmp_path):
    for bad in (-1, "5", True, float("nan")):
        with pytest.raises(lpgdb.InterfaceError):
            lpgdb.connect(str(tmp_path / "db"), timeout=bad)
    with pytest.raises(lpgdb.OperationalError) as e:
        lpgdb.connect(str(tmp_path / "nothing"), create=False)
    assert e.value.reason == "no_database"
