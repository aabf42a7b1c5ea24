"""Helpers shared by the commands: opening a database with CLI-worded errors, parameters.

Every failure a command can meet ends as one ``CliError`` (or an ``lpgdb.Error``) that main.py
prints as one line: what went wrong, where, and what to do, naming this command's own flags.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import shutil
import sys
from typing import Any, Iterator, Optional, Tuple

from .. import OperationalError, connect


class CliError(Exception):
    """A command failed: ``message`` is the one line to print, ``status`` the exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _did_you_mean(path: str) -> str:
    """' (did you mean 'x'?)' when a sibling of ``path`` with a close name is an lpgdb database."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        names = [n for n in os.listdir(parent) if os.path.isdir(os.path.join(parent, n))]
    except OSError:
        return ""
    for name in difflib.get_close_matches(os.path.basename(os.path.normpath(path)), names, n=3, cutoff=0.6):
        try:   # only the few close names are opened (read-only, no lock)
            connect(os.path.join(parent, name), readonly=True, create=False).close()
        except Exception:
            continue
        return f" (did you mean {os.path.join(os.path.dirname(path), name)!r}?)"
    return ""


def open_db(path: str, *, readonly: bool = False, create: bool = False, timeout: Optional[float] = None,
            readonly_flag: Optional[str] = "--readonly"):
    """Open the database at ``path`` for a command, turning the errors a user can act on into
    ``CliError`` messages that name the command's flags.

    ``create=False`` (every command but demo, import and schema set): a missing database is an
    error that says so, never a new empty one.  ``readonly_flag`` is the flag that opens this
    command read-only (None when it has none), for the hint of a locked database.
    """
    try:
        return connect(path, readonly=readonly, create=create, timeout=timeout)
    except OperationalError as e:
        reason = getattr(e, "reason", None)
        if reason == "no_database":
            raise CliError(f"no lpgdb database at {path!r}{_did_you_mean(path)}; check the path (commands "
                           f"other than demo, import and schema set never create a database)") from None
        if reason == "locked":
            waited = f" after waiting {timeout:g}s" if timeout else ""
            how = "wait for it with --timeout SECONDS"
            if readonly_flag:
                how += f", or read beside it with {readonly_flag}"
            raise CliError(f"the database {path!r} is locked by another process that writes to it{waited}; "
                           f"{how}") from None
        raise


def counted(n: int, noun: str) -> str:
    """``"1 edge"``, ``"2,000 edges"``: a count and its noun, singular for exactly one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


@contextlib.contextmanager
def new_directory_on_failure(path: str) -> Iterator[None]:
    """Remove ``path`` if it did not exist before and the block fails (so a failed import or
    ``schema set`` leaves no new directory behind)."""
    existed = os.path.lexists(path)
    try:
        yield
    except BaseException:
        if not existed and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def new_files_on_failure(directory: str) -> Iterator[None]:
    """Remove what the block added to ``directory`` if it fails: the directory itself if it did
    not exist before, else the entries that were not in it (so a failed export leaves nothing
    half-written behind, and nothing that was there goes)."""
    before = set(os.listdir(directory)) if os.path.isdir(directory) else None
    existed = os.path.lexists(directory)
    try:
        yield
    except BaseException:
        if not existed:
            if os.path.isdir(directory):
                shutil.rmtree(directory, ignore_errors=True)
        elif before is not None and os.path.isdir(directory):
            for name in set(os.listdir(directory)) - before:
                p = os.path.join(directory, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(p)
        raise


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of a file (``-``: of stdin), or a CliError saying why it cannot be had."""
    try:
        if path == "-":
            path = "<stdin>"
            src = getattr(sys.stdin, "buffer", None)
            if src is None:                  # a text stream put in place of stdin
                return sys.stdin.read()
            data = src.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file (check the path of the {what})") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory; give the {what} file") from None
    except OSError as e:
        raise CliError(f"{path}: cannot be read: {e.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CliError(f"{path}:{line}:{col}: byte 0x{data[e.start]:02x} is not UTF-8 text; save the "
                       f"{what} as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def param(text: str) -> Tuple[str, Any]:
    """``key=value`` (the value is JSON, or else a bare string) as an argparse type."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"parameters are key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
    except RecursionError:
        raise argparse.ArgumentTypeError(f"parameter {key!r}: its JSON value nests too deeply") from None


def add_timeout(parser: argparse.ArgumentParser) -> None:
    """``--timeout SECONDS``: how long to wait for the writer lock."""
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="wait up to this long for another process's writer lock (default: fail at once)")
