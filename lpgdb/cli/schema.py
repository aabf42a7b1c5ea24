"""``lpgdb schema set|show|check|infer|draw``."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from .common import CliError, add_timeout, new_directory_on_failure, open_db, read_text


def cmd_schema(a: argparse.Namespace) -> int:
    if a.action == "set":
        if not a.file and sys.stdin.isatty():    # nothing piped: say so rather than wait for typing
            raise CliError("a DDL file is required: lpgdb schema set DB FILE, or lpgdb schema set DB - "
                           "to read it from stdin", status=2)
        from .. import parse_schema
        ddl = read_text(a.file or "-", "PG-Schema DDL")
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
            if db.schema is None:
                print("-- no schema set: drawing the inferred one (lpgdb schema infer)", file=sys.stderr)
            _draw(gt, a.format, a.output)
    return 0


def _draw(gt, fmt: str, output: Optional[str]) -> None:
    from . import draw
    if fmt == "mermaid":
        text = draw.draw_mermaid(gt)
    else:
        text = draw.draw_dot(gt)
    if fmt in ("svg", "png"):
        try:
            data = draw.render(text, fmt)
        except draw.GraphvizMissing:
            raise CliError(f"{fmt.upper()} needs Graphviz's dot program, which is not installed (Debian/Ubuntu: "
                           f"apt install graphviz; macOS: brew install graphviz); or write --format dot "
                           f"(and render it elsewhere) or --format mermaid (renders on GitHub)") from None
        if output is None and sys.stdout.isatty():
            raise CliError(f"{fmt.upper()} is binary: write it to a file with -o FILE.{fmt}", status=2)
    else:
        data = text.encode("utf-8")
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(output, "wb") as f:
            f.write(data)
        print(f"wrote {output}", file=sys.stderr)


def _print_warnings(gt) -> None:
    for w in getattr(gt, "warnings", ()) or ():
        print(f"warning: {w}", file=sys.stderr)


def register(sub) -> None:
    s = sub.add_parser("schema", help="set, show, check, infer or draw the graph type")
    s.add_argument("action", choices=["set", "show", "check", "infer", "draw"])
    s.add_argument("db")
    s.add_argument("file", nargs="?", help="PG-Schema DDL file (for set; - or none: read stdin)")
    s.add_argument("--graph-type", help="which graph type of the file to enforce (default: the last)")
    s.add_argument("--format", choices=["dot", "mermaid", "svg", "png"], default="dot",
                   help="draw: Graphviz DOT (default), Mermaid, or SVG/PNG (needs Graphviz's dot)")
    s.add_argument("-o", "--output", metavar="FILE", help="draw: write the picture to FILE")
    add_timeout(s)
    s.set_defaults(func=cmd_schema)
