"""CSV import and export in the openCypher / Neo4j bulk-import format.

Node files: a header such as ``id:ID,name,age:int,:LABEL``.  The ``:ID`` column is the row's
external id (kept as a property under the column's name, ``id`` here, unless the name is
empty); ``:LABEL`` holds labels separated by ``;``.  Edge files: ``:START_ID,:END_ID,:TYPE,...``
where start/end refer to the external ids of the node files loaded in the same import.
Property columns may carry a type: ``int``/``long``, ``float``/``double``, ``boolean``,
``string`` (default), ``date`` (ISO), ``datetime`` (ISO), each optionally with ``[]`` for a
``;``-separated list.  An empty cell means "no property".

Export writes the same format (one node file, one edge file), so export → import round-trips;
node ids are exported as ``:ID`` (column ``_id``) and properties with their types.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import time
from typing import Callable, Iterator, Optional

from .. import DataError, InterfaceError

_PARSERS: dict[str, Callable[[str], object]] = {
    "string": str, "int": int, "long": int, "short": int, "byte": int,
    "float": float, "double": float,
    "boolean": lambda s: {"true": True, "false": False}[s.strip().lower()],
    "date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat,
    "localdatetime": dt.datetime.fromisoformat, "time": dt.time.fromisoformat,
}


class Progress:
    """A one-line progress counter on stderr (only when stderr is a terminal, or forced)."""

    def __init__(self, what: str, enabled: Optional[bool] = None, every: int = 50_000):
        self.what = what
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.every = every
        self.n = 0
        self.t0 = time.perf_counter()

    def tick(self, k: int = 1) -> None:
        self.n += k
        if self.enabled and self.n % self.every < k:
            rate = self.n / max(time.perf_counter() - self.t0, 1e-9)
            print(f"\r{self.what}: {self.n:,} rows ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    def done(self) -> float:
        secs = time.perf_counter() - self.t0
        if self.enabled:
            print(f"\r{self.what}: {self.n:,} rows in {secs:.2f}s", file=sys.stderr, flush=True)
        return secs


def _columns(header: list[str], path: str):
    cols = []
    for h in header:
        name, _, typ = h.partition(":")
        typ = typ.strip()
        many = typ.endswith("[]")
        base = typ[:-2] if many else typ
        key = base.upper() if base.upper() in ("ID", "LABEL", "START_ID", "END_ID", "TYPE") else None
        if key is None:
            base = base.lower() or "string"
            if base not in _PARSERS:
                raise DataError(f"{path}: unknown column type {typ!r} in header {h!r}")
        cols.append((name.strip(), key, _PARSERS.get(base), many))
    return cols


def _rows(path: str, progress: Progress) -> Iterator[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        cols = _columns(header, path)
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(cols):
                raise DataError(f"{path}:{lineno}: expected {len(cols)} fields, got {len(row)}")
            out = {"props": {}}
            for (name, key, parse, many), cell in zip(cols, row):
                if key is not None:
                    out[key] = cell
                    if key == "ID" and name:
                        out["props"][name] = _typed_id(cell)
                    continue
                if cell == "":
                    continue
                try:
                    out["props"][name] = ([parse(x) for x in cell.split(";")] if many else parse(cell))
                except (ValueError, KeyError) as e:
                    raise DataError(f"{path}:{lineno}: bad value {cell!r} for column {name!r}") from e
            progress.tick()
            yield out


def _typed_id(cell: str):
    try:
        return int(cell)
    except ValueError:
        return cell


def import_csv(db, node_files: list[str], edge_files: list[str], *, progress: Optional[bool] = None) -> dict:
    """Load node and edge CSV files through ``db.bulk_load`` (one transaction per file)."""
    ext: dict[str, int] = {}
    stats = {"nodes": 0, "edges": 0}
    for path in node_files:
        p = Progress(f"nodes {os.path.basename(path)}", progress)
        keys: list = []

        def nodes():
            for r in _rows(path, p):
                keys.append(r.get("ID"))
                labels = [x for x in r.get("LABEL", "").split(";") if x]
                yield labels, r["props"]
        ids, _ = db.bulk_load(nodes=nodes())
        for k, nid in zip(keys, ids):
            if k is not None:
                if k in ext:
                    raise DataError(f"{path}: duplicate :ID {k!r}")
                ext[k] = nid
        stats["nodes"] += len(ids)
        p.done()
    for path in edge_files:
        p = Progress(f"edges {os.path.basename(path)}", progress)

        def edges():
            for r in _rows(path, p):
                try:
                    s, d = ext[r["START_ID"]], ext[r["END_ID"]]
                except KeyError as e:
                    raise DataError(f"{path}: unknown node id {e.args[0]!r} (not in the node files)") from None
                yield s, [x for x in r.get("TYPE", "").split(";") if x], d, r["props"]
        _, eids = db.bulk_load(edges=edges())
        stats["edges"] += len(eids)
        p.done()
    return stats


def _type_of(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "double"
    if isinstance(v, dt.datetime):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, dt.time):
        return "time"
    if isinstance(v, str):
        return "string"
    raise DataError(f"cannot export a {type(v).__name__} value to CSV")


def _cell(v) -> str:
    if isinstance(v, list):
        return ";".join(_cell(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _prop_columns(items) -> dict[str, str]:
    cols: dict[str, str] = {}
    for props in items:
        for k, v in props.items():
            t = _type_of(v[0]) + "[]" if isinstance(v, list) and v else "string[]" if isinstance(v, list) else _type_of(v)
            if cols.setdefault(k, t) != t:
                raise DataError(f"property {k!r} has values of several types ({cols[k]}, {t}); "
                                "CSV columns need one type")
    return cols


def export_csv(db, directory: str) -> dict:
    """Write ``nodes.csv`` and ``edges.csv`` into ``directory`` (created); return row counts."""
    os.makedirs(directory, exist_ok=True)
    with db.snapshot() as s:
        ncols = _prop_columns(n.properties for n in s.nodes())
        ecols = _prop_columns(e.properties for e in s.edges())
        if "_id" in ncols:
            raise InterfaceError("a node property is named '_id', which export uses for node ids")
        with open(os.path.join(directory, "nodes.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([":ID", ":LABEL"] + [f"{k}:{t}" for k, t in ncols.items()])
            nn = 0
            for n in s.nodes():
                w.writerow([n.id, ";".join(sorted(n.labels))] + [_cell(n.properties[k]) if k in n.properties
                                                                   else "" for k in ncols])
                nn += 1
        with open(os.path.join(directory, "edges.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([":START_ID", ":END_ID", ":TYPE"] + [f"{k}:{t}" for k, t in ecols.items()])
            ne = 0
            for e in s.edges():
                w.writerow([e.src, e.dst, ";".join(sorted(e.labels))] + [_cell(e.properties[k]) if k in e.properties
                                                                         else "" for k in ecols])
                ne += 1
    return {"nodes": nn, "edges": ne}
