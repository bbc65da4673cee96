"""How often a capture waits for the ledger's write lock, and for how long, with the background indexer running.

Each checkout named (``--root``, default this one) records ``-n`` generated rows one at a time into
the ledger at ``--db`` (``Ledger.start()``ed, as a server runs it), in its own process, the
checkouts interleaved ``--runs`` times. Per capture it times the whole ``record()`` and the wait
to take the write lock (``Connection.writing`` wrapped here), so a slow capture is told apart:
waiting behind the indexer (or another writer), or simply descheduled on a busy machine.

    python bench/capture_waits.py --db /tmp/skills-bench/1m.db                       # this checkout
    python bench/capture_waits.py --db /tmp/skills-bench/1m.db --root . --root ../before --runs 2

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
import contextlib, json, os, sys, time
root, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path[:0] = [os.path.join(root, "bench"), root]
import _ledger
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import connection

waited = [0.0]
writing = connection.Connection.writing

@contextlib.contextmanager
def timed(self, **kw):
    t = time.perf_counter()
    with writing(self, **kw):
        waited[0] = time.perf_counter() - t
        yield

connection.Connection.writing = timed
store = TranscriptStore(db).start()
rows = next(_ledger.generate(n + 50, seed=int(time.time()), end_ms=int(time.time() * 1000), days=1,
                             heavy_users=0, batch=n + 50))
for row in rows[:50]:
    store.record(row)
each, waits = [], []
for row in rows[50:]:
    t = time.perf_counter()
    store.record(row)
    each.append(time.perf_counter() - t)
    waits.append(waited[0])
store.stop()
each.sort()
print(json.dumps({
    "root": root, "captures": n, "mean_us": round(sum(each) / n * 1e6, 1), "p50_us": round(each[n // 2] * 1e6, 1),
    "p99_us": round(each[int(n * 0.99)] * 1e6, 1), "max_ms": round(each[-1] * 1e3, 1),
    "waited_over_1ms": sum(w > 0.001 for w in waits), "waited_total_ms": round(sum(waits) * 1e3, 1),
    "waited_max_ms": round(max(waits) * 1e3, 1),
    "slow_over_10ms": sum(e > 0.01 for e in each),
}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="an existing ledger (e.g. store_scale.py's 1M one)")
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default this one)")
    ap.add_argument("-n", type=int, default=2000, help="captures per run (default 2000)")
    ap.add_argument("--runs", type=int, default=1, help="interleaved runs per checkout (default 1)")
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or [os.path.dirname(HERE)])]
    results: dict[str, list[dict]] = {r: [] for r in roots}
    print(f"== {os.cpu_count()} CPUs, loadavg {os.getloadavg()[0]:.1f}", flush=True)
    for _ in range(args.runs):
        for root in roots:
            out = subprocess.run([sys.executable, "-c", CHILD, root, args.db, str(args.n)], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            print(out, flush=True)
            results[root].append(json.loads(out))
    for root, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k not in ("root", "captures")}
        print(json.dumps({"root": root, "runs": len(runs), **med}))


if __name__ == "__main__":
    main()
