"""Where the slowest requests under gunicorn wait: each request's stages, and what ran beside them.

Starts gunicorn as ``bench/http_bench.sh`` runs ours (sync x2 on 127.0.0.1, the project's hooks: the
ledger's background work in one maintenance process) on ``wsgi_pizza:app`` with the stage timer on
(``SKILLS_STAGE_LOG``, skills_sdk/server/stages.py), loads it with wrk as the peer harness does
(-t2 -c16, its ``post.lua`` and envelope), then compares the requests slower than the app's p98 with
the rest: the time in each stage, off the CPU, and whether a background hold of the write lock, a
checkpoint, the other worker's commit or the collector ran during them.

    PYTHONPATH=bench:. python bench/http_stages.py                      # 8 s after a 3 s warm-up
    PYTHONPATH=bench:. python bench/http_stages.py --env SKILLS_MAINTENANCE_NICE=0 --runs 3
"""

from __future__ import annotations

import argparse
import bisect
import glob
import json
import os
import shutil
import statistics
import tempfile
from typing import Any

from _gunicorn_load import bench_env, load_under_gunicorn

FIELDS = ("start", "wall", "read", "answer", "handle", "record", "lock_wait", "lock_held", "respond", "observe",
          "cpu", "gc", "gc_gen", "vcsw", "ivcsw", "gap", "lock_at", "others")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def overlaps(intervals: list[tuple[int, int]], starts: list[int], t0: int, t1: int) -> bool:
    """Whether [t0, t1) meets one of ``intervals`` (sorted by start; ``starts`` their starts)."""
    i = bisect.bisect_left(starts, t1)
    return any(s + w > t0 for s, w in intervals[max(0, i - 50):i])


def report(folder: str, since_ns: int, cut_p: float) -> dict[str, Any]:
    workers: dict[str, list[dict[str, int]]] = {}
    for path in glob.glob(os.path.join(folder, "worker-*.jsonl")):
        rows = [dict(zip(FIELDS, json.loads(line), strict=False)) for line in open(path)]
        workers[path] = [r for r in rows if r["start"] >= since_ns]
    background: list[list[Any]] = []
    for path in glob.glob(os.path.join(folder, "background-*.jsonl")):
        background += [b for b in map(json.loads, open(path)) if b[1] >= since_ns]
    rows = [r for rs in workers.values() for r in rs]
    if not rows:
        print("no requests recorded")
        return {}
    span = (max(r["start"] + r["wall"] for r in rows) - min(r["start"] for r in rows)) / 1e9
    walls = [r["wall"] / 1e3 for r in rows]
    cut = pct(walls, cut_p)
    slow = [r for r in rows if r["wall"] / 1e3 >= cut]
    rest = [r for r in rows if r["wall"] / 1e3 < cut]
    gaps = [r["gap"] / 1e3 for r in rows if r["gap"]]
    print(f"{len(rows)} requests in {span:.1f} s in the app (us): wall p50 {pct(walls, .5):.0f} p98 {pct(walls, .98):.0f} "
          f"p99 {pct(walls, .99):.0f} max {max(walls):.0f}; CPU p50 {pct([r['cpu'] / 1e3 for r in rows], .5):.0f}; "
          f"between two requests (gunicorn, off the CPU) p50 {pct(gaps, .5):.0f} p99 {pct(gaps, .99):.0f}")

    def stages(r: dict[str, int]) -> dict[str, float]:
        return {
            "read the body": r["read"],
            "parse and check": r["answer"] - r["handle"],
            "envelope, skill, row": r["handle"] - r["record"],
            "record: digest, guard": r["record"] - r["lock_wait"] - r["lock_held"],
            "record: write-lock wait": r["lock_wait"],
            "record: transaction held (COMMIT, WAL)": r["lock_held"],
            "reply encoded, status": r["respond"],
            "access line, metrics": r["observe"],
            "(the collector, in any stage)": r["gc"],
            "(off the CPU, in any stage)": max(0, r["wall"] - r["cpu"]),
        }

    print(f"requests >= the app's p{cut_p * 100:g} ({cut / 1e3:.2f} ms): {len(slow)}; mean us a request, slow / rest:")
    for name in stages(rows[0]):
        s = statistics.fmean(stages(r)[name] for r in slow) / 1e3
        o = statistics.fmean(stages(r)[name] for r in rest) / 1e3
        print(f"  {name:42s} {s:9.0f} {o:9.0f}")
    # What ran meanwhile: the maintenance process's holds and checkpoints, the other worker's transactions.
    bg = {kind: sorted((b[1], b[2]) for b in background if b[0] == kind) for kind in ("lock", "checkpoint")}
    meanwhile: dict[str, list[bool]] = {}
    for kind, iv in bg.items():
        st = [s for s, _ in iv]
        meanwhile[f"a background {kind}"] = [overlaps(iv, st, r["start"], r["start"] + r["wall"]) for r in rows]
    paths = list(workers)
    other_iv: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}
    for p in paths:
        iv = sorted((r["lock_at"], r["lock_held"]) for q in paths if q != p for r in workers[q] if r.get("lock_at"))
        other_iv[p] = (iv, [s for s, _ in iv])
    meanwhile["the other worker's transaction"] = [
        overlaps(*other_iv[p], r["start"], r["start"] + r["wall"]) for p in paths for r in workers[p]]
    rows_in_order = [r for p in paths for r in workers[p]]
    for name, hits in list(meanwhile.items()):
        if name == "the other worker's transaction":
            flags = dict(zip(map(id, rows_in_order), hits, strict=True))
        else:
            flags = dict(zip(map(id, rows), hits, strict=True))
        s = sum(1 for r in slow if flags[id(r)]) / len(slow) * 100
        o = sum(1 for r in rest if flags[id(r)]) / len(rest) * 100
        print(f"  during {name:36s} {s:8.1f}% {o:8.1f}%")
    s = sum(1 for r in slow if r["gc_gen"] >= 0) / len(slow) * 100
    o = sum(1 for r in rest if r["gc_gen"] >= 0) / len(rest) * 100
    print(f"  {'a collection ran':43s} {s:8.1f}% {o:8.1f}%   (a full one: {sum(1 for r in rows if r['gc_gen'] == 2)})")
    s = sum(1 for r in slow if r.get("others", 0) > 20_000) / len(slow) * 100
    o = sum(1 for r in rest if r.get("others", 0) > 20_000) / len(rest) * 100
    print(f"  {'another thread of the worker ran > 20 us':43s} {s:8.1f}% {o:8.1f}%")
    s = statistics.fmean(r["ivcsw"] for r in slow)
    o = statistics.fmean(r["ivcsw"] for r in rest)
    print(f"  {'preempted (involuntary switches)':43s} {s:9.2f} {o:9.2f}")
    handoff(rows, workers, bg["lock"])
    for kind, iv in bg.items():
        walls_ms = [w / 1e6 for _, w in iv]
        cpu = sum(b[3] for b in background if b[0] == kind) / 1e6
        print(f"background {kind}s: {len(iv)} in {span:.1f} s, wall p50 {pct(walls_ms, .5):.2f} p99 {pct(walls_ms, .99):.2f} "
              f"max {max(walls_ms or [0]):.2f} ms, {sum(walls_ms):.0f} ms in all, CPU {cpu:.0f} ms in all")
        by_what: dict[str, list[list[Any]]] = {}
        for b in background:
            if b[0] == kind:
                by_what.setdefault(b[4] if len(b) > 4 else "?", []).append(b)
        for what, bs in sorted(by_what.items(), key=lambda kv: -len(kv[1])):
            ms = [b[2] / 1e6 for b in bs]
            print(f"  {what:32s} {len(bs):5d}, wall p50 {pct(ms, .5):.2f} p99 {pct(ms, .99):.2f} max {max(ms):.2f} ms, "
                  f"{sum(ms):.0f} ms in all, CPU {sum(b[3] for b in bs) / 1e6:.0f} ms")
    return {"cut_us": cut, "slow": len(slow), "requests": len(rows)}


def handoff(rows: list[dict[str, int]], workers: dict[str, list[dict[str, int]]], holds: list[tuple[int, int]]) -> None:
    """How long a waiting request took to get the write lock once its holder let go (the hand-off's own cost), and
    how many background holds began while a request already waited (jumped the queue)."""
    waits = sorted((r["lock_at"] - r["lock_wait"], r["lock_wait"]) for r in rows if r.get("lock_at") and r["lock_wait"] > 20_000)
    starts = [s for s, _ in waits]
    jumped = sum(1 for s, _ in holds if overlaps(waits, starts, s, s + 1))
    print(f"  background holds begun while a request waited for the lock: {jumped} of {len(holds)}")
    ends = {"a background hold": sorted(s + w for s, w in holds)}
    for p in workers:
        ends[f"the other worker ({os.path.basename(p)})"] = sorted(
            r["lock_at"] + r["lock_held"] for q in workers if q != p for r in workers[q] if r.get("lock_at"))
    for name, end in ends.items():
        delays = []
        for r in (rows if name == "a background hold" else [r for p in workers if p not in name for r in workers[p]]):
            if r["lock_wait"] < 20_000 or not r.get("lock_at"):
                continue
            i = bisect.bisect_right(end, r["lock_at"]) - 1  # the last release before it took the lock
            if i >= 0 and end[i] > r["lock_at"] - r["lock_wait"]:  # ... while it waited
                delays.append((r["lock_at"] - end[i]) / 1e3)
        if delays:
            print(f"  hand-off after {name}: {len(delays)} waits, p50 {pct(delays, .5):.0f} p90 {pct(delays, .9):.0f} "
                  f"p99 {pct(delays, .99):.0f} us from its release to the lock taken")


def run(args: argparse.Namespace, extra_env: dict[str, str]) -> None:
    work = tempfile.mkdtemp(prefix="http-stages-")
    env = bench_env(SKILLS_STAGE_LOG=os.path.join(work, "stages"), SKILLS_BENCH_DB=os.path.join(work, "ledger.db"),
                    **extra_env)
    load, since_ns, summary = load_under_gunicorn("wsgi_pizza:app", "python:skills_sdk.server.gunicorn_hooks", env,
                                                  args.port, args.duration, os.path.join(work, "gunicorn.log"))
    print(f"== {' '.join(f'{k}={v}' for k, v in extra_env.items()) or 'as configured'}; load {load:.2f}; wrk: "
          f"{summary['rps']:.0f} req/s, p50 {summary['p50_us'] / 1e3:.2f} ms, p99 {summary['p99_us'] / 1e3:.2f} ms, "
          f"max {summary['lat_max_us'] / 1e3:.1f} ms")
    report(os.path.join(work, "stages"), since_ns, args.cut)
    if args.keep:
        shutil.copytree(work, args.keep, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8, help="seconds of wrk load measured (default 8)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cut", type=float, default=0.98, help="the app's percentile above which a request is slow")
    ap.add_argument("--port", type=int, default=18561)
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="run again with this setting, interleaved with a run without (repeatable: one variant each)")
    ap.add_argument("--keep", help="copy the records to this folder")
    args = ap.parse_args()
    variants = [{}] + [dict([e.split("=", 1)]) for e in args.env]
    for _ in range(args.runs):
        for v in variants:
            run(args, v)


if __name__ == "__main__":
    main()
