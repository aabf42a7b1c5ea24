"""Make a small lpgdb 0.1.0 (storage format 1) database: the fixture for `lpgdb upgrade`.

Run with lpgdb at git a54a6d5 (format 1) on PYTHONPATH: python make_lpgdb_0.1.0.py DIR; then
tar it as lpgdb-0.1.0.tar.gz (arcname "db") and dump its contents to lpgdb-0.1.0.json.
"""
import datetime as dt, os, shutil, sys
import lpgdb
path = sys.argv[1]
shutil.rmtree(path, ignore_errors=True)
SCHEMA = """CREATE GRAPH TYPE g LOOSE {
  (personType: Person {id INT, name STRING, OPTIONAL born DATE}),
  (cityType: City {name STRING}),
  (:personType)-[livesType: LIVES_IN {since INT}]->(:cityType),
  (:personType)-[knowsType: KNOWS]->(:personType),
  FOR (x:personType) EXCLUSIVE MANDATORY SINGLETON (x.id)
}"""
db = lpgdb.connect(path, wal_segment_size=64 << 10)
db.create_index("City", "name")
with db.transaction() as tx:
    cities = [tx.create_node("City", {"name": n}) for n in ("Oslo", "Lima", "Pune")]
    people = [tx.create_node("Person", {"id": i, "name": f"p{i}", **({"born": dt.date(1990, 1, 1 + i)} if i % 2 else {})})
              for i in range(20)]
    for i, p in enumerate(people):
        tx.create_edge(p, "LIVES_IN", cities[i % 3], {"since": 2000 + i})
        tx.create_edge(p, "KNOWS", people[(i + 1) % 20])
    gone = tx.create_node("Person", {"id": 99, "name": "gone"})
db.set_schema(SCHEMA)
with db.transaction() as tx:
    tx.delete_node(gone, detach=True)
    tx.update_node(people[3], set={"name": "three", "tags": ["a", "b"], "score": 1.5, "raw": b"\x00\x01"})
db.checkpoint()
with db.transaction() as tx:            # the WAL tail after the last checkpoint
    extra = tx.create_node("Person", {"id": 100, "name": "tail"})
    tx.create_edge(extra, "KNOWS", people[0])
    tx.delete_edge(next(iter(tx.edges_of(people[5], "out", "KNOWS"))).id)
db._engine.close(checkpoint_on_close=False)
db._closed = True
