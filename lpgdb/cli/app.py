"""The ``lpgdb`` command line: argument parsing, dispatch and error reporting.

Each command lives in one module of this package that exposes ``register(subparsers)``; it adds
its subparser(s) and sets ``func`` (called with the parsed arguments, returns the exit status).
To add a command, write such a module and list it in ``_COMMAND_MODULES``.

Errors: no traceback ever reaches the user.  A failure prints ``lpgdb <command>: <what, where,
what to do>`` on stderr (details such as a query's caret or a violation list follow, indented)
and exits non-zero.  ``LPGDB_DEBUG=1`` prints the traceback of unexpected errors too.

Exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import List, Optional, Sequence

from .. import Error, SchemaViolationError, __version__
from . import admin, data, demo, index, schema, shell
from .common import CliError

__all__ = ["main", "build_parser"]

# The order here is the order of ``lpgdb --help``.
_COMMAND_MODULES = (demo, shell, schema, data, index, admin)
_MAX_DETAIL_LINES = 25


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lpgdb`` command, with every subcommand registered."""
    p = argparse.ArgumentParser(prog="lpgdb", description="lpgdb: an embedded property-graph database "
                                "with PG-Schema enforcement")
    p.add_argument("--version", action="version", version=f"lpgdb {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    return p


def _violation_lines(e: SchemaViolationError) -> List[str]:
    """Where an import's violating rows came from, when the import could tell."""
    sources = getattr(e, "import_sources", None) or {}
    out, per_kind = [], {}
    for v in e.violations:
        where = sources.get(v.id) if v.element == "node" else None
        if where and per_kind.get(v.kind, 0) < 3:      # the first examples of each kind
            per_kind[v.kind] = per_kind.get(v.kind, 0) + 1
            out.append(f"{where}: [{v.kind}] {v.message}")
    return out


def report(command: str, e: BaseException) -> int:
    """Print the one-line report of ``e`` (plus indented details) and return the exit status."""
    prog = f"lpgdb {command}" if command else "lpgdb"
    if isinstance(e, CliError):
        print(f"{prog}: {e}", file=sys.stderr)
        return e.status
    if isinstance(e, KeyboardInterrupt):
        print(f"{prog}: interrupted; nothing more was done", file=sys.stderr)
        return 130
    if isinstance(e, Error):
        head, _, rest = str(e).partition("\n")
        public = next(c for c in type(e).__mro__ if c.__module__ == "lpgdb.errors")
        print(f"{prog}: {public.__name__}: {head}", file=sys.stderr)
        details = rest.splitlines()
        if isinstance(e, SchemaViolationError):
            located = _violation_lines(e)
            if located:       # the same examples, now with their file:line, replace the plain ones
                shown = {line.split("] ", 1)[1] for line in located}
                rest = [d for d in details if not any(d.rstrip().endswith(m) for m in shown)]
                details = ["violations of imported rows (file:line):"] + located + rest
        for line in details[:_MAX_DETAIL_LINES]:
            print(f"    {line}", file=sys.stderr)
        if len(details) > _MAX_DETAIL_LINES:
            print(f"    ... ({len(details) - _MAX_DETAIL_LINES} more lines)", file=sys.stderr)
        return 1
    if isinstance(e, OSError):
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"{prog}: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    print(f"{prog}: internal error ({type(e).__name__}: {e}); this is a bug in lpgdb, please report it with "
          f"the command you ran (LPGDB_DEBUG=1 shows the traceback)", file=sys.stderr)
    if os.environ.get("LPGDB_DEBUG"):
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``lpgdb`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    for arg in sys.argv[1:] if argv is None else argv:
        try:
            os.fsencode(arg)     # what a shell passes always encodes (undecodable bytes: surrogateescape)
        except (UnicodeEncodeError, TypeError):
            parser.error(f"argument {arg!r} has a character no file name or text can hold (a lone surrogate)")
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:       # `lpgdb query ... | head`: the reader left; not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except BaseException as e:    # noqa: BLE001 - the one place every failure is turned into a report
        if isinstance(e, (SystemExit, GeneratorExit)):
            raise
        return report(args.command, e)
