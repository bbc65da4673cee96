"""What each slow capture waited on: ``store_scale.py --only write``'s loop, every capture's causes recorded.

The write step's mean at 10M rows is its p50 plus a tail (the slowest few percent carry half of
it). This runs the same loop on the same ledger (unstarted, the WAL reserved first, 50 captures
unmeasured, 2,000 captures of ``--developers`` developers with an unchained insert after every
4th) and records for each capture what could have made it slow:

  wal_hold    a checkpoint held writers off so the WAL could start over (the hold overlapped it)
  lock        it waited over 0.2 ms for the write lock otherwise (another writer)
  gc          Python's collector ran inside it (``gc.callbacks``)
  disk        it read pages from the disk, not the OS cache (``read_bytes`` of /proc/thread-self/io)
  blocked     it slept otherwise (a voluntary context switch: the GIL, a futex)
  checkpoint  the process's checkpoint thread was copying WAL frames meanwhile
  run_queue   it waited, runnable, for a CPU over 20 us (``/proc/thread-self/schedstat``)
  reads       it read pages from the OS cache without blocking
  own         none of these: its own work

A capture slower than ``--slow`` us (150) is put down to the first cause in that order that it
had; the table gives each cause's captures and its share of the mean (the time above the p50 of
those captures, spread over all of them: the rows add up to the mean less the p50, slow captures
only). The instrumentation reads two /proc files through kept descriptors (one ``pread`` each,
before and after) and ``getrusage`` a capture: their own read calls are taken off.

    python bench/capture_tail.py --db COPY_OF_10M --developers 1000
    python bench/capture_tail.py --db COPY_OF_1M --developers 1000 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import _ledger  # noqa: E402

from skills_sdk.transcripts import store as _store_module  # noqa: E402
from skills_sdk.transcripts.store import TranscriptStore  # noqa: E402

CAUSES = ("wal_hold", "lock", "gc", "disk", "blocked", "checkpoint", "run_queue", "reads", "own")


class Probe:
    """This thread's read calls and run-queue wait through descriptors kept open (one pread each)."""

    def __init__(self) -> None:
        self.io = os.open("/proc/thread-self/io", os.O_RDONLY)
        self.sched = os.open("/proc/thread-self/schedstat", os.O_RDONLY)

    def sample(self) -> tuple[int, int, int]:
        """Read calls, bytes read from storage (not the OS cache), run-queue wait in ns."""
        io = os.pread(self.io, 4096, 0).decode()
        syscr = int(io.split("syscr: ", 1)[1].split("\n", 1)[0])
        disk = int(io.split("\nread_bytes: ", 1)[1].split("\n", 1)[0])
        return syscr, disk, int(os.pread(self.sched, 256, 0).split()[1])

    def close(self) -> None:
        os.close(self.io)
        os.close(self.sched)


class Intervals:
    """Start and end times (perf_counter) of what ran meanwhile on other threads or inside the capture."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.open: float | None = None

    def overlaps(self, t0: float, t1: float, since: int) -> tuple[float, int]:
        """Seconds of overlap with [t0, t1] among the spans from index ``since``, and the index to start from next."""
        total, i = 0.0, since
        for j in range(since, len(self.spans)):
            a, b = self.spans[j]
            if b < t0:
                i = j + 1
                continue
            if a > t1:
                break
            total += min(b, t1) - max(a, t0)
        if self.open is not None and self.open < t1:
            total += t1 - max(self.open, t0)
        return total, i


def run(path: str, n: int, developers: int, slow_us: float) -> dict[str, Any]:
    store = TranscriptStore(path)
    now_ms = int(time.time() * 1000)
    rows = next(_ledger.generate(n, seed=99, end_ms=now_ms, days=1, heavy_users=0, batch=n, developers=developers))
    store.reserve_wal()
    for row in rows[:50]:
        store.record(dict(row, request_id=row["request_id"] + "w"))
    conn = store.capture_conn

    # What ran meanwhile: the checkpoint thread's checkpoints and its holds, the collector.
    ckpt, hold, collect = Intervals(), Intervals(), Intervals()
    original_checkpoint = store.checkpoint

    def timed_checkpoint(*a: Any, **kw: Any) -> Any:
        ckpt.open = time.perf_counter()
        try:
            return original_checkpoint(*a, **kw)
        finally:
            ckpt.spans.append((ckpt.open, time.perf_counter()))
            ckpt.open = None

    store.checkpoint = timed_checkpoint  # type: ignore[method-assign]
    original_writing = store.writing

    class HeldWriting:
        """``store.writing`` as the checkpoint thread's hold takes it: timed from the moment it holds."""

        def __init__(self, **kw: Any) -> None:
            self.cm = original_writing(**kw)

        def __enter__(self) -> None:
            self.cm.__enter__()
            hold.open = time.perf_counter()

        def __exit__(self, *exc: Any) -> Any:
            hold.spans.append((hold.open or 0.0, time.perf_counter()))
            hold.open = None
            return self.cm.__exit__(*exc)

    store.writing = HeldWriting  # type: ignore[method-assign,assignment]
    lock_waits: list[float] = []
    original_take = store.take_write_lock
    me = threading.get_ident()

    def timed_take(*a: Any, **kw: Any) -> int:
        t = time.perf_counter()
        try:
            return original_take(*a, **kw)
        finally:
            if threading.get_ident() == me:  # the captures' waits, not the checkpoint thread's
                lock_waits.append(time.perf_counter() - t)

    store.take_write_lock = timed_take  # type: ignore[method-assign]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collect.open = time.perf_counter()
        else:
            collect.spans.append((collect.open or 0.0, time.perf_counter()))
            collect.open = None

    gc.callbacks.append(on_gc)
    frame = 24 + conn.execute("PRAGMA page_size").fetchone()[0]
    wal0 = os.path.getsize(path + "-wal")
    probe = Probe()
    a = probe.sample()
    own_reads = probe.sample()[0] - a[0]  # what one sample adds between two samples
    per: list[dict[str, Any]] = []
    since = {"ckpt": 0, "hold": 0, "gc": 0}
    bare_ids = []
    try:
        for i, row in enumerate(rows):
            lock_waits.clear()
            r0 = resource.getrusage(resource.RUSAGE_THREAD)
            reads0, disk0, queued0 = probe.sample()
            c0 = time.thread_time()
            t0 = time.perf_counter()
            store.record(row)
            t1 = time.perf_counter()
            c1 = time.thread_time()
            reads1, disk1, queued1 = probe.sample()
            r1 = resource.getrusage(resource.RUSAGE_THREAD)
            in_ckpt, since["ckpt"] = ckpt.overlaps(t0, t1, since["ckpt"])
            in_hold, since["hold"] = hold.overlaps(t0, t1, since["hold"])
            in_gc, since["gc"] = collect.overlaps(t0, t1, since["gc"])
            per.append({"us": (t1 - t0) * 1e6, "cpu_us": (c1 - c0) * 1e6, "reads": reads1 - reads0 - own_reads,
                        "disk_kb": (disk1 - disk0) / 1024,
                        "run_queue_us": (queued1 - queued0) / 1e3, "lock_us": sum(lock_waits) * 1e6,
                        "voluntary": r1.ru_nvcsw - r0.ru_nvcsw, "involuntary": r1.ru_nivcsw - r0.ru_nivcsw,
                        "checkpoint_us": in_ckpt * 1e6, "hold_us": in_hold * 1e6, "gc_us": in_gc * 1e6})
            if i % 4 == 0:  # store_scale's unchained comparison insert, on the capture's connection
                values = _store_module._values(dict(row, request_id=row["request_id"] + "b"))
                with original_writing():
                    bare_ids.append(conn.execute(_store_module._INSERT_SQL, values).lastrowid)
    finally:
        gc.callbacks.remove(on_gc)
        probe.close()
        store.checkpoint, store.writing, store.take_write_lock = original_checkpoint, original_writing, original_take  # type: ignore[method-assign]
    # frames written past the WAL file's end (dearer than over its cached blocks), per capture
    appended = max(0, os.path.getsize(path + "-wal") - wal0) / frame / len(per)
    conn.execute(f"DELETE FROM transcripts WHERE id IN ({','.join(map(str, bare_ids))})")
    store.close()
    out = summarize(per, slow_us)
    out["appended_frames"] = appended
    out["holds_ms"] = [round((b - a) * 1e3, 2) for a, b in hold.spans]
    return out


#: Each cause's test, in the order a slow capture is put down to the first one it had.
_TESTS = (("wal_hold", lambda c: c["hold_us"] > 0), ("lock", lambda c: c["lock_us"] > 200),
          ("gc", lambda c: c["gc_us"] > 0), ("disk", lambda c: c["disk_kb"] > 0),
          ("blocked", lambda c: c["voluntary"] > 0),
          ("checkpoint", lambda c: c["checkpoint_us"] > 0), ("run_queue", lambda c: c["run_queue_us"] > 20),
          ("reads", lambda c: c["reads"] > 0))


def cause(c: dict[str, Any]) -> str:
    return next((name for name, test in _TESTS if test(c)), "own")


def summarize(per: list[dict[str, Any]], slow_us: float) -> dict[str, Any]:
    n = len(per)
    us = sorted(c["us"] for c in per)
    p50 = statistics.median(us)
    out: dict[str, Any] = {"captures": n, "mean_us": sum(us) / n, "p50_us": p50, "p90_us": us[int(0.9 * n)],
                           "p99_us": us[int(0.99 * n)], "max_us": us[-1],
                           "cpu_mean_us": sum(c["cpu_us"] for c in per) / n,
                           "reads_per_capture": sum(c["reads"] for c in per) / n,
                           "disk_kb_per_capture": sum(c["disk_kb"] for c in per) / n,
                           "run_queue_mean_us": sum(c["run_queue_us"] for c in per) / n,
                           "gc_runs_in_captures": sum(1 for c in per if c["gc_us"] > 0),
                           "captures_during_checkpoint": sum(1 for c in per if c["checkpoint_us"] > 0)}
    slow = [c for c in per if c["us"] > slow_us]
    out["slow"] = len(slow)
    out["slow_share_of_mean_us"] = sum(c["us"] - p50 for c in slow) / n
    table = {k: [0, 0.0, 0.0] for k in CAUSES}
    for c in slow:
        row = table[cause(c)]
        row[0] += 1
        row[1] += (c["us"] - p50) / n
        row[2] = max(row[2], c["us"])
    out["causes"] = {k: {"captures": v[0], "us_on_mean": round(v[1], 2), "max_us": round(v[2])} for k, v in table.items()}
    # And over all captures: what the whole mean less p50 shares with each wait, spread over n.
    out["all_run_queue_us_on_mean"] = out["run_queue_mean_us"]
    out["all_hold_us_on_mean"] = sum(c["hold_us"] for c in per) / n
    out["all_gc_us_on_mean"] = sum(c["gc_us"] for c in per) / n
    fast = [c for c in per if c["checkpoint_us"] == 0]
    during = [c for c in per if c["checkpoint_us"] > 0]
    if fast and during:
        out["p50_outside_checkpoints_us"] = statistics.median(c["us"] for c in fast)
        out["p50_during_checkpoints_us"] = statistics.median(c["us"] for c in during)
        out["cpu_outside_checkpoints_us"] = statistics.mean(c["cpu_us"] for c in fast)
        out["cpu_during_checkpoints_us"] = statistics.mean(c["cpu_us"] for c in during)
    return out


def show(label: str, r: dict[str, Any]) -> None:
    print(f"\n{label}: mean {r['mean_us']:.1f} us, p50 {r['p50_us']:.1f}, p90 {r['p90_us']:.1f}, p99 {r['p99_us']:.0f}, "
          f"max {r['max_us']:.0f}; cpu {r['cpu_mean_us']:.1f}; reads {r['reads_per_capture']:.2f}/capture "
          f"({r['disk_kb_per_capture']:.2f} KB from the disk); "
          f"run queue {r['run_queue_mean_us']:.1f} us/capture")
    print(f"  WAL holds, ms: {r.get('holds_ms')}; frames appended past the WAL's end per capture: "
          f"{r['appended_frames']:.2f}")
    print(f"  slow captures: {r['slow']} ({r['slow_share_of_mean_us']:.1f} us of the mean above p50)")
    print(f"  {'cause':<12} {'captures':>8} {'us on mean':>11} {'max us':>9}")
    for k, v in r["causes"].items():
        print(f"  {k:<12} {v['captures']:>8} {v['us_on_mean']:>11.2f} {v['max_us']:>9}")
    if "p50_during_checkpoints_us" in r:
        print(f"  during checkpoints: {r['captures_during_checkpoint']} captures, p50 {r['p50_during_checkpoints_us']:.1f} "
              f"vs {r['p50_outside_checkpoints_us']:.1f} us, cpu {r['cpu_during_checkpoints_us']:.1f} vs "
              f"{r['cpu_outside_checkpoints_us']:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="a copy of the ledger (written to)")
    ap.add_argument("-n", type=int, default=2000, help="captures measured")
    ap.add_argument("--developers", type=int, default=1000)
    ap.add_argument("--slow", type=float, default=150.0, help="a slow capture, us")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)
    r = run(args.db, args.n, args.developers, args.slow)
    show(args.db, r)
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
