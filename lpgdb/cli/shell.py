"""The query shell: ``lpgdb shell DB`` (interactive) and ``lpgdb query DB "..."`` (one shot).

Owns: reading statements (``;``-terminated, may span lines), shell commands (``:help``,
``:param``, ``:params``, ``:schema``, ``:quit``), line editing and history through
``readline`` when the platform has it (history file ``~/.lpgdb_history``), and printing
results as an aligned table or as JSON lines.  Must not: parse queries itself; everything
goes through ``db.execute``, so the shell sees exactly what the API does.

    $ lpgdb shell data/social
    lpgdb> MATCH (p:Person) RETURN p.name, p.age LIMIT 2;
    | p.name | p.age |
    |--------|-------|
    | Ada    | 36    |
    | Bob    | 25    |
    (2 rows, 0.4 ms)
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from typing import Any, Optional, TextIO

from .. import Edge, Error, Node, Path
from ..result import jsonable
from ..values import temporal_text
from .common import open_db, param

__all__ = ["run_shell", "run_query", "format_table", "format_value"]

_MAX_CELL = 80
_HELP = """\
Statements end with ';' and may span several lines.
  :param NAME VALUE   set a query parameter ($NAME); VALUE is JSON (or a bare string)
  :params             show the parameters
  :unparam NAME       forget a parameter
  :schema             show the enforced PG-Schema graph type
  :help               this text
  :quit               leave (also Ctrl-D)"""


# ---------------------------------------------------------------- formatting
def _lit(v: Any) -> str:
    """A value in query-literal notation (strings quoted), for nested positions."""
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return format_value(v)


def _props(m) -> str:
    if not m:
        return ""
    return " {" + ", ".join(f"{k}: {_lit(v)}" for k, v in m.items()) + "}"


def format_value(v: Any) -> str:
    """A value as the shell prints it: nodes as (:L {k: v}), relationships as [:T {..}], ..."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, Node):
        return f"({''.join(':' + l for l in sorted(v.labels))}{_props(v.properties)})"
    if isinstance(v, Edge):
        return f"[{':' + ':'.join(sorted(v.labels)) if v.labels else ''}{_props(v.properties)}]"
    if isinstance(v, Path):
        out = [format_value(v.nodes[0])]
        for i, e in enumerate(v.edges):
            fwd = e.src == v.nodes[i].id
            out.append(f"-{format_value(e)}->" if fwd else f"<-{format_value(e)}-")
            out.append(format_value(v.nodes[i + 1]))
        return "".join(out)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_lit(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (_dt.date, _dt.time, _dt.timedelta)):
        return temporal_text(v)
    return str(v)  # the query language's own temporal values (months, nanoseconds): their text form


def _cell(v: Any) -> str:
    s = format_value(v).replace("\n", "\\n")
    return s if len(s) <= _MAX_CELL else s[:_MAX_CELL - 1] + "…"


def format_table(columns, rows) -> str:
    """An aligned, pipe-separated table (GitHub markdown style)."""
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [len(c) for c in columns]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


# ---------------------------------------------------------------- running
def _print_result(res, elapsed: float, out: TextIO, as_json: bool) -> None:
    rows = res.fetchall()
    if as_json:
        for r in rows:
            out.write(json.dumps({c: jsonable(v) for c, v in zip(res.columns, r)}, ensure_ascii=False) + "\n")
        return
    if res.columns:
        out.write(format_table(res.columns, rows) + "\n")
    n = len(rows)
    out.write(f"({n} row{'s' if n != 1 else ''}, {elapsed * 1000:.1f} ms)\n")


def _print_error(e: Error, err: TextIO) -> None:
    err.write(f"{type(e).__name__}: {e}\n")


def run_query(db, text: str, params: Optional[dict] = None, *, as_json: bool = False,
              out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """Run one query and print its result. Returns the exit status (0 ok, 1 error).

    >>> import lpgdb, io
    >>> buf = io.StringIO()
    >>> with lpgdb.connect(":memory:") as db:
    ...     run_query(db, "RETURN 1 AS one", out=buf)
    0
    >>> print(buf.getvalue().splitlines()[2])
    | 1   |
    """
    out = out or sys.stdout
    err = err or sys.stderr
    t0 = time.perf_counter()
    try:
        res = db.execute(text, params or {})
    except Error as e:
        _print_error(e, err)
        return 1
    _print_result(res, time.perf_counter() - t0, out, as_json)
    return 0


def _split_statements(buffer: str):
    """Split on ';' outside string literals, backquotes and comments; return (complete, rest)."""
    stmts, cur, i, n = [], [], 0, len(buffer)
    quote = None
    while i < n:
        c = buffer[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote != "`" and i + 1 < n:
                cur.append(buffer[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
            cur.append(c)
        elif buffer.startswith("//", i):
            j = buffer.find("\n", i)
            j = n if j < 0 else j
            cur.append(buffer[i:j])
            i = j
            continue
        elif buffer.startswith("/*", i):
            j = buffer.find("*/", i + 2)
            j = n if j < 0 else j + 2
            cur.append(buffer[i:j])
            i = j
            continue
        elif c == ";":
            s = "".join(cur).strip()
            if s:
                stmts.append(s)
            cur = []
        else:
            cur.append(c)
        i += 1
    return stmts, "".join(cur)


def _command(db, line: str, params: dict, out: TextIO, err: TextIO) -> bool:
    """Handle a ':command'. Returns False when the shell should stop."""
    word, _, rest = line[1:].strip().partition(" ")
    word = word.lower()
    if word in ("quit", "exit", "q"):
        return False
    if word == "help":
        out.write(_HELP + "\n")
    elif word == "param":
        name, _, value = rest.strip().partition(" ")
        if not name or not value:
            err.write("usage: :param NAME VALUE\n")
        else:
            try:
                params[name] = json.loads(value)
            except json.JSONDecodeError:
                params[name] = value
    elif word == "params":
        for k, v in params.items():
            out.write(f"${k} = {_lit(v)}\n")
    elif word == "unparam":
        params.pop(rest.strip(), None)
    elif word == "schema":
        schema = getattr(db, "schema", None)
        out.write((str(schema) if schema is not None else "(no schema: the graph is schemaless)") + "\n")
    else:
        err.write(f"unknown command ':{word}'; type :help\n")
    return True


def _setup_history():
    try:
        import readline
    except ImportError:  # Windows without pyreadline: no line editing, still works
        return None
    path = os.path.join(os.path.expanduser("~"), ".lpgdb_history")
    try:
        readline.read_history_file(path)
    except (FileNotFoundError, OSError):
        pass
    readline.set_history_length(1000)
    return lambda: _save_history(readline, path)


def _save_history(readline, path):
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def run_shell(db, *, stdin: Optional[TextIO] = None, out: Optional[TextIO] = None,
              err: Optional[TextIO] = None) -> int:
    """Interactive shell over ``db``. Returns 0 (or 1 if the last statement failed when not
    interactive, so scripts piped into the shell can detect errors)."""
    out = out or sys.stdout
    err = err or sys.stderr
    interactive = stdin is None and sys.stdin.isatty()
    save = _setup_history() if interactive else None
    src = stdin or sys.stdin
    if interactive:
        out.write("lpgdb shell: statements end with ';'. Type :help for commands, :quit to leave.\n")
    params: dict = {}
    buffer = ""
    status = 0
    try:
        while True:
            prompt = "lpgdb> " if not buffer.strip() else "  ...> "
            try:
                line = input(prompt) if interactive else src.readline()
            except (EOFError, KeyboardInterrupt):
                if interactive:
                    out.write("\n")
                break
            if not interactive and line == "":
                break
            line = line.rstrip("\n")
            if line.strip().startswith(":"):
                if not _command(db, line.strip(), params, out, err):
                    break
                continue
            buffer += line + "\n"
            stmts, buffer = _split_statements(buffer)
            for s in stmts:
                status = run_query(db, s, params, out=out, err=err)
        if buffer.strip():
            status = run_query(db, buffer.strip(), params, out=out, err=err)
    finally:
        if save:
            save()
    return status


# ---------------------------------------------------------------- commands
def cmd_shell(a) -> int:
    with open_db(a.db, readonly=a.readonly, create=not a.readonly) as db:
        return run_shell(db) or 0


def cmd_query(a) -> int:
    with open_db(a.db, readonly=a.readonly) as db:
        return run_query(db, a.query, dict(a.param or ()), as_json=a.json) or 0


def register(sub) -> None:
    s = sub.add_parser("shell", help="interactive query shell")
    s.add_argument("db")
    s.add_argument("--readonly", action="store_true", help="open beside a running writer")
    s.set_defaults(func=cmd_shell)
    s = sub.add_parser("query", help="run one query")
    s.add_argument("db")
    s.add_argument("query")
    s.add_argument("-p", "--param", action="append", type=param, help="parameter key=value (JSON value)")
    s.add_argument("--json", action="store_true", help="print rows as JSON lines")
    s.add_argument("--readonly", action="store_true")
    s.set_defaults(func=cmd_query)
