"""The interface every system under test implements (the peers harness's interface, extended
for W8-W10).

An adapter owns one database in the directory it is given; everything the engine writes lives
there, so disk use is measured by walking that directory.  The worker calls, per repetition:

    a = Adapter(dbdir, options)        # nothing opened yet
    a.create()                         # empty database + schema (untimed)
    a.bulk_load(persons_csv, knows_csv)     # W1 (timed)
    a.set_schema()                     # only in the W8 repetitions of schema-capable systems
    a.flush()                          # checkpoint (untimed); disk measured after it (W11)
    a.reopen()                         # close + open the persisted database (untimed)
    ... reads W0 W3 W4 W5 W7, W2, W9, W6 ...
    a.close()

W10 (crash recovery) uses ``open()`` on a fresh adapter object in a process that is killed
with SIGKILL after its last acknowledged commit, then ``open()`` again in the worker.

Data model (identical everywhere): node type Person(id INT key, name STRING, age INT), edge type
KNOWS(Person -> Person, since INT).  ``id`` is the user key; engines keep their own ids.

Rules for a fair comparison:
  * use the engine the way its documentation recommends;
  * bulk_load may use the engine's bulk path (COPY, executemany, bulk loader ...);
  * insert_*_tx use the ordinary per-operation write API, one statement or call per node or
    edge, all of a batch inside ONE transaction that is durably committed before returning
    (no UNWIND / multi-row tricks: this measures the transactional path); edge endpoints are
    found by key inside the transaction, never from a cache kept by the adapter;
  * reads go through the public API and return plain Python values; no caching across calls.
"""
from __future__ import annotations

import csv
import os
from typing import Sequence

PersonRow = tuple[int, str, int]     # (id, name, age)
KnowsRow = tuple[int, int, int]      # (src id, dst id, since)

#: The social graph's PG-Schema (used by W8 on systems with ``supports_schema``).
SOCIAL_SCHEMA = """\
CREATE GRAPH TYPE socialGraphType STRICT {
  (personType: Person {id INT64, name STRING, age INT64}),
  (:personType)-[knowsType: KNOWS {since INT64}]->(:personType),
  FOR (x:personType) EXCLUSIVE MANDATORY SINGLETON x.id
}
"""


class Adapter:
    #: short name used on the command line and in the tables
    name: str = "base"
    #: True when the database survives close(); False for in-memory baselines
    persistent: bool = True
    #: True when a commit returns only after its data is on stable storage
    durable: bool = True
    #: True when set_schema() enforces the social graph's PG-Schema natively (W8)
    supports_schema: bool = False
    #: named option sets, selectable as "<name>@<variant>"
    variants: dict[str, dict] = {}

    def __init__(self, dbdir: str, options: dict | None = None):
        self.dbdir = dbdir
        self.options = options or {}
        #: counters an adapter may fill during W2 ({"commit_s": ...}); cleared after W2
        self.stats: dict = {}

    # ---- identity -------------------------------------------------------------------------
    def version(self) -> str:
        """Version string(s) of the engine and its Python package."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Settings that matter for reading the numbers (durability, indexes, API path)."""
        return {}

    # ---- lifecycle ------------------------------------------------------------------------
    def create(self) -> None:
        """Create an empty database with the schema in self.dbdir (untimed)."""
        raise NotImplementedError

    def open(self) -> None:
        """Open the existing database in self.dbdir (W10 recovery is this call)."""
        raise NotImplementedError

    def open_plain(self) -> None:
        """``open()`` without warm-ups of optional layers (W13 measures the engine's open)."""
        self.open()

    def flush(self) -> None:
        """Make everything durable and compact (checkpoint / save).  Untimed."""

    def reopen(self) -> None:
        """Close and reopen the persisted database (no-op for in-memory systems)."""
        self.close()
        self.open()

    def close(self) -> None:
        raise NotImplementedError

    def set_schema(self) -> None:
        """Enforce SOCIAL_SCHEMA from now on (W8); only when supports_schema."""
        raise NotImplementedError(f"{self.name} has no native PG-Schema enforcement")

    def disk_bytes(self) -> int | None:
        """Bytes allocated on disk by the database (None for in-memory systems)."""
        if not self.persistent:
            return None
        return _walk_bytes(self.dbdir, lambda rel: True, allocated=True)

    def wal_bytes(self) -> int:
        """Bytes allocated on disk by the write-ahead log files (those with 'wal' in their path;
        a sparse or partly allocated segment counts what it holds, as ``du`` does)."""
        return _walk_bytes(self.dbdir, lambda rel: "wal" in rel.lower(), allocated=True)

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv: str, knows_csv: str) -> dict | None:
        """Load persons.csv then knows.csv (header rows) and commit.

        Returns {"nodes": s, "edges": s} (seconds of the two phases) when the engine loads
        them separately, else None (the table then shows only the combined rate)."""
        raise NotImplementedError

    # ---- W2 / W9 --------------------------------------------------------------------------
    def insert_persons_tx(self, rows: Sequence[PersonRow]) -> None:
        """Insert the rows, one statement or call each, in one committed transaction."""
        raise NotImplementedError

    def insert_knows_tx(self, rows: Sequence[KnowsRow]) -> None:
        """Insert the edges (endpoints given by person id) in one committed transaction."""
        raise NotImplementedError

    # ---- reads ----------------------------------------------------------------------------
    def noop(self) -> None:
        """W0: the cheapest round trip the API offers (RETURN 1 / SELECT 1)."""
        raise NotImplementedError

    def lookup_name(self, pid: int) -> str | None:
        """W3: name of the person with this id, or None."""
        raise NotImplementedError

    def out_degree(self, pid: int) -> int:
        """W4: number of KNOWS edges leaving this person."""
        raise NotImplementedError

    def two_hop_count(self, pid: int) -> int:
        """W5: |{c : pid -KNOWS-> b -KNOWS-> c, c != pid}| (distinct c)."""
        raise NotImplementedError

    def avg_age_out_degree_gt(self, threshold: int) -> float | None:
        """W7: average age of persons with more than ``threshold`` outgoing KNOWS edges."""
        raise NotImplementedError

    def count_persons(self) -> int:
        raise NotImplementedError

    def count_knows(self) -> int:
        raise NotImplementedError

    # ---- W6 -------------------------------------------------------------------------------
    def try_insert_duplicate(self, row: PersonRow) -> tuple[bool, str]:
        """Insert a person whose id already exists through the normal write API.

        Returns (rejected, message): rejected is True when the engine raised an error
        (message = its text), False when it accepted the write (message says what happened)."""
        raise NotImplementedError


def read_persons(path: str):
    """Yield (id, name, age) from persons.csv (header skipped), for engines without an importer.

    Written out per file rather than generically: a per-row generator of converters costs
    about a third of a Python-side load."""
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        yield from ((int(i), n, int(a)) for i, n, a in r)


def read_knows(path: str):
    """Yield (src, dst, since) from knows.csv (header skipped)."""
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        yield from ((int(s), int(d), int(t)) for s, d, t in r)


def _walk_bytes(root: str, keep, allocated: bool) -> int:
    total = 0
    for d, _dirs, files in os.walk(root):
        for fn in files:
            path = os.path.join(d, fn)
            if not keep(os.path.relpath(path, root)):
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            total += st.st_blocks * 512 if allocated else st.st_size
    return total
