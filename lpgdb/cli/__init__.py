"""The ``lpgdb`` command (also ``python -m lpgdb``): a client of the public API like any other.

    lpgdb demo [DB]                       build, enforce, persist and query a small fraud graph
    lpgdb shell DB                        interactive openCypher-style shell
    lpgdb query DB "QUERY" [-p k=v ...]   run one query, print a table (or --json)
    lpgdb schema set DB FILE [--graph-type NAME] | show DB | check DB | infer DB | draw DB
    lpgdb import DB --nodes F [F ...] --edges F [F ...]   bulk CSV import with progress
    lpgdb export DB DIR                   nodes.csv + edges.csv (the import format)
    lpgdb backup DB DEST | verify DB | checkpoint DB
    lpgdb restore BACKUP_OR_ARCHIVE DEST [--until ISO-TIME | --lsn N]   (point in time from archives)

Module map: main.py (argument parsing, dispatch, error reporting; the list of command modules),
common.py (opening a database, parameters), one module per command group, each with a
``register(subparsers)``: demo.py, shell.py (``shell`` and ``query``), schema.py, data.py
(``import``/``export``; the CSV format is csvio.py), admin.py (backup, restore, verify,
checkpoint).  Must not: import anything of lpgdb but its public names (``lpgdb.*``).
"""
from .main import build_parser, main

__all__ = ["main", "build_parser"]
