"""``Database.cursor()``: the PEP 249 cursor shape over ``db.execute``.

Owns nothing of its own: ``execute`` runs ``db.execute`` and keeps the ``Result`` for the
fetch methods; ``executemany`` runs one query for each parameter set inside ONE write
transaction (all or nothing, as sqlite3 does).  Queries are openCypher, not SQL, and parameters
are a mapping (``$name``), PEP 249's "named" style.

>>> import lpgdb
>>> db = lpgdb.connect(":memory:")
>>> cur = db.cursor()
>>> cur.executemany("CREATE (:Person {name: $name})", [{"name": "Ada"}, {"name": "Bob"}])
>>> cur.execute("MATCH (p:Person) RETURN p.name ORDER BY p.name").fetchall()
[('Ada',), ('Bob',)]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Mapping, Optional, Tuple

from .errors import InterfaceError
from .result import Result, Row
from .values import plain

if TYPE_CHECKING:
    from .database import Database

__all__ = ["Cursor"]


class Cursor:
    """A PEP 249-style cursor of a ``Database`` (``db.cursor()``); a context manager.

    Attributes:
        connection: the Database.
        arraysize: how many rows ``fetchmany()`` returns by default (1).
    """

    arraysize = 1

    def __init__(self, db: "Database") -> None:
        self.connection = db
        self._result: Optional[Result] = None
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")

    def _current(self) -> Result:
        self._check()
        if self._result is None:
            raise InterfaceError("no result: call execute() first")
        return self._result

    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> "Cursor":
        """Run ``query`` (in its own transaction, like ``db.execute``); returns the cursor."""
        self._check()
        self._result = None
        self._result = self.connection.execute(query, params, **options)
        return self

    def executemany(self, query: str, seq_of_params: Iterable[Mapping[str, Any]]) -> None:
        """Run ``query`` once per parameter mapping, all in one write transaction: either every
        run commits or none does.  Rows the query returns are discarded."""
        self._check()
        self._result = None
        try:
            runs = iter(plain(seq_of_params))
        except TypeError:
            raise InterfaceError(f"executemany needs an iterable of parameter mappings, not "
                                 f"{type(seq_of_params).__name__}") from None
        with self.connection.transaction() as tx:
            for params in runs:
                tx.execute(query, params)

    @property
    def description(self) -> Optional[List[Tuple]]:
        """PEP 249 ``description`` of the last result (None before any, or without columns)."""
        return self._result.description if self._result is not None else None

    @property
    def rowcount(self) -> int:
        """Rows of the last ``execute`` result; -1 before any and after ``executemany``."""
        return self._result.rowcount if self._result is not None else -1

    def fetchone(self) -> Optional[Row]:
        """The next row of the last result, or None."""
        return self._current().fetchone()

    def fetchmany(self, size: Optional[int] = None) -> List[Row]:
        """The next ``size`` rows (default ``arraysize``)."""
        return self._current().fetchmany(self.arraysize if size is None else size)

    def fetchall(self) -> List[Row]:
        """The remaining rows of the last result."""
        return self._current().fetchall()

    def __iter__(self) -> Iterator[Row]:
        return iter(self._current())

    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249: a no-op (lpgdb needs no sizes declared for parameters)."""
        self._check()

    def setoutputsize(self, size: Any, column: Optional[int] = None) -> None:
        """PEP 249: a no-op (results are not read in fixed-size buffers)."""
        self._check()

    def close(self) -> None:
        """Forget the last result; later calls raise InterfaceError (idempotent)."""
        self._closed = True
        self._result = None

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
