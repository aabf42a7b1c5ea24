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
    from . import export
    from .csvio import export_csv
    run = {"csv": export_csv, "neo4j": export.export_neo4j, "parquet": export.export_parquet}[a.format]
    with open_db(a.db, readonly=True) as db:
        stats = run(db, a.dir)
    print(f"exported {stats['nodes']:,} nodes and {stats['edges']:,} edges to {a.dir} ({a.format})")
    return 0


def register(sub) -> None:
    s = sub.add_parser("import", help="bulk-load CSV files (openCypher/Neo4j import format)")
    s.add_argument("db")
    s.add_argument("--nodes", nargs="+", metavar="CSV")
    s.add_argument("--edges", nargs="+", metavar="CSV")
    s.add_argument("--progress", action="store_true", help="show progress even when not on a terminal")
    s.set_defaults(func=cmd_import)
    s = sub.add_parser("export", help="write the graph as CSV, Neo4j/Neptune import files or Parquet",
                       description="csv: nodes.csv + edges.csv (what `lpgdb import` reads); neo4j: "
                       "the same openCypher CSV plus constraints.cypher (keys as Neo4j constraints), "
                       "for neo4j-admin import or Neptune's bulk loader; parquet: one table per "
                       "label (id + properties) and per edge type (src, dst, id + properties), "
                       "GraphFrames' column names (needs pyarrow: lpgdb[arrow])")
    s.add_argument("db")
    s.add_argument("dir")
    s.add_argument("--format", choices=("csv", "neo4j", "parquet"), default="csv")
    s.set_defaults(func=cmd_export)
