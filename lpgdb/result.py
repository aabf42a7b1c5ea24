"""Query results: ``Result`` (an iterable of ``Row``) and ``Row`` (tuple-like, also by column name).

Owns: the shape users see after ``db.execute`` / ``tx.execute`` / ``snapshot.execute``, and its
conversions: to dicts and JSON-friendly values, to pandas / pyarrow / polars frames and to a
networkx graph.  pandas, pyarrow, polars and networkx are optional: each is imported only by
the method that needs it, and a missing one raises ``InterfaceError`` naming the extra to
install (``pip install "lpgdb[pandas]"``).
Invariants: a Result is fully materialised when it is returned (it stays valid after the
snapshot or transaction that produced it ends, and it pickles); every Row has exactly
``len(columns)`` values.  The fetch methods (``fetchone``, ``fetchmany``, ``fetchall``,
iteration) consume rows; the conversions (``data``, ``df``, ``arrow``, ...) always cover every
row, whatever was fetched before.

>>> r = Result(["a", "b"], [(1, 2)])
>>> row = r.fetchone()
>>> row[0], row["b"], r.columns
(1, 2, ['a', 'b'])
>>> Result(["n"], [(1,), (2,)]).value()
[1, 2]
"""
from __future__ import annotations

import base64
import datetime as _dt
import importlib
import json
import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .errors import InterfaceError
from .values import Edge, Node, Path, plain, temporal_text

if TYPE_CHECKING:
    import networkx
    import pandas
    import polars
    import pyarrow

__all__ = ["Result", "Row", "Notification", "NotificationPosition", "jsonable"]


class _Record(Mapping):
    """A small immutable record whose fields read as attributes and, like Neo4j's dict form,
    by key (``n["code"]``, ``dict(n)``; it equals the dict of its fields)."""

    __slots__ = ()

    def __init__(self, *values: Any) -> None:
        for k, v in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    __delattr__ = __setattr__

    def __getitem__(self, key: str) -> Any:
        if type(key) is str and key in self.__slots__:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(self.__slots__)

    def __len__(self) -> int:
        return len(self.__slots__)

    def __reduce__(self):
        return (type(self), tuple(getattr(self, k) for k in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({fields})"


class NotificationPosition(_Record):
    """Where in the query text a notification points: ``offset`` (0-based, in characters),
    ``line`` and ``column`` (1-based)."""

    __slots__ = ("offset", "line", "column")
    offset: int
    line: int
    column: int


class Notification(_Record):
    """A warning about a query, shaped like Neo4j's notifications: ``code`` (e.g.
    ``"lpgdb.Schema.UnknownLabel"``), ``title``, ``description``, ``severity`` (``"WARNING"``),
    ``category`` (``"SCHEMA"``) and ``position`` (a ``NotificationPosition``, or None).
    Read-only; also reads by key (``n["code"]``) and equals the dict of its fields."""

    __slots__ = ("code", "title", "description", "severity", "category", "position")
    code: str
    title: str
    description: str
    severity: str
    category: str
    position: Optional[NotificationPosition]


class Row(tuple):
    """One result row: a tuple whose items can also be read by column name (like sqlite3.Row).

    >>> row = Row(["name", "age"], ("Ada", 36))
    >>> row["age"], row.keys(), row.data()
    (36, ['name', 'age'], {'name': 'Ada', 'age': 36})

    Every distinct column list has its own subclass holding the names (``row_type``), so a row
    is a bare tuple: no per-row dict, and one allocation to build.
    """

    __slots__ = ()
    _columns: Sequence[str] = ()

    def __new__(cls, columns: Sequence[str], values: Sequence[Any]) -> "Row":
        """A row of ``values`` named by ``columns`` (str, as many as values); InterfaceError else.
        (Results build their rows from ``row_type`` directly.)"""
        cols, vals = plain(columns), plain(values)
        if isinstance(cols, (str, bytes)) or isinstance(vals, (str, bytes)):
            raise InterfaceError("a Row is made of a sequence of column names and one of values, not a str")
        try:
            cols, vals = tuple(plain(c) for c in cols), tuple(vals)
        except Exception as e:
            raise InterfaceError(f"a Row is made of a sequence of column names and one of values: "
                                 f"{type(e).__name__}: {e}") from None
        if any(type(c) is not str for c in cols):
            raise InterfaceError(f"a Row's column names must be str, not {cols!r:.80}")
        if len(cols) != len(vals):
            raise InterfaceError(f"a Row has one value per column: {len(cols)} columns, {len(vals)} values")
        return tuple.__new__(row_type(cols), vals)

    def __reduce__(self):
        return (Row, (list(self._columns), tuple(self)))

    def __getitem__(self, key):
        if isinstance(key, str):
            key = plain(key)
            try:
                return tuple.__getitem__(self, self._columns.index(key))
            except ValueError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def keys(self) -> List[str]:
        """The column names."""
        return list(self._columns)

    def as_dict(self) -> Dict[str, Any]:
        """``{column: value}``."""
        return dict(zip(self._columns, self))

    data = as_dict

    def value(self, key: "int | str" = 0, default: Any = None) -> Any:
        """The value of column ``key`` (a position or a name), or ``default`` if there is none."""
        key = plain(key)
        if type(key) is not int and type(key) is not str:
            raise InterfaceError(f"a column is given by its position (an int) or its name (a str), "
                                 f"not {type(key).__name__}")
        try:
            return self[key]
        except (IndexError, KeyError):
            return default


_ROW_TYPES: dict = {}


def row_type(columns: Sequence[str]) -> type:
    """The Row subclass for rows with these column names (made once per distinct list)."""
    key = tuple(columns)
    t = _ROW_TYPES.get(key)
    if t is None:
        if len(_ROW_TYPES) >= 4096:
            _ROW_TYPES.clear()
        t = _ROW_TYPES[key] = type("Row", (Row,), {"__slots__": (), "_columns": key,
                                                    "__module__": Row.__module__, "__qualname__": "Row"})
    return t


class Result:
    """The rows of a query, with PEP 249-style accessors and conversions.

    Attributes:
        columns: the column names, in order.
        arraysize: how many rows ``fetchmany()`` returns by default (PEP 249; 1).
        plan: the query's plan (``lpgdb.query.Plan``: ``str(plan)`` draws it; under PROFILE it
            has the rows and time of each operator), or None.
        notifications: warnings about the query, shaped like Neo4j's notifications: a list of
            ``Notification`` objects with ``.code``, ``.title``, ``.description``, ``.severity``,
            ``.category`` and ``.position`` (``.offset``, ``.line``, ``.column``), which also
            read by key; e.g. a label that no type of the enforced graph type carries.
    """

    arraysize = 1
    # _cols: the column names (a tuple, shared by every Result of one plan); _rows: the rows (a
    # list or a tuple of Rows, never changed: a query's fast path hands one kept tuple to every
    # Result of one answer); _pos: rows fetched; _notes: the notifications (a tuple).  The
    # lists ``columns`` and ``notifications`` are made from them at their first read.
    __slots__ = ("_cols", "_rows", "_pos", "plan", "_notes", "_columns", "_notifications", "__weakref__")

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, plan: Any = None,
                 notifications: Optional[list] = None) -> None:
        self._cols = cols = tuple(columns)
        rt = row_type(cols)
        self._rows = [tuple.__new__(rt, r) for r in rows]
        self._pos = 0
        self.plan = plan
        self._notes = ()
        if notifications is not None:
            self._notifications = notifications

    @classmethod
    def _of(cls, cols: tuple, rt: type, rows: list, plan, notes: tuple) -> "Result":
        """The query engine's constructor: ``cols`` the column names and ``notes`` the
        notifications, tuples shared by every Result of one plan (the lists ``columns`` and
        ``notifications`` are made at their first read); ``rows`` are tuples in column order,
        ``rt`` their ``row_type(cols)``."""
        self = object.__new__(cls)
        self._cols = cols
        self._rows = [tuple.__new__(rt, rows[0])] if len(rows) == 1 else [tuple.__new__(rt, r) for r in rows]
        self._pos = 0
        self.plan = plan
        self._notes = notes
        return self

    @property
    def columns(self) -> List[str]:
        """The column names, in order (a list)."""
        try:
            return self._columns
        except AttributeError:
            c = self._columns = list(self._cols)
            return c

    @columns.setter
    def columns(self, value: Sequence[str]) -> None:
        self._columns = list(value)
        self._cols = tuple(value)

    @property
    def notifications(self) -> list:
        """The query's notifications (see the class docstring), a list."""
        try:
            return self._notifications
        except AttributeError:
            n = self._notifications = list(self._notes)
            return n

    @notifications.setter
    def notifications(self, value: list) -> None:
        self._notifications = value

    def __getstate__(self):
        return (self._cols, list(self._rows), self._pos, self.plan, list(self.notifications))

    def __setstate__(self, state) -> None:
        self._cols, self._rows, self._pos, self.plan, notes = state
        self._notes = tuple(notes)
        self._notifications = notes

    # -- PEP 249 -------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Row]:
        while self._pos < len(self._rows):
            row = self._rows[self._pos]
            self._pos += 1
            yield row

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def description(self) -> Optional[List[Tuple]]:
        """PEP 249: one 7-tuple ``(name, None, None, None, None, None, None)`` per column (values
        have no fixed type), or None when the query returns no columns."""
        if not self.columns:
            return None
        return [(c, None, None, None, None, None, None) for c in self.columns]

    @property
    def rowcount(self) -> int:
        """The number of rows of the result (all of them, fetched or not)."""
        return len(self._rows)

    def fetchone(self) -> Optional[Row]:
        """The next row, or None when there are no more."""
        pos, rows = self._pos, self._rows
        if pos < len(rows):
            self._pos = pos + 1
            return rows[pos]
        return None

    def fetchmany(self, size: Optional[int] = None) -> List[Row]:
        """The next ``size`` rows (default ``arraysize``); fewer, or none, at the end."""
        n = plain(self.arraysize if size is None else size)
        if type(n) is not int or n < 0:
            raise InterfaceError(f"fetchmany size must be a non-negative int, not {size!r}")
        rows = list(self._rows[self._pos:self._pos + n])
        self._pos += len(rows)
        return rows

    def fetchall(self) -> List[Row]:
        """All remaining rows."""
        rows = list(self._rows[self._pos:])
        self._pos = len(self._rows)
        return rows

    # -- plain Python ----------------------------------------------------------------------------------
    def to_dicts(self) -> List[Dict[str, Any]]:
        """All rows (from the start) as ``{column: value}`` dicts."""
        return [dict(zip(self.columns, r)) for r in self._rows]

    def data(self) -> List[Dict[str, Any]]:
        """All rows as ``{column: value}`` dicts (Neo4j's ``Result.data()``; same as ``to_dicts``)."""
        return self.to_dicts()

    def single(self, strict: bool = False) -> Optional[Row]:
        """The one row of the result (Neo4j's ``Result.single()``).

        With no rows, None; with several, the first and a warning.  ``strict=True`` raises
        ``InterfaceError`` in both cases instead.
        """
        n = len(self._rows)
        if n == 1:
            return self._rows[0]
        msg = f"expected exactly one row, the result has {n}"
        if plain(strict):
            raise InterfaceError(msg)
        warnings.warn(msg, stacklevel=2)
        return self._rows[0] if n else None

    def value(self, key: "int | str" = 0, default: Any = None) -> List[Any]:
        """The values of one column (a position or a name) over all rows (Neo4j's ``Result.value()``).

        ``default`` stands in for a column that does not exist.
        """
        return [r.value(key, default) for r in self._rows]

    def values(self, *keys: "int | str") -> List[List[Any]]:
        """Each row's values of ``keys`` (all columns when none are given), as lists."""
        if not keys:
            return [list(r) for r in self._rows]
        return [[r.value(k) for k in keys] for r in self._rows]

    def to_jsonable(self) -> Dict[str, Any]:
        """``{"columns": [...], "rows": [[...], ...]}`` holding only JSON types (see ``jsonable``).

        >>> Result(["d"], [(_dt.date(2020, 2, 29),)]).to_jsonable()
        {'columns': ['d'], 'rows': [['2020-02-29']]}
        """
        return {"columns": list(self.columns), "rows": [[jsonable(v) for v in r] for r in self._rows]}

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(self.to_jsonable(), **kwargs)``; InterfaceError when json.dumps refuses
        the keyword arguments (an unknown name, an indent that is no int or str, ...)."""
        doc = self.to_jsonable()
        kwargs = {k: plain(v) for k, v in kwargs.items()}
        try:
            return json.dumps(doc, **kwargs)
        except Exception as e:       # the document holds JSON types only: what failed is an argument
            raise InterfaceError(f"to_json({', '.join(kwargs)}): json.dumps refused its arguments: "
                                 f"{type(e).__name__}: {e}") from e

    # -- frames and graphs (optional libraries) ------------------------------------------------------
    def get_as_df(self) -> "pandas.DataFrame":
        """A pandas DataFrame, one column per result column (Kùzu's name).  Graph values stay
        ``Node`` / ``Edge`` / ``Path`` objects (Node and Edge are mappings).  Needs pandas."""
        pd = _optional("pandas", "pandas")
        return pd.DataFrame.from_records([tuple(r) for r in self._rows], columns=self.columns)

    df = get_as_df

    def get_as_arrow(self) -> "pyarrow.Table":
        """A pyarrow Table, one column per result column (Kùzu's name).

        Graph values become structs: a node ``{id, labels, properties}``, an edge ``{id, src,
        dst, labels, properties}``, a path ``{nodes, edges}``; properties are a struct of every
        key seen in the column.  A column whose values do not share one Arrow type raises
        ``DataError``.  Needs pyarrow.
        """
        pa = _optional("pyarrow", "arrow")
        from .errors import DataError
        cols = {}
        for i, name in enumerate(self.columns):
            values = [_plain(r[i]) for r in self._rows]
            try:
                cols[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as e:
                raise DataError(f"column {name!r} cannot become one Arrow column: {e}") from e
        if not cols:
            return pa.table({})
        return pa.table(cols)

    arrow = get_as_arrow

    def pl(self) -> "polars.DataFrame":
        """A polars DataFrame (DuckDB's name); graph values as in ``get_as_arrow``.  Needs polars."""
        pl = _optional("polars", "polars")
        from .errors import DataError
        try:
            return pl.DataFrame({name: [_plain(r[i]) for r in self._rows] for i, name in enumerate(self.columns)},
                                strict=False)
        except Exception as e:  # polars raises several unrelated classes for values it cannot type
            raise DataError(f"the result cannot become a polars DataFrame: {e}") from e

    def get_as_networkx(self, directed: bool = True) -> "networkx.MultiGraph":
        """A networkx ``MultiDiGraph`` (``MultiGraph`` when ``directed=False``) of every node and
        edge in the result, also those inside lists and paths (Kùzu's name).  Nodes are keyed by
        id, with their properties as attributes and ``_labels`` (a sorted list); edges are keyed
        by id, the same way.  An edge whose endpoints are not in the result still adds them, bare.
        Needs networkx."""
        nx = _optional("networkx", "networkx")
        g = nx.MultiDiGraph() if plain(directed) else nx.MultiGraph()
        nodes: Dict[int, Node] = {}
        edges: Dict[int, Edge] = {}
        for r in self._rows:
            for v in r:
                _collect_graph(v, nodes, edges)
        for n in nodes.values():
            g.add_node(n.id, **dict(n.properties), _labels=sorted(n.labels))
        for e in edges.values():
            g.add_edge(e.src, e.dst, key=e.id, **dict(e.properties), _labels=sorted(e.labels))
        return g

    def __repr__(self) -> str:
        return f"Result(columns={self.columns!r}, rows={len(self._rows)})"


# ---- conversions ---------------------------------------------------------------------------------------

def _optional(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InterfaceError(f"this needs {module}, which is not installed: "
                             f'pip install "lpgdb[{extra}]" (or pip install {module})') from None


def _collect_graph(v: Any, nodes: dict, edges: dict) -> None:
    if isinstance(v, Node):
        nodes[v.id] = v
    elif isinstance(v, Edge):
        edges[v.id] = v
    elif isinstance(v, Path):
        for n in v.nodes:
            nodes[n.id] = n
        for e in v.edges:
            edges[e.id] = e
    elif isinstance(v, (list, tuple)):
        for x in v:
            _collect_graph(x, nodes, edges)
    elif isinstance(v, dict):
        for x in v.values():
            _collect_graph(x, nodes, edges)


def _plain(v: Any) -> Any:
    """A value for Arrow / polars: graph values as dicts, query-only temporal values as text."""
    if isinstance(v, Node):
        return {"id": v.id, "labels": sorted(v.labels), "properties": {k: _plain(x) for k, x in v.items()}}
    if isinstance(v, Edge):
        return {"id": v.id, "src": v.src, "dst": v.dst, "labels": sorted(v.labels),
                "properties": {k: _plain(x) for k, x in v.items()}}
    if isinstance(v, Path):
        return {"nodes": [_plain(n) for n in v.nodes], "edges": [_plain(e) for e in v.edges]}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str, bytes, _dt.date, _dt.time, _dt.timedelta)):
        return v
    return str(v)   # temporal values the query language has and Python does not (months, ns)


def jsonable(v: Any) -> Any:
    """A result value as JSON types only.

    Nodes become ``{"id", "labels", "properties"}``, edges ``{"id", "src", "dst", "labels",
    "properties"}``, paths ``{"nodes", "edges"}``; dates and times ISO 8601 text; durations
    ISO 8601 duration text (``P1DT2.5S``); bytes base64 text; NaN and infinities the text
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    >>> jsonable([_dt.timedelta(days=1, seconds=2.5), b"hi", float("nan")])
    ['P1DT2.5S', 'aGk=', 'NaN']
    """
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, Node):
        return {"id": v.id, "labels": sorted(v.labels), "properties": {k: jsonable(x) for k, x in v.items()}}
    if isinstance(v, Edge):
        return {"id": v.id, "src": v.src, "dst": v.dst, "labels": sorted(v.labels),
                "properties": {k: jsonable(x) for k, x in v.items()}}
    if isinstance(v, Path):
        return {"nodes": [jsonable(n) for n in v.nodes], "edges": [jsonable(e) for e in v.edges]}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, (_dt.date, _dt.time, _dt.timedelta)):
        return temporal_text(v)
    return str(v)   # the query language's own temporal values: their toString form
