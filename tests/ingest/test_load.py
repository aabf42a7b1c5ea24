"""db.bulk_load from CSV files, Arrow tables, pandas / Polars DataFrames and Parquet files."""
import datetime as dt

import pytest

import lpgdb

pa = pytest.importorskip("pyarrow")


def graph(db):
    with db.snapshot() as s:
        nodes = sorted((sorted(n.labels), sorted(n.properties.items())) for n in s.nodes())
        edges = sorted((s.node(e.src)["name"], sorted(e.labels), s.node(e.dst)["name"], sorted(e.properties.items()))
                       for e in s.edges())
    return nodes, edges


PEOPLE = "pid:ID(P),name,age:int,score:float,vip:boolean,born:date,:LABEL\n" \
         "1,Ada,36,1.5,true,1815-12-10,Person;Admin\n2,Bob,,2.0,false,,Person\n3,Cy,7,,,,Person\n"
KNOWS = ":START_ID(P),:END_ID(P),:TYPE,since:int\n1,2,KNOWS,2020\n2,3,KNOWS,\n3,1,LIKES,1\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "p.csv").write_text(PEOPLE)
    (tmp_path / "k.csv").write_text(KNOWS)
    return tmp_path / "p.csv", tmp_path / "k.csv"


def _arrow_tables(files):
    import pyarrow.csv as pcsv
    people = pcsv.read_csv(files[0], convert_options=pcsv.ConvertOptions(
        column_types={"pid:ID(P)": pa.string(), "born:date": pa.date32()}))
    return people, pcsv.read_csv(files[1])


def _csv_graph(files):
    db = lpgdb.connect(":memory:")
    nids, eids = db.bulk_load(nodes=files[0], edges=files[1])
    assert (len(nids), len(eids)) == (3, 3)
    return graph(db)


def test_csv_paths_and_the_same_graph_from_parquet(tmp_path, files):
    want = _csv_graph(files)
    assert want[0][0] == (["Admin", "Person"], [("age", 36), ("born", dt.date(1815, 12, 10)), ("name", "Ada"),
                                                ("pid", "1"), ("score", 1.5), ("vip", True)])
    people, knows = _arrow_tables(files)
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(people, tmp_path / "p.parquet")
    pq.write_table(knows, tmp_path / "k.parquet")
    other = lpgdb.connect(":memory:")
    other.bulk_load(nodes=str(tmp_path / "p.parquet"), edges=tmp_path / "k.parquet")
    assert graph(other) == want


@pytest.mark.parametrize("kind", ["table", "pandas", "record_batch"])
def test_the_same_graph_from_every_table_kind(files, kind):
    if kind == "pandas":
        pytest.importorskip("pandas", reason="pandas is not installed (pip install 'lpgdb[pandas]')")
    make = {"table": lambda t: t, "pandas": lambda t: t.to_pandas(),
            "record_batch": lambda t: t.to_batches()[0]}[kind]
    want = _csv_graph(files)
    people, knows = _arrow_tables(files)
    other = lpgdb.connect(":memory:")
    other.bulk_load(nodes=make(people), edges=make(knows))
    assert graph(other) == want


def test_labels_from_the_mapping_and_typed_column_names():
    t = pa.table({"id:ID": [10, 20], "name": ["a", "b"], "n:float": [1, 2], "tags": [["x"], None]})
    e = pa.table({":START_ID": [10], ":END_ID": [20]})
    db = lpgdb.connect(":memory:")
    db.bulk_load(nodes={"A:B": t}, edges={"R": e})
    with db.snapshot() as s:
        a = next(s.find_nodes("A", name="a"))
        assert a.labels == {"A", "B"} and dict(a) == {"id": 10, "name": "a", "n": 1.0, "tags": ["x"]}
        assert type(a["n"]) is float and [x.label for x in s.edges()] == ["R"]


def test_polars_and_several_sources_with_labels():
    pl = pytest.importorskip("polars")
    db = lpgdb.connect(":memory:")
    n, _ = db.bulk_load(nodes=[("City", pl.DataFrame({"name": ["Oslo"]})),
                               ("Town", pa.table({"name": ["Eke"], "pop": pa.array([5], pa.int32())}))])
    with db.snapshot() as s:
        assert [sorted(s.node(i).labels) for i in n] == [["City"], ["Town"]]
        assert s.node(n[1])["pop"] == 5


def test_a_csv_header_given_in_code(tmp_path):
    (tmp_path / "p.csv").write_text("id,name,age\n7,Ann,30\n8,Ben,31\n")
    (tmp_path / "k.csv").write_text("src,dst,since\n7,8,2001\n")
    db = lpgdb.connect(":memory:")
    db.bulk_load(nodes={"Person": lpgdb.CsvFiles(tmp_path / "p.csv", header="id:ID(Person),name,age:int")},
                 edges={"KNOWS": lpgdb.CsvFiles(tmp_path / "k.csv", header=":START_ID(Person),:END_ID(Person),since:int")},
                 id_type="integer")
    with db.snapshot() as s:
        (ann,) = s.find_nodes("Person", id=7)
        assert ann["age"] == 30 and [s.node(x)["name"] for x in s.neighbors(ann.id)] == ["Ben"]


@pytest.mark.parametrize("nodes, edges, message", [
    ({"P": pa.table({"id:ID": [1, 1]})}, None, "appears twice in ID space"),
    ({"P": pa.table({"id:ID": [1, None]})}, None, "the id is missing"),
    ({"P": pa.table({"id:ID": [1]})}, {"R": pa.table({":START_ID": [1], ":END_ID": [2]})}, "is not an id"),
    ({"P": pa.table({"id:ID": [1]})}, {"R": pa.table({":START_ID(X)": [1], ":END_ID": [1]})}, "no node source declares"),
    (pa.table({"id:ID": [1]}), None, "no :LABEL column"),
    ({"P": pa.table({"x": pa.array([1], pa.decimal128(3, 1))})}, None, "column 'x'"),
])
def test_bad_tables_are_data_errors_and_load_nothing(nodes, edges, message):
    db = lpgdb.connect(":memory:")
    with pytest.raises(lpgdb.DataError, match=message):
        db.bulk_load(nodes=nodes, edges=edges)
    with db.snapshot() as s:
        assert s.node_count() == 0 and s.edge_count() == 0


def test_with_a_schema_the_rows_are_validated_and_violations_name_their_line(tmp_path):
    db = lpgdb.connect(":memory:")
    db.set_schema("CREATE GRAPH TYPE g STRICT { (p: P {name STRING, n INT}), FOR (x:p) EXCLUSIVE MANDATORY SINGLETON x.name }")
    (tmp_path / "ok.csv").write_text("name,n:int\na,1\nb,2\n")
    assert len(db.bulk_load(nodes={"P": tmp_path / "ok.csv"})[0]) == 2
    (tmp_path / "bad.csv").write_text("name,n:int\nc,1\na,2\n")
    with pytest.raises(lpgdb.SchemaViolationError) as e:
        db.bulk_load(nodes={"P": tmp_path / "bad.csv"})
    assert {v.kind for v in e.value.violations} == {"key_duplicate"}
    assert f"{tmp_path / 'bad.csv'}:3" in e.value.import_sources.values()
    with db.snapshot() as s:
        assert s.node_count() == 2


def test_progress_counts_every_byte(files):
    seen = []
    lpgdb.connect(":memory:").bulk_load(nodes=files[0], edges=files[1], progress=seen.append)
    assert sum(seen) == files[0].stat().st_size + files[1].stat().st_size



# The key bytes of a float cell are made in C (ingest.c key_of_value): an integral float in the
# int64 range is its int, one in [2**63, 2**64) is left to Python (the uint64 encoding), others
# stay floats. Infinities and doubles outside the int64 range must reach that choice without
# being converted to an integer first (undefined behaviour in C, flagged by UBSan).
_EDGE_FLOATS = ["inf", "-inf", "1e300", "-1e300", "1e19", "9223372036854775808", "-9223372036854775808",
                "9223372036854774784", "18446744073709551616", "-9223372036854777856", "3.0", "-0.0", "2.5"]
_THEIR_KEYS = [float("inf"), -float("inf"), 1e300, -1e300, 10 ** 19, 2 ** 63, -2 ** 63, 9223372036854774784,
               2.0 ** 64, -9223372036854777856.0, 3, 0, 2.5]


def _float_nodes(tmp_path, source, cells):
    if source == "csv":
        path = tmp_path / f"n{len(cells)}.csv"
        path.write_text("k:float,:LABEL\n" + "".join(f"{v},A\n" for v in cells))
        return str(path)
    pa = pytest.importorskip("pyarrow")
    return pa.table({":LABEL": ["A"] * len(cells), "k": [float(v) for v in cells]})


@pytest.mark.parametrize("source", ["csv", "arrow"])
def test_float_keys_at_and_beyond_the_int64_range(tmp_path, source):
    db = lpgdb.connect(str(tmp_path / "db"))
    db.create_index("A", "k")
    ids, _ = db.bulk_load(nodes=_float_nodes(tmp_path, source, _EDGE_FLOATS))
    with db.snapshot() as s:
        assert [s.key_lookup("A", "k", key) for key in _THEIR_KEYS] == [[i] for i in ids]
    with pytest.raises(lpgdb.DataError, match="NaN"):
        db.bulk_load(nodes=_float_nodes(tmp_path, source, ["1.5", "nan"]))
    assert db.snapshot().node_count() == len(ids)
    db.close()


@pytest.mark.parametrize("source", ["csv", "arrow"])
def test_a_float_key_schema_finds_duplicates_beyond_the_int64_range(tmp_path, source):
    db = lpgdb.connect(str(tmp_path / "db"))
    db.set_schema("CREATE GRAPH TYPE g STRICT { (aType: A {k FLOAT}), FOR (x:aType) KEY x.k }")
    ids, _ = db.bulk_load(nodes=_float_nodes(tmp_path, source, _EDGE_FLOATS))
    for dup in (["-inf"], ["1e300"], ["18446744073709551616"], ["9223372036854775808"], ["3"]):
        with pytest.raises(lpgdb.SchemaViolationError) as e:
            db.bulk_load(nodes=_float_nodes(tmp_path, source, dup))
        assert {v.kind for v in e.value.violations} == {"key_duplicate"}, dup
    assert db.snapshot().node_count() == len(ids)
    db.close()
