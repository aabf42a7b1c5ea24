"""Ground truth for the benchmark, and the check of each system's answers against it.

Owns: the expected answers, computed from the CSV files and workload.json with plain dicts,
independent of every adapter, and the comparison.  No number is reported for a system
without this check (run.py prints the problems first and the exit status says so).

Checked: node/edge counts after W1 and after W2 (every repetition, W8 ones included), W3
and W3u names (digest), W4 degrees, W5 and W5c 2-hop counts, W7 average age, W12
same-name pair counts, W9 and W10 counts (every
acknowledged commit present after the run / after crash recovery, nothing more).
"""
from __future__ import annotations

import csv
import os

from .workloads import digest, w12_pairs


def expected_answers(datadir: str, wl: dict) -> dict:
    name, age = {}, {}
    with open(os.path.join(datadir, "persons.csv"), newline="") as f:
        r = csv.reader(f)
        next(r)
        for i, n, a in r:
            name[int(i)] = n
            age[int(i)] = int(a)
    succ: dict[int, list[int]] = {}
    n_edges = 0
    with open(os.path.join(datadir, "knows.csv"), newline="") as f:
        r = csv.reader(f)
        next(r)
        for s, d, _t in r:
            succ.setdefault(int(s), []).append(int(d))
            n_edges += 1
    w5 = []
    for p in wl["w5_ids"]:
        reach: set[int] = set()
        for b in succ.get(p, ()):
            reach.update(succ.get(b, ()))
        reach.discard(p)
        w5.append(len(reach))
    ages = [age[s] for s, ds in succ.items() if len(ds) > wl["w7_threshold"]]
    by_age: dict[int, dict[str, int]] = {}
    for pid, a in age.items():
        names = by_age.setdefault(a, {})
        names[name[pid]] = names.get(name[pid], 0) + 1
    w12 = [sum(n * by_age.get(y, {}).get(nm, 0) for nm, n in by_age.get(x, {}).items())
           for x, y in w12_pairs()]
    return {
        "count_after_w1": [len(name), n_edges],
        "count_after_w2": [len(name) + len(wl["w2_nodes"]), n_edges + len(wl["w2_edges"])],
        "w3_digest": digest([name.get(p) for p in wl["w3_ids"]]),
        "w3u_digest": digest([name.get(p) for p in wl["w3_ids"][:2_000]]),
        "w4": [len(succ.get(p, ())) for p in wl["w4_ids"]],
        "w5": w5,
        "w7": sum(ages) / len(ages),
        "w12": w12,
    }


def check(res: dict, exp: dict) -> list[str]:
    """Compare one system's results with the expected answers; return the problems found."""
    probs = []
    for rep in res.get("reps", []):
        tag = f"rep {rep['rep']}" + (" (schema)" if rep.get("schema") else "")
        for key in ("count_after_w1", "count_after_w2"):
            if key in rep and rep[key] != exp[key]:
                probs.append(f"{tag} {key}: got {rep[key]}, expected {exp[key]}")
    rd = res.get("reads", {})
    if "w3" in rd and rd["w3"]["digest"] != exp["w3_digest"]:
        probs.append(f"W3 names differ (digest {rd['w3']['digest']} vs {exp['w3_digest']}, "
                     f"{rd['w3']['missing']} missing)")
    if "w3u" in rd and rd["w3u"].get("digest", exp["w3u_digest"]) != exp["w3u_digest"]:
        probs.append("W3u names (unprepared query path) differ from the expected names")
    for w, e in (("w4", "w4"), ("w5", "w5"), ("w5c", "w5"), ("w12", "w12")):
        if w in rd and rd[w]["answers"] != exp[e]:
            bad = [i for i, (x, y) in enumerate(zip(rd[w]["answers"], exp[e])) if x != y]
            first = bad[0] if bad else 0
            probs.append(f"{w.upper()} differs on {len(bad) or 'all'} of {len(exp[e])} queries "
                         f"(query {first}: got {rd[w]['answers'][first:first + 1]}, "
                         f"expected {exp[e][first]})")
    if "w7" in rd:
        got = rd["w7"]["answer"]
        if got is None or abs(got - exp["w7"]) > 1e-6 * max(1.0, abs(exp["w7"])):
            probs.append(f"W7 average age {got} != expected {exp['w7']}")
    after = res.get("after", {})
    for w, what in (("w9", "persons after W9"), ("w10", "persons after crash recovery")):
        got = (after.get(w) or {}).get("count_check")
        if got and got[0] != got[1]:
            probs.append(f"{w.upper()}: {what} {got[0]}, expected {got[1]} "
                         f"(every acknowledged commit, nothing more)")
    return probs
