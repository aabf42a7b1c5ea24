"""The benchmark harness end to end at a very small size: lpgdb, SQLite and networkx must give
the expected answers (the same check that gates every published number), and the data
generator must reproduce the peers harness's files byte for byte."""
import json

import pytest

from bench import datagen, expected, run

# SHA-256 of the "smoke" files as written by the peers harness's generator (shared/peers/
# datagen.py, version 1) with the same parameters: a known-answer vector, so the numbers in
# bench/results stay comparable with the peer results.
SMOKE_SHA256 = {
    "persons.csv": "69270e93953f4fed4410a9b10be44e29c04925461278cc4275491364c666e21d",
    "knows.csv": "9671f740dcf25357ea743d3745b9c6ab145f036d6ed0fec293ffa4c53a0e44ad",
    "workload.json": "d4f2dc01a71e4369d9092a444f05666d332faf4a095fd3532b2f53de0627cb22",
}


def test_datagen_reproduces_the_peers_files(tmp_path):
    datagen.generate(str(tmp_path), datagen.SIZES["smoke"])
    for name, sha in SMOKE_SHA256.items():
        assert datagen.sha256_file(str(tmp_path / name)) == sha, name


def test_check_reports_a_wrong_answer(tmp_path):
    datagen.generate(str(tmp_path), datagen.SIZES["smoke"])
    wl = json.loads((tmp_path / "workload.json").read_text())
    exp = expected.expected_answers(str(tmp_path), wl)
    good = {"reps": [{"rep": 0, "count_after_w1": exp["count_after_w1"]}],
            "reads": {"w4": {"answers": list(exp["w4"])}, "w7": {"answer": exp["w7"]}}}
    assert expected.check(good, exp) == []
    bad = json.loads(json.dumps(good))
    bad["reads"]["w4"]["answers"][3] += 1
    bad["reps"][0]["count_after_w1"][1] -= 1
    probs = expected.check(bad, exp)
    assert any(p.startswith("W4 differs on 1 of") for p in probs)
    assert any("count_after_w1" in p for p in probs)


def test_harness_runs_lpgdb_sqlite_networkx_and_answers_agree(tmp_path):
    lpgdb = pytest.importorskip("lpgdb")
    if not hasattr(lpgdb, "connect"):
        pytest.skip("lpgdb.connect is not implemented yet (engine issue)")
    import importlib.util
    systems = ["lpgdb", "sqlite"] + (["networkx"] if importlib.util.find_spec("networkx") else [])
    rc = run.main(["--size", "smoke", "--quick", "--systems", ",".join(systems),
                   "--data", str(tmp_path / "data"), "--dbroot", str(tmp_path / "db"),
                   "--results", str(tmp_path / "results"), "--budget", "2"])
    out = json.loads((tmp_path / "results" / "smoke.json").read_text())
    assert out["problems"] == {name: [] for name in systems}
    by_name = {r["system"]: r for r in out["results"]}
    for name, res in by_name.items():
        assert res["errors"] == [], (name, res["errors"])
        assert {"w0", "w3", "w4", "w5", "w7"} <= set(res["reads"]), name
    for name in ("lpgdb", "sqlite"):
        after = by_name[name]["after"]
        assert after["w9"]["count_check"][0] == after["w9"]["count_check"][1]
        assert after["w10"]["acked_rows"] > 0
        assert after["w10"]["count_check"][0] == after["w10"]["count_check"][1]
    assert rc == 0
    md = (tmp_path / "results" / "smoke.md").read_text()
    assert "| lpgdb |" in md and "Ratios lpgdb / peer" in md
    # A system with a wrong answer gets no numbers anywhere in the report.
    from bench import report
    md = report.render("smoke", out["meta"], out["results"],
                       {**out["problems"], "sqlite": ["W4 differs on 1 of 100 queries"]}, {},
                       out["env"], out["settings"])
    assert "| sqlite | **wrong answers**: numbers withheld" in md
    if "networkx" in systems:
        assert "| metric | networkx |" in md      # sqlite left out of the ratio table


def test_floor_paired_rounds_check_answers_and_report_ratios():
    """bench.floor_paired at a tiny size: both systems' answers are checked first, then every
    workload gets its rounds' ratio quartiles for both clocks (no timing asserted)."""
    from bench import floor_paired
    got = floor_paired.one_run(rounds=4, calls=20, workloads=list(floor_paired.WORKLOADS))
    assert set(got["workloads"]) == set(floor_paired.WORKLOADS)
    for res in got["workloads"].values():
        for clock in ("cpu", "wall"):
            r = res[clock]
            assert 0 < r["ratio_q1"] <= r["ratio_median"] <= r["ratio_q3"]
            assert set(r["us_per_call"]) == {"lpgdb", "sqlite"}
