"""Deterministic social-graph data set and workload inputs for the benchmark.

Owns: the data every system loads and the exact operations every workload performs, so that
all systems execute the same calls and their answers can be compared.

Invariants:
  1. Same parameters and seed -> byte-identical files on every machine and Python version
     (only ``random.Random`` calls whose output is stable across versions are used:
     ``sample``, ``shuffle``, ``choice``, ``choices`` with cum_weights, ``randint``,
     ``randrange``).
  2. The draws happen in exactly the order of the peers harness (shared/peers/datagen.py,
     generator version 1), so persons.csv, knows.csv and workload.json are byte-identical to
     the files behind the committed peer numbers; tests/bench checks a known SHA-256.
  3. knows.csv has no self loop and no duplicate (src, dst) pair; the W2 edges repeat neither
     an existing pair nor each other.

Files written into OUTDIR:

    persons.csv    id,name,age      N rows; id is a sparse unique key in [1, 2**31)
    knows.csv      src,dst,since    M rows; endpoints are person ids
    workload.json  W2 rows, W3/W4/W5 sampled ids, the W6 duplicate, the W7 threshold
    meta.json      parameters, max degrees, SHA-256 of the CSV files

Degrees are skewed: an edge's source is drawn with weight (rank+1)**-skew over one random
ranking of the persons and its target over an independent ranking (mean out-degree M/N).

Rows needed by W9 (single-op commits) and W10 (crash recovery) are not random: they are made
by ``synthetic_persons`` with negative ids, which never collide with generated keys.

Usage:
    python -m bench.datagen OUTDIR --size small
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass

GENERATOR_VERSION = 1  # the peers harness's version: outputs are identical (invariant 2)


@dataclass(frozen=True)
class Size:
    """A data-set size preset plus the workload sizes that go with it."""

    nodes: int
    edges: int
    w2_nodes: int = 20_000
    w2_edges: int = 20_000
    w3: int = 20_000
    w4: int = 2_000
    w5: int = 200
    w7_threshold: int = 10
    w9_commits: int = 2_000      # upper bound of single-op commits (a time budget applies too)
    w10_wal_mb: float = 16.0     # WAL volume written before the simulated crash
    w10_max_s: float = 30.0      # ... or stop writing after this long


SIZES = {
    "smoke": Size(400, 3_000, w2_nodes=200, w2_edges=200, w3=500, w4=100, w5=50,
                  w9_commits=20, w10_wal_mb=0.5, w10_max_s=3.0),
    "tiny": Size(1_000, 8_000),
    "small": Size(10_000, 100_000, w10_wal_mb=16.0),
    "medium": Size(100_000, 1_000_000, w10_wal_mb=56.0),
    "1m": Size(1_000_000, 10_000_000, w10_wal_mb=56.0, w10_max_s=120.0),
}

_FIRST = ("Ada Alan Alice Amir Ana Anton Aya Bea Ben Carla Chen Dara Dev Edith Elif Emil Eva "
          "Farah Femi Greta Hana Hugo Ines Ivan Jia Jonas Kai Karin Lars Lea Lena Luis Maja "
          "Marek Mei Nadia Nils Noor Olga Omar Paula Pedro Quinn Rosa Sami Sara Tariq Tomas "
          "Uma Vera Wei Yara Yusuf Zoe").split()
_LAST = ("Abe Bauer Costa Dahl Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Larsen Meyer "
         "Nakamura Novak Okafor Petrov Quispe Rossi Santos Schmidt Silva Tanaka Ueda Varga "
         "Wagner Xu Yilmaz Zhang Moreau Dubois Lindqvist Horvat Kaya Mensah").split()


def synthetic_persons(start: int, count: int, name_bytes: int = 0) -> list[tuple[int, str, int]]:
    """Person rows with ids -start, -start-1, ... (never a generated key, which is > 0).

    ``name_bytes`` pads the name so a workload can write a chosen volume of log."""
    pad = "x" * max(0, name_bytes - 12)
    return [(-(start + k), f"Synth {k:06d}{pad}", 18 + k % 73) for k in range(count)]


def _edges(rng: random.Random, n: int, m: int, out_rank: list[int], in_rank: list[int],
           cw: list[float], ids: list[int]) -> tuple[list[tuple[int, int, int]], set[int]]:
    seen: set[int] = set()
    edges: list[tuple[int, int, int]] = []
    while len(edges) < m:
        batch = max(1024, int((m - len(edges)) * 1.05))
        srcs = rng.choices(out_rank, cum_weights=cw, k=batch)
        dsts = rng.choices(in_rank, cum_weights=cw, k=batch)
        for s, d in zip(srcs, dsts):
            code = s * n + d
            if s == d or code in seen:
                continue
            seen.add(code)
            edges.append((ids[s], ids[d], rng.randint(1990, 2025)))
            if len(edges) == m:
                break
    return edges, seen


def generate(outdir: str, size: Size, seed: int = 42, skew: float = 0.6) -> dict:
    """Write the four files for ``size`` into ``outdir`` and return the meta dict."""
    n, m = size.nodes, size.edges
    if n < 2:
        raise ValueError("need at least 2 nodes")
    if m > n * (n - 1) // 4:
        raise ValueError("too many edges for a simple graph of this size")
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    t0 = time.perf_counter()

    keys = rng.sample(range(1, 2**31), n + size.w2_nodes)
    ids, new_ids = keys[:n], keys[n:]

    def person(pid: int) -> tuple[int, str, int]:
        return (pid, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", rng.randint(18, 90))

    persons = [person(pid) for pid in ids]
    out_rank = list(range(n))
    rng.shuffle(out_rank)
    in_rank = list(range(n))
    rng.shuffle(in_rank)
    cw = list(itertools.accumulate((r + 1) ** -skew for r in range(n)))
    edges, seen = _edges(rng, n, m, out_rank, in_rank, cw, ids)

    _write_csv(os.path.join(outdir, "persons.csv"), ("id", "name", "age"), persons)
    _write_csv(os.path.join(outdir, "knows.csv"), ("src", "dst", "since"), edges)

    # W2 edges: source uniform over old + new persons, target skewed over old persons.
    new_persons = [person(pid) for pid in new_ids]
    new_edges: list[tuple[int, int, int]] = []
    new_seen: set[tuple[int, int]] = set()
    while len(new_edges) < size.w2_edges:
        si = rng.randrange(n + size.w2_nodes)
        di = rng.choices(in_rank, cum_weights=cw, k=1)[0]
        if si == di or (si < n and si * n + di in seen) or (si, di) in new_seen:
            continue
        new_seen.add((si, di))
        src = ids[si] if si < n else new_ids[si - n]
        new_edges.append((src, ids[di], rng.randint(1990, 2025)))

    workload = {
        "w2_nodes": new_persons,
        "w2_edges": new_edges,
        "w2_batch": 100,
        "w3_ids": [rng.choice(ids) for _ in range(size.w3)],
        "w4_ids": [rng.choice(ids) for _ in range(size.w4)],
        "w5_ids": [rng.choice(ids) for _ in range(size.w5)],
        "w6_duplicate": [persons[0][0], "Duplicate Person", 42],
        "w7_threshold": size.w7_threshold,
    }
    with open(os.path.join(outdir, "workload.json"), "w") as f:
        json.dump(workload, f)

    outdeg: dict[int, int] = {}
    indeg: dict[int, int] = {}
    for s, d, _ in edges:
        outdeg[s] = outdeg.get(s, 0) + 1
        indeg[d] = indeg.get(d, 0) + 1
    meta = {
        "generator_version": GENERATOR_VERSION, "seed": seed, "skew": skew, **asdict(size),
        "max_out_degree": max(outdeg.values()), "max_in_degree": max(indeg.values()),
        "persons_with_out_degree_gt_threshold":
            sum(1 for v in outdeg.values() if v > size.w7_threshold),
        "persons_without_out_edges": n - len(outdeg),
    }
    for name in ("persons.csv", "knows.csv"):
        meta[f"sha256_{name}"] = sha256_file(os.path.join(outdir, name))
    meta["seconds"] = round(time.perf_counter() - t0, 3)
    with open(os.path.join(outdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def ensure(outdir: str, size: Size, seed: int = 42) -> dict:
    """Generate unless ``outdir`` already holds data made with the same parameters."""
    try:
        with open(os.path.join(outdir, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    same = (meta.get("generator_version") == GENERATOR_VERSION and meta.get("seed") == seed
            and all(meta.get(k) == v for k, v in asdict(size).items()))
    return meta if same else generate(outdir, size, seed)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_csv(path: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir")
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    json.dump(generate(a.outdir, SIZES[a.size], a.seed), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
