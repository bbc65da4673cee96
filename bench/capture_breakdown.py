"""Where one durable capture goes: each SQL statement it runs, and the Python between them, per checkout.

The same-work pizza skill of ``inproc_target.py`` answers the peer harness's envelope in a loop,
capture on (a started ledger in a temporary file, as the harness runs it). The capture middleware
is timed whole (``perf_counter_ns``), and every statement on the capture connection is timed by a
thin proxy, named by what it does (the consent read, ``BEGIN``, the row's ``INSERT`` with its
seal, ``COMMIT``; in a tree from before the seal, the chain's head read and entry); so are the row's building (its Python: redaction, JSON) and the
taking of the write lock (with any wait behind the background indexer). What is left is the
Python of the write: values, digests, the seal, the lock's bookkeeping. Each checkout named runs in its own process, interleaved
``--runs`` times; the medians of the per-run medians are printed side by side.

    python bench/capture_breakdown.py --root . --root ../before --runs 3 -n 3000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENVELOPE = os.path.join(HERE, "..", "..", "shared", "bench", "intent_envelope.json")

CHILD = r"""
import contextlib, json, os, statistics, sys, time
root, envelope, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path[:0] = [os.path.join(root, "bench"), root]
from skills_sdk.transcripts import capture
from skills_sdk.transcripts.sqlite import connection

times = {}
clock = time.perf_counter_ns

def kind(sql):
    s = sql.lstrip()[:40].upper()
    if s.startswith("SELECT MODE FROM CONSENT"):
        return "sql: consent read"
    if s.startswith(("BEGIN", "COMMIT")):
        return "sql: " + s.split()[0]
    if s.startswith("INSERT INTO TRANSCRIPTS"):
        return "sql: INSERT row"
    if "LEDGER_CHAIN" in s:
        return "sql: chain " + ("head read" if s.startswith("SELECT") else "INSERT")
    if s.startswith("INSERT INTO USER_STATE"):
        return "sql: state"
    return "sql: other"

class Timed:
    def __init__(self, conn):
        self._conn = conn
    def execute(self, sql, *args):
        t = clock()
        try:
            return self._conn.execute(sql, *args)
        finally:
            k = kind(sql)
            times.setdefault(k, []).append(clock() - t)
    def __getattr__(self, name):
        return getattr(self._conn, name)

real = connection.Connection.capture_conn.fget
proxies = {}
def timed_conn(self):
    c = real(self)
    p = proxies.get(id(c))
    if p is None or p._conn is not c:
        p = proxies[id(c)] = Timed(c)
    return p
connection.Connection.capture_conn = property(timed_conn)

build = capture.Capture.build_row
def timed_build(self, ctx, resp):
    t = clock()
    try:
        return build(self, ctx, resp)
    finally:
        times.setdefault("row building", []).append(clock() - t)
capture.Capture.build_row = timed_build

take = getattr(connection.Connection, "take_write_lock", None)  # writing() and a lone capture take the lock through it
def timed_take(self, timeout_ms=None, *, yielding=False):
    t = clock()
    fd = take(self, timeout_ms, yielding=yielding)
    if not yielding:
        times.setdefault("write lock taken", []).append(clock() - t)
    return fd
if hasattr(connection.Connection, "take_write_lock"):
    connection.Connection.take_write_lock = timed_take
else:  # a tree from before take_write_lock: its captures took the lock through writing()
    writing = connection.Connection.writing
    @contextlib.contextmanager
    def timed_writing(self, **kw):
        t = clock()
        with writing(self, **kw):
            if not kw.get("yielding"):
                times.setdefault("write lock taken", []).append(clock() - t)
            yield
    connection.Connection.writing = timed_writing

call = capture.Capture.__call__
def timed_call(self, ctx, call_next):
    inner = [0]
    def nxt(c):
        t = clock()
        try:
            return call_next(c)
        finally:
            inner[0] = clock() - t
    t = clock()
    try:
        return call(self, ctx, nxt)
    finally:
        times.setdefault("capture (whole)", []).append(clock() - t - inner[0])
capture.Capture.__call__ = timed_call

import inproc_target
body = open(envelope).read()
f = inproc_target.handle_json_same_work
for _ in range(300):
    f(body)
times.clear()
for _ in range(n):
    f(body)
whole = times["capture (whole)"]
out = {"capture (whole)": statistics.median(whole) / 1000}
sql = 0.0
for k, v in sorted(times.items()):
    if k.startswith("sql:"):
        # per capture: the sum over the statements of that kind, spread over the captures
        out[k] = statistics.median(v) / 1000 * len(v) / len(whole)
        sql += out[k]
consent = out.get("sql: consent read", 0.0)
out["row building (python)"] = statistics.median(times["row building"]) / 1000 - consent
out["write lock taken"] = statistics.median(times["write lock taken"]) / 1000
out["record (python)"] = out["capture (whole)"] - sql - out["row building (python)"] - out["write lock taken"]
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default this one)")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs per checkout (default 3)")
    ap.add_argument("-n", type=int, default=3000, help="requests per run (default 3000)")
    ap.add_argument("--envelope", default=ENVELOPE)
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or [os.path.dirname(HERE)])]
    results: dict[str, list[dict[str, float]]] = {r: [] for r in roots}
    for _ in range(args.runs):
        for root in roots:
            done = subprocess.run([sys.executable, "-c", CHILD, root, args.envelope, str(args.n)],
                                  capture_output=True, text=True, check=True)
            results[root].append(json.loads(done.stdout))
    print(f"== median us per capture, {args.runs} interleaved runs of {args.n}; loadavg "
          + open("/proc/loadavg").read().split(" ", 3)[2])
    keys = sorted({k for runs in results.values() for run in runs for k in run})
    print(f"{'part':<22}" + "".join(f"{os.path.basename(r):>14}" for r in roots))
    summary = {}
    for k in keys:
        row = [statistics.median(run.get(k, 0.0) for run in results[r]) for r in roots]
        summary[k] = row
        print(f"{k:<22}" + "".join(f"{v:14.1f}" for v in row))
    print(json.dumps({"roots": roots, "us": summary}))


if __name__ == "__main__":
    main()
