"""The lpgdb command: demo, import/export round trip, schema, backup/restore, verify."""
import datetime as dt
import os
import subprocess
import sys

import pytest

import lpgdb
from lpgdb.cli import main


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "fraud")]) == 0
    out = capsys.readouterr().out
    assert "refused a bad transaction" in out and "[key_duplicate]" in out
    assert "[participation_min]" in out and "Jane owns DE01, DE02" in out
    with lpgdb.connect(str(tmp_path / "fraud"), readonly=True) as db:
        assert db.schema is not None and db.snapshot().node_count("Customer") == 4


def test_console_script_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lpgdb", "verify", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "OperationalError" in r.stderr


def test_import_export_round_trip(tmp_path, capsys):
    (tmp_path / "people.csv").write_text(
        "id:ID,name,age:int,score:double,vip:boolean,born:date,tags:string[],:LABEL\n"
        "p1,Ada,36,1.5,true,1815-12-10,a;b,Person;Admin\n"
        "p2,Bob,,2.0,false,,,Person\n")
    (tmp_path / "knows.csv").write_text(":START_ID,:END_ID,:TYPE,since:int\np1,p2,KNOWS,2020\np2,p1,KNOWS,\n")
    db = str(tmp_path / "db")
    assert main(["import", db, "--nodes", str(tmp_path / "people.csv"), "--edges", str(tmp_path / "knows.csv")]) == 0
    assert "imported 2 nodes and 2 edges" in capsys.readouterr().out
    with lpgdb.connect(db, readonly=True) as d, d.snapshot() as s:
        ada = next(s.find_nodes("Person", name="Ada"))
        assert ada.labels == {"Person", "Admin"} and ada["id"] == "p1" and ada["age"] == 36
        assert ada["vip"] is True and ada["born"] == dt.date(1815, 12, 10) and ada["tags"] == ["a", "b"]
        bob = next(s.find_nodes("Person", name="Bob"))
        assert "age" not in bob.properties and s.neighbors(ada.id) == [bob.id]
    assert main(["export", db, str(tmp_path / "out")]) == 0
    db2 = str(tmp_path / "db2")
    assert main(["import", db2, "--nodes", str(tmp_path / "out" / "nodes.csv"),
                 "--edges", str(tmp_path / "out" / "edges.csv")]) == 0
    with lpgdb.connect(db, readonly=True) as a, lpgdb.connect(db2, readonly=True) as b:
        def dump(d):
            with d.snapshot() as s:
                nodes = sorted((sorted(n.labels), sorted(n.properties.items())) for n in s.nodes())
                edges = sorted((s.node(e.src)["name"], sorted(e.labels), s.node(e.dst)["name"],
                                sorted(e.properties.items())) for e in s.edges())
            return nodes, edges
        assert dump(a) == dump(b)


def test_import_reports_bad_rows(tmp_path, capsys):
    (tmp_path / "n.csv").write_text("id:ID,age:int\nx,notanumber\n")
    assert main(["import", str(tmp_path / "db"), "--nodes", str(tmp_path / "n.csv")]) == 1
    assert "n.csv:2" in capsys.readouterr().err


def test_schema_commands(tmp_path, capsys):
    db = str(tmp_path / "db")
    with lpgdb.connect(db) as d, d.transaction() as tx:
        tx.create_node("Person", {"name": "Ada", "id": 1})
    ddl = tmp_path / "s.pgs"
    ddl.write_text("CREATE GRAPH TYPE g STRICT { (p: Person {name STRING, id INT}) }\n")
    assert main(["schema", "set", db, str(ddl)]) == 0
    assert main(["schema", "show", db]) == 0
    assert "CREATE GRAPH TYPE g STRICT" in capsys.readouterr().out
    assert main(["schema", "check", db]) == 0
    assert main(["schema", "draw", db]) == 0
    assert "digraph" in capsys.readouterr().out
    bad = tmp_path / "bad.pgs"
    bad.write_text("CREATE GRAPH TYPE g STRICT { (p: Person {name INT}) }\n")
    assert main(["schema", "set", db, str(bad)]) == 1
    assert "SchemaViolationError" in capsys.readouterr().err
    assert main(["schema", "infer", db]) == 0
    assert "Person" in capsys.readouterr().out


def test_backup_restore_verify(tmp_path, capsys):
    db = str(tmp_path / "db")
    with lpgdb.connect(db) as d:
        d.bulk_load(nodes=[("N", {"i": i}) for i in range(50)])
        with d.transaction() as tx:
            tx.create_edge(0, "R", 1)
        d.backup(str(tmp_path / "bk"))
        with d.transaction() as tx:   # after the backup: not in it
            tx.create_node("Late")
        with pytest.raises(lpgdb.OperationalError):
            d.backup(str(tmp_path / "bk"))
    assert main(["restore", str(tmp_path / "bk"), str(tmp_path / "restored")]) == 0
    assert main(["verify", str(tmp_path / "restored")]) == 0
    with lpgdb.connect(str(tmp_path / "restored")) as r, r.snapshot() as s:
        assert s.node_count() == 50 and s.edge_count() == 1 and s.node_count("Late") == 0
    # a damaged backup is refused by restore
    part = next(os.scandir(tmp_path / "bk" / "data")).path
    with open(part, "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    assert main(["restore", str(tmp_path / "bk"), str(tmp_path / "r2")]) == 1
    assert "CorruptionError" in capsys.readouterr().err and not os.path.exists(tmp_path / "r2")
