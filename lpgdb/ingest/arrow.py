"""Arrow tables, pandas and Polars DataFrames and Parquet files as ingest sources (``lpgdb[arrow]``).

pyarrow is imported only when one of these is loaded.  Column names follow the CSV format's
header (neo4j.py): ``name:ID(Space)`` / ``:ID``, ``:LABEL``, ``:START_ID(Space)``,
``:END_ID(Space)``, ``:TYPE``, ``:IGNORE``, and property columns, whose values keep their
Arrow type (a ``name:type`` suffix casts the column to that type first).  Arrow buffers are
handed to C as they are (no copy, no Python object per cell) for integer, unsigned, float,
boolean, string, binary and date columns; other types (timestamps, times, durations, lists,
decimals, ...) are converted per cell through ``to_pylist`` (the slow path).  A label column may
hold strings (split on the array delimiter) or lists of strings.
"""
from __future__ import annotations

import os
from array import array
from typing import Any, Iterator, List, Optional, Tuple

from .. import core
from ..errors import DataError, InterfaceError
from ..storage import records
from ..values import check_properties
from .columns import Column, EdgeBatch, NodeBatch
from .neo4j import CHUNK_ROWS, CsvError, Dialect, Header, Spaces

__all__ = ["is_table", "to_table", "read_table"]


def _pa():
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
    except ImportError:
        raise InterfaceError('loading tables, DataFrames or Parquet files needs pyarrow: '
                             'pip install "lpgdb[arrow]" (or pip install pyarrow)') from None
    return pyarrow


def is_table(obj) -> bool:
    """Whether ``obj`` is something ``to_table`` converts (without importing pyarrow needlessly)."""
    mod = type(obj).__module__.split(".")[0]
    return (mod in ("pyarrow", "pandas", "polars") or hasattr(obj, "__arrow_c_stream__")
            or hasattr(obj, "__arrow_c_array__"))


def to_table(obj, what: str):
    """A pyarrow Table from a Table, RecordBatch, RecordBatchReader, pandas or Polars DataFrame,
    any object with the Arrow C stream interface, or a Parquet file path."""
    pa = _pa()
    try:
        if isinstance(obj, (str, os.PathLike)):
            import pyarrow.parquet as pq
            return pq.read_table(os.fspath(obj))
        if isinstance(obj, pa.Table):
            return obj
        if isinstance(obj, pa.RecordBatch):
            return pa.Table.from_batches([obj])
        if isinstance(obj, pa.RecordBatchReader):
            return obj.read_all()
        mod = type(obj).__module__.split(".")[0]
        if mod == "pandas":
            return pa.Table.from_pandas(obj, preserve_index=False)
        if mod == "polars":
            return obj.to_arrow()
        return pa.table(obj)
    except (pa.ArrowException, ValueError, TypeError, OSError) as e:
        raise DataError(f"{what}: cannot be read as an Arrow table: {e}") from None


def _norm(arr):
    """The array with element offset 0 (slices are copied), as pyarrow buffers."""
    pa = _pa()
    if arr.offset:
        arr = pa.concat_arrays([arr])
    return arr


def _native(arr, pa, pc) -> Optional[Tuple[str, Any]]:
    """(kind, array) when C takes the array's buffers directly, else None."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_integer(t):
        if t == pa.uint64():
            return "uint", arr
        return "int", arr.cast(pa.int64()) if t != pa.int64() else arr
    if pa.types.is_floating(t):
        return "float", arr.cast(pa.float64()) if t != pa.float64() else arr
    if pa.types.is_boolean(t):
        return "bool", arr
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "str", arr.cast(pa.large_string()) if not pa.types.is_large_string(t) else arr
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytes", arr.cast(pa.large_binary()) if not pa.types.is_large_binary(t) else arr
    if pa.types.is_date32(t):
        return "date", arr
    if pa.types.is_date64(t):
        return "date", arr.cast(pa.date32())
    return None


def _column(arr, pa, pc) -> Column:
    n = len(arr)
    if pa.types.is_null(arr.type):
        return Column("int", n, bytes(8 * n), None, bytes((n + 7) // 8))
    got = _native(arr, pa, pc)
    if got is not None:
        kind, a = got
        bufs = a.buffers()
        valid = bufs[0] if a.null_count else None
        if kind in ("str", "bytes"):
            return Column(kind, n, bufs[1], bufs[2] if bufs[2] is not None else b"", valid, a.offset)
        return Column(kind, n, bufs[1], None, valid, a.offset)
    # the slow path: one Python value per cell
    offs = array("q", [0])
    heap = bytearray()
    valid = bytearray((n + 7) // 8)
    for i, v in enumerate(arr.to_pylist()):
        if v is not None:
            v = check_properties({"v": v}, allow_none=False)["v"]
            heap += records.pack(v)
            valid[i >> 3] |= 1 << (i & 7)
        offs.append(len(heap))
    return Column("msgpack", n, offs.tobytes(), bytes(heap), bytes(valid))


def _id_column(arr, pa, what: str):
    """(kind, n, valid, values, data) of an id column for the C ID maps."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_integer(arr.type):
        a = _norm(arr.cast(pa.int64()))
        b = a.buffers()
        return "int", len(a), b[0] if a.null_count else None, b[1], None
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        a = _norm(arr.cast(pa.large_string()))
        b = a.buffers()
        return "str", len(a), b[0] if a.null_count else None, b[1], b[2] if b[2] is not None else b""
    raise DataError(f"{what}: an id column must hold integers or strings, not {arr.type}")


def _labels(cols, group: frozenset, dialect: Dialect, n: int, pa, pc) -> Tuple[array, List[frozenset]]:
    if not cols:
        return array("I", bytes(4 * n)), [group]
    keys = []
    for arr in cols:
        if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
            arr = pc.binary_join(arr.cast(pa.list_(pa.string())), dialect.array_delimiter)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                or pa.types.is_dictionary(arr.type)):
            raise DataError(f"a label column must hold strings or lists of strings, not {arr.type}")
        enc = pc.dictionary_encode(arr.fill_null(""))
        keys.append((enc.indices.cast(pa.uint32()), enc.dictionary.to_pylist()))
    adelim = dialect.array_delimiter

    def split(text):
        return frozenset(x for x in text.split(adelim) if x)
    if len(keys) == 1:
        idx, dictionary = keys[0]
        return array("I", _norm(idx).buffers()[1].to_pybytes()[:4 * n]), [group | split(t) for t in dictionary]
    combos, lsets, out = {}, [], array("I")
    cols_idx = [k[0].to_pylist() for k in keys]
    for codes in zip(*cols_idx):
        k = combos.get(codes)
        if k is None:
            k = combos[codes] = len(lsets)
            lsets.append(group.union(*(split(keys[j][1][c]) for j, c in enumerate(codes))))
        out.append(k)
    return out, lsets


def read_table(kind: str, labels: Tuple[str, ...], source, name: str, dialect: Dialect, spaces: Spaces,
               first_id: int) -> Iterator[NodeBatch]:
    """Yield the batches of one table source (at most CHUNK_ROWS rows each)."""
    pa = _pa()
    import pyarrow.compute as pc
    table = to_table(source, name)
    header = Header(kind, labels, [name], list(table.column_names), name, 1, dialect)
    # a typed property column (name:type) is cast to that type, as a CSV column would be read
    casts = {"string": pa.large_string(), "int": pa.int64(), "long": pa.int64(), "short": pa.int64(),
             "byte": pa.int64(), "float": pa.float64(), "double": pa.float64(), "boolean": pa.bool_(),
             "date": pa.date32()}
    next_id = first_id
    for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
        n = batch.num_rows
        if not n:
            continue
        cols = []
        for ci, col in enumerate(header.columns):
            arr = batch.column(ci)
            if col.role is not None:
                continue
            if ":" in header.columns[ci].field and col.type in casts and not col.array:
                try:
                    arr = arr.cast(casts[col.type])
                except pa.ArrowException as e:
                    raise CsvError(f"column {col.describe()!r} cannot be read as {col.type}: {e}", path=name) from None
            try:
                cols.append((col.name, _column(arr, pa, pc)))
            except DataError as e:
                raise DataError(f"{name}: column {col.describe()!r}: {e}") from None
        label_arrs = [batch.column(i) for i in header.label_cols]
        lset, lsets = _labels(label_arrs, frozenset(labels), dialect, n, pa, pc)

        def where(row, base=next_id - first_id):
            return f"{name} row {base + row}"
        if kind == "nodes":
            if header.id_col is not None:
                idc = header.columns[header.id_col]
                k, _n, valid, vals, data = _id_column(batch.column(header.id_col), pa, f"{name}: {idc.describe()}")
                try:
                    spaces.map_for(idc.space).put_column(k, n, valid, vals, data, next_id)
                except core.InputFault as e:
                    raise _table_fault(e, name, idc, next_id - first_id, spaces, batch.column(header.id_col)) from None
                if idc.name:
                    cols.insert(0, (idc.name, _column(batch.column(header.id_col), pa, pc)))
            spaces.sources.append((next_id, name, None, n, next_id - first_id))
            out = NodeBatch(n, lset, lsets, cols, where)
        else:
            ends = []
            for ci in (header.start_col, header.end_col):
                c = header.columns[ci]
                if c.space not in spaces.maps:
                    known = ", ".join(repr(s) for s in spaces.maps) or "none"
                    raise CsvError(f"column {c.describe()!r}: no node source declares ID space "
                                   f"{c.space or '(global)'!r} (known: {known})", path=name)
                k, _n, valid, vals, data = _id_column(batch.column(ci), pa, f"{name}: {c.describe()}")
                try:
                    ends.append(spaces.maps[c.space].get_column(k, n, valid, vals, data))
                except core.InputFault as e:
                    raise _table_fault(e, name, c, next_id - first_id, spaces, batch.column(ci)) from None
            out = EdgeBatch(n, lset, lsets, ends[0], ends[1], cols, where)
        next_id += n
        yield out


def _table_fault(e: core.InputFault, name: str, col, base: int, spaces: Spaces, arr) -> DataError:
    row = base + e.row
    value = arr[e.row].as_py()
    at = f"{name} row {row}, column {col.describe()!r}"
    if e.what == "empty_id":
        return DataError(f"{at}: the id is missing (null); every row needs one")
    if e.what == "dup_id":
        return DataError(f"{at}: id {value!r} appears twice in ID space {col.space or '(global)'!r}; ids must be "
                         f"unique in their space")
    if e.what == "no_id":
        return DataError(f"{at}: node {value!r} is not an id of the loaded nodes in ID space "
                         f"{col.space or '(global)'!r}")
    if e.what == "int_id":
        return DataError(f"{at}: id {value!r} is not an integer (id_type='integer')")
    return DataError(f"{at}: bad id {value!r} ({e.what})")
