"""Maintenance commands: ``backup``, ``restore``, ``replica``, ``verify``, ``checkpoint``, ``upgrade``."""
from __future__ import annotations

import argparse
import datetime as dt

from .common import CliError, add_timeout, counted, open_db


def cmd_backup(a: argparse.Namespace) -> int:
    with open_db(a.db, readonly=True) as db:     # no lock: beside a running writer too
        db.backup(a.dest)
    print(f"backup written to {a.dest}")
    return 0


def cmd_restore(a: argparse.Namespace) -> int:
    from .. import restore
    until = None
    if a.until:
        try:
            until = dt.datetime.fromisoformat(a.until)
        except ValueError:
            raise CliError(f"--until needs an ISO date-time such as 2024-05-01T12:00:00, got {a.until!r}",
                           status=2) from None
    restore(a.source, a.dest, until=until, lsn=a.lsn)
    point = a.until or a.lsn
    print(f"restored {a.source} into {a.dest}" + (f" (up to {point})" if point is not None else ""))
    return 0


def cmd_replica(a: argparse.Namespace) -> int:
    import time
    from .. import connect
    with connect(a.dir, readonly=True, follow=a.source, follow_interval=a.interval) as db:
        print(f"{a.dir}: a replica of {a.source}; following (Ctrl-C stops). Open it beside this "
              f"with connect({a.dir!r}, readonly=True).", flush=True)
        try:
            while True:
                time.sleep(a.report)
                lag = db.replica_lag
                with db.snapshot() as s:
                    print(f"lsn {s.lsn}  lag {lag.seconds:.1f} s / {lag.lsn} bytes", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    with open_db(a.db, readonly=True) as db:
        db.verify()
        with db.snapshot() as s:
            n, e = s.node_count(), s.edge_count()
        vs = db.check()
    print(f"ok: every checksum and structure invariant holds; {counted(n, 'node')}, {counted(e, 'edge')}; "
          f"{counted(len(vs), 'schema violation')}")
    return 1 if vs else 0


def cmd_checkpoint(a: argparse.Namespace) -> int:
    with open_db(a.db, timeout=a.timeout, readonly_flag=None) as db:
        db.checkpoint()
    print("checkpointed")
    return 0

def cmd_upgrade(a: argparse.Namespace) -> int:
    from .. import upgrade
    res = upgrade(a.db)
    if res["backup"] is None:
        print(f"{a.db} is already in the current storage format; nothing to do")
    else:
        print(f"upgraded {a.db} from storage format {res['format']}: {counted(res['nodes'], 'node')}, "
              f"{counted(res['edges'], 'edge')}, {counted(res['commits'], 'logged commit')} after its last "
              f"checkpoint. "
              f"The old files are kept in {res['backup']} (delete it once satisfied).")
    return 0


def register(sub) -> None:
    s = sub.add_parser("backup", help="consistent online copy into a new directory")
    s.add_argument("db")
    s.add_argument("dest")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser("restore", help="a new database from a backup, or from an archive up to a point in time")
    s.add_argument("source", help="a backup directory, or an archive: s3://bucket/prefix or a directory")
    s.add_argument("dest", help="the new database directory")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--until", help="archives: restore the last commit at or before this ISO date-time")
    g.add_argument("--lsn", type=int, help="archives: restore up to this log position")
    s.set_defaults(func=cmd_restore)
    s = sub.add_parser("replica", help="keep a local read-only copy of an archived database, following it")
    s.add_argument("source", help="the archive: s3://bucket/prefix or a directory")
    s.add_argument("dir", help="the replica's directory (bootstrapped from the archive if new)")
    s.add_argument("--interval", type=float, default=0.25, help="seconds between polls of the archive")
    s.add_argument("--report", type=float, default=10.0, help="seconds between progress lines")
    s.set_defaults(func=cmd_replica)
    s = sub.add_parser("verify", help="check every checksum, invariant and the schema")
    s.add_argument("db")
    s.set_defaults(func=cmd_verify)
    s = sub.add_parser("upgrade", help="convert a database written by lpgdb 0.1.0 to the current storage format")
    s.add_argument("db")
    s.set_defaults(func=cmd_upgrade)
    s = sub.add_parser("checkpoint", help="materialize the log into partition files")
    s.add_argument("db")
    add_timeout(s)
    s.set_defaults(func=cmd_checkpoint)
