"""Exports for what comes after one machine (design §5): Parquet for Spark GraphFrames, DuckDB
and pandas; openCypher CSV for Neo4j's ``neo4j-admin database import`` and Neptune's bulk loader.

Both read one snapshot through the public API, so the export is consistent while writers go on.
(Library use: ``from lpgdb.cli.export import export_parquet, export_neo4j``.)

Parquet (``lpgdb[arrow]``: pyarrow), GraphFrames' column names::

    DIR/nodes/<Label>.parquet      id, then one column per property of nodes with that label
                                   (a node with several labels is in each of their tables;
                                   nodes without labels are in ``_unlabeled``)
    DIR/edges/<Type>.parquet       src, dst, id, then the properties (``_untyped`` for edges
                                   without a label; several labels are joined with ``;``)

Column types come from the values (pyarrow's inference; temporal values Python's datetime
cannot hold exactly, such as month-based durations or nanosecond times, are ISO text);
a property whose values mix kinds in one table is refused with ``DataError`` naming it. Names other than ``[A-Za-z0-9_-]`` are
percent-encoded in file names; the ``label`` column of ``DIR/nodes/_index.parquet`` maps them back.

openCypher CSV::

    DIR/nodes.csv, DIR/edges.csv   :ID / :LABEL / :START_ID / :END_ID / :TYPE headers, typed
                                   property columns (the format ``lpgdb import`` reads)
    DIR/constraints.cypher         the schema's keys as Neo4j constraints (KEY, IDENTIFIER and
                                   EXCLUSIVE MANDATORY SINGLETON -> NODE KEY; EXCLUSIVE ->
                                   UNIQUE), user indexes as indexes, to run after the import
"""
from __future__ import annotations

import os
import re
from collections import defaultdict

from .. import DataError, InterfaceError
from .common import new_files_on_failure
from ..values import Temporal

__all__ = ["export_parquet", "export_neo4j", "FORMATS"]

FORMATS = ("csv", "neo4j", "parquet")
_SAFE = re.compile(r"[A-Za-z0-9_-]")


def _file_name(name: str) -> str:
    return "".join(c if _SAFE.fullmatch(c) else "%" + "%".join(f"{b:02X}" for b in c.encode()) for c in name) or "_"


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InterfaceError('the parquet export needs pyarrow: pip install "lpgdb[arrow]" '
                             '(or pip install pyarrow)') from None
    return pyarrow


def _arrow_value(pa, v):
    """A value as pyarrow takes it: the temporal values Python's datetime cannot hold exactly
    (durations with months, nanoseconds, named zones) become their ISO text (Parquet has no
    month-based interval type)."""
    if isinstance(v, Temporal):
        return str(v)
    if type(v) is list:
        return [_arrow_value(pa, x) for x in v]
    return v


def _table(pa, key_cols: dict, rows: list, what: str):
    """A pyarrow Table from fixed columns plus the union of the rows' property keys."""
    cols = dict(key_cols)
    keys = sorted({k for props in rows for k in props})
    for k in keys:
        if k in cols:
            raise DataError(f"{what}: a property is named {k!r}, which the export uses for its own column")
        cols[k] = [_arrow_value(pa, props.get(k)) for props in rows]
    arrays = {}
    for k, values in cols.items():
        try:
            arrays[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
            raise DataError(f"{what}: property {k!r} has values of several kinds, which one Parquet "
                            f"column cannot hold ({e})") from None
    return pa.table(arrays)


def export_parquet(db, directory: str) -> dict:
    """Write the Parquet tables into ``directory`` (created); return
    ``{"nodes": n, "edges": m, "files": k}``. Complexity: O(nodes + edges), one pass each, with
    one label's (one type's) rows in memory at a time plus the grouping ids."""
    pa = _pyarrow()
    import pyarrow.parquet as pq
    with new_files_on_failure(directory):
        return _write_parquet(db, directory, pa, pq)


def _write_parquet(db, directory: str, pa, pq) -> dict:
    os.makedirs(os.path.join(directory, "nodes"), exist_ok=True)
    os.makedirs(os.path.join(directory, "edges"), exist_ok=True)
    files, index = 0, []
    with db.snapshot() as s:
        by_label = defaultdict(list)
        n_nodes = 0
        for n in s.nodes():
            n_nodes += 1
            for lab in (n.labels or ("",)):
                by_label[lab].append(n)
        for lab, nodes in sorted(by_label.items()):
            ids = [n.id for n in nodes]
            props = [dict(n.properties) for n in nodes]
            fname = _file_name(lab) if lab else "_unlabeled"
            pq.write_table(_table(pa, {"id": ids}, props, f"label {lab!r}"),
                           os.path.join(directory, "nodes", fname + ".parquet"))
            index.append(("node", lab, f"nodes/{fname}.parquet", len(ids)))
            files += 1
        by_type = defaultdict(list)
        n_edges = 0
        for e in s.edges():
            n_edges += 1
            by_type[";".join(sorted(e.labels))].append(e)
        for typ, edges in sorted(by_type.items()):
            fname = _file_name(typ) if typ else "_untyped"
            cols = {"src": [e.src for e in edges], "dst": [e.dst for e in edges], "id": [e.id for e in edges]}
            pq.write_table(_table(pa, cols, [dict(e.properties) for e in edges], f"edge type {typ!r}"),
                           os.path.join(directory, "edges", fname + ".parquet"))
            index.append(("edge", typ, f"edges/{fname}.parquet", len(edges)))
            files += 1
            edges.clear()
    kind, label, path, rows = zip(*index) if index else ((), (), (), ())
    pq.write_table(pa.table({"kind": pa.array(kind, pa.string()), "label": pa.array(label, pa.string()),
                             "file": pa.array(path, pa.string()), "rows": pa.array(rows, pa.int64())}),
                   os.path.join(directory, "_index.parquet"))
    return {"nodes": n_nodes, "edges": n_edges, "files": files}


def _cypher_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def constraint_script(db) -> str:
    """Cypher (Neo4j 5 syntax) recreating the schema's keys and the user indexes."""
    lines = ["// Constraints and indexes of the exported lpgdb database; run after the import.",
             "// Generated by `lpgdb export --format neo4j`."]
    gt = db.schema
    n = 0
    for spec in (gt.index_specs() if gt is not None else ()):
        c = spec.constraint
        quals = set(c.definition.qualifiers)
        if c.scope[0] != "label" or not c.prop_keys or c.where is not None:
            lines.append(f"// not expressible as a Neo4j constraint: {c.definition}")
            continue
        n += 1
        var, label = c.var, c.scope[1]
        props = ", ".join(f"{_cypher_name(var)}.{_cypher_name(p)}" for p in c.prop_keys)
        node_key = "KEY" in quals or "IDENTIFIER" in quals or {"MANDATORY", "SINGLETON"} <= quals
        lines.append(f"CREATE CONSTRAINT {_cypher_name(f'lpgdb_key_{n}')} IF NOT EXISTS "
                     f"FOR ({_cypher_name(var)}:{_cypher_name(label)}) REQUIRE ({props}) IS "
                     f"{'NODE KEY' if node_key else 'UNIQUE'};  // {c.definition}")
    for i, (label, props) in enumerate((x for x in db.indexes() if x.kind == "user"), 1):
        cols = ", ".join(f"n.{_cypher_name(p)}" for p in props)
        lines.append(f"CREATE INDEX {_cypher_name(f'lpgdb_index_{i}')} IF NOT EXISTS "
                     f"FOR (n:{_cypher_name(label)}) ON ({cols});")
    return "\n".join(lines) + "\n"


def export_neo4j(db, directory: str) -> dict:
    """openCypher CSV (``nodes.csv``, ``edges.csv``, ``import.args``) plus ``constraints.cypher``."""
    from .csvio import export_csv
    with new_files_on_failure(directory):
        stats = export_csv(db, directory, layout="single")
        with open(os.path.join(directory, "constraints.cypher"), "w", encoding="utf-8") as f:
            f.write(constraint_script(db))
    return stats
