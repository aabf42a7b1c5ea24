"""A real disk-full through the real kernel (design/storage.md §3.3 D): a forked writer runs with
``RLIMIT_FSIZE`` (SIGXFSZ ignored), so writes past the limit come back short and then fail
with EFBIG, like a full disk.  Whatever fails must fail typed ("disk full"), acknowledged
commits must survive, and the database must open normally once there is room again."""
import os
import resource
import signal

import lpgdb

from . import workload as w

SEG = 128 * 1024


def _limited_writer(path, limit, n, wfd):
    """Child: commit n transactions of ~4 KiB under a file-size limit; report what happened."""
    code = 0
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        try:
            db = lpgdb.connect(path, wal_segment_size=SEG, checkpoint_wal_bytes=32 * 1024)
        except lpgdb.OperationalError as e:
            os.write(wfd, f"open-error {e.reason}\n".encode())
            return
        start = db.snapshot().node_count("C")
        for i in range(start, start + n):
            try:
                with db.transaction() as tx:
                    tx.create_node("C", {"i": i, "pad": "p" * 4000})
                os.write(wfd, f"ack {i}\n".encode())
            except lpgdb.OperationalError as e:
                os.write(wfd, f"error {e.reason} {type(e).__name__} {e}\n".encode())
            except BaseException as e:
                os.write(wfd, f"untyped {type(e).__name__} {e}\n".encode())
        try:
            db.checkpoint()
            os.write(wfd, b"checkpoint ok\n")
        except lpgdb.OperationalError as e:
            os.write(wfd, f"checkpoint-error {e.reason}\n".encode())
        except BaseException as e:
            os.write(wfd, f"untyped {type(e).__name__} {e}\n".encode())
        w.crash(db)
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        os.write(wfd, f"untyped {type(e).__name__} {e}\n".encode())
        code = 1
    finally:
        os._exit(code)


def _run(path, limit, n):
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _limited_writer(path, limit, n, wfd)
    os.close(wfd)
    os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    lines = data.decode().splitlines()
    assert not [x for x in lines if x.startswith("untyped")], lines
    return lines


def _reopen(path):
    with lpgdb.connect(path, wal_segment_size=SEG) as db, db.snapshot() as s:
        db.verify()
        return sorted(n["i"] for n in s.nodes("C"))


def test_real_file_size_limit_fails_typed_and_leaves_an_openable_database(tmp_path):
    path = str(tmp_path / "db")
    # 1. room for the log but not for a grown partition file: checkpoints fail, commits go on
    lines = _run(path, 300 * 1024, 90)
    acked = [int(x.split()[1]) for x in lines if x.startswith("ack")]
    assert acked == list(range(90)), lines[-5:]
    assert "checkpoint-error disk_full" in lines, lines[-5:]
    assert _reopen(path) == acked
    # 2. no room even for a new log segment: commits are refused, typed, nothing half-written
    lines = _run(path, 64 * 1024, 40)
    acked2 = [int(x.split()[1]) for x in lines if x.startswith("ack")]
    errors = [x for x in lines if x.startswith(("error", "open-error"))]
    assert errors and all("disk_full" in x for x in errors), lines[-5:]
    got = _reopen(path)                         # room again: opens, every acknowledged commit
    assert got == acked + acked2
    with lpgdb.connect(path, wal_segment_size=SEG) as db:
        with db.transaction() as tx:
            tx.create_node("C", {"i": len(got)})
    assert _reopen(path) == list(range(len(got) + 1))
