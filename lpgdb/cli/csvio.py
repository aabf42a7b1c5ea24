"""CSV import and export in the Neo4j admin-import format (``neo4j-admin database import``).

Files and groups
    ``--nodes [Label[:Label...]=]header.csv[,data1.csv,...]``: a group of node files; the first
    file's first line is the header, the other files are data only ("several files seen as one
    big file").  The optional labels are given to every node of the group, besides those of a
    ``:LABEL`` column.  ``--edges`` / ``--relationships [TYPE=]files`` is the same for edges.

The format itself (header fields, cells, the reader, its errors) is lpgdb/ingest/neo4j.py; the
import is ONE ``db.bulk_load`` call (all or nothing), parsed by C.  Every problem is a
``CsvError`` (a ``DataError``) naming the file, line and column, and what to do.

Export (``export_csv``) writes the same format, one file per label set, and ``import.args`` (the
options and file groups to import it again: ``lpgdb import NEWDB DIR``); the array delimiter is
chosen so that no array element contains it, so export then import gives the same graph back.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from array import array
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import DataError
from ..ingest import CsvError, Dialect, parse_char
from ..ingest import read_header as _read_header
from ..values import Temporal, temporal_text
from ..values import kind as value_kind
from .common import new_files_on_failure

__all__ = ["CsvError", "Dialect", "FileGroup", "parse_group", "read_header", "import_csv",
           "export_csv", "read_import_args"]


class FileGroup:
    """One ``--nodes``/``--edges`` argument: extra labels (or the edge type) and its files."""

    def __init__(self, kind: str, labels: Tuple[str, ...], files: List[str], arg: str):
        self.kind, self.labels, self.files, self.arg = kind, labels, files, arg

    def __repr__(self) -> str:
        return f"FileGroup({self.kind}, {self.labels}, {self.files})"


def parse_group(kind: str, arg: str) -> FileGroup:
    """``[Label[:Label]=]file[,file...]`` (Neo4j's syntax) as a FileGroup.  A value naming an
    existing file is taken as that one file, whatever characters it holds."""
    if os.path.isfile(arg):
        return FileGroup(kind, (), [arg], arg)
    labels: Tuple[str, ...] = ()
    files = arg
    head, sep, rest = arg.partition("=")
    if sep and not os.path.isfile(head):
        labels = tuple(x for x in head.split(":") if x)
        files = rest
        if not labels:
            raise CsvError(f"--{kind}={arg}: nothing before '=' (write --{kind}=Label=FILE, or just the file)")
    paths = [f for f in files.split(",") if f]
    if not paths:
        raise CsvError(f"--{kind}={arg}: no file given")
    if kind == "edges" and len(labels) > 1:
        raise CsvError(f"--edges={arg}: give one relationship type before '=' (got {':'.join(labels)})")
    return FileGroup(kind, labels, paths, arg)


# ---- import -------------------------------------------------------------------------------------------

def read_header(group: FileGroup, dialect: Dialect):
    """Read and check a group's header (before the database is opened)."""
    return _read_header(group.kind, group.labels, group.files, dialect)


def import_csv(db, node_groups: List[FileGroup], edge_groups: List[FileGroup], dialect: Optional[Dialect] = None,
               *, progress: Optional[Callable[[int], None]] = None) -> Dict[str, int]:
    """Load the groups into ``db`` in ONE ``db.bulk_load`` transaction: all or nothing.

    The files are parsed by lpgdb's native CSV reader (lpgdb/ingest).  Returns ``{"nodes": n,
    "edges": m}``.  Raises CsvError (file, line, column) for a bad input, and the database's
    errors (SchemaViolationError, ...) for data it refuses; violations of nodes name the line
    that made the node (``import_sources``).  ``progress(nbytes)`` is called as bytes are read.
    """
    dialect = dialect or Dialect()
    node_ids, edge_ids = db.bulk_load(
        nodes=[(g.labels, g.files) for g in node_groups], edges=[(g.labels, g.files) for g in edge_groups],
        delimiter=dialect.delimiter, array_delimiter=dialect.array_delimiter, quote=dialect.quote,
        encoding=dialect.encoding, id_type=dialect.id_type, progress=progress)
    return {"nodes": len(node_ids), "edges": len(edge_ids)}


def read_import_args(directory: str) -> List[str]:
    """The arguments of ``DIR/import.args`` (written by export), with file paths made relative
    to ``DIR`` so that ``lpgdb import DB DIR`` works from anywhere."""
    path = os.path.join(directory, "import.args")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except FileNotFoundError:
        raise CsvError(f"{directory!r} has no import.args: it is not a directory written by lpgdb export; "
                       f"name the files with --nodes and --edges") from None
    out = []
    for ln in lines:
        opt, sep, value = ln.partition("=")
        if opt in ("--nodes", "--edges", "--relationships") and sep:
            head, sep2, files = value.rpartition("=")
            files = ",".join(os.path.join(directory, p) for p in files.split(","))
            value = f"{head}={files}" if sep2 else files
        out.append(f"{opt}={value}" if sep else opt)
    return out


# ---- export -------------------------------------------------------------------------------------------

_ARRAY_DELIMITERS = (";", "|", "¦", "\u241e", "\x1f")


_CSV_TYPE = {"bool": "boolean", "int": "long", "float": "double", "str": "string", "bytes": "byte[]",
             "date": "date", "localtime": "localtime", "time": "time", "localdatetime": "localdatetime",
             "datetime": "datetime", "duration": "duration"}


def _kind(v) -> str:
    """The CSV column type of a value (its kind is lpgdb.values.kind's answer)."""
    k = value_kind(v)
    if k == "list":
        kinds = {_kind(x) for x in v}
        if not kinds:
            return "[]"
        if len(kinds) > 1 or "byte[]" in kinds:
            raise DataError(f"a list mixing {', '.join(sorted(kinds))} values cannot be a CSV array column")
        return kinds.pop() + "[]"
    if k is None:
        raise DataError(f"cannot export a {type(v).__name__} value to CSV")
    return _CSV_TYPE[k]


def _text(v, kind: str) -> str:
    if isinstance(v, Temporal):
        return str(v)
    if kind == "boolean":
        return "true" if v else "false"
    if kind == "double":
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if kind in ("long", "string", "char"):
        return str(v)
    if kind == "duration":
        return temporal_text(v)
    if kind == "datetime":
        zone = getattr(v.tzinfo, "key", None)
        return v.isoformat() + (f"[{zone}]" if zone else "")
    return v.isoformat()


class _Writer:
    """A CSV writer that quotes only where needed, and writes '' (and empty arrays) as ``""``."""

    def __init__(self, f, delimiter: str, quote: str):
        self.f, self.d, self.q = f, delimiter, quote
        self.special = re.compile("[" + re.escape(delimiter + quote) + "\r\n]")

    def cell(self, text: Optional[str]) -> str:
        if text is None:
            return ""
        if text == "" or self.special.search(text) or text != text.strip():
            return self.q + text.replace(self.q, self.q + self.q) + self.q
        return text

    def row(self, cells) -> None:
        self.f.write(self.d.join(self.cell(c) for c in cells) + "\n")


def _file_name(prefix: str, labels: frozenset, used: set) -> str:
    stem = "_".join(re.sub(r"[^A-Za-z0-9_-]", "_", x) for x in sorted(labels)) or "nolabel"
    name, n = f"{prefix}.{stem}.csv", 1
    while name in used:
        n += 1
        name = f"{prefix}.{stem}.{n}.csv"
    used.add(name)
    return name


def export_csv(db, directory: str, *, delimiter: str = ",", layout: str = "per_label") -> Dict[str, Any]:
    """Write the graph into the new (or empty) ``directory``: one node file per label set, one
    edge file per label set (``layout="single"``: one ``nodes.csv`` and one ``edges.csv``, whose
    columns then need one type across all labels), and ``import.args`` for
    ``lpgdb import NEWDB DIR``.

    Returns ``{"nodes": n, "edges": m, "files": [...], "array_delimiter": c}``.
    Complexity: two passes over the graph; memory 8 bytes per element plus the column types.
    """
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise CsvError(f"{directory!r} exists and is not an empty directory; export into a new one")
    delimiter = parse_char(delimiter, "--delimiter")
    with new_files_on_failure(directory):
        return _write_csv(db, directory, delimiter, layout)


def _write_csv(db, directory: str, delimiter: str, layout: str) -> Dict[str, Any]:
    with db.snapshot() as s:
        groups: Dict[Tuple[str, frozenset], Dict[str, Any]] = {}
        bad_delims = set()

        if layout not in ("per_label", "single"):
            raise CsvError(f"layout must be 'per_label' or 'single', not {layout!r}")
        single = layout == "single"

        def scan(kind, element):
            g = groups.setdefault((kind, frozenset() if single else element.labels), {"ids": array("Q"), "cols": {}})
            g["ids"].append(element.id)
            cols = g["cols"]
            for k, v in element.properties.items():
                t = _kind(v)
                if isinstance(v, list):
                    for x in v:
                        if isinstance(x, str):
                            bad_delims.update(d for d in _ARRAY_DELIMITERS if d in x)
                            if x == "" and len(v) == 1:
                                raise DataError(f"{kind[:-1]} {element.id}: the list [''] (one empty string) "
                                                f"cannot be written in the CSV format: it reads back as []")
                have = cols.get(k)
                if have is None or have == "[]":
                    cols[k] = t
                elif t != have and t != "[]":
                    whose = "" if single else f" labelled {':'.join(sorted(element.labels)) or '(none)'}"
                    raise DataError(f"property {k!r} of the {kind}{whose} holds both {have} and {t} values; a CSV "
                                    f"column has one type: make the values one type first (e.g. SET n.{k} = "
                                    f"toString(n.{k})))")

        for n in s.nodes():
            scan("nodes", n)
        for e in s.edges():
            scan("edges", e)
        adelim = next((d for d in _ARRAY_DELIMITERS if d not in bad_delims and d != delimiter), None)
        if adelim is None:
            raise DataError("every candidate array delimiter (; | ¦ ␞ and U+001F) occurs inside some string in a "
                            "list property; such lists cannot be written in the CSV format")
        os.makedirs(directory, exist_ok=True)
        used: set = set()
        files = {"nodes": [], "edges": []}
        counts = {"nodes": 0, "edges": 0}
        for (kind, labels), g in sorted(groups.items(), key=lambda kv: (kv[0][0] == "edges", sorted(kv[0][1]))):
            cols = sorted((k, "string[]" if t == "[]" else t) for k, t in g["cols"].items())
            name = f"{kind}.csv" if single else _file_name(kind, labels, used)
            files[kind].append(name)
            with open(os.path.join(directory, name), "w", encoding="utf-8", newline="") as f:
                w = _Writer(f, delimiter, '"')
                head = [":ID", ":LABEL"] if kind == "nodes" else [":START_ID", ":END_ID", ":TYPE"]
                w.row(head + [f"{k}:{t}" for k, t in cols])
                get = s.node if kind == "nodes" else s.edge
                for eid in g["ids"]:
                    x = get(eid)
                    lead = [str(x.id), adelim.join(sorted(x.labels))] if kind == "nodes" else \
                        [str(x.src), str(x.dst), adelim.join(sorted(x.labels))]
                    cells = []
                    for k, t in cols:
                        v = x.properties.get(k)
                        if v is None:
                            cells.append(None)
                        elif t == "byte[]":
                            cells.append(adelim.join(str(b - 256 if b > 127 else b) for b in v))
                        elif t.endswith("[]"):
                            cells.append(adelim.join(_text(y, t[:-2]) for y in v))
                        else:
                            cells.append(_text(v, t))
                    w.row(lead + cells)
                    counts[kind] += 1
    with open(os.path.join(directory, "import.args"), "w", encoding="utf-8") as f:
        f.write("# lpgdb import NEWDB THIS_DIRECTORY   (paths below are relative to this directory)\n")
        if delimiter != ",":
            f.write(f"--delimiter=U+{ord(delimiter):04X}\n")
        f.write(f"--array-delimiter=U+{ord(adelim):04X}\n")
        for name in files["nodes"]:
            f.write(f"--nodes={name}\n")
        for name in files["edges"]:
            f.write(f"--edges={name}\n")
    return {**counts, "files": files["nodes"] + files["edges"], "array_delimiter": adelim}
