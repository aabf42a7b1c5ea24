"""The columnar batch: what every ingest source (CSV, Arrow, pandas, Parquet) becomes.

A ``Column`` is one property's values for the rows of a batch, in Apache Arrow's layout (a
validity bitmap, LSB first, 1 = a value; then the values), so pyarrow arrays are taken without a
copy and the C CSV parser writes the same layout:

    kind       values                                 data
    int        int64 per row                          -
    uint       uint64 per row                         -
    float      float64 per row                        -
    bool       bitmap                                 -
    date       int32 days since 1970-01-01            -
    str        int64 offsets[n+1] (UTF-8 text)        the text
    bytes      int64 offsets[n+1]                     the bytes
    msgpack    int64 offsets[n+1]                     each cell one msgpack value (records.pack)

``offset`` is the first element used (Arrow arrays may be slices).  A ``NodeBatch`` is ``n``
rows: a label-set index per row into ``labelsets`` and the property columns; an ``EdgeBatch``
adds the endpoints (node ids, uint64).  ``props()`` encodes each row's property map once, in C
(native/ingest.c), as the bytes storage stores (records.pack_props), so nothing here creates a
Python object per cell.  ``where(row)`` says where a row came from ("file:line", or a table's
row), for error messages.
"""
from __future__ import annotations

from array import array
from typing import Callable, List, Optional, Tuple

from .. import core


class Column:
    __slots__ = ("kind", "n", "offset", "valid", "values", "data")

    def __init__(self, kind: str, n: int, values, data=None, valid=None, offset: int = 0):
        self.kind, self.n, self.offset = kind, n, offset
        self.valid, self.values, self.data = valid, values, data

    def is_valid(self, i: int) -> bool:
        v = self.valid
        if v is None:
            return True
        j = self.offset + i
        return bool(memoryview(v).cast("B")[j >> 3] >> (j & 7) & 1)

    def count(self) -> int:
        """How many rows hold a value.  O(n / 8)."""
        if self.valid is None:
            return self.n
        bits = memoryview(self.valid).cast("B")
        if self.offset % 8 == 0 and self.n % 8 == 0:
            start = self.offset // 8
            return int.from_bytes(bits[start:start + self.n // 8], "little").bit_count()
        return sum(self.is_valid(i) for i in range(self.n))

    def __repr__(self) -> str:
        return f"Column({self.kind}, n={self.n})"


class NodeBatch:
    """``n`` new nodes: ``lset[i]`` indexes ``labelsets``; ``columns`` = [(name, Column)]."""

    kind = "nodes"

    def __init__(self, n: int, lset: array, labelsets: List[frozenset], columns: List[Tuple[str, Column]],
                 where: Optional[Callable[[int], str]] = None):
        self.n, self.lset, self.labelsets, self.columns = n, lset, labelsets, columns
        self._where = where
        self._packed: Optional[Tuple[bytes, array]] = None

    def where(self, row: int) -> Optional[str]:
        return self._where(row) if self._where is not None else None

    def props(self) -> Tuple[bytes, array]:
        """(blob, offsets): row i's property map (msgpack) is blob[offsets[i]:offsets[i+1]].
        Packed once (the schema check and the log share it)."""
        if self._packed is None:
            self._packed = core.pack_rows(self.n, [(name, c.kind, c.offset, c.valid, c.values, c.data)
                                                   for name, c in self.columns])
        return self._packed


class EdgeBatch(NodeBatch):
    """``n`` new edges: ``lset`` indexes ``labelsets`` (the edge labels), endpoints ``src``/``dst``."""

    kind = "edges"

    def __init__(self, n: int, lset: array, labelsets: List[frozenset], src: array, dst: array,
                 columns: List[Tuple[str, Column]], where: Optional[Callable[[int], str]] = None):
        super().__init__(n, lset, labelsets, columns, where)
        self.src, self.dst = src, dst
