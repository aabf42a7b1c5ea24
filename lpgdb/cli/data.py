"""Moving data in and out: ``import`` and ``export`` (the CSV format itself is csvio.py).

``lpgdb import`` is all or nothing: into a new database it is ``lpgdb.bulk_import`` (built
beside its path in bounded memory, renamed into place when whole); into an existing one
(``--append``) one ``db.bulk_load`` transaction.  Every file is read and checked, and either the
whole import is there or nothing is (and a database directory it created is removed again).
``export --format`` picks a writer from ``EXPORT_FORMATS`` (csv by default); other formats
register there.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional

import lpgdb

from .common import CliError, add_timeout, counted, new_directory_on_failure, open_db
from . import csvio

# name -> function(db, directory, args) -> dict with "nodes" and "edges" counts
EXPORT_FORMATS: Dict[str, Callable] = {
    "csv": lambda db, directory, a: csvio.export_csv(db, directory, delimiter=a.delimiter or ","),
    "neo4j": lambda db, directory, a: _export().export_neo4j(db, directory),
    "parquet": lambda db, directory, a: _export().export_parquet(db, directory),
}


def _export():
    from . import export
    return export

_DIALECT_DEFAULTS = {"delimiter": ",", "array_delimiter": ";", "quote": '"', "input_encoding": "utf-8",
                     "id_type": "string"}


def _import_options(a: argparse.Namespace) -> argparse.Namespace:
    """Merge an export directory's import.args under the command line's own options."""
    if not a.source:
        return a
    from .app import build_parser
    try:
        file_args = build_parser().parse_args(["import", a.db] + csvio.read_import_args(a.source))
    except SystemExit:
        raise CliError(f"{a.source}/import.args holds options lpgdb import does not accept") from None
    for key in _DIALECT_DEFAULTS:
        if getattr(a, key) is None:
            setattr(a, key, getattr(file_args, key))
    a.nodes = (file_args.nodes or []) + (a.nodes or [])
    a.edges = (file_args.edges or []) + (a.edges or [])
    return a


def _progress_bar(total: int, enabled: bool):
    """A rich progress bar on stderr (bytes read of ``total``, rate, ETA), or a no-op."""
    if not enabled:
        return None, (lambda n: None)
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task("reading", total=max(total, 1))
    seen = [0]

    def advance(n: int) -> None:
        seen[0] += n
        bar.update(task, advance=n, description="reading" if seen[0] < total else "committing")
    return bar, advance


def cmd_import(a: argparse.Namespace) -> int:
    a = _import_options(a)
    if not a.nodes and not a.edges:
        raise CliError("nothing to import: give node files with --nodes and edge files with --edges "
                       "(or the directory an export wrote)", status=2)
    opts = {k: getattr(a, k) if getattr(a, k) is not None else v for k, v in _DIALECT_DEFAULTS.items()}
    dialect = csvio.Dialect(opts["delimiter"], opts["array_delimiter"], opts["quote"],
                            opts["input_encoding"], opts["id_type"])
    groups = [csvio.parse_group("nodes", g) for g in a.nodes or []]
    egroups = [csvio.parse_group("edges", g) for g in a.edges or []]
    files = [f for g in groups + egroups for f in g.files]
    total = 0
    for f in files:
        try:
            total += os.path.getsize(f)
        except OSError:
            raise CliError(f"{f}: no such file (check the path)") from None
    for g in groups + egroups:            # every header is checked before the database is touched
        csvio.read_header(g, dialect)
    t0 = time.perf_counter()
    if not a.append and (not os.path.lexists(a.db) or (os.path.isdir(a.db) and not os.path.islink(a.db)
                                                        and not os.listdir(a.db))):
        # a new database: built beside its path in bounded memory, renamed into place when whole
        bar, advance = _progress_bar(total, a.progress if a.progress is not None else sys.stderr.isatty())
        try:
            if bar is not None:
                bar.start()
            n, m = lpgdb.bulk_import(a.db, nodes=[(g.labels, g.files) for g in groups],
                                     edges=[(g.labels, g.files) for g in egroups], delimiter=dialect.delimiter,
                                     array_delimiter=dialect.array_delimiter, quote=dialect.quote,
                                     encoding=dialect.encoding, id_type=dialect.id_type, progress=advance,
                                     indexes=_indexes(a))
        finally:
            if bar is not None:
                bar.stop()
        stats = {"nodes": n, "edges": m}
    else:
        stats = _import_into(a, groups, egroups, dialect, total)
    secs = time.perf_counter() - t0
    print(f"imported {counted(stats['nodes'], 'node')} and {counted(stats['edges'], 'edge')} from "
          f"{counted(len(files), 'file')} in {secs:.1f}s (all or nothing)")
    return 0


def _indexes(a) -> list:
    """``--index LABEL.PROPERTY`` options as (label, property) pairs."""
    out = []
    for spec in a.index or []:
        label, dot, prop = spec.partition(".")
        if not dot or not label or not prop:
            raise CliError(f"--index {spec!r}: give LABEL.PROPERTY (e.g. Person.id)", status=2)
        out.append((label, prop))
    return out


def _import_into(a, groups, egroups, dialect, total) -> Dict[str, int]:
    """``lpgdb import`` into an existing database: one db.bulk_load transaction."""
    with new_directory_on_failure(a.db):
        with open_db(a.db, create=True, timeout=a.timeout, readonly_flag=None) as db:
            if not a.append:
                with db.snapshot() as s:
                    have = s.node_count()
                if have:
                    raise CliError(f"{a.db!r} already holds {counted(have, 'node')}; importing would add the files' "
                                   f"nodes to them (a second import of the same files doubles them). Pass "
                                   f"--append to add anyway, or import into a new database")
            for label, prop in _indexes(a):
                db.create_index(label, prop)          # an existing one is kept as it is
            bar, advance = _progress_bar(total, a.progress if a.progress is not None else sys.stderr.isatty())
            try:
                if bar is not None:
                    bar.start()
                stats = csvio.import_csv(db, groups, egroups, dialect, progress=advance)
            finally:
                if bar is not None:
                    bar.stop()
    return stats


def cmd_export(a: argparse.Namespace) -> int:
    writer = EXPORT_FORMATS[a.format]
    with open_db(a.db, readonly=True) as db:
        stats = writer(db, a.dir, a)        # a failed export removes what it wrote
    print(f"exported {counted(stats['nodes'], 'node')} and {counted(stats['edges'], 'edge')} to {a.dir} "
          f"({a.format})"
          + (f"; import them with: lpgdb import NEWDB {a.dir}" if a.format in ("csv", "neo4j") else ""))
    return 0


def register(sub) -> None:
    s = sub.add_parser("import", help="load CSV files (the Neo4j admin-import format) in one transaction",
                       description="Load node and edge CSV files in the Neo4j admin-import format, as ONE "
                       "transaction: all or nothing. GROUP is [Label[:Label]=]FILE[,FILE...]: the first "
                       "file's first line is the header, later files are data only.")
    s.add_argument("db")
    s.add_argument("source", nargs="?", help="a directory written by lpgdb export (its import.args)")
    s.add_argument("--nodes", action="extend", nargs="+", metavar="GROUP", help="node files")
    s.add_argument("--edges", "--relationships", dest="edges", action="extend", nargs="+", metavar="GROUP",
                   help="edge files ([TYPE=]FILE[,FILE...])")
    s.add_argument("--delimiter", help="field delimiter: a character, TAB or U+XXXX (default ,)")
    s.add_argument("--array-delimiter", help="array element delimiter (default ;)")
    s.add_argument("--quote", help='quote character (default ")')
    s.add_argument("--input-encoding", help="text encoding of the files (default utf-8)")
    s.add_argument("--id-type", choices=["string", "integer"], help="how :ID values are read and stored "
                   "(default string)")
    s.add_argument("--append", action="store_true", help="import into a database that already holds nodes")
    s.add_argument("--index", action="append", metavar="LABEL.PROPERTY", default=[],
                   help="a hash index to create before loading (a new database: its key files are written "
                        "as the load goes); repeat for more")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true", default=None,
                   help="show the progress bar even when stderr is not a terminal")
    g.add_argument("--no-progress", dest="progress", action="store_false")
    add_timeout(s)
    s.set_defaults(func=cmd_import)
    s = sub.add_parser("export", help="write the graph as CSV, Neo4j/Neptune import files or Parquet",
                       description="csv: one CSV file per label set plus import.args (what `lpgdb import "
                       "DB DIR` reads back); neo4j: nodes.csv + edges.csv in the same format plus "
                       "constraints.cypher (keys as Neo4j constraints), for neo4j-admin import or Neptune's "
                       "bulk loader; parquet: one table per label (id + properties) and per edge type (src, "
                       "dst, id + properties), GraphFrames' column names (needs pyarrow: lpgdb[arrow])")
    s.add_argument("db")
    s.add_argument("dir", help="a new (or empty) directory")
    s.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="csv")
    s.add_argument("--delimiter", help="CSV field delimiter (default ,)")
    s.set_defaults(func=cmd_export)
