"""Query results: ``Result`` (an iterable of ``Row``) and ``Row`` (tuple-like, also by column name).

Owns: the shape users see after ``db.execute`` / ``tx.execute`` / ``snapshot.execute``.
Invariants: a Result is fully materialised when it is returned (it stays valid after the
snapshot or transaction that produced it ends); every Row has exactly ``len(columns)`` values.

>>> r = Result(["a", "b"], [(1, 2)])
>>> row = r.fetchone()
>>> row[0], row["b"], r.columns
(1, 2, ['a', 'b'])
"""
from __future__ import annotations

from typing import Any, Iterator, List, Optional, Sequence

__all__ = ["Result", "Row"]


class Row(tuple):
    """One result row: a tuple whose items can also be read by column name (like sqlite3.Row)."""

    def __new__(cls, columns: Sequence[str], values: Sequence[Any]):
        row = super().__new__(cls, values)
        row._columns = columns
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._columns.index(key))
            except ValueError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def keys(self) -> List[str]:
        return list(self._columns)

    def as_dict(self) -> dict:
        return dict(zip(self._columns, self))


class Result:
    """The rows of a query, with PEP 249-style accessors.

    Attributes:
        columns: the column names, in order.
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]):
        self.columns = list(columns)
        self._rows = [Row(self.columns, r) for r in rows]
        self._pos = 0

    def __iter__(self) -> Iterator[Row]:
        while self._pos < len(self._rows):
            row = self._rows[self._pos]
            self._pos += 1
            yield row

    def __len__(self) -> int:
        return len(self._rows)

    def fetchone(self) -> Optional[Row]:
        """The next row, or None when there are no more."""
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    def fetchall(self) -> List[Row]:
        """All remaining rows."""
        rows = self._rows[self._pos:]
        self._pos = len(self._rows)
        return rows

    def to_dicts(self) -> List[dict]:
        """All rows (from the start) as ``{column: value}`` dicts."""
        return [dict(zip(self.columns, r)) for r in self._rows]

    def __repr__(self) -> str:
        return f"Result(columns={self.columns!r}, rows={len(self._rows)})"
