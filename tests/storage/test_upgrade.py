"""Databases written by lpgdb 0.1.0 (storage format 1): refused with the command to run, and
converted in place by ``lpgdb upgrade`` / ``lpgdb.upgrade`` with every node, edge, index, the
schema, the id counters and the log written after their last checkpoint."""
import datetime as dt
import json
import os
import tarfile

import pytest

import lpgdb
from lpgdb.cli import main as cli_main
from lpgdb.storage import checkpoint, records

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def _extract(tmp_path) -> str:
    with tarfile.open(os.path.join(DATA, "lpgdb-0.1.0.tar.gz")) as t:
        t.extractall(tmp_path, filter="data")
    return str(tmp_path / "db")


def _canon(v):
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, (dt.date, dt.datetime)):
        return {"date": v.isoformat()}
    if isinstance(v, list):
        return [_canon(x) for x in v]
    return v


def test_a_format_1_database_is_refused_with_the_command_to_run(tmp_path):
    path = _extract(tmp_path)
    with pytest.raises(lpgdb.OperationalError) as e:
        lpgdb.connect(path)
    assert "format version 1" in str(e.value) and f"lpgdb upgrade {path}" in str(e.value)
    assert e.value.reason == "old_format"


def test_upgrade_keeps_everything(tmp_path):
    path = _extract(tmp_path)
    want = json.load(open(os.path.join(DATA, "lpgdb-0.1.0.json")))
    res = lpgdb.upgrade(path)
    assert res["format"] == 1 and res["commits"] == 1 and os.path.isdir(res["backup"])
    with lpgdb.connect(path) as db:
        with db.snapshot() as s:
            nodes = [[n.id, sorted(n.labels), {k: _canon(v) for k, v in sorted(n.properties.items())}]
                     for n in s.nodes()]
            edges = [[e.id, sorted(e.labels), e.src, e.dst, {k: _canon(v) for k, v in sorted(e.properties.items())}]
                     for e in s.edges()]
            assert nodes == want["nodes"] and edges == want["edges"]
            assert s.key_lookup("City", "name", "Lima") == [1]
        assert str(db.schema) == want["schema"]
        with db.transaction() as tx:          # ids continue where 0.1.0 left them
            assert tx.create_node("City", {"name": "Kyiv"}) == want["next_node_id"]
        with pytest.raises(lpgdb.SchemaViolationError):    # the KEY still holds
            with db.transaction() as tx:
                tx.create_node("Person", {"id": 4, "name": "dup"})
        db.verify()
    assert lpgdb.upgrade(path)["backup"] is None           # already current: nothing to do


def test_cli_upgrade(tmp_path, capsys):
    path = _extract(tmp_path)
    assert cli_main(["upgrade", path]) == 0
    assert "upgraded" in capsys.readouterr().out
    with lpgdb.connect(path, readonly=True) as db, db.snapshot() as s:
        assert s.node_count("Person") == 21


def test_an_unknown_format_is_refused(tmp_path):
    path = str(tmp_path / "g")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            tx.create_node("A")
    meta = checkpoint.read_meta(os.path.join(path, "META"))
    man = checkpoint.load_manifest(path, meta)
    man["format"] = 7
    data = records.pack(man)
    with open(os.path.join(path, "manifest", checkpoint.manifest_name(meta.manifest_seq)), "wb") as f:
        f.write(data)
    from lpgdb import core
    meta.manifest_crc, meta.manifest_len = core.crc32c(data), len(data)
    meta.slot_seq += 1
    checkpoint.write_meta(os.path.join(path, "META"), meta)
    with pytest.raises(lpgdb.OperationalError) as e:
        lpgdb.connect(path)
    assert "format version 7" in str(e.value)
    with pytest.raises(lpgdb.OperationalError):
        lpgdb.upgrade(path)


def test_upgrade_refuses_a_database_that_is_open(tmp_path):
    path = str(tmp_path / "g")
    with lpgdb.connect(path):
        with pytest.raises(lpgdb.OperationalError) as e:
            lpgdb.upgrade(path)
        assert e.value.reason == "locked"
