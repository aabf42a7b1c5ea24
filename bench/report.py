"""Markdown report of one benchmark run: the tables, lpgdb/peer ratios and the issue's targets.

Owns: turning the workers' raw results into text.  Pure functions of their arguments; no
measuring and no checking (a system's correctness comes in as its list of problems).

Every rate is a median over repetitions.  Ratios are always "lpgdb is N x as fast / as small"
(> 1 = lpgdb better), whatever the unit of the underlying column.  A system whose answers
failed the check (a non-empty problem list) gets no numbers in any table.
"""
from __future__ import annotations

import os
import statistics

LPGDB = "lpgdb"

# (target name, metric key, peer, minimum ratio) -- issue 6, measured at medium size
TARGETS = [
    ("bulk load edges/s ≥ 1.0× Kùzu", "w1_edges", "kuzu", 1.0),
    ("100-op txns ≥ 2× SQLite", "w2", "sqlite", 2.0),
    ("key lookups ≥ 2× SQLite", "w3", "sqlite", 2.0),
    ("1-hop ≥ 2× SQLite", "w4", "sqlite", 2.0),
    ("2-hop ≥ 1× networkx", "w5", "networkx", 1.0),
]
W8_MAX_OVERHEAD = 0.20

# issue 12 (the query engine): (target, lpgdb metric, peer, peer metric, minimum ratio,
# higher_is_better); a peer of None means lpgdb itself (another of its paths)
QUERY_TARGETS = [
    ("W0 per-call floor ≥ 0.5× SQLite's", "w0", "sqlite", "w0", 0.5, False),
    ("W3u key lookup as a query ≥ 1× SQLite's prepared lookup", "w3u", "sqlite", "w3", 1.0, True),
    ("W7 scan + aggregate (lpgdb: in Cypher) ≥ 1× SQLite", "w7", "sqlite", "w7", 1.0, False),
    ("W5c 2-hop count in Cypher ≥ 0.5× native count_reach (W5)", "w5c", None, "w5", 0.5, True),
    ("W12 hash join (two parts, WHERE equality) within 2× of Kùzu", "w12", "kuzu", "w12", 0.5, True),
    ("W12 hash join within 2× of LadybugDB", "w12", "ladybug", "w12", 0.5, True),
]

# metric key -> (label, higher_is_better)
METRICS = {
    "w1_edges": ("W1 edges/s", True),
    "w1_s": ("W1 load time", False),
    "w2": ("W2 100-op txn ops/s", True),
    "w3": ("W3 lookups/s", True),
    "w4": ("W4 1-hop q/s", True),
    "w5": ("W5 2-hop q/s", True),
    "w7": ("W7 scan+agg time", False),
    "w0": ("W0 per-call floor", False),
    "w9": ("W9 single-op commits/s", True),
    "w10": ("W10 recovery time", False),
    "w11": ("W11 disk size", False),
}


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rate(x) -> str:
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e4:
        return f"{x / 1e3:.0f} k"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}"


def num(x, nd=1) -> str:
    return "—" if x is None else f"{x:,.{nd}f}"


def _reps(res: dict, schema: bool = False) -> list[dict]:
    return [r for r in res.get("reps", []) if bool(r.get("schema")) == schema and "w1" in r]


def metrics(res: dict, meta: dict) -> dict:
    """The medians of one system, keyed as in METRICS (plus a few details)."""
    n, m = meta["nodes"], meta["edges"]
    reps = _reps(res)
    rd, af = res.get("reads", {}), res.get("after", {})
    out: dict = {}
    if reps:
        out["w1_s"] = _med([r["w1"]["s"] for r in reps])
        if all(r["w1"].get("phases") for r in reps):
            out["w1_nodes"] = n / _med([r["w1"]["phases"]["nodes"] for r in reps])
            out["w1_edges"] = m / _med([r["w1"]["phases"]["edges"] for r in reps])
        out["w1_elems"] = (n + m) / out["w1_s"]
        d = reps[0].get("w11", {}).get("bytes")
        out["w11"] = None if d is None else d / 2**20
        wal = reps[0].get("w11", {}).get("wal_bytes")
        out["w11_wal"] = None if d is None or wal is None else wal / 2**20
        out["flush_s"] = _med([r.get("w11", {}).get("flush_s") for r in reps])
        out["reopen_s"] = _med([r.get("reopen_s") for r in reps])
    w2 = [r["w2"] for r in reps if "w2" in r]
    if w2:
        nn = w2[0]["ops"] // 2
        out["w2"] = w2[0]["ops"] / _med([x["s"] for x in w2])
        out["w2_nodes"] = nn / _med([x["nodes_s"] for x in w2])
        out["w2_edges"] = (w2[0]["ops"] - nn) / _med([x["edges_s"] for x in w2])
        shares = [x["stats"]["commit_s"] / x["s"] for x in w2 if "commit_s" in x.get("stats", {})]
        out["w2_commit_share"] = _med(shares)
    sw2 = [r["w2"] for r in _reps(res, schema=True) if "w2" in r]
    if sw2:
        out["w8"] = sw2[0]["ops"] / _med([x["s"] for x in sw2])
        out["w8_set_schema_s"] = _med([r.get("w8_schema", {}).get("s")
                                       for r in _reps(res, schema=True)])
    for k in ("w3", "w4", "w5"):
        if k in rd:
            out[k] = rd[k]["per_s"]
    if "w3" in rd:
        out["w3_p50"], out["w3_p99"] = rd["w3"]["p50_us"], rd["w3"]["p99_us"]
    if "w3u" in rd:
        out["w3u"] = rd["w3u"]["per_s"]
    if "w7" in rd:
        out["w7"] = rd["w7"]["ms"]
    if "w5c" in rd:
        out["w5c"] = rd["w5c"]["per_s"]
    if "w12" in rd:
        out["w12"] = rd["w12"]["per_s"]
        out["w12_ms"] = rd["w12"]["ms_per_query"]
    if "w0" in rd:
        out["w0"] = rd["w0"]["us_per_call"]
    if af.get("w9"):
        out["w9"] = af["w9"]["per_s"]
        out["w9_fsync"] = af["w9"]["fdatasync_per_s"]
    if af.get("w10"):
        out["w10"] = af["w10"]["recover_s"]
        out["w10_wal_mb"] = af["w10"]["wal_mb"]
        out["w10_written_mb"] = af["w10"]["written_mb"]
        out["w10_replayed_mb"] = af["w10"].get("replayed_mb")
        if af["w10"]["recover_s"] > 0 and out["w10_replayed_mb"] is not None:
            out["w10_mb_s"] = out["w10_replayed_mb"] / af["w10"]["recover_s"]
    w13 = next((r["w13"] for r in reps if r.get("w13")), None)
    if w13:
        out["w13_open_s"] = w13["open_s"]
        out["w13_anon_mb"] = w13["anon_open_mb"]
        out["w13_rss_mb"] = w13["rss_after_lookups_mb"]
        out["w13_anon_after_mb"] = w13["anon_after_lookups_mb"]
        out["w13_lookups_s"] = w13["lookups_s"]
        out["w13_lookups"] = w13["lookups"]
    out["peak_rss"] = res.get("peak_rss_mb")
    return out


def _targets10(L, lp, M, size):
    """Issue 10's targets that this size can answer (ratios lpgdb / peer, > 1 = lpgdb better)."""
    rows = []
    sq, kz = M.get("sqlite", {}), M.get("kuzu", {})

    def cmp(title, val, bound, fmt, ok):
        rows.append(f"| {title} | {fmt(val)} | {fmt(bound)} | {'—' if val is None or bound is None else 'yes' if ok(val, bound) else '**no**'} |")
    if size == "1m":
        ms = lp.get("w13_open_s")
        cmp("clean reopen ≤ 50 ms", None if ms is None else ms * 1000, 50.0, lambda x: num(x), lambda a, b: a <= b)
        cmp("anonymous memory added by the open ≤ 50 MB", lp.get("w13_anon_mb"), 50.0, num, lambda a, b: a <= b)
        cmp("RSS after 20,000 random key lookups ≤ 200 MB", lp.get("w13_rss_mb"), 200.0, num, lambda a, b: a <= b)
        cmp("WAL replay ≥ 100 MB/s (W10)", lp.get("w10_mb_s"), 100.0, num, lambda a, b: a >= b)
    if size in ("medium", "1m"):
        d, k = lp.get("w11"), kz.get("w11")
        cmp("disk ≤ 0.8× Kùzu's (MB)", d, None if k is None else 0.8 * k, num, lambda a, b: a <= b)
        p, q = lp.get("peak_rss"), sq.get("peak_rss")
        cmp("peak RSS ≤ 2× SQLite's (MB)", p, None if q is None else 2 * q, num, lambda a, b: a <= b)
        r, t = lp.get("w10"), sq.get("w10")
        cmp("W10 recovery ≤ 2× SQLite's time (s)", r, None if t is None else 2 * t, lambda x: num(x, 3), lambda a, b: a <= b)
        for key, title, need in (("w3", "W3 key lookups ≥ 2× SQLite (/s)", 2.0), ("w4", "W4 1-hop ≥ 2× SQLite (/s)", 2.0)):
            a, b = lp.get(key), sq.get(key)
            cmp(title, a, None if b is None else need * b, rate, lambda x, y: x >= y)
        a, b = lp.get("w7"), sq.get("w7")
        cmp("W7 scan + aggregate ≥ 1× SQLite (ms)", a, b, num, lambda x, y: x <= y)
    if rows:
        L.append(f"Issue 10 targets at this size ({size}):")
        L.append("")
        L.append("| target | lpgdb | bound | met |")
        L.append("|---|---|---|---|")
        L.extend(rows)
        L.append("")


def _storage(L, results, M):
    """Issue 10's figures: opening, memory, recovery speed, disk."""
    L.append("Storage (issue 10): W13 = a clean reopen in a fresh process after W1 and the "
             "checkpoint (the engine imported first, then `open`: its time, and the anonymous "
             "memory, RssAnon, the open added), then up to 20,000 of W3's key lookups (60 s at most) in that process "
             "(VmRSS and RssAnon after them); W10 replayed = the log bytes W10's open replayed "
             "(from the last checkpoint's LSN to the end of the log), W10 replay = those MB per "
             "second of the whole recovery (open + count), where the engine reports them; "
             "peak RSS = the whole worker process over every workload.")
    L.append("")
    L.append("| system | W13 reopen ms | W13 anon MB added by open | W13 RSS MB after 20k lookups "
             "| W13 anon MB after lookups | W13 lookups | W10 recovery s | W10 replayed MB | W10 replay MB/s | W11 disk MB | peak RSS MB |")
    L.append("|" + "---|" * 11)
    for res in results:
        name = res["system"]
        s = M.get(name)
        if not s:
            continue
        ms = s.get("w13_open_s")
        L.append("| " + " | ".join([
            name, "—" if ms is None else f"{ms * 1000:,.1f}", num(s.get("w13_anon_mb")),
            num(s.get("w13_rss_mb")), num(s.get("w13_anon_after_mb")),
            "—" if s.get("w13_lookups") is None else f"{s['w13_lookups']:,}", num(s.get("w10"), 3),
            num(s.get("w10_replayed_mb")), num(s.get("w10_mb_s")), num(s.get("w11")), num(s.get("peak_rss"), 0)]) + " |")
    L.append("")


def _oneline(errors: list[str], limit: int = 160) -> str:
    """Errors as one markdown-safe line (tracebacks reduced to their last line)."""
    parts = []
    for e in errors:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        parts.append(lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}")
    return "; ".join(parts).replace("|", "/")[:limit]


def ratio(lp: dict, peer: dict, key: str) -> float | None:
    a, b = lp.get(key), peer.get(key)
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b if METRICS[key][1] else b / a


def _fmt_ratio(r) -> str:
    if r is None:
        return "—"
    s = f"{r:.2f}×"
    return f"**{s}**" if r < 1.0 else s


def render(size: str, meta: dict, results: list[dict], problems: dict, skipped: dict,
           env: dict, settings: dict) -> str:
    # A system whose answers failed the check gets no numbers in any table (invariant of the
    # harness: nothing is reported for a system that computed something else).
    M = {r["system"]: metrics(r, meta) for r in results
         if _reps(r) and not problems.get(r["system"])}
    L: list[str] = []
    add = L.append
    add(f"### {size}: N={meta['nodes']:,} persons, M={meta['edges']:,} KNOWS edges "
        f"(max out-degree {meta['max_out_degree']:,}, max in-degree {meta['max_in_degree']:,})")
    add("")
    add(f"Run {env['date']} on {env['cpus']} CPUs, {env['mem_gb']:.0f} GiB RAM, Python "
        f"{env['python']}, {env['platform']}; databases in {os.path.dirname(env['dbroot'])}. "
        f"{settings['load_reps']} fresh databases per system (W1, W2, W8, W11), read workloads "
        f"repeated up to {settings['read_reps']}× within {settings['budget_s']:.0f} s; medians.")
    add("")
    add("| system | W1 load s | W1 nodes/s | W1 edges/s | W11 disk MB | W2 ops/s | W3 lookups/s "
        "| W3 p50 µs | W4 1-hop q/s | W5 2-hop q/s | W7 ms | W0 µs/call | W9 commits/s "
        "| W10 recovery s | peak RSS MB | correct |")
    add("|" + "---|" * 16)
    for res in results:
        name = res["system"]
        if problems.get(name):
            add(f"| {name} | **wrong answers**: numbers withheld, see the problems below |"
                + " |" * 14)
            continue
        if name not in M:
            add(f"| {name} | failed: {_oneline(res.get('errors', []))} |" + " |" * 14)
            continue
        s = M[name]
        ok = "yes" if res.get("ok") else "partial"
        add("| " + " | ".join([
            name, num(s.get("w1_s"), 2), rate(s.get("w1_nodes")),
            rate(s.get("w1_edges")) if "w1_edges" in s else f"({rate(s.get('w1_elems'))} elem/s)",
            "in-mem" if s.get("w11") is None else num(s["w11"]),
            rate(s.get("w2")), rate(s.get("w3")), num(s.get("w3_p50")), rate(s.get("w4")),
            rate(s.get("w5")), num(s.get("w7")), num(s.get("w0"), 2),
            rate(s.get("w9")) if "w9" in s else "not durable" if s.get("w11") is None else "—",
            num(s.get("w10"), 3) if "w10" in s else "—",
            num(res.get("peak_rss_mb"), 0), ok]) + " |")
    add("")

    lp = M.get(LPGDB)
    if lp:
        _ratios(L, lp, M)
        _targets(L, lp, M, size, results)
        _query_targets(L, lp, M)
    _storage(L, results, M)
    if LPGDB in M:
        _targets10(L, M[LPGDB], M, size)
    _details(L, results, M)
    _w6(L, results)

    bad = {k: v for k, v in problems.items() if v}
    if bad:
        add("**CORRECTNESS PROBLEMS** (numbers of these systems are not comparable)")
        add("")
        for k, v in bad.items():
            for p in v:
                add(f"- {k}: {p}")
    else:
        add("Correctness: every system that completed its runs returned the expected W3 names, W4 degrees, "
            "W5 2-hop counts, W7 average, node/edge counts after W1 and W2, and (durable "
            "systems) every acknowledged W9 and W10 commit after the run and after the crash.")
    add("")
    for name, why in skipped.items():
        add(f"- {name}: skipped, {why}")
    for r in results:
        if r.get("errors"):
            add(f"- {r['system']} errors: {_oneline(r['errors'], 600)}")
        if r.get("w8_unavailable"):
            add(f"- {r['system']} W8: n/a, schema enforcement not available "
                f"({r['w8_unavailable'][:200]})")
    add("")
    add("Versions: " + "; ".join(f"{r['system']}: {r.get('version', '?')}" for r in results))
    for r in results:
        paths = (r.get("describe") or {}).get("paths")
        if paths:
            add("")
            add(f"{r['system']} API paths used: "
                + "; ".join(f"{k}: {v}" for k, v in paths.items()) + ".")
    return "\n".join(L)


def _ratios(L, lp, M):
    peers = [name for name in M if name != LPGDB and not name.startswith(LPGDB + "@")]
    if not peers:
        return
    L.append("Ratios lpgdb / peer (> 1 = lpgdb faster or smaller; **bold** = lpgdb loses):")
    L.append("")
    L.append("| metric | " + " | ".join(peers) + " |")
    L.append("|---|" + "---|" * len(peers))
    for key, (label, _hib) in METRICS.items():
        L.append(f"| {label} | " + " | ".join(_fmt_ratio(ratio(lp, M[p], key)) for p in peers)
                 + " |")
    L.append("")


def _targets(L, lp, M, size, results):
    L.append(f"Issue 6 targets (defined at medium size; this is {size}):")
    L.append("")
    L.append("| target | lpgdb | peer | ratio | met |")
    L.append("|---|---|---|---|---|")
    for title, key, peer, need in TARGETS:
        r = ratio(lp, M.get(peer, {}), key)
        L.append(f"| {title} | {rate(lp.get(key))} | {rate(M.get(peer, {}).get(key))} | "
                 f"{_fmt_ratio(r)} | {'—' if r is None else 'yes' if r >= need else '**no**'} |")
    w8 = lp.get("w8")
    unavailable = next((r.get("w8_unavailable") for r in results
                        if r["system"] == LPGDB and r.get("w8_unavailable")), None)
    if w8 and lp.get("w2"):
        over = lp["w2"] / w8 - 1.0
        L.append(f"| schema-check overhead ≤ 20 % (W8) | {rate(w8)} with schema | "
                 f"{rate(lp['w2'])} without | {over * 100:+.0f} % | "
                 f"{'yes' if over <= W8_MAX_OVERHEAD else '**no**'} |")
    else:
        L.append("| schema-check overhead ≤ 20 % (W8) | n/a: schema enforcement not available"
                 f"{' (' + unavailable[:80] + ')' if unavailable else ''} | | | — |")
    L.append("")


def _query_targets(L, lp, M):
    """The query engine's workloads (W5c, W12) per system, and issue 12's targets."""
    rows = [(n, s) for n, s in M.items() if any(k in s for k in ("w5c", "w12"))]
    if not rows:
        return
    L.append("Query engine workloads: W5c = W5 through Cypher (lpgdb: against its native "
             "count_reach in W5), W12 = 20 hash-join queries `MATCH (a:Person), (b:Person) WHERE a.age = $x "
             "AND b.age = $y AND a.name = b.name RETURN count(*)` (lpgdb with an index on age, "
             "SQLite on (age, name), made untimed before W12 and dropped after it; Kùzu and "
             "LadybugDB have no secondary indexes). lpgdb's W7 runs in Cypher:")
    L.append("")
    L.append("| system | W5c 2-hop q/s | W12 ms/query |")
    L.append("|---|---|---|")
    for name, s in rows:
        L.append(f"| {name} | {rate(s.get('w5c'))} | {num(s.get('w12_ms'), 2)} |")
    L.append("")
    L.append("Issue 12 targets (ratios lpgdb / reference, > 1 = lpgdb better):")
    L.append("")
    L.append("| target | lpgdb | reference | ratio | met |")
    L.append("|---|---|---|---|---|")
    for title, key, peer, pkey, need, hib in QUERY_TARGETS:
        ref = lp if peer is None else M.get(peer, {})
        a, b = lp.get(key), ref.get(pkey)
        if peer is not None and peer not in M:
            continue
        r = None if not a or not b else (a / b if hib else b / a)
        fmt = rate if hib else (lambda x: num(x, 2))
        L.append(f"| {title} | {fmt(a)} | {fmt(b)} | {_fmt_ratio(r)} | "
                 f"{'—' if r is None else 'yes' if r >= need else '**no**'} |")
    L.append("")


def _details(L, results, M):
    L.append("Details (medians). W2 split into node and edge inserts and the share of W2 spent in "
             "COMMIT; W3u = the same lookups through the unprepared `execute(str, params)` "
             "path; W8 = W2 on a database enforcing the social graph's PG-Schema (set after W1, "
             "validating the whole graph); W9 = one-node durable commits against the raw limit, "
             "256-byte write + fdatasync (best of appending and preallocated) measured just "
             "before in the same directory; W10 = open + count "
             "after a writer committed ~N MB of 1 KB persons and was SIGKILLed (WAL MB = size of the "
             "log files then, preallocated space included); W11 of which WAL = the log files' "
             "allocated bytes in the W11 disk figure (the closed database, as `du` counts); load avg = the machine's "
             "1-minute load average when the system's run started and ended (2 CPUs: above "
             "~1.5 other processes competed for them).")
    L.append("")
    L.append("| system | W2 node ins/s | W2 edge ins/s | W2 in COMMIT | W3 p99 µs | W3u lookups/s "
             "| W8 ops/s (set_schema s) | W9 commits/s / fdatasync/s | W10 MB written / WAL MB "
             "| W11 of which WAL MB | clean reopen s | W1 flush s | reps | load avg |")
    L.append("|" + "---|" * 14)
    for res in results:
        name = res["system"]
        if name not in M:
            continue
        s = M[name]
        w8 = (f"{rate(s['w8'])} ({num(s.get('w8_set_schema_s'), 2)})" if "w8" in s else
              "n/a" if res.get("w8_unavailable") else "—")
        w9 = (f"{rate(s['w9'])} / {rate(s['w9_fsync'])} ({s['w9'] / s['w9_fsync']:.2f}×)"
              if "w9" in s else "—")
        w10 = (f"{num(s['w10_written_mb'])} / {num(s['w10_wal_mb'])}" if "w10" in s else "—")
        share = s.get("w2_commit_share")
        L.append("| " + " | ".join([
            name, rate(s.get("w2_nodes")), rate(s.get("w2_edges")),
            "—" if share is None else f"{share * 100:.0f} %", num(s.get("w3_p99")),
            rate(s.get("w3u")), w8, w9, w10, num(s.get("w11_wal")), num(s.get("reopen_s"), 3),
            num(s.get("flush_s"), 2),
            f"{len(_reps(res))}/{len(res.get('reads', {}).get('w3', {}).get('times', []))}",
            f"{num(res.get('loadavg_start'))} → {num(res.get('loadavg_end'))}",
        ]) + " |")
    L.append("")


def _w6(L, results):
    L.append("W6 (insert a Person whose id already exists):")
    L.append("")
    for res in results:
        for key, tag in (("after", ""), ("after_schema", " with the PG-Schema")):
            w6 = res.get(key, {}).get("w6")
            if not w6:
                continue
            msg = " ".join(str(w6["message"]).split())
            L.append(f"- **{res['system']}**{tag}: "
                     f"{'rejected' if w6['rejected'] else 'NOT rejected'} — `{msg[:300]}` "
                     f"(persons {w6['persons_before']:,} → {w6['persons_after']:,})")
    L.append("")
