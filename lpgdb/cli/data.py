"""Moving data in and out: ``import`` and ``export`` (the CSV format itself is csvio.py)."""
from __future__ import annotations

import argparse

from .common import open_db


def cmd_import(a: argparse.Namespace) -> int:
    from .csvio import import_csv
    with open_db(a.db, create=True) as db:
        stats = import_csv(db, a.nodes or [], a.edges or [], progress=True if a.progress else None)
    print(f"imported {stats['nodes']:,} nodes and {stats['edges']:,} edges")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .csvio import export_csv
    with open_db(a.db, readonly=True) as db:
        stats = export_csv(db, a.dir)
    print(f"exported {stats['nodes']:,} nodes and {stats['edges']:,} edges to {a.dir}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("import", help="bulk-load CSV files (openCypher/Neo4j import format)")
    s.add_argument("db")
    s.add_argument("--nodes", nargs="+", metavar="CSV")
    s.add_argument("--edges", nargs="+", metavar="CSV")
    s.add_argument("--progress", action="store_true", help="show progress even when not on a terminal")
    s.set_defaults(func=cmd_import)
    s = sub.add_parser("export", help="write nodes.csv and edges.csv")
    s.add_argument("db")
    s.add_argument("dir")
    s.set_defaults(func=cmd_export)
