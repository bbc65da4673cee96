"""Captures from many threads of one process (a threaded server's): rows per second, latency, commits, per checkout.

Each thread records rows one after the other (``SQLiteLedger.record``, as ``Capture`` does per
turn) into one ledger, a copy of ``--db`` or a new file; ``--threads 1`` is the sequential
capture. Each checkout named runs in its own process, interleaved ``--runs`` times, so a
before/after pair is read side by side in one invocation. Printed per run: rows/s, the mean, p50
and p99 of a capture, process CPU per row, and the commits the captures made (where the checkout
counts them: ``group_commit.commits``).

    python bench/capture_threads.py --root . --root /tmp/before --threads 8 -n 400 --runs 3
    python bench/capture_threads.py --root . --root /tmp/before --threads 8 --synchronous FULL
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, sys, threading, time
root, db, threads, n, synchronous = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path[:0] = [os.path.join(root, "bench"), root]
import _ledger
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

store = SQLiteLedger(db, synchronous=synchronous)
store.start_background()  # as a server runs it
rows = next(_ledger.generate(threads * n + 50, seed=int(time.time()), end_ms=int(time.time() * 1000), days=1,
                             heavy_users=0, batch=threads * n + 50))
for row in rows[:50]:
    store.record(row)
group = getattr(store, "group_commit", None)
commits0 = group.commits if group is not None else None
took = [[] for _ in range(threads)]
barrier = threading.Barrier(threads + 1)

def worker(k):
    mine, own = rows[50 + k * n:50 + (k + 1) * n], took[k]
    barrier.wait()
    for row in mine:
        t = time.perf_counter()
        store.record(row)
        own.append(time.perf_counter() - t)

ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
for t in ts:
    t.start()
barrier.wait()
c0, w0 = time.process_time(), time.perf_counter()
for t in ts:
    t.join()
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
each = sorted(x for own in took for x in own)
total = len(each)
store.stop_background()
print(json.dumps({"rows_per_s": total / wall, "mean_us": sum(each) / total * 1e6,
                  "p50_us": each[total // 2] * 1e6, "p99_us": each[int(total * 0.99)] * 1e6,
                  "cpu_us_per_row": cpu / total * 1e6,
                  "commits": None if group is None else group.commits - commits0, "rows": total}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default this one)")
    ap.add_argument("--db", help="a ledger to copy for each run (default: a new file)")
    ap.add_argument("--dir", default=None, help="where the copies go (the ledger's disk)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("-n", type=int, default=400, help="captures per thread (default 400)")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs per checkout (default 3)")
    ap.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL"))
    args = ap.parse_args(argv)
    roots = [os.path.abspath(r) for r in (args.root or [os.path.dirname(HERE)])]
    folder = tempfile.mkdtemp(prefix="capture-threads-", dir=args.dir)
    results: dict[str, list[dict]] = {r: [] for r in roots}
    try:
        for run in range(args.runs):
            for root in roots:
                db = os.path.join(folder, "t.db")
                if args.db:
                    shutil.copyfile(args.db, db)
                out = subprocess.run([sys.executable, "-c", CHILD, root, db, str(args.threads), str(args.n),
                                      args.synchronous], capture_output=True, text=True, check=True, cwd=folder)
                got = json.loads(out.stdout.strip().splitlines()[-1])
                results[root].append(got)
                print(f"run {run + 1} {root[-28:]:>28}: {got['rows_per_s']:8.0f} rows/s  mean {got['mean_us']:8.1f}  "
                      f"p50 {got['p50_us']:8.1f}  p99 {got['p99_us']:9.1f} us  CPU {got['cpu_us_per_row']:6.1f} us/row  "
                      f"commits {got['commits']} for {got['rows']} rows", flush=True)
                for suffix in ("", "-wal", "-shm", "-lock"):
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"threads": args.threads, "synchronous": args.synchronous, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
