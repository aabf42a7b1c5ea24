"""The ``lpgdb`` command (also ``python -m lpgdb``): a client of the public API like any other.

    lpgdb demo [DB]                         build, enforce, persist and query a small fraud graph
    lpgdb shell DB [--readonly] [-c TEXT] [--bail]   interactive shell, or statements from stdin / -c
    lpgdb query DB "QUERY" [-p k=v ...] [--json]     one query (read-only queries open read-only)
    lpgdb schema set DB [FILE|-] | show | check | infer | draw DB [--format dot|mermaid|svg|png]
    lpgdb import DB [DIR] --nodes [Label=]F[,F..] --edges [TYPE=]F[,F..]   one transaction
    lpgdb export DB DIR [--format csv]      one CSV file per label set + import.args
    lpgdb index list | create | drop DB [LABEL PROP...]
    lpgdb backup DB DEST | verify DB | checkpoint DB | upgrade DB
    lpgdb restore BACKUP_OR_ARCHIVE DEST [--until ISO-TIME | --lsn N]   (point in time from archives)

Module map: app.py (argument parsing, dispatch, error reporting; the list of command modules),
common.py (opening a database with CLI-worded errors, reading files, parameters), output.py
(tables, values, JSON lines), and one module per command group, each with a
``register(subparsers)``: demo.py, shell.py (``shell`` and ``query``), schema.py (and draw.py),
data.py (``import``/``export``; the CSV format is csvio.py), index.py, admin.py (backup,
restore, verify, checkpoint, upgrade).  Must not: import anything of lpgdb but its public names.
"""
from .app import build_parser, main

__all__ = ["main", "build_parser"]
