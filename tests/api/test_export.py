"""Exports for other engines (issue 14): Parquet read back by DuckDB (and PySpark, opt-in),
openCypher CSV + constraints for Neo4j/Neptune."""
import csv
import datetime as dt
import os
import random

import pytest

import lpgdb
from lpgdb.cli import main

SCHEMA = """CREATE GRAPH TYPE bank LOOSE {
  (PersonT: Person {name STRING, email STRING}),
  (AccountT: Account {iban STRING, balance FLOAT}),
  (:PersonT)-[OwnsT: OWNS {since DATE}]->(:AccountT),
  (:AccountT)-[PaysT: PAYS {amount FLOAT}]->(:AccountT),
  FOR (p:Person) EXCLUSIVE MANDATORY SINGLETON p.email,
  FOR (a:Account) EXCLUSIVE a.iban
}"""


@pytest.fixture
def bank(tmp_path):
    rng = random.Random(7)
    path = str(tmp_path / "bank")
    with lpgdb.connect(path) as db:
        db.set_schema(SCHEMA)
        with db.transaction() as tx:
            people = [tx.create_node("Person", {"name": f"p{i}", "email": f"p{i}@x"}) for i in range(40)]
            accts = [tx.create_node("Account", {"iban": f"DE{i:04d}", "balance": float(i)}) for i in range(60)]
            for i, a in enumerate(accts):
                tx.create_edge(people[i % 40], "OWNS", a, {"since": dt.date(2020, 1, 1 + i % 28)})
            for _ in range(300):
                tx.create_edge(rng.choice(accts), "PAYS", rng.choice(accts), {"amount": rng.random()})
        db.create_index("Person", "name")
    return path


def _two_hop(db) -> int:
    """Paths of two distinct edges (Cypher's relationship uniqueness)."""
    return db.execute("MATCH (a)-->(b)-->(c) RETURN count(*) AS n").fetchone()[0]


def test_parquet_export_read_back_with_duckdb(bank, tmp_path):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (pip install 'lpgdb[test]')")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'lpgdb[arrow]')")
    out = str(tmp_path / "pq")
    assert main(["export", bank, out, "--format", "parquet"]) == 0
    con = duckdb.connect()
    with lpgdb.connect(bank, readonly=True) as db, db.snapshot() as s:
        for label in ("Person", "Account"):
            n = con.execute(f"SELECT count(*) FROM '{out}/nodes/{label}.parquet'").fetchone()[0]
            assert n == s.node_count(label)
        for typ in ("OWNS", "PAYS"):
            n = con.execute(f"SELECT count(*) FROM '{out}/edges/{typ}.parquet'").fetchone()[0]
            assert n == s.edge_count(typ)
        hops = con.execute(f"""
            WITH e AS (SELECT src, dst, id FROM read_parquet('{out}/edges/*.parquet'))
            SELECT count(*) FROM e AS e1 JOIN e AS e2 ON e1.dst = e2.src AND e1.id <> e2.id""").fetchone()[0]
        assert hops == _two_hop(db) > 0
        # columns: GraphFrames' names, typed properties
        cols = dict(con.execute(f"DESCRIBE SELECT * FROM '{out}/edges/OWNS.parquet'").fetchall()[i][:2]
                    for i in range(4))
        assert list(cols)[:3] == ["src", "dst", "id"] and cols["since"] == "DATE"
        acct = con.execute(f"SELECT id, iban, balance FROM '{out}/nodes/Account.parquet' "
                           "ORDER BY balance DESC LIMIT 1").fetchone()
        node = s.node(acct[0])
        assert (node["iban"], node["balance"]) == acct[1:]


def test_neo4j_export_files_and_constraints(bank, tmp_path):
    out = str(tmp_path / "neo")
    assert main(["export", bank, out, "--format", "neo4j"]) == 0
    with open(os.path.join(out, "nodes.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == [":ID", ":LABEL"] and len(rows) == 101
    with open(os.path.join(out, "edges.csv"), newline="") as f:
        erows = list(csv.reader(f))
    assert erows[0][:3] == [":START_ID", ":END_ID", ":TYPE"] and len(erows) == 361
    script = open(os.path.join(out, "constraints.cypher")).read()
    assert "FOR (`p`:`Person`) REQUIRE (`p`.`email`) IS NODE KEY" in script
    assert "FOR (`a`:`Account`) REQUIRE (`a`.`iban`) IS UNIQUE" in script
    assert "CREATE INDEX `lpgdb_index_1` IF NOT EXISTS FOR (n:`Person`) ON (n.`name`)" in script
    # the same files load back (lpgdb's own import reads this format)
    assert main(["import", str(tmp_path / "again"), "--nodes", os.path.join(out, "nodes.csv"),
                 "--edges", os.path.join(out, "edges.csv")]) == 0
    with lpgdb.connect(str(tmp_path / "again"), readonly=True) as db, db.snapshot() as s:
        assert (s.node_count(), s.edge_count()) == (100, 360)


def test_parquet_refuses_mixed_kinds(tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'lpgdb[arrow]')")
    from lpgdb.cli.export import export_parquet
    with lpgdb.connect(str(tmp_path / "db")) as db:
        with db.transaction() as tx:
            tx.create_node("N", {"x": 1})
            tx.create_node("N", {"x": "one"})
        with pytest.raises(lpgdb.DataError, match="'x'"):
            export_parquet(db, str(tmp_path / "out"))


def test_parquet_temporal_values(tmp_path):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (pip install 'lpgdb[test]')")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'lpgdb[arrow]')")
    from lpgdb.cli.export import export_parquet
    with lpgdb.connect(str(tmp_path / "db")) as db:
        db.execute("CREATE (:N {d: duration('P1M2DT3H'), t: localtime('12:00:00.123456789'), "
                   "x: date('2024-01-02'), l: [duration('P1D')]})")
        export_parquet(db, str(tmp_path / "out"))
    row = duckdb.connect().execute(f"SELECT d, t, x, l FROM '{tmp_path}/out/nodes/N.parquet'").fetchone()
    assert row == ("P1M2DT3H", "12:00:00.123456789", dt.date(2024, 1, 2), ["P1D"])


@pytest.mark.slow
def test_parquet_export_read_back_with_pyspark(bank, tmp_path):
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (opt-in test)")
    from pyspark.sql import SparkSession
    out = str(tmp_path / "pq")
    assert main(["export", bank, out, "--format", "parquet"]) == 0
    spark = SparkSession.builder.master("local[1]").appName("lpgdb-export").getOrCreate()
    try:
        edges = spark.read.parquet(*[os.path.join(out, "edges", f) for f in os.listdir(os.path.join(out, "edges"))])
        e1, e2 = edges.select("src", "dst", "id").alias("e1"), edges.select("src", "dst", "id").alias("e2")
        hops = e1.join(e2, (e1.dst == e2.src) & (e1.id != e2.id)).count()
        people = spark.read.parquet(os.path.join(out, "nodes", "Person.parquet")).count()
        with lpgdb.connect(bank, readonly=True) as db, db.snapshot() as s:
            assert hops == _two_hop(db)
            assert people == s.node_count("Person")
            assert edges.count() == s.edge_count()
    finally:
        spark.stop()
    assert pyspark


def test_cli_restore_from_an_archive_by_lsn(tmp_path, capsys):
    path, arch = str(tmp_path / "db"), str(tmp_path / "arch")
    with lpgdb.connect(path, archive=arch) as db:
        with db.transaction() as tx:
            tx.create_node("N", {"i": 1})
        with db.snapshot() as s:
            lsn = s.lsn
        with db.transaction() as tx:
            tx.create_node("N", {"i": 2})
    assert main(["restore", arch, str(tmp_path / "r"), "--lsn", str(lsn)]) == 0
    with lpgdb.connect(str(tmp_path / "r"), readonly=True) as r, r.snapshot() as s:
        assert [n["i"] for n in s.nodes("N")] == [1]
    assert main(["restore", arch, str(tmp_path / "r2"), "--until", "not-a-time"]) == 2


def test_a_missing_pyarrow_says_what_to_install_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    # without pyarrow, the parquet export (library and command) and bulk_load of a Parquet file
    # raise InterfaceError (as Result.arrow() does) naming the extra: pip install "lpgdb[arrow]"
    import sys
    from lpgdb.cli.export import export_parquet
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        db.execute("CREATE (:N {x: 1})")
    for mod in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, mod, None)        # import pyarrow -> ImportError
    with lpgdb.connect(path) as db:
        with pytest.raises(lpgdb.InterfaceError, match=r'pip install "lpgdb\[arrow\]"'):
            export_parquet(db, str(tmp_path / "out"))
        with pytest.raises(lpgdb.InterfaceError, match=r'pip install "lpgdb\[arrow\]"'):
            db.bulk_load(nodes=str(tmp_path / "n.parquet"))
        assert db.snapshot().node_count() == 1
    assert not os.path.exists(tmp_path / "out")
    assert main(["export", path, str(tmp_path / "out"), "--format", "parquet"]) == 1
    assert 'pip install "lpgdb[arrow]"' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")


def test_a_failed_export_removes_the_directory_it_made(tmp_path):
    # export_parquet/export_neo4j/export_csv called as a library: a failure part way leaves no
    # half-written directory it created (the command already removed it)
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'lpgdb[arrow]')")
    from lpgdb.cli.export import export_parquet
    with lpgdb.connect(str(tmp_path / "db")) as db:
        with db.transaction() as tx:
            tx.create_node("A", {"x": 1})
            tx.create_node("N", {"x": 1})
            tx.create_node("N", {"x": "one"})
        with pytest.raises(lpgdb.DataError, match="'x'"):
            export_parquet(db, str(tmp_path / "out"))
        assert not os.path.exists(tmp_path / "out")
        os.mkdir(tmp_path / "mine")
        (tmp_path / "mine" / "keep.txt").write_text("x")
        with pytest.raises(lpgdb.DataError, match="'x'"):
            export_parquet(db, str(tmp_path / "mine"))
        assert os.listdir(tmp_path / "mine") == ["keep.txt"]
