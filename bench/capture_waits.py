"""Why a durable capture is slower than its median: each capture's excess over the p50, by cause.

Each checkout named (``--root``, default this one) records ``-n`` generated rows one at a time into
the ledger at ``--db``, in its own process, the checkouts interleaved ``--runs`` times; ``--copy``
gives each checkout its own copy of ``--db`` (``cp --reflink=auto``) so none writes into a file
another made. ``--mode started`` runs the ledger as a server does (``Ledger.start()``: its
background indexer and checkpointer); ``--mode unstarted`` as ``store_scale.py`` and a CLI command
do. Per capture it times the whole ``record()``, its wait for the write lock (``Connection.take_write_lock``
wrapped here), the thread's CPU and context switches, and whether the WAL started over right
after it (SQLite's own checkpoint ran in its commit). A capture's time beyond the p50 is put
down to the first of:

- ``lock``: it waited more than 0.5 ms for the write lock (the indexer's batch, a checkpoint
  holding writers off, another writer);
- ``checkpoint``: the WAL started over at the next capture, and no lock wait explains it;
- ``preempted``: the kernel switched it out involuntarily (another process had the CPU);
- ``blocked``: it slept in the kernel (I/O, page writeback);
- ``own``: none of these (its own work: page reads, a larger commit).

    python bench/capture_waits.py --db /tmp/skills-bench/1m.db --mode unstarted
    python bench/capture_waits.py --db /work/data/n1000.db --copy /tmp/cw --root . --root ../before --runs 3

One JSON line per run, then the medians per checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import contextlib, json, os, resource, sys, time
root, db, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path[:0] = [os.path.join(root, "bench"), root]
import _ledger
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import connection

waited = [0.0]
take = getattr(connection.Connection, "take_write_lock", None)  # writing() and a lone capture take the lock through it
writing = connection.Connection.writing

@contextlib.contextmanager
def timed_writing(self, **kw):  # a tree from before take_write_lock: its captures took the lock through writing()
    t = time.perf_counter()
    with writing(self, **kw):
        waited[0] = time.perf_counter() - t
        yield

def timed(self, timeout_ms=None, *, yielding=False):
    t = time.perf_counter()
    fd = take(self, timeout_ms, yielding=yielding)
    waited[0] = time.perf_counter() - t
    return fd

def wal_salt():
    try:
        with open(db + "-wal", "rb") as f:
            return f.read(24)[12:24]  # checkpoint sequence and salts: they change when the WAL starts over
    except OSError:
        return b""

def switches():
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_nvcsw, r.ru_nivcsw

if take is not None:
    connection.Connection.take_write_lock = timed
else:
    connection.Connection.writing = timed_writing
store = TranscriptStore(db)
if mode == "started":
    store.start()
rows = next(_ledger.generate(n + 50, seed=int(time.time()), end_ms=int(time.time() * 1000), days=1,
                             heavy_users=0, batch=n + 50))
for row in rows[:50]:
    store.record(row)
each, waits, cpu, vol, invol, restarted = [], [], [], [], [], []
salt = wal_salt()
for row in rows[50:]:
    v0, i0 = switches()
    c, t = time.thread_time(), time.perf_counter()
    waited[0] = 0.0
    store.record(row)
    each.append(time.perf_counter() - t)
    cpu.append(time.thread_time() - c)
    v1, i1 = switches()
    vol.append(v1 - v0)
    invol.append(i1 - i0)
    waits.append(waited[0])
    now = wal_salt()
    restarted.append(now != salt and bool(salt))
    salt = now
if mode == "started":
    store.stop()
p50 = sorted(each)[n // 2]
causes = {k: [0, 0.0] for k in ("lock", "checkpoint", "preempted", "blocked", "own")}
for i, e in enumerate(each):
    if e <= p50:
        continue
    cause = ("lock" if waits[i] > 0.0005 else "checkpoint" if i + 1 < n and restarted[i + 1] and e > 0.001
             else "preempted" if invol[i] else "blocked" if vol[i] else "own")
    causes[cause][0] += 1
    causes[cause][1] += e - p50
srt = sorted(each)
out = {"root": root, "mode": mode, "captures": n, "mean_us": round(sum(each) / n * 1e6, 1), "p50_us": round(p50 * 1e6, 1),
       "p99_us": round(srt[int(n * 0.99)] * 1e6, 1), "max_ms": round(srt[-1] * 1e3, 1),
       "cpu_mean_us": round(sum(cpu) / n * 1e6, 1), "cpu_p50_us": round(sorted(cpu)[n // 2] * 1e6, 1),
       "waited_over_1ms": sum(w > 0.001 for w in waits), "waited_total_ms": round(sum(waits) * 1e3, 1),
       "waited_max_ms": round(max(waits) * 1e3, 1), "slow_over_10ms": sum(e > 0.01 for e in each),
       "wal_restarts": sum(restarted), "above_p50": sum(e > p50 for e in each)}
for k, (count, excess) in causes.items():  # per cause: captures, and their excess over the p50 per capture
    out[k + "_n"] = count
    out[k + "_us"] = round(excess / n * 1e6, 1)
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="an existing ledger (e.g. store_scale.py's 1M one)")
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default this one)")
    ap.add_argument("-n", type=int, default=2000, help="captures per run (default 2000)")
    ap.add_argument("--runs", type=int, default=1, help="interleaved runs per checkout (default 1)")
    ap.add_argument("--mode", choices=("started", "unstarted"), default="started",
                    help="the ledger started as a server runs it (default), or not, as store_scale.py records")
    ap.add_argument("--copy", metavar="DIR", help="give each checkout its own copy of --db in DIR (never writes --db)")
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or [os.path.dirname(HERE)])]
    dbs = {r: args.db for r in roots}
    if args.copy:
        os.makedirs(args.copy, exist_ok=True)
        for i, root in enumerate(roots):
            dbs[root] = os.path.join(args.copy, f"{i}-{os.path.basename(args.db)}")
            if not os.path.exists(dbs[root]):
                subprocess.run(["cp", "--reflink=auto", args.db, dbs[root]], check=True)
    results: dict[str, list[dict]] = {r: [] for r in roots}
    print(f"== {os.cpu_count()} CPUs, loadavg {os.getloadavg()[0]:.1f}, mode {args.mode}", flush=True)
    for _ in range(args.runs):
        for root in roots:
            out = subprocess.run([sys.executable, "-c", CHILD, root, dbs[root], str(args.n), args.mode],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            print(out, flush=True)
            results[root].append(json.loads(out))
    for root, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k not in ("root", "mode", "captures")}
        print(json.dumps({"root": root, "runs": len(runs), **med}))


if __name__ == "__main__":
    main()
