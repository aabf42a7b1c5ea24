"""Differential test of the query language against Kùzu (bench/differential.py): random
openCypher queries over a small random graph loaded into both; no disagreement may be lpgdb's
fault.  Kùzu is in the ``bench`` extra (pip install -e ".[bench]"), not ``test``: without it
these tests are skipped."""
import pytest

kuzu = pytest.importorskip("kuzu", reason="Kùzu is not installed (it is in the 'bench' extra: "
                           "pip install -e '.[bench]'); the differential test needs it")

from bench import differential  # noqa: E402


def _check(result):
    lines = [f"{f['note']}\n  query: {f['query']}\n  lpgdb: {f['lpgdb']}\n  kuzu:  {f['kuzu']}"
             f"\n  (graph seed {f['graph_seed']})" for f in result["faults"]]
    assert not result["faults"], "lpgdb faults:\n" + "\n".join(lines)
    # the campaign really compared answers (a broken generator would only produce rejections)
    assert result["classes"].get("agree", 0) > result["queries"] // 2, result["classes"]


def test_eighty_random_queries_agree_with_kuzu(tmp_path):
    _check(differential.campaign(40, seed=11, graphs=2, root=str(tmp_path), retime=0))


@pytest.mark.slow
def test_thousands_of_random_queries_agree_with_kuzu(tmp_path):
    _check(differential.campaign(500, seed=100, graphs=8, root=str(tmp_path), retime=0))
