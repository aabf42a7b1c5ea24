"""The public entry point: ``lpgdb.connect`` and ``Database`` (API.md).

A Database owns one storage Engine (one directory, or memory), hands out snapshots and write
transactions, and owns the schema operations (set, drop, check, infer) and user indexes.
"""
from __future__ import annotations

import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Mapping, Optional, Tuple, Union

from .errors import Error, InterfaceError, NotFoundError, OperationalError, SchemaViolationError
from .storage import engine as _engine
from .storage.view import canonical_key
from .transaction import IndexInfo, Snapshot, Transaction, _ViewReader, _check_id
from .values import as_dict, offset_of, plain

if TYPE_CHECKING:
    import datetime

    from .cursor import Cursor
    from .query import Plan
    from .result import Result
    from .schema.graphtype import GraphType
    from .storage.archive import ArchiveStatus
    from .storage.replica import ReplicaLag

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["connect", "restore", "Database", "IndexInfo", "PreparedQuery"]


def _schema_keys(ddl: str, name: Optional[str]):
    """What storage keeps of a schema besides its text: its key specs (lpgdb.schema.key_specs)."""
    from .schema import key_specs
    return key_specs(ddl, name)


def _graph_type(schema):
    """The GraphType of stored schema text ((ddl, name) or None), resolved once and cached."""
    from . import schema as _schema
    return _schema.of(schema)


def connect(path: Optional[PathLike], *, readonly: bool = False, create: bool = True, sync: str = "full",
            timeout: Optional[float] = None, **options: Any) -> "Database":
    """Open (or create) the database stored in directory ``path``.

    Args:
        path: a directory; ``":memory:"`` (or None) for a database that lives only in memory.
        readonly: open as a follower beside a writer process; ``refresh()`` catches up.
        create: create the directory if there is no database there (else OperationalError).
        sync: ``"full"`` (fdatasync before commit returns; default), ``"normal"`` (fdatasync at
            most every 100 ms: a crash of the machine may lose the last commits, never
            consistency), ``"off"`` (the OS decides; for throwaway imports and tests).
        timeout: seconds to wait for the writer lock when another process holds it (like
            sqlite3's busy timeout); None or 0 fails at once with ``OperationalError``
            (``.reason == "locked"``).  Read-only opens never wait: they take no lock.
        options: ``wal_segment_size`` (bytes, a multiple of 4 KiB from 64 KiB to 1 GiB, default
            16 MiB; fixed when the database is created), ``recover="truncate"`` (when the log
            is damaged where acknowledged commits were, open anyway with every commit before
            the damage and erase the rest, instead of raising CorruptionError), ``checkpoint_wal_bytes``
            (checkpoint once this much WAL accumulated and it is worth an eighth of the files a
            checkpoint would rewrite, default 8 MiB; always at 256 MiB), ``checkpoint_mem_bytes``
            (checkpoint once the commits since the last one take this much memory, default
            256 MiB);
            ``archive`` (``"s3://bucket/prefix"``, a directory, or a Store object): ship the
            log there continuously (every ``archive_interval`` seconds, default 0.5) and a base
            at every checkpoint, for ``lpgdb.restore`` and replicas; upload failures are
            retried and show in ``archive_status()``, never in a commit;
            ``archive_retention`` (seconds, default None: keep everything): delete archived
            history that no restore to a point inside that window needs;
            ``follow`` (with ``readonly=True``; an archive as above): ``path`` becomes a replica
            of the archived database, bootstrapped from its newest base and following it
            (``follow_interval`` seconds between polls, default 0.25; see ``replica_lag``).

    >>> db = connect(":memory:")
    >>> with db.transaction() as tx:
    ...     a = tx.create_node("Person", {"name": "Ada"})
    >>> db.snapshot().node(a)["name"]
    'Ada'
    """
    return Database(path, readonly=readonly, create=create, sync=sync, timeout=timeout, **options)


def restore(source: PathLike, dest: PathLike, until: "Optional[Union[datetime.datetime, int]]" = None,
            lsn: Optional[int] = None) -> None:
    """Create the database ``dest`` from a backup or from an archive.

    Args:
        source: a directory written by ``db.backup()`` (restored as it is, after every checksum
            and invariant is checked), or an archive kept by ``connect(..., archive=...)``: a
            directory, ``"s3://bucket/prefix"`` or a Store object.
        dest: a new directory.  Restoring is atomic: ``dest`` is built under a private
            temporary name and renamed into place only when complete and checked, so a failure
            leaves no ``dest`` (and no other file touched) and a retry starts afresh.
        until: archives only: a ``datetime``: restore the last commit at or before it (naive
            datetimes are local time). An int is taken as ``lsn``.
        lsn: archives only: restore the last commit ending at or before this log position.
            With neither, everything archived is restored. The restored database starts a new
            history (a new database id), so it cannot archive into the same archive.
    """
    import datetime as _dt
    from .storage import archive as _archive
    from .storage import store as _store
    dest = _path(dest, "restore: dest")
    source, until, lsn = _store_spec(source, "restore: source"), plain(until), plain(lsn)
    if isinstance(until, int) and not isinstance(until, bool) and lsn is None:
        until, lsn = None, until
    if until is not None and not isinstance(until, _dt.datetime):
        raise InterfaceError("until must be a datetime (or None)")
    if lsn is not None and (not isinstance(lsn, int) or isinstance(lsn, bool) or lsn < 0):
        raise InterfaceError("lsn must be a non-negative int")
    if until is not None and lsn is not None:
        raise InterfaceError("give until= or lsn=, not both")
    if until is not None:
        offset_of(until, "until")    # DataError for a time zone that fails
    if os.path.exists(dest):
        raise OperationalError(f"restore destination {dest!r} already exists")
    is_backup = (isinstance(source, (str, os.PathLike)) and not os.fspath(source).startswith("s3://")
                 and os.path.exists(os.path.join(os.fspath(source), "META")))
    if not is_backup:
        store = _store.open_store(source)
        kw = {"until_lsn": lsn}
        if until is not None:
            kw["until_time_ns"] = int(until.timestamp() * 1_000_000) * 1000 + 999
        _archive.restore(store, dest, open_engine=lambda path, target: _engine.Engine(
            path, schema_loader=_schema_keys, recover_until=target), **kw)
        with connect(dest) as db:   # the writer open re-checks and takes ownership
            db.verify()
    else:
        source = os.fspath(source)
        if until is not None or lsn is not None:
            raise InterfaceError("until=/lsn= need an archive (connect(..., archive=...)); "
                                 f"{source!r} is a backup, which restores to one point")
        _engine.restore_copy(source, dest, schema_loader=_schema_keys)   # checked before the rename


#: a streamed load's spill buffer (storage/stream.py) is this share of ``bulk_import``'s
#: ``memory_bytes``, at most ``IMPORT_SPILL_MAX``
IMPORT_SPILL_SHARE, IMPORT_SPILL_MAX = 8, 64 << 20


def bulk_import(path: PathLike, nodes: Any = None, edges: Any = None, *, delimiter: str = ",",
                array_delimiter: str = ";", quote: str = '"', encoding: str = "utf-8", id_type: str = "string",
                progress: Optional[Callable[[int], None]] = None,
                memory_bytes: int = 768 << 20, indexes: Iterable = ()) -> Tuple[int, int]:
    """Create the NEW database ``path`` holding the nodes and edges of CSV, Parquet or table
    sources (as ``db.bulk_load`` takes them), in bounded memory.  Returns ``(nodes, edges)``.

    The database is built under a private temporary name beside ``path`` (``.NAME.tmp-*``) by
    one streamed bulk load (docs/storage.md: edges routed into per-partition spill runs of
    ``memory_bytes // 8`` bytes at most 64 MiB, each partition file written once, one small log
    record), then closed, fsynced and renamed to ``path``:
    ``path`` appears only when the whole load is in it, so a failure or a crash at any moment
    leaves no database at ``path`` (a crash can leave the temporary directory, which nothing
    reads; the next build of ``path`` removes it: storage/io.py ``build_dir``).  ``path`` must not exist, or be an empty directory.  ``lpgdb import``
    into a new database uses this; ``db.bulk_load`` loads into an open database in one
    transaction instead, holding the whole load in memory until its commit is checkpointed.
    ``indexes``: ``(label, property)`` pairs (or ``(label, [properties])``) whose hash indexes
    are created on the empty database first, so each piece writes their key sub-index files as
    it goes (no index build over the whole graph afterwards).
    Memory: the parse buffer, the spill buffer, the map of CSV ids to node ids, one partition's
    nodes and edges while its file is built, and the key entries of ``indexes`` while their
    sub-index files are built (about 50 bytes a key).  Nodes, their keys and edges all pass
    through the spill file in tmp/ once.  Complexity: O(rows + bytes); each file is written once.
    """
    from .ingest import Dialect
    from .ingest.load import Load, is_source
    from .storage import io as _io
    path = _path(path, "bulk_import: path")
    nodes, edges = (None if isinstance(x, (list, tuple)) and not x else x for x in (plain(nodes), plain(edges)))
    for what, x in (("nodes", nodes), ("edges", edges)):
        if x is not None and not is_source(x):
            raise InterfaceError(f"bulk_import: {what} must be CSV or Parquet paths or tables (as db.bulk_load "
                                 f"takes them); load rows of Python values with db.bulk_load")
    if not isinstance(memory_bytes, int) or isinstance(memory_bytes, bool) or memory_bytes < 1 << 20:
        raise InterfaceError("bulk_import: memory_bytes must be an int of at least 1 MiB")
    dialect = Dialect(delimiter, array_delimiter, quote, encoding, id_type)
    specs = []
    for ix in indexes:
        if not (isinstance(ix, (tuple, list)) and len(ix) == 2 and isinstance(ix[0], str)
                and (isinstance(ix[1], str) or (isinstance(ix[1], (tuple, list)) and ix[1]
                                                 and all(isinstance(x, str) for x in ix[1])))):
            raise InterfaceError(f"bulk_import: each of indexes must be (label, property) or (label, [properties]), "
                                 f"not {ix!r}")
        specs.append((ix[0], ix[1]))
    with _io.build_dir(os.fspath(path), replace_empty=True) as tmp:
        # checkpoints by memory only (not by log size): fewer rewrites of the partitions
        db = connect(tmp, sync="off", checkpoint_mem_bytes=memory_bytes, checkpoint_wal_bytes=1 << 30)
        try:
            for label, props in specs:
                db.create_index(label, *([props] if isinstance(props, str) else props))
            spill = min(IMPORT_SPILL_MAX, memory_bytes // IMPORT_SPILL_SHARE)
            load = Load(db.transaction(), dialect, progress, _query_reader(db), spill_bytes=spill)
            try:
                node_ids = load.nodes(nodes) if nodes is not None else range(0)
                edge_ids = load.edges(edges) if edges is not None else range(0)
                load.tx.commit()
            except BaseException:
                if load.tx.status == "active":
                    load.tx.rollback()
                raise
        finally:
            db.close()          # checkpoints: the files hold everything; build_dir fsyncs them
    return len(node_ids), len(edge_ids)


def upgrade(path: PathLike) -> dict:
    """Convert the database at ``path``, written by lpgdb 0.1.0 (storage format 1), to the current
    format, in place.  Needs the database closed everywhere (it takes the writer lock).

    The old directory is kept beside it as ``<path>.format1`` (delete it once satisfied).
    Returns ``{"format": 1 | 2, "nodes", "edges", "commits", "backup"}``; a database already in
    the current format is left as it is (``backup`` None).  CorruptionError if the old files fail
    their checksums (nothing is changed then).
    """
    from .storage import upgrade as _upgrade
    return _upgrade.upgrade(_path(path, "path"), lambda p, create: _engine.Engine(
        p, create=create, sync="normal", schema_loader=_schema_keys))


class Database:
    """An open lpgdb database. Thread-safe; a context manager (``close()`` on exit)."""

    def __init__(self, path: Optional[PathLike], *, readonly: bool = False, create: bool = True,
                 sync: str = "full", timeout: Optional[float] = None, **options: Any) -> None:
        readonly, create, sync = bool(plain(readonly)), bool(plain(create)), plain(sync)
        if type(sync) is not str or sync not in _engine.SYNC_MODES:
            raise InterfaceError(f"sync must be one of {', '.join(_engine.SYNC_MODES)}, not {sync!r}")
        if path is not None:
            path = _path(path, "path")
        memory = path is None or path == ":memory:"
        if memory and readonly:
            raise InterfaceError("an in-memory database cannot be opened read-only")
        # every option is read as the built-in value (archive and follow may be Store objects)
        options = {plain(k): plain(v) for k, v in options.items()}
        self.query_defaults = _query_defaults(options)
        unknown = set(options) - {"wal_segment_size", "checkpoint_wal_bytes", "checkpoint_mem_bytes",
                                  "archive", "archive_interval", "archive_retention", "follow",
                                  "follow_interval", "recover"}
        if unknown:
            raise InterfaceError(f"unknown option(s): {', '.join(sorted(unknown))}")
        _engine.check_options(options, readonly)
        for name in ("archive_interval", "follow_interval", "archive_retention"):   # seconds
            v = options.get(name)
            if (v is not None or name in options and name != "archive_retention") and \
                    (type(v) not in (int, float) or not 0 < v < math.inf):
                raise InterfaceError(f"{name} must be a number of seconds > 0"
                                     f"{' or None' if name == 'archive_retention' else ''}, not {v!r:.80}")
        timeout = _seconds(timeout)
        self.path = None if memory else os.fspath(path)
        self.readonly = readonly
        self._closed = True
        self._tx_lock = threading.Lock()
        self._statements: dict = {}          # query text -> PreparedQuery (db.execute)
        self._tx_owner: Optional[int] = None
        self._active_tx: Optional[Transaction] = None
        self._replica = None
        follow, follow_interval = options.pop("follow", None), options.pop("follow_interval", 0.25)
        if options.get("archive") is not None:
            if memory or readonly:
                raise InterfaceError("archive= needs an on-disk database opened for writing")
            from .storage.store import open_store
            options["archive"] = open_store(_store_spec(options["archive"], "archive"))
        if follow is not None:
            if memory or not readonly:
                raise InterfaceError("follow= makes a replica: connect(DIR, readonly=True, follow=...)")
            from .storage.replica import Replica
            from .storage.store import open_store
            self._replica = Replica(self.path, open_store(_store_spec(follow, "follow")), schema_loader=_schema_keys,
                                    interval=follow_interval, **options)
            self._engine = self._replica.engine
        else:
            self._engine = _engine.Engine(self.path, readonly=readonly, create=create, sync=sync,
                                          schema_loader=_schema_keys, lock_timeout=timeout, **options)
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the database is closed")

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Close the database (idempotent). Checkpoints first, so the next open is fast.

        A write transaction still open in the calling thread is rolled back; one in another
        thread is waited for (up to 30 s).
        """
        if self._closed:
            return
        tx = self._active_tx
        if tx is not None and self._tx_owner == threading.get_ident():
            tx._abandon()
        acquired = self._tx_lock.acquire(timeout=30)
        try:
            self._closed = True
            self._statements.clear()        # db.execute's fast path checks no flag
            if self._replica is not None:
                self._replica.close()
            else:
                self._engine.close()
        finally:
            if acquired:
                self._tx_lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        where = self.path or ":memory:"
        return f"<lpgdb.Database {where!r}{' readonly' if self.readonly else ''}{' closed' if self._closed else ''}>"

    # -- transactions -------------------------------------------------------------------------------
    def transaction(self, *, timeout: Optional[float] = None) -> Transaction:
        """Start a write transaction (one at a time; others wait up to ``timeout`` seconds).

        Use it as a context manager: it commits on exit and rolls back on an exception.
        """
        self._check_open()
        self._engine.check_writable()
        me = threading.get_ident()
        if self._tx_owner == me:
            raise InterfaceError("this thread already has an open write transaction; "
                                 "commit or roll it back first")
        if not self._tx_lock.acquire(timeout=_wait_seconds(timeout)):
            raise OperationalError(f"timed out after {timeout}s waiting for the write transaction "
                                   "of another thread")
        try:
            self._check_open()
            self._tx_owner = me
            self._active_tx = Transaction(self, self._engine)
            return self._active_tx
        except BaseException:
            self._tx_owner = None
            self._tx_lock.release()
            raise

    def _end_transaction(self, tx: Transaction) -> None:
        self._tx_owner = None
        self._active_tx = None
        self._tx_lock.release()

    def _after_commit(self) -> None:
        """Work after an acknowledged commit (the automatic checkpoint).  Never raises; skipped
        when another thread holds the writer lock (its own commit will come back here)."""
        eng = self._engine
        # checkpoint_due reads the generation's store, which a checkpoint in another thread may
        # retire and free: ask only while holding the writer lock
        if self._tx_lock.acquire(blocking=False):
            try:
                if not self._closed:
                    eng.maybe_checkpoint()     # checkpoint_due first
            finally:
                self._tx_lock.release()

    def snapshot(self) -> Snapshot:
        """A consistent read-only view of everything committed (and durable) so far."""
        if self._closed:
            self._check_open()
        return Snapshot(self, self._engine.pinned_view())

    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> "Result":
        """Run an openCypher-style query in its own transaction (a snapshot if it only reads).

        The statement is kept by its text (``prepare``), so a repeated text skips parsing,
        checking and planning: one dictionary lookup, then the run.  A text seen for the first
        time is parsed within the query's timeout, and the run gets what is left of it."""
        # Only a str is ever a key: hashing anything else could run user code (a tzinfo, a
        # __hash__) that raises; prepare() below says what is wrong with a non-str query.
        stmt = self._statements.get(query) if type(query) is str else None
        if stmt is not None:                # (close() empties _statements)
            fast = stmt._fast
            if fast is not None and not options:
                res = fast(params, self.query_defaults)
                if res is not None:
                    return res
            return stmt._execute(params, options, None)
        start = time.monotonic()            # the budget includes the first query's imports
        self._check_open()
        from . import query as _query
        until = _query.deadline(options.get("timeout", self.query_defaults.get("timeout")), start)
        pq, hidden = _query.prepare_shaped(query, deadline=until)
        if hidden is None:
            return self._keep(query, PreparedQuery(self, pq))._execute(params, options, until)
        # Its literals are hidden parameters (lpgdb/query/literals.py): the statement of its
        # shape, shared by every text of that shape (and its fast runner with it).
        stmt = self._statements.get(pq.source) or self._keep(pq.source, PreparedQuery(self, pq))
        if params is None:
            both = hidden
        else:
            both = {**(params if type(params) is dict else as_dict(params, "query parameters")), **hidden}
        try:
            res = stmt._call(both, options, until)
            if res._notes:         # their positions are in the shaped text
                _query.restore_positions(res, query)
            return res
        except OperationalError:
            raise               # a limit: the text as written would meet it the same way
        except Error:
            pass
        # The failed statement wrote nothing (its transaction rolled back): run the text as
        # written, so that what the user reads (positions, values in messages) is their text.
        return PreparedQuery(self, _query.prepare(query, deadline=until))._execute(params, options, until)

    def cursor(self) -> "Cursor":
        """A PEP 249-style cursor: ``execute`` / ``executemany`` / ``fetch*`` (lpgdb/cursor.py)."""
        self._check_open()
        from .cursor import Cursor
        return Cursor(self)

    def prepare(self, query: str) -> "PreparedQuery":
        """Parse and check ``query`` once; ``.execute(params)`` runs it like ``db.execute``.

        The statement keeps its plan (replanned when the schema, the indexes or the graph's size
        change), so a repeated call skips parsing, checking and planning.  ``db.execute`` keeps
        the statements of the last texts it ran (``_STATEMENTS`` of them) the same way."""
        self._check_open()
        return self._prepare(query, None)

    def _prepare(self, query: str, until: Optional[float]) -> "PreparedQuery":
        """``prepare``, the parse bounded by the monotonic deadline ``until``."""
        from . import query as _query
        return self._keep(query, PreparedQuery(self, _query.prepare(query, deadline=until)))

    def _keep(self, text, stmt: "PreparedQuery") -> "PreparedQuery":
        """Keep ``stmt`` as the statement of ``text`` for ``db.execute`` (when a str: see execute)."""
        if type(text) is str:
            cache = self._statements
            if len(cache) >= _STATEMENTS:
                cache.clear()
            cache[text] = stmt
        return stmt

    def _execute_batched(self, pq, params, options):
        """CALL { } IN TRANSACTIONS: every batch commits (and is schema-checked) on its own."""
        holder = [self.transaction()]

        def commit_batch(ctx):
            holder[0].commit()
            holder[0] = self.transaction()
            ctx.switch_tx(holder[0])
        try:
            res = pq.run(holder[0], params, False, {**options, "commit_batch": commit_batch})
            holder[0].commit()
            return res
        except BaseException:
            if holder[0].status == "active":
                holder[0].rollback()
            raise

    def _schema_command(self, cmd):
        """CREATE/DROP INDEX and CREATE CONSTRAINT, mapped onto user indexes and the graph type."""
        from .errors import NotSupportedError
        from .result import Result
        if cmd.is_edge:
            raise NotSupportedError("relationship indexes and constraints are not supported yet; index node "
                                    "properties: CREATE INDEX FOR (n:Label) ON (n.prop)")
        view = self._engine.pinned_view()        # the read boundary: names, not structures
        user_indexes, schema = view.user_indexes(), view.schema
        if cmd.kind == "create_index":
            if (cmd.label, tuple(cmd.props)) in user_indexes:
                if cmd.if_exists:
                    return Result([], [])
                raise OperationalError(f"an index on :{cmd.label}({', '.join(cmd.props)}) already exists "
                                       "(use CREATE INDEX IF NOT EXISTS ...)")
            self.create_index(cmd.label, *cmd.props)
        elif cmd.kind == "drop_index":
            found = [k for k in user_indexes if index_name(*k) == cmd.name]
            if not found:
                if cmd.if_exists:
                    return Result([], [])
                names = ", ".join(index_name(*k) for k in user_indexes) or "none"
                raise OperationalError(f"no index named {cmd.name!r} (indexes: {names}); names are "
                                       "Label_prop[_prop...]")
            self.drop_index(found[0][0], *found[0][1])
        elif cmd.kind == "create_constraint":
            if schema is None or schema[0] is None:
                raise NotSupportedError(
                    "constraints are part of the PG-Schema graph type, and this database has none: set one "
                    "with db.set_schema(ddl) (CREATE CONSTRAINT adds to an existing graph type)")
            words = {"unique": "EXCLUSIVE", "key": "EXCLUSIVE MANDATORY SINGLETON", "not_null": "MANDATORY"}
            props = ", ".join(f"x.{p}" for p in cmd.props)
            text = f"FOR (x:{cmd.label}) {words[cmd.constraint]} ({props})"
            ddl, name = schema
            cut = ddl.rstrip().rstrip(";").rstrip()
            if not cut.endswith("}"):
                raise NotSupportedError("CREATE CONSTRAINT needs the graph type written as "
                                        "CREATE GRAPH TYPE ... { ... }")
            body = cut[:-1].rstrip()
            sep = "" if body.endswith("{") else ","
            self.set_schema(f"{body}{sep}\n  {text}\n}}", name)
        else:
            raise NotSupportedError("DROP CONSTRAINT is not supported: PG-Schema constraints have no names; "
                                    "edit the graph type's DDL and call db.set_schema(ddl)")
        return Result([], [])

    def bulk_load(self, nodes: Any = None, edges: Any = None, *, delimiter: str = ",", array_delimiter: str = ";",
                  quote: str = '"', encoding: str = "utf-8", id_type: str = "string",
                  progress: Optional[Callable[[int], None]] = None) -> Tuple[range, range]:
        """Load many nodes and edges in ONE transaction through the columnar path (all or nothing).

        Args:
            nodes: iterable of ``(labels, properties)`` rows, or sources: a CSV file in the Neo4j
                admin-import format (header on the first line), a list of CSV files read as one
                (header file first), a Parquet file, a pyarrow Table / RecordBatch, a pandas or
                Polars DataFrame; a mapping ``{labels: source}`` gives labels to every row of a
                source (``"Person"``, ``"A:B"``); or a list of sources and ``(labels, source)``
                pairs.  Column names are the CSV header's (``id:ID(Person)``, ``:LABEL``,
                ``name``, ``age:int``, ...).  docs/import.md has the format.
            edges: iterable of ``(src, label, dst, properties)`` rows whose endpoints are node
                ids; or a callable given the range of the new node ids (in ``nodes`` order) that
                returns those rows; or sources as for nodes, with ``:START_ID(Space)`` and
                ``:END_ID(Space)`` columns naming nodes of this call by their ids.
            delimiter, array_delimiter, quote, encoding, id_type: how CSV files are written
                (``id_type="integer"``: ids are integers, also as properties).
            progress: called with the number of input bytes read, as they are read.

        Returns:
            ``(node_ids, edge_ids)``: two ranges, in input order.

        CSV files are parsed by C and tables' Arrow buffers handed to C: no Python object per
        cell for string, numeric, boolean, char, date and id columns.  A bad input raises
        ``DataError`` naming file, line and column (``lpgdb.ingest.CsvError``).  With a schema
        enforced, the commit validates every row, and nothing is written if one violates it.
        Complexity: O(rows + bytes).
        """
        from .ingest import Dialect
        from .ingest.load import Load, is_source
        from .errors import SchemaViolationError
        nodes, edges = plain(nodes), plain(edges)
        node_src, edge_src = is_source(nodes), is_source(edges)
        if node_src or edge_src:
            dialect = Dialect(delimiter, array_delimiter, quote, encoding, id_type)
        load = None
        try:
            with self.transaction() as tx:
                # streamed (bounded memory) unless Python rows follow that refer to the new nodes
                load = Load(tx, dialect, progress, _query_reader(self), stream=edges is None or edge_src) \
                    if node_src or edge_src else None
                node_ids = load.nodes(nodes) if node_src else _load_node_rows(tx, nodes)
                if edge_src:
                    edge_ids = load.edges(edges)
                    load.finish()
                    return node_ids, edge_ids
                if load is not None:
                    load.finish(columnar=edges is None)
                return node_ids, _load_edge_rows(tx, edges(node_ids) if callable(edges) else edges, node_ids)
        except SchemaViolationError as e:
            if load is not None:     # say which line (or table row) made each violating node
                e.import_sources = {v.id: load.where("node", v.id) for v in e.violations
                                    if v.element == "node" and isinstance(v.id, int)
                                    and load.where("node", v.id) is not None}
            raise

    # -- schema -------------------------------------------------------------------------------------
    @property
    def schema(self) -> "Optional[GraphType]":
        """The enforced GraphType, or None."""
        self._check_open()
        return _graph_type(self._engine.schema)

    def set_schema(self, ddl: str, graph_type: Optional[str] = None, *,
                   max_violations: Optional[int] = 1000) -> "GraphType":
        """Enforce a PG-Schema graph type from now on (validating all stored data first).

        Raises SchemaSyntaxError / SemanticError for a bad schema and SchemaViolationError if
        the stored data does not conform; then the old schema stays. The validation stops
        after ``max_violations`` (None: never): the error then holds those first violations,
        a count of each kind found, and ``.complete`` False.
        """
        self._check_open()
        ddl = plain(ddl)
        if type(ddl) is not str:
            raise InterfaceError(f"the schema must be a str of PG-Schema DDL, not {type(ddl).__name__}")
        max_violations = _check_limit(max_violations)
        from .schema import parse_schema, validate
        gt = parse_schema(ddl, graph_type)   # raises the syntax/semantic errors
        graph_type = plain(graph_type)
        with self.transaction() as tx:
            found = validate.validate_stored(gt, _PendingSchemaView(tx, gt), limit=max_violations)
            if found.violations:
                raise SchemaViolationError(found.violations, counts=found.counts, complete=found.complete)
            tx._log_schema(ddl, graph_type)
        return _graph_type(self._engine.schema)

    def drop_schema(self) -> None:
        """Stop enforcing a schema."""
        with self.transaction() as tx:
            tx._log_schema(None, None)

    def check(self, *, max_violations: Optional[int] = None) -> list:
        """Validate all stored data against the schema now; [] means it conforms. With
        ``max_violations``, stop once that many are found (and return those)."""
        self._check_open()
        max_violations = _check_limit(max_violations)
        gt = _graph_type(self._engine.schema)
        if gt is None:
            return []
        from .schema import validate
        with self.snapshot() as s:
            return validate.validate_stored(gt, s, limit=max_violations).violations

    def infer_schema(self) -> "GraphType":
        """A LOOSE graph type describing the stored data (which the data passes)."""
        self._check_open()
        from .schema import infer
        with self.snapshot() as s:
            return infer.infer_schema(s)

    # -- indexes ------------------------------------------------------------------------------------
    def create_index(self, label: str, *properties: str) -> None:
        """Create a hash index on (label, properties...); used by find_nodes and queries."""
        label, properties = self._index_args(label, properties)
        with self.transaction() as tx:
            tx._log_index(label, properties, True)

    def drop_index(self, label: str, *properties: str) -> None:
        """Drop the user index on (label, properties...); nothing happens if there is none."""
        label, properties = self._index_args(label, properties)
        with self.transaction() as tx:
            tx._log_index(label, properties, False)

    @staticmethod
    def _index_args(label, properties) -> tuple:
        label, properties = plain(label), tuple(map(plain, properties))
        if type(label) is not str or not properties or not all(type(p) is str for p in properties):
            raise InterfaceError("create_index(label, prop, ...) needs a label and at least one property name")
        return label, properties

    def indexes(self) -> List["IndexInfo"]:
        """Every index: the user indexes and those the schema's KEY / EXCLUSIVE constraints provide
        (``IndexInfo``, see ``Snapshot.indexes``), as of now."""
        self._check_open()
        return _ViewReader(self, self._engine.pinned_view()).indexes()

    # -- maintenance --------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Materialize the log into partition files now and retire the WAL they cover."""
        self._check_open()
        with self._tx_lock:
            if self._replica is not None:
                self._replica.checkpoint()
            else:
                self._engine.checkpoint()

    def backup(self, dest: PathLike) -> None:
        """Write a consistent, self-contained copy of the database into the new directory
        ``dest`` (online: snapshots keep reading; writers wait for the copy).

        On a read-only handle (beside a writer process) the copy needs no lock: it is the
        writer's last checkpoint plus the durable log after it, as of ``refresh()`` now.
        """
        self._check_open()
        dest = _path(dest, "backup: dest")
        if self._replica is not None:
            self._replica.backup(dest)
            return
        if self.readonly:
            self._engine.backup(dest)
            return
        with self._tx_lock:
            self._engine.backup(dest)

    def refresh(self) -> None:
        """Read-only databases: catch up with the writer's durable commits (a replica: with
        what its archive holds now)."""
        self._check_open()
        if self._replica is not None:
            self._replica.poll()
        else:
            self._engine.refresh()

    def archive_status(self) -> "Optional[ArchiveStatus]":
        """How archiving goes (``connect(..., archive=...)``), or None when not archiving:
        an ``ArchiveStatus`` with ``state`` ("ok", "retrying", "fenced", "refused"),
        ``lag_bytes``/``lag_seconds`` (durable log not yet shipped), ``last_error`` and more."""
        self._check_open()
        return self._engine.archive_status()

    @property
    def replica_lag(self) -> "Optional[ReplicaLag]":
        """Replicas (``follow=``): ``(seconds, lsn)`` behind the archive; None otherwise.
        ``seconds`` is how long ago the replica last held everything its archive held."""
        self._check_open()
        return None if self._replica is None else self._replica.lag

    def verify(self) -> None:
        """Run the native structures' invariant checks (InternalError on failure)."""
        self._check_open()
        self._engine.verify()


def index_name(label: str, props) -> str:
    """The name CREATE INDEX gives an index, and DROP INDEX takes: ``Label_prop[_prop...]``."""
    return "_".join([label, *props])


_STATEMENTS = 512          # texts whose statements db.execute keeps


class PreparedQuery:
    """A query parsed, checked and planned once (``db.prepare(text)``); ``.execute(params)``
    runs it like ``db.execute(text, params)``.  (``lpgdb.PreparedQuery``; the name
    ``PreparedStatement`` is kept as an alias.)

    A read-only statement runs on a view pinned for the call, with no Snapshot object or
    transaction around it; a writing one in its own transaction.  Once a read-only plan is
    cached, a call with no options first tries the plan's fast runner (``query.PreparedQuery.fast``:
    no view object, reader or Context), which hands back to this general path whenever it
    cannot answer the same way."""

    __slots__ = ("_db", "_pq", "source", "_read", "_fast", "_fast_for")

    def __init__(self, db: "Database", pq: Any) -> None:
        try:
            if not isinstance(db, Database):
                raise AttributeError
            self._db, self._pq, self.source = db, pq, pq.source
            self._read = pq.readonly and pq.schema_command is None and not pq.batched
        except AttributeError:
            raise InterfaceError("a PreparedQuery is made by db.prepare(text); it is not built directly") from None
        self._fast = None          # query.PreparedQuery.fast(...) for the plan _fast_for
        self._fast_for = None      # the plan (free, or the _plans entry of this database's catalog) it was made for

    def execute(self, params: Optional[Mapping[str, Any]] = None, **options: Any) -> "Result":
        """Run the query with ``params`` (and the options ``db.execute`` takes): a ``Result``."""
        return self._call(params, options, None)

    def _call(self, params, options: dict, until: Optional[float]) -> "Result":
        """``execute``: the fast runner when it answers, else the general path (``_execute``).
        (``db.execute`` inlines this for a text it has run before.)"""
        fast = self._fast
        if fast is not None and not options and not self._db._closed:
            res = fast(params, self._db.query_defaults)
            if res is not None:
                return res
        return self._execute(params, options, until)

    def _execute(self, params, options: dict, until: Optional[float]) -> "Result":
        """``execute``; ``until``: the monotonic deadline when part of the timeout was spent
        already (parsing a new text), else the run's timeout starts now."""
        db = self._db
        if db._closed:
            db._check_open()
        pq = self._pq
        if pq.uses_procedures and pq.registry != _procedures_version():
            pq = self._pq = _reprepare(pq)
        if options:
            opts = {**db.query_defaults, **_check_options(options)}
        else:
            opts = db.query_defaults
        if until is not None:
            opts = {**opts, "deadline": until}
        if self._read:
            key = None
            res = pq.run_free(params, opts) if pq.free is not None else None
            if res is None:
                view = db._engine.pinned_view()     # pinned while referenced: for this call
                res = pq.run(_ViewReader(db, view), params, True, opts)
                key = view.catalog_version
            made = pq.free if pq.free is not None else pq._plans.get(key)
            if made is not self._fast_for:
                self._fast_for = made            # the plan just used changed: its fast runner
                self._fast = pq.fast(db._engine.point_read, key)
            return res
        if pq.schema_command is not None:
            return db._schema_command(pq.schema_command)
        if db.readonly:      # a write through a read-only handle: what db.transaction() says
            if pq.mode != "EXPLAIN":
                db._engine.check_writable()
            with db.snapshot() as s:
                return pq.run(s, params, True, opts)
        if pq.batched:
            return db._execute_batched(pq, params, opts)
        with db.transaction() as tx:
            return pq.run(tx, params, False, opts)

    @property
    def readonly(self) -> bool:
        """True when the query does not write."""
        return self._pq.readonly

    def explain(self) -> "Plan":
        """The plan (``lpgdb.query.Plan``) this statement would run now."""
        with self._db.snapshot() as s:
            return self._pq.explain(s)

    def __repr__(self) -> str:
        return f"<lpgdb.PreparedQuery {self.source!r}>"


PreparedStatement = PreparedQuery     # its first name




def _check_options(options) -> dict:
    from .query import check_options
    return check_options(options)


def _procedures_version():
    from .query import procedures
    return procedures.version


def _reprepare(pq):
    from . import query as _query
    return _query.prepare(pq.source)


_QUERY_DEFAULTS = {"query_timeout": 60.0, "query_memory": 1 << 30, "max_rows": None, "import_dir": None}


def _query_defaults(options: dict) -> dict:
    """Pop the query options of ``connect`` and return them as execute() defaults."""
    out = {}
    for k, default in _QUERY_DEFAULTS.items():
        given = k in options
        v = options.pop(k, default)
        if k == "import_dir":
            if v is not None:
                v = _path(v, "import_dir")
                if type(v) is not str or not os.path.isdir(v):
                    raise InterfaceError(f"import_dir must be an existing directory, not {v!r}")
                out[k] = os.path.realpath(v)
            continue
        if given:                            # checked as execute() checks it
            from .query import check_limit
            v = check_limit(k, v)
        if v is not None:
            out[{"query_timeout": "timeout", "query_memory": "memory"}.get(k, k)] = v
    return out


def _path(p, what: str):
    """A path argument as a built-in str (or bytes): InterfaceError unless a str or os.PathLike."""
    p = plain(p)
    if not isinstance(p, (str, os.PathLike)):
        raise InterfaceError(f"{what} must be a path (str or os.PathLike), not {type(p).__name__}")
    p = plain(os.fspath(p))
    if ("\x00" if type(p) is str else b"\x00") in p:
        raise InterfaceError(f"{what} must not contain a NUL character (\\x00), as no file name can: {p!r:.80}")
    if type(p) is str:
        try:
            os.fsencode(p)
        except UnicodeEncodeError:
            raise InterfaceError(f"{what} {p!r:.80} has a character no file name can hold (a lone surrogate "
                                 f"the file system encoding cannot write)") from None
    return p


def _store_spec(spec, what: str):
    """An archive location (a path, ``s3://...``, or a Store object): a path read by ``_path``."""
    spec = plain(spec)
    return _path(spec, what) if isinstance(spec, (str, os.PathLike)) else spec


def _check_limit(limit) -> Optional[int]:
    limit = plain(limit)
    if limit is not None and (type(limit) is not int or limit < 1):
        raise InterfaceError(f"max_violations must be an int >= 1 or None, not {limit!r:.80}")
    return limit


def _seconds(timeout) -> Optional[float]:
    """``timeout`` as a plain number of seconds (None: no limit); InterfaceError unless >= 0."""
    timeout = plain(timeout)
    if timeout is not None and (type(timeout) not in (int, float) or not timeout >= 0):
        raise InterfaceError(f"timeout must be a number of seconds >= 0 or None, not {timeout!r:.80}")
    return timeout


def _wait_seconds(timeout) -> float:
    """A lock wait for ``threading.Lock.acquire``: -1 (forever) for None or infinity."""
    timeout = _seconds(timeout)
    return -1 if timeout is None or timeout >= threading.TIMEOUT_MAX else timeout


def _load_node_rows(tx, nodes) -> range:
    """bulk_load's rows of Python values: a NODES_BULK op (or, with a schema, the write set)."""
    from .values import check_properties
    if tx._view.schema is not None:
        first = tx._next_node
        for lab, p in _rows(nodes, 2, "nodes"):
            tx.create_node(lab, p)
        return range(first, tx._next_node)
    cols = tx._bulk_columns()
    lsets, lset_of = [], {}
    last_lab, last_li = None, 0
    for lab, p in _rows(nodes, 2, "nodes"):
        if lab is not last_lab:
            last_lab, last_li = lab, _intern_labels(lab, lset_of, lsets)
        cols.add_node(last_li, check_properties(p, allow_none=False))
    return tx._log_bulk_nodes(cols, lsets)


def _load_edge_rows(tx, edges, node_ids: range) -> range:
    from .values import check_properties
    if tx._view.schema is not None:
        first = tx._next_edge
        for s, lab, d, p in _rows(edges, 4, "edges"):
            tx.create_edge(s, lab, d, p)
        return range(first, tx._next_edge)
    ecols = tx._bulk_columns()
    etypes, etype_of = [], {}
    last_lab, last_ti = None, 0
    try:
        for s, lab, d, p in _rows(edges, 4, "edges"):
            if lab is not last_lab:   # rows usually repeat one label object
                last_lab, last_ti = lab, _intern_labels(lab, etype_of, etypes)
            ecols.add_edge(last_ti, s if type(s) is int else _check_id(s, "edge endpoint"),
                           d if type(d) is int else _check_id(d, "edge endpoint"), check_properties(p, allow_none=False))
    except (TypeError, OverflowError) as e:
        raise InterfaceError(f"bulk_load: edge endpoints must be node ids (int): {e}") from e
    has_node = tx._view.has_node
    for n in set(ecols.srcs).union(ecols.dsts):   # each distinct endpoint once
        if n not in node_ids and not has_node(n):
            raise NotFoundError(f"bulk_load: no node with id {n} (edge endpoint)")
    return tx._log_bulk_edges(ecols, etypes)


def _query_reader(db) -> Callable[[str, str], Any]:
    """Read a temporal text the way the query language does (``duration('P1M')``, nanosecond
    times, ...), through ``db.execute``: one parser for the whole product (CSV import)."""
    from .errors import Error

    def read(kind: str, text: str) -> Any:
        try:
            return db.execute(f"RETURN {kind}($text) AS v", {"text": text.strip()}).value()[0]
        except Error as e:
            raise ValueError(str(e).split("\n")[0]) from None
    return read


def _rows(rows, width: int, what: str):
    """Iterate the rows given to bulk_load, each a sequence of ``width`` items (else InterfaceError)."""
    if rows is None:
        return
    try:
        it = iter(plain(rows))
    except TypeError:
        raise InterfaceError(f"bulk_load: {what} must be an iterable of rows, not "
                             f"{type(rows).__name__}") from None
    while True:
        try:
            row = plain(next(it))
        except StopIteration:
            return
        except Error:
            raise
        except Exception as e:      # the user's iterable failed
            raise InterfaceError(f"bulk_load: reading the {what} failed: {type(e).__name__}: {e}") from e
        try:
            items = tuple(row)
        except TypeError:
            items = None
        if items is None or len(items) != width or isinstance(row, (str, bytes)):
            shape = "(labels, properties)" if width == 2 else "(src, label, dst, properties)"
            raise InterfaceError(f"bulk_load: each of the {what} must be a tuple {shape}, not "
                                 f"{type(row).__name__}")
        yield items


def _intern_labels(labels, index: dict, table: list) -> int:
    """Position of ``labels`` (a str or iterable of str) in ``table``, adding it if new."""
    i = index.get(labels) if type(labels) is str else None
    if i is None:
        from .values import label_set
        ls = label_set(labels)
        i = index.get(ls)
        if i is None:
            i = index[ls] = len(table)
            table.append(ls)
        if type(labels) is str:
            index[labels] = i
    return i


class _PendingSchemaView:
    """A transaction's view plus key probes for a schema not yet installed (full validation)."""

    def __init__(self, tx: Transaction, gt):
        self._tx = tx
        self._specs = {s.name: s for s in gt.index_specs()}
        self._keys: dict = {}

    def __getattr__(self, name):
        return getattr(self._tx, name)

    def key_nodes(self, spec_name: str, key: tuple) -> list:
        spec = self._specs.get(spec_name)
        if spec is None:
            return self._tx.key_nodes(spec_name, key)
        table = self._keys.get(spec_name)
        if table is None:  # O(nodes), once per spec
            table = {}
            for n in self._tx.nodes():
                k = spec.key_of(n.labels, n.properties)
                if k is not None:
                    table.setdefault(canonical_key(k), []).append(n.id)
            self._keys[spec_name] = table
        return table.get(canonical_key(key), [])
