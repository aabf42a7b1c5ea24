"""lpgdb through its public Python API (API.md), used the way its README recommends.

Layout: the database is the directory ``<dbdir>/graph.lpg``.  Durability: ``sync="full"`` by
default (a commit returns after its WAL record is fdatasynced), the same guarantee as SQLite's
FULL and Kùzu's WAL commit; variants ``lpgdb@normal`` and ``lpgdb@off`` measure the others.

Calls used (``describe()["paths"]`` records them in the results):

    W1   ONE db.bulk_load(nodes={"Person": CsvFiles(...)}, edges={"KNOWS": CsvFiles(...)})
    W2   with db.transaction() as tx: tx.create_node / tx.key_lookup + tx.create_edge per row
    W3   snapshot.key_lookup("Person", "id", v) + snapshot.node(id)["name"]
    W3u  db.execute("MATCH (p:Person {id: $id}) RETURN p.name", {"id": v})
    W4   snapshot.degree(id, "out", "KNOWS");  W5  snapshot.count_reach(id, 2, "out", "KNOWS")
    W7   Cypher (Q_W7): planned as one native degree call per batch of persons (DegreeCount);
         faster than the per-node API loop (snapshot.nodes + degree), which this adapter used
         until the query engine had the rewrite
    W5c  W5 through Cypher (Q_W5C);  W12  Cypher (Q_W12) with an index on Person.age made
         before it and dropped after it (both untimed)
    W8   db.set_schema(SOCIAL_SCHEMA) after W1;  W0  db.execute("RETURN 1")

Every read opens its own snapshot (``with db.snapshot() as s``), as SQLite and Kùzu run each
statement in its own read transaction; W2 finds edge endpoints by key inside the transaction.
A hash index on Person.id is created with ``db.create_index`` (the counterpart of SQLite's
INTEGER PRIMARY KEY and Kùzu's PRIMARY KEY).
"""
from __future__ import annotations

import os
import time

from .base import SOCIAL_SCHEMA, Adapter

#: the API calls behind each workload, recorded in the results
_PATHS = {
    "W1": "one db.bulk_load of persons.csv and knows.csv (lpgdb.CsvFiles, C parser)",
    "W3": "snapshot.key_lookup + snapshot.node", "W3u": "db.execute(MATCH ... {id: $id})",
    "W4": "snapshot.degree", "W5": "snapshot.count_reach(id, 2)",
    "W7": "db.execute(Q_W7)", "W0": 'db.execute("RETURN 1")',
    "W5c": "db.execute(Q_W5C)", "W12": "db.execute(Q_W12), index on Person.age",
    "key index": 'db.create_index("Person", "id")',
}


Q_W5C = ("MATCH (a:Person {id: $id})-[:KNOWS]->()-[:KNOWS]->(c) WHERE c <> a "
         "RETURN count(DISTINCT c)")
Q_W7 = "MATCH (p:Person)-[:KNOWS]->() WITH p, count(*) AS d WHERE d > $t RETURN avg(p.age)"
Q_W12 = ("MATCH (a:Person), (b:Person) WHERE a.age = $x AND b.age = $y AND a.name = b.name "
         "RETURN count(*)")


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

    @property
    def path(self):
        return os.path.join(self.dbdir, "graph.lpg")

    def version(self):
        return f"lpgdb {getattr(self.lpgdb, '__version__', '?')} ({_git_describe()})"

    def describe(self):
        return {"sync": self.sync, "reads": "one snapshot per call",
                "writes": "with db.transaction(): create_node/create_edge per row",
                "paths": dict(_PATHS)}

    # ---- lifecycle ------------------------------------------------------------------------
    def _connect(self, create: bool):
        self.db = self.lpgdb.connect(self.path, create=create, sync=self.sync)
        # The Cypher parser is built on a process's first query (about 1 s); do it here, as
        # part of opening, so W0/W3u measure statements rather than that one-time set-up.
        self.db.execute("RETURN 1").fetchall()

    def create(self):
        os.makedirs(self.dbdir, exist_ok=True)
        self._connect(create=True)
        self.db.create_index("Person", "id")

    def open(self):
        self._connect(create=False)

    def replayed_bytes(self):
        """Bytes of log the last open replayed: from the last checkpoint's LSN to the end of the
        log (LSNs are log byte positions).  W10 divides it by the recovery time."""
        eng = self.db._engine
        return eng.replayed_to - eng.meta.checkpoint_lsn

    def open_plain(self):
        self.db = self.lpgdb.connect(self.path, create=False, sync=self.sync)

    def set_schema(self):
        self.db.set_schema(SOCIAL_SCHEMA)

    def flush(self):
        self.db.checkpoint()

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv, knows_csv):
        """One bulk_load of both files, parsed by lpgdb's C reader; the typed header is given in
        code (Kùzu gets it from CREATE NODE/REL TABLE).  One call, so no phase split."""
        CsvFiles = self.lpgdb.CsvFiles
        self.db.bulk_load(nodes={"Person": CsvFiles(persons_csv, header="id:ID(Person),name,age:int")},
                          edges={"KNOWS": CsvFiles(knows_csv, header=":START_ID(Person),:END_ID(Person),since:int")},
                          id_type="integer")
        return None

    # ---- W2 -------------------------------------------------------------------------------
    def insert_persons_tx(self, rows):
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
    @staticmethod
    def _finder(view):
        """view (snapshot or transaction) -> function(person id) -> node id.

        Complexity: one hash probe in the Person.id index per call."""
        def find(pid):
            ids = view.key_lookup("Person", "id", pid)
            if not ids:
                raise LookupError(f"no Person with id {pid}")
            return ids[0]
        return find

    def noop(self):
        self.db.execute("RETURN 1")

    def lookup_name(self, pid):
        with self.db.snapshot() as s:
            ids = s.key_lookup("Person", "id", pid)
            return s.node(ids[0])["name"] if ids else None

    def lookup_name_unprepared(self, pid):
        """W3u: the same lookup through Cypher."""
        row = self.db.execute("MATCH (p:Person {id: $id}) RETURN p.name", {"id": pid}).fetchone()
        return None if row is None else row[0]

    def out_degree(self, pid):
        with self.db.snapshot() as s:
            ids = s.key_lookup("Person", "id", pid)
            if not ids:
                raise LookupError(f"no Person with id {pid}")
            return s.degree(ids[0], "out", "KNOWS")

    def two_hop_count(self, pid):
        with self.db.snapshot() as s:
            ids = s.key_lookup("Person", "id", pid)
            if not ids:
                raise LookupError(f"no Person with id {pid}")
            return s.count_reach(ids[0], 2, "out", "KNOWS")

    def avg_age_out_degree_gt(self, threshold):
        v = self.db.execute(Q_W7, {"t": threshold}).fetchone()[0]
        return None if v is None else float(v)

    def two_hop_count_cypher(self, pid):
        """W5c: W5 through the query language (planned as one native reach count)."""
        return self.db.execute(Q_W5C, {"id": pid}).fetchone()[0]

    def w12_setup(self):
        self.db.create_index("Person", "age")

    def w12_teardown(self):
        self.db.drop_index("Person", "age")

    def same_name_pairs(self, x, y):
        """W12: pairs of persons of ages x and y with the same name (a hash join on name)."""
        return self.db.execute(Q_W12, {"x": x, "y": y}).fetchone()[0]

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
