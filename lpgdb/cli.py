"""The ``lpgdb`` command (also ``python -m lpgdb``).

    lpgdb demo [DB]                       build, enforce, persist and query a small fraud graph
    lpgdb shell DB                        interactive openCypher-style shell
    lpgdb query DB "QUERY" [-p k=v ...]   run one query, print a table (or --json)
    lpgdb schema set DB FILE [--graph-type NAME] | show DB | check DB | infer DB | draw DB
    lpgdb import DB --nodes F [F ...] --edges F [F ...]   bulk CSV import with progress
    lpgdb export DB DIR                   nodes.csv + edges.csv (the import format)
    lpgdb backup DB DEST | verify DB | checkpoint DB
    lpgdb restore BACKUP_OR_ARCHIVE DEST [--until ISO-TIME | --lsn N]   (point in time from archives)

Exit status: 0 success, 1 a database error (message on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import errors


def _open(path, readonly=False, create=False):
    from . import connect
    return connect(path, readonly=readonly, create=create)


def _param(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"parameters are key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cmd_demo(a) -> int:
    from . import demo
    demo.run(a.db)
    return 0


def cmd_shell(a) -> int:
    from . import shell
    with _open(a.db, readonly=a.readonly, create=not a.readonly) as db:
        return shell.run_shell(db) or 0


def cmd_query(a) -> int:
    from . import shell
    with _open(a.db, readonly=a.readonly) as db:
        return shell.run_query(db, a.query, dict(a.param or ()), as_json=a.json) or 0


def cmd_schema(a) -> int:
    if a.action == "set":
        with open(a.file, encoding="utf-8") as f:
            ddl = f.read()
        with _open(a.db, create=True) as db:
            gt = db.set_schema(ddl, a.graph_type)
            print(f"schema set: graph type {gt.name} ({gt.mode}); all stored data conforms")
        return 0
    readonly = a.action != "set"
    with _open(a.db, readonly=readonly) as db:
        if a.action == "show":
            print(db.schema if db.schema is not None else "-- no schema set")
        elif a.action == "check":
            vs = db.check()
            for v in vs:
                print(f"[{v.kind}] {v.message}")
            print(f"{len(vs)} violation{'s' if len(vs) != 1 else ''}")
            return 1 if vs else 0
        elif a.action == "infer":
            print(db.infer_schema(), end="")
        elif a.action == "draw":
            gt = db.schema if db.schema is not None else db.infer_schema()
            print(draw_dot(gt), end="")
    return 0


def draw_dot(gt) -> str:
    """Graphviz DOT of a graph type: node types as boxes, edge types as arrows."""
    def q(s):
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [f"digraph {q(gt.name)} {{", "  rankdir=LR; node [shape=box, fontname=Helvetica];"]
    for name, t in sorted(gt.node_types.items()):
        body = str(t.definition)
        style = ", style=dashed" if t.abstract else ""
        lines.append(f"  {q(name)} [label={q(body)}{style}];")
    extra = set()

    def endpoint(spec):
        text = str(spec.labels) if spec.labels is not None else "any"
        if text in gt.node_types:
            return text
        if text not in extra:
            extra.add(text)
            lines.append(f"  {q(text)} [shape=ellipse];")
        return text
    for name, t in sorted(gt.edge_types.items()):
        d = t.definition
        mid = str(d.spec) or name
        lines.append(f"  {q(endpoint(d.source))} -> {q(endpoint(d.target))} [label={q(name + ' ' + mid)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cmd_import(a) -> int:
    from .csvio import import_csv
    with _open(a.db, create=True) as db:
        stats = import_csv(db, a.nodes or [], a.edges or [], progress=True if a.progress else None)
    print(f"imported {stats['nodes']:,} nodes and {stats['edges']:,} edges")
    return 0


def cmd_export(a) -> int:
    from .csvio import export_csv
    with _open(a.db, readonly=True) as db:
        stats = export_csv(db, a.dir)
    print(f"exported {stats['nodes']:,} nodes and {stats['edges']:,} edges to {a.dir}")
    return 0


def cmd_backup(a) -> int:
    with _open(a.db) as db:
        db.backup(a.dest)
    print(f"backup written to {a.dest}")
    return 0


def cmd_restore(a) -> int:
    import datetime as dt
    from . import restore
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


def cmd_verify(a) -> int:
    with _open(a.db, readonly=True) as db:
        db.verify()
        with db.snapshot() as s:
            n, e = s.node_count(), s.edge_count()
        vs = db.check()
    print(f"ok: every checksum and structure invariant holds; {n:,} nodes, {e:,} edges; "
          f"{len(vs)} schema violations")
    return 1 if vs else 0


def cmd_checkpoint(a) -> int:
    with _open(a.db) as db:
        db.checkpoint()
    print("checkpointed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpgdb", description="lpgdb: an embedded property-graph database "
                                "with PG-Schema enforcement")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("demo", help="build and query a small fraud graph")
    s.add_argument("db", nargs="?", help="directory to create (default: a temporary one)")
    s.set_defaults(func=cmd_demo)
    s = sub.add_parser("shell", help="interactive query shell")
    s.add_argument("db")
    s.add_argument("--readonly", action="store_true", help="open beside a running writer")
    s.set_defaults(func=cmd_shell)
    s = sub.add_parser("query", help="run one query")
    s.add_argument("db")
    s.add_argument("query")
    s.add_argument("-p", "--param", action="append", type=_param, help="parameter key=value (JSON value)")
    s.add_argument("--json", action="store_true", help="print rows as JSON lines")
    s.add_argument("--readonly", action="store_true")
    s.set_defaults(func=cmd_query)
    s = sub.add_parser("schema", help="set, show, check, infer or draw the graph type")
    s.add_argument("action", choices=["set", "show", "check", "infer", "draw"])
    s.add_argument("db")
    s.add_argument("file", nargs="?", help="PG-Schema DDL file (for set)")
    s.add_argument("--graph-type", help="which graph type of the file to enforce (default: the last)")
    s.set_defaults(func=cmd_schema)
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
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "schema" and args.action == "set" and not args.file:
        print("lpgdb schema set: a DDL file is required", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except errors.Error as e:
        print(f"lpgdb: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyboardInterrupt) as e:
        print(f"lpgdb: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
