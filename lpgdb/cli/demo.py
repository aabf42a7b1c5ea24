"""``lpgdb demo``: a small fraud graph, end to end.

Builds customers, accounts and Owns edges under a PG-Schema graph type, shows a transaction the
schema refuses (with every violation), persists, closes, reopens and prints a few answers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from .common import counted

FRAUD_SCHEMA = """\
CREATE GRAPH TYPE fraudGraphType STRICT {
  (personType: Person {name STRING}),
  (customerType: personType & Customer {id INT32, OPTIONAL email STRING}),
  (accountType: Account {iban STRING, balance DOUBLE}),
  (:customerType)-[ownsType: Owns {since DATE}]->(:accountType),
  (:accountType)-[transferType: Transfer {amount DOUBLE}]->(:accountType),
  FOR (c:customerType) EXCLUSIVE MANDATORY SINGLETON c.id,
  FOR (a:accountType) COUNT 1.. OF c WITHIN (c:customerType)-[:ownsType]->(a)
}
"""


def run(path: str | None = None, out=print) -> None:
    import datetime as dt

    import lpgdb

    owned = path is None
    if owned:
        path = os.path.join(tempfile.mkdtemp(prefix="lpgdb-demo-"), "fraud.lpg")
    elif os.path.exists(path):
        raise lpgdb.OperationalError(f"{path!r} exists; the demo builds a new database")
    try:
        out(f"creating {path}")
        with lpgdb.connect(path) as db:
            db.set_schema(FRAUD_SCHEMA)
            out("schema: graph type fraudGraphType (STRICT), key on Customer.id, every Account owned")
            with db.transaction() as tx:
                people = [("Jane", 1), ("Omar", 2), ("Li", 3), ("Sara", 4)]
                cust = {n: tx.create_node(["Person", "Customer"], {"name": n, "id": i}) for n, i in people}
                acct = {}
                for k, (owner, iban, bal) in enumerate([("Jane", "DE01", 1200.0), ("Jane", "DE02", 50.0),
                                                        ("Omar", "FR11", 9000.0), ("Li", "NL77", 15.5),
                                                        ("Sara", "DE03", 300.0)]):
                    acct[iban] = tx.create_node("Account", {"iban": iban, "balance": bal})
                    tx.create_edge(cust[owner], "Owns", acct[iban], {"since": dt.date(2020, 1 + k, 1)})
                tx.create_edge(cust["Omar"], "Owns", acct["DE03"], {"since": dt.date(2024, 5, 1)})
                for a, b, amount in [("FR11", "DE01", 500.0), ("DE01", "NL77", 480.0),
                                     ("NL77", "FR11", 470.0), ("DE03", "DE02", 20.0)]:
                    tx.create_edge(acct[a], "Transfer", acct[b], {"amount": amount})
            out("committed 4 customers, 5 accounts, 6 Owns and 4 Transfer edges")

            try:
                with db.transaction() as tx:
                    tx.create_node(["Person", "Customer"], {"name": "Mallory", "id": 1})  # duplicate key
                    tx.create_node("Account", {"iban": "XX00", "balance": "lots"})     # wrong type
                    tx.create_node("Account", {"iban": "XX01", "balance": 1.0})        # nobody owns it
            except lpgdb.SchemaViolationError as e:
                out(f"refused a bad transaction, nothing written ({counted(len(e.violations), 'violation')}):")
                for v in e.violations:
                    out(f"  - [{v.kind}] {v.message}")

        out("closed; reopening from disk")
        with lpgdb.connect(path) as db, db.snapshot() as s:
            out(f"{s.node_count('Customer')} customers, {s.node_count('Account')} accounts, "
                f"{s.edge_count('Owns')} Owns, {s.edge_count('Transfer')} Transfer edges")
            jane = next(s.find_nodes("Customer", id=1))
            ibans = sorted(s.node(a)["iban"] for a in s.neighbors(jane.id, "out", "Owns"))
            out(f"Jane owns {', '.join(ibans)}")
            shared = [s.node(a)["iban"] for a in (n.id for n in s.nodes("Account"))
                      if s.degree(a, "in", "Owns") > 1]
            out(f"accounts with more than one owner: {', '.join(shared)}")
            try:
                res = db.execute(
                    "MATCH (a:Account)-[:Transfer]->(b:Account)-[:Transfer]->(c:Account)-[:Transfer]->(a) "
                    "WHERE a.iban < b.iban AND a.iban < c.iban RETURN a.iban AS a, b.iban AS b, c.iban AS c")
                for row in res:
                    out(f"money cycle (Cypher): {row['a']} -> {row['b']} -> {row['c']} -> {row['a']}")
            except lpgdb.NotSupportedError as e:
                out(f"(query engine: {e})")
            out(f"check(): {counted(len(db.check()), 'violation')} in the stored data")
    finally:
        if owned:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def cmd_demo(a: argparse.Namespace) -> int:
    run(a.db)
    return 0


def register(sub) -> None:
    s = sub.add_parser("demo", help="build and query a small fraud graph")
    s.add_argument("db", nargs="?", help="directory to create (default: a temporary one)")
    s.set_defaults(func=cmd_demo)
