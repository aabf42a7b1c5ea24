"""One bulk load: sources -> columnar batches -> the transaction's bulk ops (``db.bulk_load``).

Sources (``nodes=`` / ``edges=`` of ``bulk_load``; see docs/import.md)
    - a CSV path (Neo4j admin-import format, header on the first line) or a Parquet path
      (``.parquet``/``.pq``);
    - a list of CSV paths: ONE group (the first file's first line is the header, the others
      are data only);
    - a table: pyarrow Table / RecordBatch / RecordBatchReader, pandas or Polars DataFrame,
      anything with the Arrow C stream interface;
    - a mapping ``{labels: source}`` (labels: ``"A"``, ``"A:B"`` or an iterable of str; for edges
      the type) giving those labels to every row of the source, or a list of sources and
      ``(labels, source)`` pairs.
    Edge sources refer to nodes by the ID spaces (``:ID(Space)`` / ``:START_ID(Space)``) of
    the node sources of the same call.

Every batch is appended to the transaction as a NODES_BULK / EDGES_BULK op (records.py) whose
per-row property maps were encoded by C (columns.py).  With a schema enforced, the rows go
into the transaction's write set instead and the commit validates them as usual (until the
vectorized validator of issue 11 item 2 lands: see docs/import.md).
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from typing import Any, Callable, Iterable, List, Optional, Tuple

from ..errors import InterfaceError
from ..values import plain
from . import arrow as _arrow
from .neo4j import CsvFiles, Dialect, Spaces, read_group

__all__ = ["is_source", "Load"]

_PARQUET = (".parquet", ".pq", ".parq")

#: batches a reader thread parses ahead of the load (0: parse on the caller's thread).  The C
#: parser and packer run without the GIL, so on two cores the next batch is parsed while the
#: last one is spilled (storage/stream.py); memory: READ_AHEAD + 2 batches of CHUNK_ROWS rows.
READ_AHEAD = 2


def read_ahead(gen, depth: int):
    """Iterate ``gen`` run on a reader thread, at most ``depth`` items ahead.  The reader's
    exception is raised here, when its place in the sequence is reached.  Closing the iterator
    (or leaving it by an exception) stops the reader after the item it is on, closes ``gen``
    on the reader's thread and joins it: nothing outlives the loop that reads it."""
    q: "queue.Queue" = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in gen:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as e:   # noqa: BLE001 - raised on the consumer's thread
            put((done, e))
        finally:
            gen.close()

    t = threading.Thread(target=run, name="lpgdb-ingest-reader", daemon=True)
    t.start()
    try:
        while True:
            item, err = q.get()
            if item is done:
                if err is not None:
                    raise err
                return
            yield item
            del item
    finally:
        stop.set()
        while t.is_alive():
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
            t.join(0.05)


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _is_group(x) -> bool:
    x = plain(x)            # a list subclass's own __len__ / __iter__ never run
    return isinstance(x, (list, tuple)) and bool(x) and all(_is_path(p) for p in x)


def _is_one_source(x) -> bool:
    return _is_path(x) or _is_group(x) or isinstance(x, CsvFiles) or _arrow.is_table(x)


def is_source(x) -> bool:
    """Whether ``x`` (a bulk_load argument) names sources rather than rows of Python values."""
    x = plain(x)
    if x is None:
        return False
    if _is_one_source(x) or isinstance(x, Mapping):
        return True
    if isinstance(x, (list, tuple)) and x:
        first = plain(x[0])
        if _is_one_source(first):
            return True
        if isinstance(first, tuple) and len(first) == 2 and _is_one_source(first[1]) \
                and not isinstance(first[1], Mapping):
            return True
    return False


def _labels(key, what: str) -> Tuple[str, ...]:
    key = plain(key)
    if key is None:
        return ()
    if type(key) is str:
        return tuple(x for x in key.split(":") if x)
    try:
        items = tuple(key)
    except TypeError:
        items = None
    items = items and tuple(map(plain, items))
    if items is None or not all(type(x) is str and x for x in items):
        raise InterfaceError(f"bulk_load: the labels of a {what} source must be a str ('A' or 'A:B') or an "
                             f"iterable of str, not {key!r:.80}")
    return items


def _sources(x, what: str) -> List[Tuple[Tuple[str, ...], Any]]:
    """[(labels, source)] of one bulk_load argument."""
    if x is None:
        return []
    if _is_one_source(x):
        return [((), _source(x))]
    if isinstance(x, Mapping):          # checked below like the others ({label: []} is no source)
        out = [(_labels(k, what), _source(v)) for k, v in x.items()]
    else:
        out = []
        for item in x:
            item = plain(item)
            if _is_one_source(item):
                out.append(((), _source(item)))
            elif type(item) is tuple and len(item) == 2 and _is_one_source(item[1]):
                out.append((_labels(item[0], what), _source(item[1])))
            else:
                raise InterfaceError(f"bulk_load: {what} holds {type(item).__name__}; give paths, tables, "
                                     f"(labels, source) pairs or a mapping {{labels: source}}")
    for labels, src in out:
        if not _is_one_source(src):
            raise InterfaceError(f"bulk_load: a {what} source must be a CSV or Parquet path, a list of CSV paths "
                                 f"(one group) or a table, not {type(src).__name__}")
    return out


def _source(src):
    """A source with its paths as built-in values (``values.plain``)."""
    src = plain(src)
    return list(map(plain, src)) if _is_group(src) else src


def _name(src) -> str:
    if isinstance(src, CsvFiles):
        return src.files[0]
    if _is_path(src):
        return os.fspath(src)
    if _is_group(src):
        return os.fspath(src[0])
    return f"<{type(src).__name__}>"


class Load:
    """One bulk load into the open transaction ``tx`` (Transaction internals: ``_log_bulk_batch``,
    ``_buffer_batch``).

    Without a schema every batch is logged as soon as it is read.  With one, the batches are
    kept (their columns: about 30 bytes a row) until ``finish()``: if the schema's checks over
    the columns (schema/bulk.py) show that the load cannot violate it, they are logged as
    columnar ops; otherwise their rows join the transaction's write set and the commit validates
    them row by row, reporting exactly what the row path reports."""

    def __init__(self, tx, dialect: Dialect, progress: Optional[Callable[[int], None]] = None,
                 fallback: Optional[Callable[[str, str], Any]] = None, stream: bool = True,
                 spill_bytes: Optional[int] = None):
        if progress is not None and not callable(progress):
            raise InterfaceError(f"progress must be a callable taking a number of bytes, or None, "
                                 f"not {type(progress).__name__}")
        self.tx, self.dialect, self.progress, self.fallback = tx, dialect, progress, fallback
        # without a schema, the logged batches are handed to a streamed bulk load as they come
        # (Transaction._stream_bulk, storage/stream.py): memory stays bounded whatever the size
        self.stream, self.spill_bytes = stream and tx.graph_type is None, spill_bytes
        self.spaces = Spaces(dialect.id_type == "integer")
        self.edge_where: List[tuple] = []      # (first edge id, rows, the batch's where(row) or None)
        self.graph_type = tx.graph_type
        self.next_node, self.next_edge = tx._next_node, tx._next_edge
        self.first_node = self.next_node
        self.kept: List[Any] = []              # batches awaiting finish() (with a schema)
        self.checked_columnar: Optional[bool] = None

    def _read(self, what: str, sources, first: int, progress):
        """The batches of ``sources`` in order, their ids from ``first`` on (the reader thread's
        share of the work; packing the property maps is the loading thread's: it has the
        lighter share since the spill runs are packed)."""
        for labels, src in sources:
            if _arrow.is_table(src) or (_is_path(src) and os.fspath(src).lower().endswith(_PARQUET)):
                gen = _arrow.read_table(what, labels, src, _name(src), self.dialect, self.spaces, first)
            else:
                header = src.header if isinstance(src, CsvFiles) else None
                files = src.files if isinstance(src, CsvFiles) else \
                    [os.fspath(p) for p in (src if _is_group(src) else [src])]
                gen = read_group(what, labels, files, self.dialect, self.spaces, first, progress,
                                 self.fallback, header)
            for batch in gen:
                first += batch.n
                yield batch

    def _batches(self, what: str, sources):
        first = self.next_node if what == "nodes" else self.next_edge
        if READ_AHEAD > 0:
            bytes_read = [0]         # the reader's progress, reported on this thread
            reported = 0

            def count(n: int) -> None:
                bytes_read[0] += n
            batches = read_ahead(self._read(what, sources, first, count if self.progress is not None else None), READ_AHEAD)
        else:
            batches = self._read(what, sources, first, self.progress)
        try:
            for batch in batches:
                if READ_AHEAD > 0 and self.progress is not None and bytes_read[0] > reported:
                    done = bytes_read[0]
                    self.progress(done - reported)
                    reported = done
                if what == "nodes":
                    self.next_node += batch.n
                else:
                    if self.graph_type is not None:      # violations are reported with their lines
                        self.edge_where.append((self.next_edge, batch.n, batch._where))   # not the batch
                    self.next_edge += batch.n
                if self.graph_type is None:
                    self.tx._log_bulk_batch(batch)
                    if self.stream:
                        self.tx._stream_bulk(self.spill_bytes)
                else:
                    self.kept.append(batch)
                del batch            # a logged batch's columns are freed: the op holds what it needs
        finally:
            batches.close()          # the reader thread stopped and joined, the files closed
        if READ_AHEAD > 0 and self.progress is not None and bytes_read[0] > reported:
            self.progress(bytes_read[0] - reported)

    def nodes(self, sources) -> range:
        """Read every node source; the new ids, in source order."""
        first = self.next_node
        self._batches("nodes", _sources(sources, "nodes"))
        return range(first, self.next_node)

    def edges(self, sources) -> range:
        first = self.next_edge
        self._batches("edges", _sources(sources, "edges"))
        return range(first, self.next_edge)

    def finish(self, columnar: bool = True) -> None:
        """With a schema: check the kept batches over their columns and log them, or hand their
        rows to the transaction's validation (always, when not ``columnar``: rows of Python
        values follow that refer to the new nodes, and the transaction must see them)."""
        if not self.kept:
            return
        from ..schema.bulk import certainly_valid
        tx = self.tx
        nodes = [b for b in self.kept if b.kind == "nodes"]
        edges = [b for b in self.kept if b.kind == "edges"]
        ok = columnar and certainly_valid(self.graph_type, tx, nodes, edges, self.first_node)
        self.checked_columnar = ok
        kept = nodes + edges
        self.kept, nodes, edges = [], None, None
        while kept:                       # each batch freed once logged or buffered
            b = kept.pop(0)
            if ok:
                tx._log_bulk_batch(b)
            else:
                tx._buffer_batch(b)
            del b

    def where(self, element: str, eid: int) -> Optional[str]:
        """Where the new node or edge ``eid`` came from ("file:line", "<Table> row k")."""
        if element == "node":
            return self.spaces.where(eid)
        for first, n, where in reversed(self.edge_where):
            if first <= eid < first + n:
                return where(eid - first) if where is not None else None
        return None
