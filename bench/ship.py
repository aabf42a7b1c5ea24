"""Log-shipping targets of issue 14, measured against moto's S3 server on loopback.

    python -m bench.ship [--rpo-runs 8] [--lag-seconds 20] [--size medium] [--out bench/results]

1. Recovery point: a writer process commits continuously (single-op commits, sync="full",
   default archive interval) to an s3:// archive; it is SIGKILLed at a random moment and its
   directory deleted; the archive is restored and the acknowledged commits that are missing
   are counted. Reported: lost commits and the age, at the kill, of the oldest lost one
   (target: every lost commit acknowledged within the last second).
2. Replica lag under the W2 write load (100-op transactions, persons then KNOWS edges, at full
   speed): a replica process follows the archive and samples what it sees every 10 ms; the
   lag of a commit is the time it became visible on the replica minus the time the writer
   acknowledged it (one machine, one clock). Target: p99 <= 2 s.
3. Restore of the medium graph (100k nodes / 1M edges, bench/datagen.py) from the archive on
   moto: wall time of ``lpgdb.restore(url, dest)`` (fetch + checks + open + verify).
   Target <= 5 s.

All processes share the machine's 2 cores with moto's server (and with other users of the
machine): figures are upper bounds of what a quiet machine gives.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))

_RPO_WRITER = r"""
import sys, time, lpgdb
db = lpgdb.connect(sys.argv[1], archive=sys.argv[2])
i = 0
while True:
    with db.transaction() as tx:
        tx.create_node("N", {"i": i})
    print(i, time.time(), flush=True)
    i += 1
"""

_W2_WRITER = r"""
import sys, time, json, lpgdb
db = lpgdb.connect(sys.argv[1], archive=sys.argv[2])
seconds, out = float(sys.argv[3]), sys.argv[4]
acks, k, t_end = [], 0, time.time() + seconds
with db.transaction() as tx:
    tx.create_node("Person", {"id": -1})
while time.time() < t_end:
    with db.transaction() as tx:
        if k % 2 == 0:
            ids = [tx.create_node("Person", {"id": k * 100 + j, "name": f"p{j}", "age": j})
                   for j in range(100)]
        else:
            for j in range(100):
                tx.create_edge(ids[j], "KNOWS", ids[(j * 7 + 1) % 100], {"since": 2020})
    acks.append(time.time())
    k += 1
db.close()
json.dump(acks, open(out, "w"))
"""

_REPLICA = r"""
import sys, time, json, lpgdb
rdir, url, seconds, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
db = lpgdb.connect(rdir, readonly=True, follow=url)
samples, t_end = [], time.time() + seconds
while time.time() < t_end:
    with db.snapshot() as s:
        samples.append((time.time(), s.node_count("Person") + s.edge_count("KNOWS")))
    time.sleep(0.01)
db.close()
json.dump(samples, open(out, "w"))
"""


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE)] + sys.path))


class Moto:
    def __init__(self):
        from moto.server import ThreadedMotoServer
        import boto3
        import logging
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.server.get_host_and_port()[1]}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def url(self) -> str:
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=bucket)
        return f"s3://{bucket}/db?endpoint={self.endpoint}&region=us-east-1"

    def stop(self):
        self.server.stop()


def rpo(moto: Moto, root: str, runs: int) -> dict:
    import lpgdb
    out = []
    for r in range(runs):
        url, path = moto.url(), os.path.join(root, f"rpo{r}")
        proc = subprocess.Popen([sys.executable, "-c", _RPO_WRITER, path, url],
                                stdout=subprocess.PIPE, text=True, env=_env())
        acks = {}
        kill_after = random.uniform(3.0, 6.0)
        t_start = None

        def read():
            for line in proc.stdout:
                i, t = line.split()
                acks[int(i)] = float(t)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while not acks:
            time.sleep(0.01)
        t_start = time.time()
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        t_kill = time.time()
        proc.wait()
        reader.join()
        shutil.rmtree(path)
        dest = os.path.join(root, f"rpo{r}-restored")
        lpgdb.restore(url, dest)
        with lpgdb.connect(dest, readonly=True) as db, db.snapshot() as s:
            got = sorted(n["i"] for n in s.nodes("N"))
        assert got == list(range(len(got))), "restored commits are not a prefix"
        lost = sorted(i for i in acks if i >= len(got))
        oldest = t_kill - acks[lost[0]] if lost else 0.0
        out.append({"acked": len(acks), "restored": len(got), "lost": len(lost),
                    "oldest_lost_age_s": round(oldest, 3), "ran_s": round(t_kill - t_start, 2),
                    "commits_per_s": round(len(acks) / (t_kill - t_start), 1)})
        print(f"  rpo run {r}: {out[-1]}", file=sys.stderr)
        shutil.rmtree(dest)
    return {"runs": out, "max_oldest_lost_age_s": max(x["oldest_lost_age_s"] for x in out),
            "max_lost": max(x["lost"] for x in out)}


def replica_lag(moto: Moto, root: str, seconds: float) -> dict:
    url = moto.url()
    wpath, rpath = os.path.join(root, "w2"), os.path.join(root, "w2-replica")
    acks_f, samples_f = os.path.join(root, "acks.json"), os.path.join(root, "samples.json")
    writer = subprocess.Popen([sys.executable, "-c", _W2_WRITER, wpath, url, str(seconds), acks_f], env=_env())
    time.sleep(1.5)   # the first base and pieces exist
    replica = subprocess.Popen([sys.executable, "-c", _REPLICA, rpath, url, str(seconds + 4), samples_f],
                               env=_env())
    writer.wait()
    replica.wait()
    acks, samples = json.load(open(acks_f)), json.load(open(samples_f))
    t_first = samples[0][0] + 2.0       # commits acknowledged before the replica was up are skipped
    lags = []
    j = 0
    for k, t_ack in enumerate(acks):
        if t_ack < t_first:
            continue
        need = 1 + (k + 1) * 100
        while j < len(samples) and samples[j][1] < need:
            j += 1
        if j == len(samples):
            break
        lags.append(max(0.0, samples[j][0] - t_ack))
    lags.sort()
    q = lambda p: round(lags[min(len(lags) - 1, int(p * len(lags)))], 3)
    return {"commits_measured": len(lags), "commits_per_s": round(len(acks) / seconds, 1),
            "p50_s": q(0.50), "p90_s": q(0.90), "p99_s": q(0.99), "max_s": round(lags[-1], 3)}


def restore_medium(moto: Moto, root: str, size: str, reps: int) -> dict:
    import lpgdb
    sys.path.insert(0, os.path.dirname(HERE))
    from bench import datagen
    from bench.adapters.lpgdb_adapter import read_knows, read_persons
    data = os.path.join(tempfile.gettempdir(), "lpgdb-bench-data", size)
    meta = datagen.ensure(data, datagen.SIZES[size])
    url, path = moto.url(), os.path.join(root, "medium")
    t0 = time.perf_counter()
    with lpgdb.connect(path, archive=url) as db:
        rows = list(read_persons(os.path.join(data, "persons.csv")))
        node_ids, _ = db.bulk_load(nodes=(("Person", {"id": i, "name": n, "age": a}) for i, n, a in rows))
        key = dict(zip((r[0] for r in rows), node_ids))
        db.bulk_load(edges=((key[s], "KNOWS", key[d], {"since": t})
                            for s, d, t in read_knows(os.path.join(data, "knows.csv"))))
        with db.snapshot() as s:
            counts = (s.node_count(), s.edge_count())
    load_s = time.perf_counter() - t0
    archived = sum(len(moto.client.get_object(Bucket=url[5:].split("/")[0], Key=o["Key"])["Body"].read())
                   for o in moto.client.list_objects_v2(Bucket=url[5:].split("/")[0])["Contents"])
    times = []
    for r in range(reps):
        dest = os.path.join(root, f"medium-restored{r}")
        t0 = time.perf_counter()
        lpgdb.restore(url, dest)
        times.append(round(time.perf_counter() - t0, 2))
        with lpgdb.connect(dest, readonly=True) as db, db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == counts
        shutil.rmtree(dest)
        print(f"  restore {r}: {times[-1]} s", file=sys.stderr)
    return {"size": size, "nodes": counts[0], "edges": counts[1], "archive_bytes": archived,
            "load_and_archive_s": round(load_s, 1), "restore_s": times,
            "restore_median_s": statistics.median(times), "data_sha": meta.get("persons.csv", "")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rpo-runs", type=int, default=8)
    p.add_argument("--lag-seconds", type=float, default=20.0)
    p.add_argument("--size", default="medium")
    p.add_argument("--restore-reps", type=int, default=3)
    p.add_argument("--only", choices=("rpo", "lag", "restore"))
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    a = p.parse_args(argv)
    import lpgdb
    root = tempfile.mkdtemp(prefix="lpgdb-ship-")
    moto = Moto()
    res = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{os.cpu_count()} cores",
           "python": sys.version.split()[0], "lpgdb": lpgdb.__version__,
           "load_average_at_start": os.getloadavg()[0]}
    try:
        if a.only in (None, "rpo"):
            print("recovery point ...", file=sys.stderr)
            res["recovery_point"] = rpo(moto, root, a.rpo_runs)
        if a.only in (None, "lag"):
            print("replica lag under W2 ...", file=sys.stderr)
            res["replica_lag_w2"] = replica_lag(moto, root, a.lag_seconds)
        if a.only in (None, "restore"):
            print(f"restore of the {a.size} graph ...", file=sys.stderr)
            res["restore"] = restore_medium(moto, root, a.size, a.restore_reps)
    finally:
        moto.stop()
        shutil.rmtree(root, ignore_errors=True)
    res["load_average_at_end"] = os.getloadavg()[0]
    os.makedirs(a.out, exist_ok=True)
    name = "ship" if a.only is None else f"ship-{a.only}"
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
