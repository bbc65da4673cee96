"""Every request of gunicorn sync workers timed inside the worker, and what ran during the slow ones.

Starts gunicorn (sync, 2 workers, 127.0.0.1) on the bench app ``wsgi_pizza:app`` wrapped by this
module, loads it with wrk as the peer harness does (-t2 -c16, its ``post.lua`` and envelope), and
records for each request in each worker: its wall time in the app, the worker's CPU for it, the
CPU of the worker's other threads (the ledger's background thread), the time the cyclic garbage
collector ran inside it and the oldest generation collected, the time it waited for the ledger's
write lock, and its voluntary and involuntary context switches. Then prints, per run: wrk's
latencies, the app's own distribution, every full (generation 2) collection, and how the slowest
1% of requests split.

    PYTHONPATH=bench:. python bench/worker_tail.py                  # 10 s after a 3 s warm-up
    PYTHONPATH=bench:. python bench/worker_tail.py --duration 40 --no-warmup --no-settle
                                                                    # a worker's first full collection, as before settle()

It also records each checkpoint pass that held every writer off so the WAL could start over (its
bound's), and counts the slowest requests that were in the app while one ran.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import glob
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from typing import Any

from _gunicorn_load import bench_env, load_under_gunicorn

OUT = os.environ.get("WORKER_TAIL_DIR", "")

# -- inside each worker: the traced app ------------------------------------------------------------

_rows: list[tuple[int, ...]] = []
_full: list[tuple[int, int]] = []  # (requests served before it, its wall ns): every generation-2 collection
_holds: list[tuple[int, int]] = []  # (start ns, wall ns) of each checkpoint pass run with writers held off (the WAL bound's)
_now = {"gc": 0, "gen": -1, "start": 0, "lock": 0}


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _now["start"] = time.perf_counter_ns()
        return
    spent = time.perf_counter_ns() - _now["start"]
    _now["gc"] += spent
    _now["gen"] = max(_now["gen"], info["generation"])
    if info["generation"] == 2:
        _full.append((len(_rows), spent))


def _traced(inner: Any, store: Any) -> Any:
    writing = store.writing

    @contextlib.contextmanager
    def timed_writing(*args: Any, **kwargs: Any) -> Any:
        asked = time.perf_counter_ns()
        with writing(*args, **kwargs):
            _now["lock"] += time.perf_counter_ns() - asked
            yield

    store.writing = timed_writing
    gc.callbacks.append(_gc_callback)
    _time_holds(store)
    if os.environ.get("WORKER_TAIL_INDEX"):  # "BACKLOG,TICKS": when the background thread indexes
        store.index_backlog, store.index_ticks = (int(v) for v in os.environ["WORKER_TAIL_INDEX"].split(","))

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        u0 = resource.getrusage(resource.RUSAGE_THREAD)
        w0, c0, p0 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
        _now.update(gc=0, gen=-1, lock=0)
        out = inner(environ, start_response)
        w1, c1, p1 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
        u1 = resource.getrusage(resource.RUSAGE_THREAD)
        _rows.append((w0, w1 - w0, c1 - c0, (p1 - p0) - (c1 - c0), _now["gc"], _now["gen"],
                      u1.ru_nvcsw - u0.ru_nvcsw, u1.ru_nivcsw - u0.ru_nivcsw, _now["lock"]))
        return out

    return app


def _time_holds(store: Any) -> None:
    """Record when this worker's background thread held every writer off for the WAL to start over."""
    from skills_sdk.transcripts.sqlite import checkpoints, connection

    passes: list[tuple[int, int]] = []
    checkpoint = store.checkpoint

    def timed_pass(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return checkpoint(*args, **kwargs)
        finally:
            passes.append((t0, time.perf_counter_ns() - t0))

    def bounded(ledger: Any, conn: Any) -> Any:
        passes.clear()
        got = checkpoints.checkpoint_bounded(ledger, conn)
        if len(passes) == 3:  # the third pass: writers held off
            _holds.append(passes[2])
        return got

    store.checkpoint = timed_pass
    connection.checkpoint_bounded = bounded


def __getattr__(name: str) -> Any:
    if name == "app":
        if os.environ.get("WORKER_TAIL_NO_SETTLE"):  # the app as it was built before settle() existed
            import skills_sdk.server

            skills_sdk.server.settle = lambda: None
        import wsgi_pizza

        globals()["app"] = built = _traced(wsgi_pizza.app, wsgi_pizza.app.extensions["skills_sdk"]["store"])
        return built
    raise AttributeError(name)


# The project's gunicorn settings: the ledger's background work in one maintenance process (run with
# --background thread, SKILLS_BACKGROUND=thread: on a thread in each worker, as before).
from skills_sdk.server.gunicorn_hooks import on_exit, on_starting, when_ready  # noqa: E402, F401


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook (this module is also the run's config): write this worker's records."""
    with open(os.path.join(OUT, f"worker-{os.getpid()}.json"), "w") as f:
        json.dump({"requests": _rows, "full_collections": _full, "holds": _holds}, f)


# -- the run ---------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def report(folder: str, since_ns: int) -> None:
    rows: list[list[int]] = []
    gaps: list[float] = []
    holds: list[tuple[int, int]] = []
    for path in sorted(glob.glob(os.path.join(folder, "worker-*.json"))):
        data = json.load(open(path))
        mine = [r for r in data["requests"] if r[0] >= since_ns]  # the measured run's (the clock is the system's)
        rows += mine
        holds += [h for h in data.get("holds", []) if h[0] >= since_ns]
        gaps += [(b[0] - a[0] - a[1]) / 1e3 for a, b in zip(mine, mine[1:], strict=False)]
        for served, spent in data["full_collections"]:
            print(f"full collection in worker {path.rsplit('-', 1)[1][:-5]} after {served} requests: {spent / 1e6:.1f} ms")
    if not rows:
        print("no requests recorded")
        return
    walls, cpus = [r[1] / 1e3 for r in rows], [r[2] / 1e3 for r in rows]
    print(f"{len(rows)} requests in the app (us): wall p50 {pct(walls, .5):.0f} p99 {pct(walls, .99):.0f} "
          f"max {max(walls):.0f}; CPU p50 {pct(cpus, .5):.0f} p99 {pct(cpus, .99):.0f} mean {statistics.fmean(cpus):.0f}; "
          f"other threads' CPU {statistics.fmean(r[3] for r in rows) / 1e3:.1f} a request; "
          f"gc {sum(r[4] for r in rows) / len(rows) / 1e3:.1f} a request")
    print(f"a worker between two requests (gunicorn, and off the CPU): p50 {pct(gaps, .5):.0f} p99 {pct(gaps, .99):.0f} us")
    cut = pct(walls, .99)
    slow = [r for r in rows if r[1] / 1e3 >= cut]
    med_cpu = pct(cpus, .5)
    total = sum(r[1] for r in slow) / 1e3
    parts = {
        "the write lock (waited for)": sum(r[8] for r in slow) / 1e3,
        "the collector": sum(r[4] for r in slow) / 1e3,
        "own CPU above the median": sum(max(0.0, r[2] / 1e3 - med_cpu - r[4] / 1e3) for r in slow),
    }
    parts["off the CPU otherwise (preempted, the GIL)"] = total - sum(parts.values()) - med_cpu * len(slow)
    rest = [r for r in rows if r[1] / 1e3 < cut]
    print(f"slowest 1%: {len(slow)} requests >= {cut / 1e3:.1f} ms, {total / 1e3:.0f} ms in all; "
          f"{sum(1 for r in slow if r[3] > 50_000)} with the worker's other thread running > 50 us "
          f"(of the rest: {sum(1 for r in rest if r[3] > 50_000) / len(rest) * 100:.1f}%)")
    for name, us in parts.items():
        print(f"  {name:44s} {us / 1e3:8.1f} ms {us / total * 100:5.1f}%")
    # A hold stops the writers of both workers: a request overlaps one if it was in the app while it ran.
    overlapping = sum(1 for r in slow if any(h0 < r[0] + r[1] and r[0] < h0 + hw for h0, hw in holds))
    span = (max(r[0] + r[1] for r in rows) - min(r[0] for r in rows)) / 1e9
    print(f"WAL-bound holds (writers held off so the WAL starts over): {len(holds)} in {span:.1f} s, wall "
          f"p50 {pct([h[1] / 1e6 for h in holds] or [0], .5):.1f} max {max([h[1] / 1e6 for h in holds] or [0]):.1f} ms; "
          f"{overlapping} of the slowest 1% overlapped one")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk load measured (default 10)")
    ap.add_argument("--no-warmup", action="store_true", help="measure from the workers' first request")
    ap.add_argument("--no-settle", action="store_true", help="build the app without settle() (gc.freeze)")
    ap.add_argument("--port", type=int, default=18557)
    ap.add_argument("--background", choices=("process", "thread"), default="process",
                    help="the ledger's background work in one maintenance process (default) or a thread per worker")
    ap.add_argument("--keep", help="copy the per-worker records to this folder")
    ap.add_argument("--index", metavar="BACKLOG,TICKS",
                    help="the ledger's index_backlog and index_ticks (1000,1: as before the indexing was made steady)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="worker-tail-")
    env = bench_env(WORKER_TAIL_DIR=work, SKILLS_BENCH_DB=os.path.join(work, "ledger.db"))
    if args.no_settle:
        env["WORKER_TAIL_NO_SETTLE"] = "1"
    if args.index:
        env["WORKER_TAIL_INDEX"] = args.index
    env["SKILLS_BACKGROUND"] = "elsewhere" if args.background == "process" else "thread"
    load, since_ns, summary = load_under_gunicorn("worker_tail:app", "python:worker_tail", env, args.port, args.duration,
                                                  os.path.join(work, "gunicorn.log"), warm_up=not args.no_warmup)
    print(f"load {load:.2f}; wrk: {summary['rps']:.0f} req/s, p50 {summary['p50_us'] / 1e3:.1f} ms, "
          f"p99 {summary['p99_us'] / 1e3:.1f} ms, max {summary['lat_max_us'] / 1e3:.1f} ms")
    report(work, since_ns)
    if args.keep:
        shutil.copytree(work, args.keep, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
