"""What ran in each of the harness's blocks: why one 3,000-request block is slower than another.

Runs ``inproc_target.handle_json_same_work`` as ``run.sh inproc`` does (a warm-up of n/10 calls,
then ``--repeats`` blocks of ``-n`` calls, each block timed as a whole, no per-call timer) and
counts, per block, what ran in it: the calling thread's CPU, the process's other threads' CPU,
the collections of each generation and their time (``gc.callbacks``), the background thread's
checkpoints (and how many of them held writers off so the WAL could start over), its indexing
slices and merge steps, the WAL write-out, the bytes written to the disk (``/proc/self/io``) and
the context switches. The spread printed is the harness's: (max - min) / median of the blocks.

    PYTHONPATH=bench:. python bench/block_spread.py                 # 7 blocks of 3,000, as the harness
    PYTHONPATH=bench:. python bench/block_spread.py --runs 5        # five fresh processes, one after another
    PYTHONPATH=bench /tmp/anchors-venv/bin/python bench/block_spread.py --peer   # ask-sdk-core: the control
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER_BENCH") or os.path.join(HERE, "..", "..", "shared", "bench")
ENVELOPE = os.environ.get("ENVELOPE") or os.path.join(PEER, "intent_envelope.json")


class Counts:
    """Events counted since the last :meth:`take`: collections, background holds and their time."""

    def __init__(self) -> None:
        self.reset()
        self._gc_start = 0
        gc.callbacks.append(self._gc)

    def reset(self) -> None:
        self.c: dict[str, float] = {"gc0": 0, "gc1": 0, "gc2": 0, "gc_ms": 0.0, "ckpt": 0, "ckpt_ms": 0.0,
                                    "restart": 0, "slices": 0, "slice_ms": 0.0, "merges": 0, "merge_ms": 0.0,
                                    "reserve": 0, "hold_ms": 0.0}

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter_ns()
        else:
            self.c[f"gc{info['generation']}"] += 1
            self.c["gc_ms"] += (time.perf_counter_ns() - self._gc_start) / 1e6

    def wrap(self, owner: object, name: str, key: str, ms_key: str | None = None) -> None:
        fn = getattr(owner, name)

        def timed(*a, **kw):
            t0 = time.perf_counter_ns()
            try:
                return fn(*a, **kw)
            finally:
                self.c[key] += 1
                if ms_key:
                    self.c[ms_key] += (time.perf_counter_ns() - t0) / 1e6

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        got = self.c
        self.reset()
        return got


def io_written() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def one_run(args: argparse.Namespace) -> dict:
    counts = Counts()
    handle = peer_round_trip() if args.peer else ours(counts, args.settle, args.wal_bound)
    body = open(args.envelope).read()
    for _ in range(max(50, args.n // 10)):
        handle(body)
    counts.take()
    blocks = []
    usage = resource.getrusage
    for _ in range(args.repeats):
        r0, p0, w0, io0 = usage(resource.RUSAGE_THREAD), time.process_time(), time.perf_counter(), io_written()
        for _ in range(args.n):
            handle(body)
        w1, p1, r1, io1 = time.perf_counter(), time.process_time(), usage(resource.RUSAGE_THREAD), io_written()
        own = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        block = {"us": (w1 - w0) / args.n * 1e6, "own_cpu_us": own / args.n * 1e6,
                 "other_cpu_us": ((p1 - p0) - own) / args.n * 1e6, "mb_written": (io1 - io0) / 1e6,
                 "vcsw": r1.ru_nvcsw - r0.ru_nvcsw, "ivcsw": r1.ru_nivcsw - r0.ru_nivcsw, **counts.take()}
        blocks.append(block)
    return {"load": os.getloadavg()[0], "blocks": blocks}


def peer_round_trip():
    """The peer's ask-sdk-core round trip (run with the peer harness's venv): the machine's own spread."""
    sys.path.insert(0, PEER)
    from bench_inproc import asksdk_round_trip_factory

    return asksdk_round_trip_factory(False)[1]


def ours(counts: Counts, settle: bool, wal_bound: int | None):
    """The same-work target, its background thread's work counted where the thread calls it."""
    from skills_sdk.transcripts.sqlite import checkpoints, connection, slices

    if wal_bound:
        checkpoints.WAL_BOUND_FRAMES = wal_bound

    # What the background thread runs, counted where it calls it (module attributes looked up at call time).
    counts.wrap(slices, "index_pending", "slices", "slice_ms")
    counts.wrap(slices, "merge_step", "merges", "merge_ms")
    counts.wrap(connection.Connection, "reserve_wal", "reserve")
    bounded = checkpoints.checkpoint_bounded
    passes: list[int] = []
    checkpoint = connection.Connection.checkpoint

    def timed_pass(self, *a, **kw):
        t0 = time.perf_counter_ns()
        try:
            return checkpoint(self, *a, **kw)
        finally:
            passes.append(time.perf_counter_ns() - t0)

    connection.Connection.checkpoint = timed_pass

    def checkpoint_counted(ledger, conn):
        t0 = time.perf_counter_ns()
        passes.clear()
        got = bounded(ledger, conn)
        if len(passes) == 3:  # the third pass ran with writers held off
            counts.c["hold_ms"] += passes[2] / 1e6
        counts.c["ckpt"] += 1
        counts.c["ckpt_ms"] += (time.perf_counter_ns() - t0) / 1e6
        if got[1] >= checkpoints.WAL_BOUND_FRAMES:  # it held writers off so the WAL could start over
            counts.c["restart"] += 1
        return got

    connection.checkpoint_bounded = checkpoint_counted
    from inproc_target import handle_json_same_work

    if settle:
        from skills_sdk.server import settle as settle_now

        settle_now()
    return handle_json_same_work


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) * 100


def show(run: dict) -> None:
    blocks = run["blocks"]
    us = [b["us"] for b in blocks]
    cpu = [b["own_cpu_us"] + b["other_cpu_us"] for b in blocks]
    print(f"load {run['load']:.2f}  median {statistics.median(us):.1f} us  spread {spread(us):.1f}%  "
          f"(process cpu spread {spread(cpu):.1f}%)")
    keys = ["us", "own_cpu_us", "other_cpu_us", "gc0", "gc1", "gc2", "gc_ms", "ckpt", "ckpt_ms", "restart", "hold_ms",
            "slices", "slice_ms", "merges", "merge_ms", "reserve", "mb_written", "vcsw", "ivcsw"]
    print("  " + " ".join(f"{k[:9]:>9s}" for k in keys))
    for b in blocks:
        print("  " + " ".join(f"{b[k]:9.1f}" if isinstance(b[k], float) else f"{b[k]:9d}" for k in keys))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=3000, help="calls per block (the harness's 3,000)")
    ap.add_argument("--repeats", type=int, default=7, help="blocks (the harness's 7)")
    ap.add_argument("--runs", type=int, default=1, help="fresh processes, one after the other")
    ap.add_argument("--settle", action="store_true", help="skills_sdk.server.settle() before the warm-up")
    ap.add_argument("--wal-bound", type=int, help="frames after which the WAL starts over (the ledger's 16,384)")
    ap.add_argument("--peer", action="store_true", help="the peer's round trip instead (the control)")
    ap.add_argument("--envelope", default=ENVELOPE)
    ap.add_argument("--json", help="append each run's blocks here, one JSON line a run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_run(args)))
        return
    child = [sys.executable, __file__, "--child", "-n", str(args.n), "--repeats", str(args.repeats),
             "--envelope", args.envelope, *(["--settle"] if args.settle else []), *(["--peer"] if args.peer else []),
             *(["--wal-bound", str(args.wal_bound)] if args.wal_bound else [])]
    for _ in range(args.runs):
        run = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(run) + "\n")
        show(run)


if __name__ == "__main__":
    main()
