"""networkx DiGraph: the in-memory traversal baseline (no persistence, schema or transactions).

Nodes are keyed by the person id with ``name``/``age`` attributes; edges carry ``since``.
insert_*_tx simply apply the calls (nothing to commit).  networkx has no key constraint, so W6
records what ``add_node`` does with an existing id.  W9 and W10 do not apply (nothing durable).
"""
from __future__ import annotations

import time

from .base import Adapter, read_knows, read_persons


class NetworkxAdapter(Adapter):
    name = "networkx"
    persistent = False
    durable = False

    def __init__(self, dbdir, options=None):
        super().__init__(dbdir, options)
        import networkx
        self.nx = networkx
        self.g = None

    def version(self):
        return f"networkx {self.nx.__version__} (in-memory DiGraph)"

    def describe(self):
        return {"storage": "in-memory dict-of-dicts, nothing persisted",
                "bulk": "csv.reader + add_nodes_from / add_edges_from",
                "writes": "add_node / add_edge per row (no transactions)"}

    def create(self):
        self.g = self.nx.DiGraph()

    def reopen(self):
        pass  # nothing persisted: the graph stays in memory

    def close(self):
        self.g = None

    # ---- W1 -------------------------------------------------------------------------------
    def bulk_load(self, persons_csv, knows_csv):
        t0 = time.perf_counter()
        self.g.add_nodes_from((i, {"name": n, "age": a})
                              for i, n, a in read_persons(persons_csv))
        t1 = time.perf_counter()
        self.g.add_edges_from((s, d, {"since": t})
                              for s, d, t in read_knows(knows_csv))
        return {"nodes": t1 - t0, "edges": time.perf_counter() - t1}

    # ---- W2 -------------------------------------------------------------------------------
    def insert_persons_tx(self, rows):
        add = self.g.add_node
        for i, n, a in rows:
            add(i, name=n, age=a)

    def insert_knows_tx(self, rows):
        add = self.g.add_edge
        for s, d, t in rows:
            add(s, d, since=t)

    # ---- reads ----------------------------------------------------------------------------
    def noop(self):
        pass

    def lookup_name(self, pid):
        attrs = self.g.nodes.get(pid)
        return None if attrs is None else attrs["name"]

    def out_degree(self, pid):
        return self.g.out_degree(pid)

    def two_hop_count(self, pid):
        succ = self.g.succ
        reach = set()
        for b in succ[pid]:
            reach.update(succ[b])
        reach.discard(pid)
        return len(reach)

    def avg_age_out_degree_gt(self, threshold):
        nodes = self.g.nodes
        ages = [nodes[n]["age"] for n, d in self.g.out_degree() if d > threshold]
        return sum(ages) / len(ages) if ages else None

    def count_persons(self):
        return self.g.number_of_nodes()

    def count_knows(self):
        return self.g.number_of_edges()

    # ---- W6 -------------------------------------------------------------------------------
    def try_insert_duplicate(self, row):
        i, n, a = row
        before = dict(self.g.nodes[i]) if i in self.g else None
        self.g.add_node(i, name=n, age=a)
        if before is not None:
            return False, (f"accepted silently: add_node() on an existing id updated its "
                           f"attributes ({before['name']!r} -> {n!r}); node count unchanged")
        return False, "accepted: new node"


ADAPTER = NetworkxAdapter
