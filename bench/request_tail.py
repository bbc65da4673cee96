"""Every in-process request timed on its own, and what ran during the slow ones.

Calls ``inproc_target.handle_json_same_work`` (capture on, the ledger started as a server starts it)
``-n`` times in ``--repeats`` runs, as the peer harness does, and records for each call: its wall
time, the CPU of the calling thread, the CPU of the process's other threads (the ledger's background
thread: indexing, checkpoints), and the time the cyclic garbage collector ran inside it
(``gc.callbacks``) with the oldest generation it collected. Prints the distribution, the repeats'
means and spread as the harness reports them, and how the slowest 1% of calls split by cause.

    PYTHONPATH=bench:. python bench/request_tail.py -n 2000 --repeats 5
    PYTHONPATH=bench:. python bench/request_tail.py --freeze     # gc.freeze() after the app is built
    PYTHONPATH=bench:. python bench/request_tail.py --no-index   # the ledger's thread checkpoints, indexes nothing
    PYTHONPATH=bench /tmp/anchors-venv/bin/python bench/request_tail.py --peer   # the same for ask-sdk-core

``--peer`` is the control: the peer's round trip writes nothing and starts no thread, so what its
calls show (CPU time per repeat moving by a fifth or more, off-CPU stalls of 10-30 ms) is the
machine's; what ours shows beyond it is ours.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER_BENCH") or os.path.join(HERE, "..", "..", "shared", "bench")
ENVELOPE = os.environ.get("ENVELOPE") or os.path.join(PEER, "intent_envelope.json")


class GcClock:
    """Time spent in the cyclic collector, and the oldest generation collected, since the last read."""

    def __init__(self) -> None:
        self.spent_ns = 0
        self.oldest = -1
        self._start = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter_ns()
        else:
            self.spent_ns += time.perf_counter_ns() - self._start
            self.oldest = max(self.oldest, info["generation"])

    def take(self) -> tuple[int, int]:
        got = self.spent_ns, self.oldest
        self.spent_ns, self.oldest = 0, -1
        return got


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="calls per repeat (default 2000)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=None, help="calls before timing (default: the harness's, n/10, 50 at least)")
    ap.add_argument("--envelope", default=ENVELOPE, help="the request body (default: the peer harness's)")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() once the app is built and warmed")
    ap.add_argument("--no-index", action="store_true",
                    help="the ledger's background thread indexes nothing during the run (checkpoints only)")
    ap.add_argument("--peer", action="store_true",
                    help="time the peer's ask-sdk-core round trip instead (run with the peer harness's venv), "
                         "the control that tells the machine's noise from ours")
    ap.add_argument("--json", help="write the per-call records here")
    args = ap.parse_args()

    if args.peer:
        import sys

        sys.path.insert(0, PEER)
        from bench_inproc import asksdk_round_trip_factory

        handle_json_same_work = asksdk_round_trip_factory(False)[1]
    else:
        from inproc_target import SAME_WORK, handle_json_same_work

        if args.no_index:
            SAME_WORK.store.index_backlog = 10**9

    body = open(args.envelope).read()
    for _ in range(max(50, args.n // 10) if args.warmup is None else args.warmup):
        handle_json_same_work(body)
    if args.freeze:
        gc.collect()
        gc.freeze()
    clock = GcClock()
    # repeat, wall, own cpu, others' cpu, gc, gc generation, the thread's voluntary and involuntary switches
    rows: list[tuple[int, ...]] = []
    usage = resource.getrusage
    THREAD = resource.RUSAGE_THREAD
    means, user, system = [], [], []
    for repeat in range(args.repeats):
        r0 = usage(THREAD)
        t_repeat = time.perf_counter()
        for _ in range(args.n):
            u0 = usage(THREAD)
            w0, c0, p0 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
            handle_json_same_work(body)
            w1, c1, p1 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
            u1 = usage(THREAD)
            spent, oldest = clock.take()
            rows.append((repeat, w1 - w0, c1 - c0, (p1 - p0) - (c1 - c0), spent, oldest,
                         u1.ru_nvcsw - u0.ru_nvcsw, u1.ru_nivcsw - u0.ru_nivcsw))
        means.append((time.perf_counter() - t_repeat) / args.n * 1e6)
        r1 = usage(THREAD)
        user.append((r1.ru_utime - r0.ru_utime) / args.n * 1e6)
        system.append((r1.ru_stime - r0.ru_stime) / args.n * 1e6)

    walls = [r[1] / 1e3 for r in rows]
    cpus = [r[2] / 1e3 for r in rows]
    med = statistics.median(means)
    print(f"load {os.getloadavg()[0]:.2f}; gc thresholds {gc.get_threshold()}; frozen {gc.get_freeze_count()}")
    print("repeat means (us):", " ".join(f"{m:.1f}" for m in means),
          f"median {med:.1f} spread {(max(means) - min(means)) / med * 100:.1f}%")
    for label, vals in (("wall", walls), ("own cpu", cpus)):
        print(f"{label:8s} p50 {pct(vals, .5):8.1f}  p90 {pct(vals, .9):8.1f}  p99 {pct(vals, .99):8.1f}  "
              f"p99.9 {pct(vals, .999):8.1f}  max {max(vals):9.1f}  mean {statistics.fmean(vals):8.1f}")
    per_repeat_cpu = [statistics.fmean(r[2] / 1e3 for r in rows if r[0] == i) for i in range(args.repeats)]
    per_repeat_other = [sum(r[3] for r in rows if r[0] == i) / args.n / 1e3 for i in range(args.repeats)]
    per_repeat_gc = [sum(r[4] for r in rows if r[0] == i) / args.n / 1e3 for i in range(args.repeats)]
    print("per repeat own cpu (us):", " ".join(f"{v:.1f}" for v in per_repeat_cpu),
          f"spread {(max(per_repeat_cpu) - min(per_repeat_cpu)) / statistics.median(per_repeat_cpu) * 100:.1f}%")
    print("per repeat own user / system cpu (us):", " ".join(f"{u:.0f}/{y:.0f}" for u, y in zip(user, system, strict=True)))
    print("per repeat other threads' cpu (us/call):", " ".join(f"{v:.1f}" for v in per_repeat_other))
    print("per repeat gc (us/call):", " ".join(f"{v:.1f}" for v in per_repeat_gc))
    gens = [sum(1 for r in rows if r[5] == g) for g in (0, 1, 2)]
    print(f"collections inside calls: gen0 {gens[0]} gen1 {gens[1]} gen2 {gens[2]}; "
          f"gc total {sum(r[4] for r in rows) / 1e6:.1f} ms of {sum(r[1] for r in rows) / 1e6:.1f} ms")

    cut = pct(walls, 0.99)
    slow = [r for r in rows if r[1] / 1e3 >= cut]
    med_cpu = pct(cpus, .5)
    # Each slow call's time above the median wall, split: the collector, its own extra CPU, and time
    # off the CPU: descheduled (involuntary switches only) or waiting (it blocked: a lock, the GIL
    # held by the background thread, the disk). Calls during which another thread ran are counted apart.
    parts = {"gc": 0.0, "own extra cpu": 0.0, "off cpu, preempted only": 0.0, "off cpu, blocked": 0.0}
    with_others = sum(1 for r in slow if r[3] > 0)
    blocked_calls = sum(1 for r in slow if r[6] > 0)
    for r in slow:
        gc_us, cpu_us = r[4] / 1e3, r[2] / 1e3
        off = max(0.0, r[1] / 1e3 - cpu_us)
        parts["gc"] += gc_us
        parts["own extra cpu"] += max(0.0, cpu_us - med_cpu - gc_us)
        parts["off cpu, blocked" if r[6] else "off cpu, preempted only"] += off
    total = sum(parts.values()) or 1
    print(f"slowest 1% ({len(slow)} calls >= {cut:.0f} us; {with_others} with another thread running, "
          f"{blocked_calls} blocked at least once): their time above the median, by part")
    for key, v in parts.items():
        print(f"  {key:26s} {v / 1e3:8.1f} ms  {v / total * 100:5.1f}%")
    slowest = sorted(rows, key=lambda r: -r[1])[:10]
    print("ten slowest: wall / own cpu / others' cpu / gc (us), gc generation, voluntary / involuntary switches")
    for r in slowest:
        print(f"  {r[1] / 1e3:9.1f} {r[2] / 1e3:9.1f} {r[3] / 1e3:9.1f} {r[4] / 1e3:9.1f}  {r[5]:2d}  {r[6]} / {r[7]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
