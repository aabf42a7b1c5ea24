"""SQLite through the standard-library ``sqlite3`` module: the relational baseline.

Set up as the SQLite docs suggest for this use: STRICT tables (SQLite >= 3.37),
``id INTEGER PRIMARY KEY`` (the rowid, so a key lookup is one B-tree search), NOT NULL columns,
enforced foreign keys from the edge table to the node table, indexes on knows(src) and
knows(dst), WAL journal mode, ``executemany`` in one transaction for the bulk load (indexes built
after it), explicit BEGIN/COMMIT for transactions.

``synchronous`` stays at SQLite's default, FULL: every COMMIT is durable, as lpgdb's
``sync="full"`` commits are.  Variant ``sqlite@normal`` sets NORMAL (safe but not durable).
"""
from __future__ import annotations

import os
import sqlite3
import time

from .base import Adapter, read_knows, read_persons

_STRICT = " STRICT" if sqlite3.sqlite_version_info >= (3, 37, 0) else ""
SCHEMA = [
    f"CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER NOT NULL)"
    f"{_STRICT}",
    "CREATE TABLE knows(src INTEGER NOT NULL REFERENCES person(id), "
    f"dst INTEGER NOT NULL REFERENCES person(id), since INTEGER NOT NULL){_STRICT}",
]
Q = {
    "noop": "SELECT 1",
    "ins_person": "INSERT INTO person(id, name, age) VALUES (?, ?, ?)",
    "ins_knows": "INSERT INTO knows(src, dst, since) VALUES (?, ?, ?)",
    "lookup": "SELECT name FROM person WHERE id = ?",
    "degree": "SELECT count(*) FROM knows WHERE src = ?",
    "twohop": ("SELECT count(DISTINCT k2.dst) FROM knows k1 JOIN knows k2 ON k2.src = k1.dst "
               "WHERE k1.src = ? AND k2.dst <> ?"),
    "avgage": ("SELECT avg(p.age) FROM person p JOIN "
               "(SELECT src FROM knows GROUP BY src HAVING count(*) > ?) d ON d.src = p.id"),
    "w12": "SELECT count(*) FROM person a JOIN person b ON a.name = b.name WHERE a.age = ? AND b.age = ?",
    "n_persons": "SELECT count(*) FROM person",
    "n_knows": "SELECT count(*) FROM knows",
}


class SqliteAdapter(Adapter):
    name = "sqlite"
    variants = {"normal": {"synchronous": "NORMAL"}}

    def __init__(self, dbdir, options=None):
        super().__init__(dbdir, options)
        self.conn: sqlite3.Connection | None = None

    @property
    def path(self):
        return os.path.join(self.dbdir, "graph.sqlite")

    def version(self):
        return f"SQLite {sqlite3.sqlite_version} (Python sqlite3 module)"

    def describe(self):
        return {"schema": SCHEMA, "journal_mode": "WAL",
                "synchronous": self.options.get("synchronous", "FULL (default)"),
                "foreign_keys": "ON",
                "bulk": "executemany in one transaction, then CREATE INDEX + ANALYZE",
                "writes": "BEGIN; execute per row; COMMIT"}

    # ---- lifecycle ------------------------------------------------------------------------
    def open(self):
        # isolation_level=None: the module never opens transactions behind our back.
        self.conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=256)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        if "synchronous" in self.options:
            self.conn.execute(f"PRAGMA synchronous={self.options['synchronous']}")

    def create(self):
        os.makedirs(self.dbdir, exist_ok=True)
        self.open()
        for stmt in SCHEMA:
            self.conn.execute(stmt)

    def flush(self):
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv, knows_csv):
        c = self.conn
        t0 = time.perf_counter()
        c.execute("BEGIN")
        c.executemany(Q["ins_person"], read_persons(persons_csv))
        t1 = time.perf_counter()
        c.executemany(Q["ins_knows"], read_knows(knows_csv))
        c.execute("CREATE INDEX knows_src ON knows(src)")
        c.execute("CREATE INDEX knows_dst ON knows(dst)")
        c.execute("COMMIT")
        c.execute("ANALYZE")
        return {"nodes": t1 - t0, "edges": time.perf_counter() - t1}

    # ---- W2 -------------------------------------------------------------------------------
    def _tx(self, sql, rows):
        c = self.conn
        c.execute("BEGIN")
        try:
            for row in rows:
                c.execute(sql, row)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        t0 = time.perf_counter()
        c.execute("COMMIT")
        self.stats["commit_s"] = self.stats.get("commit_s", 0.0) + time.perf_counter() - t0

    def insert_persons_tx(self, rows):
        self._tx(Q["ins_person"], rows)

    def insert_knows_tx(self, rows):
        self._tx(Q["ins_knows"], rows)

    # ---- reads ----------------------------------------------------------------------------
    def _scalar(self, key, params=()):
        row = self.conn.execute(Q[key], params).fetchone()
        return None if row is None else row[0]

    def noop(self):
        self._scalar("noop")

    def lookup_name(self, pid):
        return self._scalar("lookup", (pid,))

    def out_degree(self, pid):
        return self._scalar("degree", (pid,))

    def two_hop_count(self, pid):
        return self._scalar("twohop", (pid, pid))

    def avg_age_out_degree_gt(self, threshold):
        v = self._scalar("avgage", (threshold,))
        return None if v is None else float(v)

    def w12_setup(self):
        self.conn.execute("CREATE INDEX IF NOT EXISTS person_age_name ON person(age, name)")
        self.conn.execute("ANALYZE")

    def w12_teardown(self):
        self.conn.execute("DROP INDEX IF EXISTS person_age_name")

    def same_name_pairs(self, x, y):
        """W12: the same join in SQL, with an index on person(age, name) made before it (with
        one on age alone SQLite 3.40 scans for the name: seconds per query at medium)."""
        return self._scalar("w12", (x, y))

    def count_persons(self):
        return self._scalar("n_persons")

    def count_knows(self):
        return self._scalar("n_knows")

    # ---- W6 -------------------------------------------------------------------------------
    def try_insert_duplicate(self, row):
        try:
            self.conn.execute(Q["ins_person"], tuple(row))
        except sqlite3.Error as e:
            return True, f"{type(e).__name__}: {e}"
        return False, "accepted: duplicate row inserted"


ADAPTER = SqliteAdapter
