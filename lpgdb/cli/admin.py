"""Maintenance commands: ``backup``, ``restore``, ``verify``, ``checkpoint``."""
from __future__ import annotations

import argparse
import datetime as dt
import sys

from .common import open_db


def cmd_backup(a: argparse.Namespace) -> int:
    with open_db(a.db) as db:
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
            print(f"lpgdb restore: --until needs an ISO date-time, got {a.until!r}", file=sys.stderr)
            return 2
    elif a.lsn is not None:
        until = a.lsn
    restore(a.backup, a.dest, until=until)
    print(f"restored {a.backup} into {a.dest}" + (f" (up to {a.until or a.lsn})" if until is not None else ""))
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    with open_db(a.db, readonly=True) as db:
        db.verify()
        with db.snapshot() as s:
            n, e = s.node_count(), s.edge_count()
        vs = db.check()
    print(f"ok: every checksum and structure invariant holds; {n:,} nodes, {e:,} edges; "
          f"{len(vs)} schema violations")
    return 1 if vs else 0


def cmd_checkpoint(a: argparse.Namespace) -> int:
    with open_db(a.db) as db:
        db.checkpoint()
    print("checkpointed")
    return 0


def register(sub) -> None:
    s = sub.add_parser("backup", help="consistent online copy into a new directory")
    s.add_argument("db")
    s.add_argument("dest")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser("restore", help="a new database from a backup, or from an archive up to a point in time")
    s.add_argument("backup", help="a backup directory, or an archive (connect(..., archive=DIR))")
    s.add_argument("dest")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--until", help="archives: restore the last commit at or before this ISO date-time")
    g.add_argument("--lsn", type=int, help="archives: restore up to this log position")
    s.set_defaults(func=cmd_restore)
    s = sub.add_parser("verify", help="check every checksum, invariant and the schema")
    s.add_argument("db")
    s.set_defaults(func=cmd_verify)
    s = sub.add_parser("checkpoint", help="materialize the log into partition files")
    s.add_argument("db")
    s.set_defaults(func=cmd_checkpoint)
