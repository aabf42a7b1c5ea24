"""``lpgdb schema set|show|check|infer|draw``."""
from __future__ import annotations

import argparse
import sys

from .common import CliError, add_timeout, new_directory_on_failure, open_db, read_text


def cmd_schema(a: argparse.Namespace) -> int:
    if a.action == "set":
        if not a.file:
            raise CliError("a DDL file is required: lpgdb schema set DB FILE", status=2)
        from .. import parse_schema
        ddl = read_text(a.file, "PG-Schema DDL")
        parse_schema(ddl, a.graph_type)          # a bad schema fails before the database is touched
        with new_directory_on_failure(a.db):
            with open_db(a.db, create=True, timeout=a.timeout, readonly_flag=None) as db:
                gt = db.set_schema(ddl, a.graph_type)
                print(f"schema set: graph type {gt.name} ({gt.mode}); all stored data conforms")
                _print_warnings(gt)
        return 0
    with open_db(a.db, readonly=True) as db:
        if a.action == "show":
            print(db.schema if db.schema is not None else "-- no schema set")
            if db.schema is not None:
                _print_warnings(db.schema)
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


def _print_warnings(gt) -> None:
    for w in getattr(gt, "warnings", ()) or ():
        print(f"warning: {w}", file=sys.stderr)


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


def register(sub) -> None:
    s = sub.add_parser("schema", help="set, show, check, infer or draw the graph type")
    s.add_argument("action", choices=["set", "show", "check", "infer", "draw"])
    s.add_argument("db")
    s.add_argument("file", nargs="?", help="PG-Schema DDL file (for set)")
    s.add_argument("--graph-type", help="which graph type of the file to enforce (default: the last)")
    add_timeout(s)
    s.set_defaults(func=cmd_schema)
