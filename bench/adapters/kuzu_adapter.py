"""Kùzu (embedded, ``pip install kuzu``), written against the ``kuzu`` Python API and reused
unchanged for its fork LadybugDB (ladybug_adapter.py), which keeps the API under another module
name.

Follows the Kùzu docs: a typed schema with a PRIMARY KEY, ``COPY FROM`` for bulk import of the
CSV files, reused parameterized prepared statements, explicit ``BEGIN TRANSACTION``/``COMMIT``.
A commit flushes and fsyncs Kùzu's WAL before returning, so W2/W9 are durable.

Kùzu 0.11 deprecates ``Connection.prepare()`` in favour of ``execute(query_string, params)``,
but that re-prepares the string on every call, so a reused PreparedStatement is the fast path
(W3u measures the other).

Variant ``kuzu@literal`` ({"inline_keys": True}): Kùzu 0.11.3 plans ``MATCH (p:Person {id: $id})``
as a full scan + filter instead of a primary-key lookup; with the integer key written into the
query text it uses the index.  The variant does that for the key-matching statements; values
pass through ``int()``, so there is no injection risk.
"""
from __future__ import annotations

import importlib
import os
import time
import warnings

from .base import Adapter

SCHEMA = [
    "CREATE NODE TABLE Person(id INT64, name STRING, age INT64, PRIMARY KEY(id))",
    "CREATE REL TABLE KNOWS(FROM Person TO Person, since INT64)",
]
Q = {
    "noop": "RETURN 1",
    "ins_person": "CREATE (:Person {id: $id, name: $name, age: $age})",
    "ins_knows": ("MATCH (a:Person {id: $src}), (b:Person {id: $dst}) "
                  "CREATE (a)-[:KNOWS {since: $since}]->(b)"),
    "lookup": "MATCH (p:Person {id: $id}) RETURN p.name",
    "degree": "MATCH (p:Person {id: $id})-[:KNOWS]->(f:Person) RETURN count(*)",
    "twohop": ("MATCH (a:Person {id: $id})-[:KNOWS]->(:Person)-[:KNOWS]->(c:Person) "
               "WHERE c.id <> $id RETURN count(DISTINCT c.id)"),
    "avgage": ("MATCH (p:Person)-[:KNOWS]->(:Person) WITH p, count(*) AS d "
               "WHERE d > $t RETURN avg(p.age)"),
    "w12": ("MATCH (a:Person), (b:Person) WHERE a.age = $x AND b.age = $y AND a.name = b.name "
            "RETURN count(*)"),
    "n_persons": "MATCH (p:Person) RETURN count(*)",
    "n_knows": "MATCH (:Person)-[k:KNOWS]->(:Person) RETURN count(*)",
}
_INLINE = {"ins_knows", "lookup", "degree", "twohop"}


class KuzuAdapter(Adapter):
    name = "kuzu"
    module_name = "kuzu"
    db_filename = "graph.kuzu"
    variants = {"literal": {"inline_keys": True}}

    def __init__(self, dbdir, options=None):
        super().__init__(dbdir, options)
        self.mod = importlib.import_module(self.module_name)
        self.db = None
        self.conn = None
        self.prepared: dict = {}
        self.inline = bool(self.options.get("inline_keys"))

    def version(self):
        v = getattr(self.mod, "__version__", "?")
        try:
            storage = self.mod.Database.get_storage_version()
        except Exception:  # API differences between forks
            storage = "?"
        return f"{self.module_name} {v} (storage version {storage})"

    def describe(self):
        return {"schema": SCHEMA, "bulk": "COPY Person/KNOWS FROM csv (HEADER=true)",
                "writes": "BEGIN TRANSACTION; reused prepared CREATE per row; COMMIT",
                "key lookups": ("integer keys inlined in the query text" if self.inline
                                else "parameterized prepared statements"),
                "threads": "default (all cores)", "buffer_pool": "default (~80% of RAM)"}

    # ---- lifecycle ------------------------------------------------------------------------
    def open(self):
        self.db = self.mod.Database(os.path.join(self.dbdir, self.db_filename))
        self.conn = self.mod.Connection(self.db)
        self.prepared = {}

    def create(self):
        os.makedirs(self.dbdir, exist_ok=True)
        self.open()
        for stmt in SCHEMA:
            self.conn.execute(stmt)

    def flush(self):
        self.conn.execute("CHECKPOINT")

    def close(self):
        self.prepared = {}
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.db is not None:
            self.db.close()
            self.db = None

    # ---- helpers --------------------------------------------------------------------------
    def _statement(self, key):
        ps = self.prepared.get(key)
        if ps is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ps = self.conn.prepare(Q[key])
            if not ps.is_success():
                raise RuntimeError(ps.get_error_message())
            self.prepared[key] = ps
        return ps

    def _exec(self, key, params=None):
        if self.inline and key in _INLINE:
            q = Q[key]
            for k, v in (params or {}).items():
                q = q.replace("$" + k, str(int(v)))
            return self.conn.execute(q)
        return self.conn.execute(self._statement(key), params or {})

    def _scalar(self, key, params=None):
        res = self._exec(key, params)
        return res.get_next()[0] if res.has_next() else None

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv, knows_csv):
        t0 = time.perf_counter()
        self.conn.execute(f"COPY Person FROM '{persons_csv}' (HEADER=true)")
        t1 = time.perf_counter()
        self.conn.execute(f"COPY KNOWS FROM '{knows_csv}' (HEADER=true)")
        return {"nodes": t1 - t0, "edges": time.perf_counter() - t1}

    # ---- W2 -------------------------------------------------------------------------------
    def _tx(self, key, param_rows):
        ex = self.conn.execute
        ex("BEGIN TRANSACTION")
        try:
            for p in param_rows:
                self._exec(key, p)
        except BaseException:
            ex("ROLLBACK")
            raise
        t0 = time.perf_counter()
        ex("COMMIT")
        self.stats["commit_s"] = self.stats.get("commit_s", 0.0) + time.perf_counter() - t0

    def insert_persons_tx(self, rows):
        self._tx("ins_person", ({"id": i, "name": n, "age": a} for i, n, a in rows))

    def insert_knows_tx(self, rows):
        self._tx("ins_knows", ({"src": s, "dst": d, "since": t} for s, d, t in rows))

    # ---- reads ----------------------------------------------------------------------------
    def noop(self):
        self._scalar("noop")

    def lookup_name(self, pid):
        return self._scalar("lookup", {"id": pid})

    def lookup_name_unprepared(self, pid):
        """W3u: the same query through execute(query_string, params)."""
        res = self.conn.execute(Q["lookup"], {"id": pid})
        return res.get_next()[0] if res.has_next() else None

    def out_degree(self, pid):
        return int(self._scalar("degree", {"id": pid}))

    def two_hop_count(self, pid):
        return int(self._scalar("twohop", {"id": pid}))

    def avg_age_out_degree_gt(self, threshold):
        v = self._scalar("avgage", {"t": threshold})
        return None if v is None else float(v)

    def same_name_pairs(self, x, y):
        """W12: the hash-join pattern (prepared; ages are not keys, so nothing is inlined)."""
        return int(self._scalar("w12", {"x": x, "y": y}))

    def count_persons(self):
        return int(self._scalar("n_persons"))

    def count_knows(self):
        return int(self._scalar("n_knows"))

    # ---- W6 -------------------------------------------------------------------------------
    def try_insert_duplicate(self, row):
        i, n, a = row
        try:
            self.conn.execute(self._statement("ins_person"), {"id": i, "name": n, "age": a})
        except RuntimeError as e:
            return True, str(e)
        return False, "accepted: a second Person with the same id was created"


ADAPTER = KuzuAdapter
