"""lpgdb import / export: the Neo4j admin-import format, one transaction, errors with positions."""
import datetime as dt
import math
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

import lpgdb
from lpgdb.cli import main
from lpgdb.values import DateTime, Duration, LocalTime

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(lpgdb.__file__)))   # the lpgdb under test, whatever the cwd


def run(*argv):
    return main([str(a) for a in argv])


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def dump(path):
    """The graph as comparable data (ids replaced by endpoint property maps)."""
    with lpgdb.connect(str(path), readonly=True) as db, db.snapshot() as s:
        def key(props):
            return sorted((k, repr(v)) for k, v in props.items())
        nodes = sorted((sorted(n.labels), key(n.properties)) for n in s.nodes())
        edges = sorted((key(s.node(e.src).properties), sorted(e.labels), key(s.node(e.dst).properties),
                        key(e.properties)) for e in s.edges())
    return nodes, edges


def node_count(path, label=None):
    with lpgdb.connect(str(path), readonly=True) as db, db.snapshot() as s:
        return s.node_count(label)


@pytest.fixture
def people(tmp_path):
    return (write(tmp_path / "people.csv",
                  "id:ID,name,age:int,score:double,vip:boolean,born:date,tags:string[],:LABEL\n"
                  "p1,Ada,36,1.5,true,1815-12-10,a;b,Person;Admin\n"
                  "p2,Bob,,2.0,false,,,Person\n"),
            write(tmp_path / "knows.csv", ":START_ID,:END_ID,:TYPE,since:int\np1,p2,KNOWS,2020\np2,p1,KNOWS,\n"))


def test_import_then_export_then_import_gives_the_same_graph(tmp_path, people, capsys):
    nodes, edges = people
    db = tmp_path / "db"
    assert run("import", db, "--nodes", nodes, "--edges", edges) == 0
    assert "imported 2 nodes and 2 edges from 2 files" in capsys.readouterr().out
    with lpgdb.connect(str(db), readonly=True) as d, d.snapshot() as s:
        ada = next(s.find_nodes("Person", name="Ada"))
        assert ada.labels == {"Person", "Admin"} and ada["id"] == "p1" and ada["age"] == 36
        assert ada["vip"] is True and ada["born"] == dt.date(1815, 12, 10) and ada["tags"] == ["a", "b"]
        bob = next(s.find_nodes("Person", name="Bob"))
        assert "age" not in bob and s.neighbors(ada.id) == [bob.id]
    assert run("export", db, tmp_path / "out") == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["edges.KNOWS.csv", "import.args", "nodes.Admin_Person.csv",
                                                    "nodes.Person.csv"]
    assert run("import", tmp_path / "db2", tmp_path / "out") == 0
    assert dump(db) == dump(tmp_path / "db2")


def test_round_trip_keeps_awkward_values(tmp_path):
    db = tmp_path / "db"
    awkward = {"semis": ["a;b", "c"], "pipes": ["x|y"], "empty": "", "blob": b"\x00\x7f\x80\xff", "noblob": b"",
               "nolist": [], "inf": float("inf"), "ninf": float("-inf"), "big": 2 ** 64 - 1, "neg": -2 ** 63,
               "text": 'he said "hi",\nthen left  ', "uni": "李 😀", "ts": dt.datetime(2020, 6, 1, 10, 0, 1, 5),
               "tz": dt.datetime(2020, 6, 1, 10, tzinfo=ZoneInfo("Europe/Paris")),
               "off": dt.time(12, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "t": dt.time(1, 2, 3, 4),
               "d": dt.date(2024, 2, 29), "dur": dt.timedelta(days=-1, seconds=5, microseconds=7),
               "floats": [1.5, -0.0, 1e300], "flags": [True, False],
               # the query language's own temporal values: nanoseconds, months, named zones
               "months": Duration(14, -3, 5), "nanos": LocalTime(45_296_000_000_007),
               "znano": DateTime(dt.date(2024, 3, 31), 7_200_000_000_001, 7200, "Europe/Paris"),
               "durs": [Duration(1, 0, 0), Duration(0, 0, 1)]}
    with lpgdb.connect(str(db)) as d, d.transaction() as tx:
        a = tx.create_node(["Thing", "Odd Label"], awkward)
        b = tx.create_node([], {"nan": float("nan")})
        c = tx.create_node("Thing", {"semis": 5})           # another type under the same key, other label set
        tx.create_edge(a, {"R", "S"}, b, {"w": [1, 2]})
        tx.create_edge(b, set(), c)
    assert run("export", db, tmp_path / "out") == 0
    assert run("import", tmp_path / "db2", tmp_path / "out") == 0
    with lpgdb.connect(str(tmp_path / "db2"), readonly=True) as d, d.snapshot() as s:
        got = next(s.find_nodes("Odd Label"))
        assert dict(got) == awkward and got.labels == {"Thing", "Odd Label"}
        assert got["tz"].utcoffset() == dt.timedelta(hours=2) and type(got["blob"]) is bytes
        (nan,) = [n for n in s.nodes() if not n.labels]
        assert math.isnan(nan["nan"])
        assert sorted(sorted(e.labels) for e in s.edges()) == [[], ["R", "S"]]
        assert [e["w"] for e in s.edges() if e.labels] == [[1, 2]]
        assert next(n for n in s.find_nodes("Thing") if "Odd Label" not in n.labels)["semis"] == 5


def test_export_refuses_what_the_format_cannot_hold(tmp_path):
    db = tmp_path / "db"
    with lpgdb.connect(str(db)) as d, d.transaction() as tx:
        tx.create_node("A", {"x": [""]})
    assert run("export", db, tmp_path / "out") == 1
    assert not os.path.exists(tmp_path / "out")          # a failed export leaves no directory
    with lpgdb.connect(str(db)) as d, d.transaction() as tx:
        tx.update_node(0, set={"x": 1})
        tx.create_node("A", {"x": "one"})
    assert run("export", db, tmp_path / "out") == 1


def test_import_is_one_transaction(tmp_path, people, capsys):
    nodes, _ = people
    bad_edges = write(tmp_path / "bad.csv", ":START_ID,:END_ID,:TYPE\np1,p2,KNOWS\np1,p9,KNOWS\n")
    db = tmp_path / "db"
    assert run("import", db, "--nodes", nodes, "--edges", bad_edges) == 1
    err = capsys.readouterr().err
    assert f"{bad_edges}:3:2: end node 'p9' is not an id of the node files" in err
    assert not os.path.exists(db)                         # nothing kept, not even the new directory
    lpgdb.connect(str(db)).close()
    assert run("import", db, "--nodes", nodes, "--edges", bad_edges) == 1
    assert node_count(db) == 0                            # an existing database keeps its state
    assert run("import", db, "--nodes", nodes) == 0
    assert run("import", db, "--nodes", nodes) == 1       # a rerun would double the nodes
    assert "already holds 2 nodes" in capsys.readouterr().err and node_count(db) == 2
    assert run("import", db, "--nodes", nodes, "--append") == 0 and node_count(db) == 4


def test_a_participation_constraint_is_checked_on_the_whole_import(tmp_path, capsys):
    ddl = write(tmp_path / "s.pgs", """CREATE GRAPH TYPE g STRICT {
        (personType: Person {name STRING}), (accountType: Account {iban STRING}),
        (:personType)-[ownsType: OWNS]->(:accountType),
        FOR (a:accountType) COUNT 1..1 OF p WITHIN (p:personType)-[:ownsType]->(a) }""")
    db = tmp_path / "db"
    assert run("schema", "set", db, ddl) == 0
    write(tmp_path / "p.csv", ":ID(P),name\np1,Ada\n")
    write(tmp_path / "a.csv", ":ID(A),iban\na1,DE01\na2,DE02\n")
    write(tmp_path / "o.csv", ":START_ID(P),:END_ID(A)\np1,a1\np1,a2\n")
    assert run("import", db, "--nodes=Person=" + str(tmp_path / "p.csv"), "--nodes=Account=" + str(tmp_path / "a.csv"),
               "--edges=OWNS=" + str(tmp_path / "o.csv")) == 0
    assert node_count(db, "Account") == 2
    # one owner too few: refused whole, and the error names the line that made the node
    write(tmp_path / "o2.csv", ":START_ID(P),:END_ID(A)\np1,a1\n")
    assert run("schema", "set", tmp_path / "db2", ddl) == 0
    assert run("import", tmp_path / "db2", "--nodes=Person=" + str(tmp_path / "p.csv"),
               "--nodes=Account=" + str(tmp_path / "a.csv"), "--edges=OWNS=" + str(tmp_path / "o2.csv")) == 1
    err = capsys.readouterr().err
    assert "SchemaViolationError" in err and f"{tmp_path / 'a.csv'}:3: [participation_min]" in err


def test_id_spaces_header_and_data_files_delimiters_and_bom(tmp_path):
    write(tmp_path / "h.csv", "\ufeffpersonId:ID(Person)\tname\tnick:string[]\n")
    write(tmp_path / "d1.csv", "1\tAda\tA|Countess\n")
    write(tmp_path / "d2.csv", "2\tBob\t\n")
    write(tmp_path / "c.csv", "\ufeffcompanyId:ID(Company)\tname\n1\tACME\n")
    write(tmp_path / "w.csv", ":START_ID(Person)\t:END_ID(Company)\tsince:int\n1\t1\t2001\n2\t1\t2002\n")
    db = tmp_path / "db"
    assert run("import", db, f"--nodes=Person:Human={tmp_path / 'h.csv'},{tmp_path / 'd1.csv'},{tmp_path / 'd2.csv'}",
               f"--nodes=Company={tmp_path / 'c.csv'}", f"--relationships=WORKS_AT={tmp_path / 'w.csv'}",
               "--delimiter", "TAB", "--array-delimiter", "|") == 0
    with lpgdb.connect(str(db), readonly=True) as d, d.snapshot() as s:
        ada = next(s.find_nodes("Person", personId="1"))
        assert ada.labels == {"Person", "Human"} and ada["nick"] == ["A", "Countess"] and "name" in ada
        acme = next(s.find_nodes("Company"))
        assert acme["companyId"] == "1" and sorted(s.node(n)["name"] for n in s.neighbors(acme.id, "in")) == ["Ada", "Bob"]
        assert {e.label for e in s.edges()} == {"WORKS_AT"} and s.node_count() == 3


def test_fields_of_any_size_and_over_several_lines(tmp_path):
    big = ("x" * 1000 + "\n") * 300 + 'with "quotes"'      # 300 KiB, many lines
    text = big.replace('"', '""')
    write(tmp_path / "n.csv", f':ID,:LABEL,body\n1,Doc,"{text}"\n2,Doc,small\n')
    db = tmp_path / "db"
    assert run("import", db, "--nodes", tmp_path / "n.csv") == 0
    with lpgdb.connect(str(db), readonly=True) as d, d.snapshot() as s:
        assert sorted(len(n["body"]) for n in s.nodes()) == [5, len(big)]


def test_integer_ids_char_duration_and_ignored_columns(tmp_path):
    write(tmp_path / "n.csv", "id:ID,:LABEL,grade:char,wait:duration,junk:IGNORE,ws:duration[],m:duration\n"
                              "7,T,A,P1DT2H,zzz,PT1S;P2W,P1Y2M\n")
    write(tmp_path / "e.csv", ":START_ID,:END_ID,:TYPE\n7,7,SELF\n")
    db = tmp_path / "db"
    assert run("import", db, "--nodes", tmp_path / "n.csv", "--edges", tmp_path / "e.csv", "--id-type", "integer") == 0
    with lpgdb.connect(str(db), readonly=True) as d, d.snapshot() as s:
        (n,) = s.nodes()
        assert dict(n) == {"id": 7, "grade": "A", "wait": dt.timedelta(days=1, hours=2),
                           "ws": [dt.timedelta(seconds=1), dt.timedelta(weeks=2)], "m": Duration(14, 0, 0)}
        assert s.edge_count() == 1


@pytest.mark.parametrize("header, row, message", [
    ("name,age:int", "Ada,3", "has neither an :ID nor a :LABEL column"),
    ("id:ID,name", "1,Ada", "has no :LABEL column, so its nodes would have no labels"),
    (":START_ID,:END_ID,:TYPE", "1,2,R", "pass the file with --edges"),
    (":ID,:LABEL,where:point", "1,A,x", "point values are not supported"),
    (":ID,:LABEL,x:money", "1,A,5", "unknown type 'money'"),
    (":ID,:LABEL,x,x:int", "1,A,5,6", "property 'x' appears twice"),
    (":ID,:LABEL,c:char", "1,A,ab", "a char is exactly one character"),
    (":ID,:LABEL,w:duration", "1,A,P1X", "expected an ISO 8601 duration such as P1DT2H30M"),
    (":ID,:LABEL,t:localtime", "1,A,25:00", "expected an ISO 8601 time"),
    (":ID,:LABEL,age:int", "1,A,abc", "column 3 (age:int): bad value 'abc': expected an integer"),
    (":ID,:LABEL,d:date", "1,A,2020-13-01", "expected an ISO 8601 date"),
    (":ID,:LABEL,b:boolean", "1,A,yes", "expected true or false"),
    (":ID,:LABEL", "1,A,extra", "3 fields, but the header has 2"),
    (":ID,:LABEL,s", '1,A,"open', "never closes"),
])
def test_bad_inputs_are_one_line_errors_with_a_position_and_a_hint(tmp_path, capsys, header, row, message):
    f = write(tmp_path / "n.csv", f"{header}\n{row}\n")
    assert run("import", tmp_path / "db", "--nodes", f) == 1
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"lpgdb import: DataError: {f}:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not os.path.exists(tmp_path / "db")


def test_duplicate_ids_name_both_lines(tmp_path, capsys):
    f = write(tmp_path / "n.csv", ":ID,:LABEL\na,X\nb,X\na,X\n")
    assert run("import", tmp_path / "db", "--nodes", f) == 1
    assert f"{f}:4:1: id 'a' appears twice in ID space '(global)'; it was first given at {f}:2" in capsys.readouterr().err


def test_a_latin1_file_is_a_one_line_error_naming_the_encoding_flag(tmp_path):
    f = write(tmp_path / "n.csv", ":ID,:LABEL,name\n1,P,José\n", encoding="latin-1")
    r = subprocess.run([sys.executable, "-m", "lpgdb", "import", str(tmp_path / "db"), "--nodes", str(f)],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": _HERE})
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert f"{f}:2: byte 0xe9 (character 8 of the line) is not valid utf-8 text" in r.stderr and "--input-encoding latin-1" in r.stderr
    assert run("import", tmp_path / "db", "--nodes", f, "--input-encoding", "latin-1") == 0
    with lpgdb.connect(str(tmp_path / "db"), readonly=True) as d:
        assert d.execute("MATCH (p:P) RETURN p.name").value() == ["José"]


def test_progress_bar_shows_bytes_rate_and_eta(tmp_path, people, capsys):
    nodes, edges = people
    assert run("import", tmp_path / "db", "--nodes", nodes, "--edges", edges, "--progress") == 0
    err = capsys.readouterr().err
    total = os.path.getsize(nodes) + os.path.getsize(edges)
    assert f"{total}/{total} bytes" in err and "committing" in err and "/s" in err
