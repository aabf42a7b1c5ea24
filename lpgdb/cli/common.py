"""Helpers shared by the commands: opening a database, parsing ``key=value`` parameters."""
from __future__ import annotations

import argparse
import json
from typing import Any, Tuple


def open_db(path: str, readonly: bool = False, create: bool = False):
    """Open the database at ``path`` for a command (through the public API only)."""
    from .. import connect
    return connect(path, readonly=readonly, create=create)


def param(text: str) -> Tuple[str, Any]:
    """``key=value`` (the value is JSON, or else a bare string) as an argparse type."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"parameters are key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
