"""The ``lpgdb`` command line: argument parsing, dispatch and error reporting.

Each command lives in one module of this package that exposes ``register(subparsers)``; it adds
its subparser(s) and sets ``func`` (called with the parsed arguments, returns the exit status).
To add a command, write such a module and list it in ``_COMMAND_MODULES``.

Exit status: 0 success, 1 a database error (message on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .. import Error
from . import admin, data, demo, schema, shell

__all__ = ["main", "build_parser"]

# The order here is the order of ``lpgdb --help``.
_COMMAND_MODULES = (demo, shell, schema, data, admin)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lpgdb`` command, with every subcommand registered."""
    p = argparse.ArgumentParser(prog="lpgdb", description="lpgdb: an embedded property-graph database "
                                "with PG-Schema enforcement")
    sub = p.add_subparsers(dest="command", required=True)
    for module in _COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``lpgdb`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Error as e:
        print(f"lpgdb: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyboardInterrupt) as e:
        print(f"lpgdb: {e}", file=sys.stderr)
        return 1
