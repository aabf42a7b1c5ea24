"""How the CLI prints results: values in query notation, tables (rich), JSON lines.

Tables are drawn by rich, which measures every cell in terminal columns, so wide characters
(CJK) and emoji stay aligned.  To a terminal they get a box and, when taller than the screen,
go through the pager; to a pipe or file they are plain ``| a | b |`` lines (markdown style), as
wide as the data needs, so scripts can read them.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
from typing import Any, Iterable, List, Optional, Sequence, TextIO

from .. import Edge, Node, Path
from ..result import jsonable
from ..values import temporal_text

__all__ = ["format_value", "format_table", "print_table", "print_json_lines", "MAX_CELL"]

MAX_CELL = 80


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
    """A value as the shell prints it: nodes as ``(:L {k: v})``, relationships as ``[:T {..}]``,
    paths as patterns, temporal values in the query language's text form.

    >>> format_value([1, "a", None, True])
    "[1, 'a', null, true]"
    """
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
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    return str(v)  # the query language's own temporal values (months, nanoseconds): their text form


def _cell(v: Any) -> str:
    s = format_value(v).replace("\n", "\\n")
    return s if len(s) <= MAX_CELL else s[:MAX_CELL - 1] + "…"


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]], boxed: bool):
    from rich import box
    from rich.table import Table
    from rich.text import Text
    t = Table(box=box.ROUNDED if boxed else box.MARKDOWN, show_edge=True, header_style="bold" if boxed else None,
              pad_edge=True, expand=False)
    for c in columns:
        t.add_column(Text(str(c)), overflow="fold" if boxed else "ignore", no_wrap=not boxed)
    for r in rows:
        t.add_row(*(Text(_cell(v)) for v in r))
    return t


def format_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The plain table (``| a | b |`` lines, markdown style) of a result, aligned in terminal
    columns (wide characters count two).

    >>> print(format_table(["name"], [("Ada",), ("李",)]))
    | name |
    |------|
    | Ada  |
    | 李   |
    """
    from rich.console import Console
    buf = io.StringIO()
    console = Console(file=buf, width=1 << 20, color_system=None, emoji=False, highlight=False,
                      markup=False, force_terminal=False, legacy_windows=False)
    console.print(_table(columns, rows, boxed=False), crop=False)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    return "\n".join(ln for ln in lines if ln)


def print_table(columns: Sequence[str], rows: List[Sequence[Any]], out: TextIO, *, terminal: bool = False,
                pager: bool = False) -> None:
    """Print a result table on ``out``: boxed (and paged when taller than the screen and
    ``pager``) when ``terminal``, else plain lines."""
    if not terminal:
        out.write(format_table(columns, rows) + "\n")
        return
    from rich.console import Console
    console = Console(file=out, highlight=False, markup=False, emoji=False)
    table = _table(columns, rows, boxed=True)
    if pager and len(rows) + 4 > console.height:
        with console.pager(styles=True):
            console.print(table)
    else:
        console.print(table)


def print_json_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """One JSON object per row (``{column: value}``, values as ``Result.to_jsonable`` gives them)."""
    for r in rows:
        out.write(json.dumps({c: jsonable(v) for c, v in zip(columns, r)}, ensure_ascii=False) + "\n")


def rows_text(n: int, secs: Optional[float]) -> str:
    """``(2 rows, 0.4 ms)``."""
    took = f", {secs * 1000:.1f} ms" if secs is not None else ""
    return f"({n} row{'s' if n != 1 else ''}{took})"
