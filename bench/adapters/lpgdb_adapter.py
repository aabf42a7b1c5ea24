"""lpgdb through its public Python API (API.md), used the way its README recommends.

Layout: the database is the directory ``<dbdir>/graph.lpg``.  Durability: ``sync="full"`` by
default (a commit returns after its WAL record is fdatasynced), the same guarantee as SQLite's
FULL and Kùzu's WAL commit; variants ``lpgdb@normal`` and ``lpgdb@off`` measure the others.

Calls used, and the fallbacks when an engine build lacks an optional call (each fallback is a
slower but correct use of the base API, and ``describe()`` records which path ran):

    W1   db.bulk_load(nodes=...) then (edges=...)   else 10,000 create_node/edge per tx
    W3   snapshot.key_lookup(label, prop, v)    else snapshot.find_nodes(label, id=v)
    W5   snapshot.count_reach(id, 2, ...)       else neighbors() of each neighbour, in a set
    W7   snapshot.nodes("Person") + degree()
    W8   db.set_schema(SOCIAL_SCHEMA)           else W8 is reported as n/a
    W0   db.execute("RETURN 1")                 else opening and closing a snapshot
    W3u  db.execute("MATCH (p:Person {id: $id}) RETURN p.name", ...)   only when Cypher runs

Every read opens its own snapshot (``with db.snapshot() as s``), as SQLite and Kùzu run each
statement in its own read transaction; W2 finds edge endpoints by key inside the transaction.
A hash index on Person.id is created with ``db.create_index`` when the engine offers it (the
counterpart of SQLite's INTEGER PRIMARY KEY and Kùzu's PRIMARY KEY).
"""
from __future__ import annotations

import os
import time

from .base import SOCIAL_SCHEMA, Adapter, read_knows, read_persons

_LOAD_TX = 10_000


class LpgdbAdapter(Adapter):
    name = "lpgdb"
    supports_schema = True
    variants = {"normal": {"sync": "normal"}, "off": {"sync": "off"}}

    def __init__(self, dbdir, options=None):
        super().__init__(dbdir, options)
        import lpgdb
        self.lpgdb = lpgdb
        self.db = None
        self.sync = self.options.get("sync", "full")
        self.paths: dict[str, str] = {}

    @property
    def path(self):
        return os.path.join(self.dbdir, "graph.lpg")

    def version(self):
        return f"lpgdb {getattr(self.lpgdb, '__version__', '?')} ({_git_describe()})"

    def describe(self):
        return {"sync": self.sync, "reads": "one snapshot per call",
                "writes": "with db.transaction(): create_node/create_edge per row",
                "paths": dict(self.paths)}

    # ---- lifecycle ------------------------------------------------------------------------
    def _connect(self, create: bool):
        self.db = self.lpgdb.connect(self.path, create=create, sync=self.sync)
        self._pick_paths()

    def _pick_paths(self):
        with self.db.snapshot() as s:
            self._key_lookup = hasattr(s, "key_lookup")
            self._count_reach = hasattr(s, "count_reach")
        self.paths["W3 key lookup"] = ("snapshot.key_lookup" if self._key_lookup
                                       else "snapshot.find_nodes")
        self.paths["W5 2-hop"] = ("snapshot.count_reach" if self._count_reach
                                  else "neighbors() per neighbour")
        self._cypher = False
        try:
            self.db.execute("RETURN 1").fetchall()
            self._cypher = True
        except (AttributeError, self.lpgdb.Error):
            pass
        self.paths["W0 no-op"] = 'db.execute("RETURN 1")' if self._cypher else "open+close snapshot"
        if self._cypher:
            self.lookup_name_unprepared = self._cypher_lookup

    def create(self):
        os.makedirs(self.dbdir, exist_ok=True)
        self._connect(create=True)
        if hasattr(self.db, "create_index"):
            self.db.create_index("Person", "id")
            self.paths["key index"] = 'db.create_index("Person", "id")'

    def open(self):
        self._connect(create=False)

    def set_schema(self):
        if not hasattr(self.db, "set_schema"):
            raise NotImplementedError("this lpgdb build has no Database.set_schema")
        try:
            self.db.set_schema(SOCIAL_SCHEMA)
        except ImportError as e:    # the schema package is not complete in this build
            raise NotImplementedError(f"lpgdb's schema package is incomplete: {e}") from e

    def flush(self):
        if hasattr(self.db, "checkpoint"):
            self.db.checkpoint()

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv, knows_csv):
        if hasattr(self.db, "bulk_load"):
            self.paths["W1"] = "db.bulk_load(nodes=...), then db.bulk_load(edges=...)"
            return self._bulk_load_native(persons_csv, knows_csv)
        self.paths["W1"] = f"transactions of {_LOAD_TX:,} create_node / create_edge"
        t0 = time.perf_counter()
        key: dict[int, int] = {}
        rows = list(read_persons(persons_csv))
        for k in range(0, len(rows), _LOAD_TX):
            with self.db.transaction() as tx:
                for i, n, a in rows[k:k + _LOAD_TX]:
                    key[i] = tx.create_node("Person", {"id": i, "name": n, "age": a})
        t1 = time.perf_counter()
        rows = list(read_knows(knows_csv))
        for k in range(0, len(rows), _LOAD_TX):
            with self.db.transaction() as tx:
                for s, d, t in rows[k:k + _LOAD_TX]:
                    tx.create_edge(key[s], "KNOWS", key[d], {"since": t})
        return {"nodes": t1 - t0, "edges": time.perf_counter() - t1}

    def _bulk_load_native(self, persons_csv, knows_csv):
        t0 = time.perf_counter()
        rows = list(read_persons(persons_csv))
        node_ids, _ = self.db.bulk_load(
            nodes=(("Person", {"id": i, "name": n, "age": a}) for i, n, a in rows))
        key = dict(zip((r[0] for r in rows), node_ids))   # bulk_load returns ids in input order
        t1 = time.perf_counter()
        self.db.bulk_load(edges=((key[s], "KNOWS", key[d], {"since": t})
                                 for s, d, t in read_knows(knows_csv)))
        return {"nodes": t1 - t0, "edges": time.perf_counter() - t1}

    # ---- W2 -------------------------------------------------------------------------------
    def insert_persons_tx(self, rows):
        t0 = None
        with self.db.transaction() as tx:
            for i, n, a in rows:
                tx.create_node("Person", {"id": i, "name": n, "age": a})
            t0 = time.perf_counter()
        self.stats["commit_s"] = self.stats.get("commit_s", 0.0) + time.perf_counter() - t0

    def insert_knows_tx(self, rows):
        with self.db.transaction() as tx:
            find = self._finder(tx)
            for s, d, t in rows:
                tx.create_edge(find(s), "KNOWS", find(d), {"since": t})
            t0 = time.perf_counter()
        self.stats["commit_s"] = self.stats.get("commit_s", 0.0) + time.perf_counter() - t0

    # ---- reads ----------------------------------------------------------------------------
    def _finder(self, view):
        """view -> function(person id) -> node id (raises LookupError when absent)."""
        kl = getattr(view, "key_lookup", None)

        def find(pid):
            ids = kl("Person", "id", pid)
            if ids is None:          # no index on Person.id in this database
                return find_scan(pid)
            if not ids:
                raise LookupError(f"no Person with id {pid}")
            return ids[0]

        def find_scan(pid):
            for node in view.find_nodes("Person", id=pid):
                return node.id
            raise LookupError(f"no Person with id {pid}")
        return find if self._key_lookup and kl is not None else find_scan

    def noop(self):
        if self._cypher:
            self.db.execute("RETURN 1")
        else:
            with self.db.snapshot():
                pass

    def lookup_name(self, pid):
        with self.db.snapshot() as s:
            if self._key_lookup:
                ids = s.key_lookup("Person", "id", pid)
                if ids is not None:
                    return s.node(ids[0])["name"] if ids else None
            for node in s.find_nodes("Person", id=pid):
                return node["name"]
            return None

    def _cypher_lookup(self, pid):
        row = self.db.execute("MATCH (p:Person {id: $id}) RETURN p.name", {"id": pid}).fetchone()
        return None if row is None else row[0]

    def out_degree(self, pid):
        with self.db.snapshot() as s:
            return s.degree(self._finder(s)(pid), "out", "KNOWS")

    def two_hop_count(self, pid):
        with self.db.snapshot() as s:
            start = self._finder(s)(pid)
            if self._count_reach:
                return s.count_reach(start, 2, "out", "KNOWS")
            reach: set[int] = set()
            for b in s.neighbors(start, "out", "KNOWS"):
                reach.update(s.neighbors(b, "out", "KNOWS"))
            reach.discard(start)
            return len(reach)

    def avg_age_out_degree_gt(self, threshold):
        total = count = 0
        with self.db.snapshot() as s:
            deg = s.degree
            for node in s.nodes("Person"):
                if deg(node.id, "out", "KNOWS") > threshold:
                    total += node["age"]
                    count += 1
        return total / count if count else None

    def count_persons(self):
        with self.db.snapshot() as s:
            return s.node_count("Person")

    def count_knows(self):
        with self.db.snapshot() as s:
            return s.edge_count("KNOWS")

    # ---- W6 -------------------------------------------------------------------------------
    def try_insert_duplicate(self, row):
        i, n, a = row
        try:
            with self.db.transaction() as tx:
                tx.create_node("Person", {"id": i, "name": n, "age": a})
        except self.lpgdb.Error as e:
            return True, f"{type(e).__name__}: {e}"
        return False, ("accepted: a second Person with the same id was created "
                       "(no PG-Schema set, so no KEY constraint)")


def _git_describe() -> str:
    """The commit of the lpgdb tree that ran, with '+dirty' when lpgdb/ or native/ differ."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lpgdb", "native"],
                               cwd=root, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"git {head}{'+dirty' if dirty else ''}"


ADAPTER = LpgdbAdapter
