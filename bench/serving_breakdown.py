"""Where one request's CPU goes, stage by stage: JSON, envelope, skill, capture, reply, HTTP layer.

Each stage is timed alone, in a loop over the peer harness's envelope (``../shared/bench/intent_envelope.json``),
with the same-work pizza skill of ``inproc_target.py``; a stage that needs the one before it is the
difference between two loops (``skill`` = a turn without a ledger minus loading the envelope,
``capture`` = a turn with the ledger minus one without). ``HTTP layer`` is the app's WSGI callable
minus the in-process round trip, once in front of Flask (the default) and once behind it
(``SKILLS_ALEXA_FAST_PATH=False``), with the JSON access log on, as ``bench/wsgi_pizza.py`` serves it.
With ``--second-writer`` the fast path is timed once more while another process answers the same
requests into the same ledger file, as a second gunicorn worker does.

Times are CPU time of this process (``time.process_time``), so a background thread's work (the
ledger's indexer and checkpoints) is counted where it happens; the median of ``--repeats`` runs.

    python bench/serving_breakdown.py                 # table, then one JSON line
    python bench/serving_breakdown.py -n 5000 --repeats 7
    python bench/serving_breakdown.py --second-writer  # what a second process writing the ledger costs each request
    python bench/serving_breakdown.py --holds -n 20000 [--second-writer]   # who holds the write lock, how long

``--holds`` answers ``-n`` requests through the fast path (its ledger started, as a server runs it)
and records every hold of the ledger's write lock in this process: the captures', the background
thread's indexing slices and merge steps (``index``), its checkpoints that hold writers off and its
scrubs (``checkpoint``); wall and CPU time of each, and each capture's wait for the lock, put down
to what held it meanwhile (this process's background thread, else the other writer process).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
ENVELOPE = os.path.join(HERE, "..", "..", "shared", "bench", "intent_envelope.json")


def cpu_us(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Median CPU microseconds per call of ``fn`` over ``repeats`` runs of ``n`` calls."""
    for _ in range(max(50, n // 10)):
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.process_time_ns()
        for _ in range(n):
            fn()
        runs.append((time.process_time_ns() - t0) / n / 1000)
    return statistics.median(runs)


def reads_per_call(fn: Callable[[], object], n: int) -> float:
    """Read syscalls per call of ``fn`` (``syscr`` of ``/proc/self/io``: SQLite's page reads among them); -1 where absent."""
    def syscr() -> int:
        with open("/proc/self/io") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("syscr"))

    try:
        before = syscr()
    except OSError:
        return -1.0
    for _ in range(n):
        fn()
    return (syscr() - before) / n


def _wsgi_loop(build: Callable[[str], Callable[..., Any]], db: str, body: bytes) -> Callable[[], object]:
    """One ``POST /alexa/pizza`` through the WSGI app that ``build(db)`` makes, as a function to call in a loop."""
    call = build(db)
    base = {"REQUEST_METHOD": "POST", "PATH_INFO": "/alexa/pizza", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
            "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "wsgi.errors": sys.stderr}

    def one() -> object:
        return b"".join(call({**base, "wsgi.input": io.BytesIO(body)}, lambda *a: None))

    return one


def _fast_app(db: str) -> Callable[..., Any]:
    from inproc_target import same_work_skill

    from skills_sdk.server import create_app

    return create_app([same_work_skill()], db=db).wsgi_app


def _second_writer(db: str, body: bytes, ready: Any, stop: Any) -> None:
    """The other process of ``--second-writer``: answers turns into ``db`` until ``stop`` is set."""
    from skills_sdk.server.ops import configure_logging

    configure_logging("INFO", stream=open(os.devnull, "w"))
    one = _wsgi_loop(_fast_app, db, body)
    for _ in range(200):
        one()
    ready.set()
    while not stop.is_set():
        for _ in range(100):
            one()


def _holds(n: int, body: bytes, second_writer: bool) -> dict[str, Any]:
    """Answer ``n`` requests through the fast path; every hold of the write lock and every capture's wait, summed up."""
    import threading

    from skills_sdk.transcripts.sqlite import connection

    holds: list[tuple[str, float, float, float]] = []  # (kind, start, wall, cpu)
    waits: list[tuple[float, float]] = []  # (start, wait) of this process's captures
    # writing() and a lone capture both take the lock through take_write_lock and let it go through
    # release_write_lock: timed there, every hold is seen.
    take, release = connection.Connection.take_write_lock, connection.Connection.release_write_lock
    held = threading.local()

    def timed_take(self: Any, timeout_ms: int | None = None, *, yielding: bool = False) -> int:
        t0 = time.perf_counter()
        fd = take(self, timeout_ms, yielding=yielding)
        held.since = (t0, time.perf_counter(), time.thread_time(), yielding)
        return fd

    def timed_release(self: Any, fd: int) -> None:
        t0, t1, c1, yielding = held.since
        try:
            release(self, fd)
        finally:
            main = threading.current_thread() is threading.main_thread()
            kind = "capture" if main else "index" if yielding else "checkpoint"
            holds.append((kind, t1, time.perf_counter() - t1, time.thread_time() - c1))
            if main:
                waits.append((t0, t1 - t0))

    connection.Connection.take_write_lock = timed_take  # type: ignore[method-assign]
    connection.Connection.release_write_lock = timed_release  # type: ignore[method-assign]
    tmp = tempfile.mkdtemp(prefix="skills-holds-")
    db = os.path.join(tmp, "holds.db")
    one = _wsgi_loop(_fast_app, db, body)
    other = stop = None
    if second_writer:
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        ready, stop = spawn.Event(), spawn.Event()
        other = spawn.Process(target=_second_writer, args=(db, body, ready, stop))
        other.start()
        if not ready.wait(60):
            raise SystemExit("the second writer did not start")
    try:
        for _ in range(n):
            one()
    finally:
        if other is not None:
            stop.set()
            other.join()
        connection.Connection.take_write_lock = take  # type: ignore[method-assign]
        connection.Connection.release_write_lock = release  # type: ignore[method-assign]
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, Any] = {"requests": n}
    for kind in ("capture", "index", "checkpoint"):
        wall = sorted(h[2] for h in holds if h[0] == kind)
        if wall:
            out[kind] = {"holds": len(wall), "p50_ms": round(wall[len(wall) // 2] * 1e3, 2),
                         "p99_ms": round(wall[int(len(wall) * 0.99)] * 1e3, 2), "max_ms": round(wall[-1] * 1e3, 2),
                         "over_5ms": sum(w > 0.005 for w in wall),
                         "cpu_ms": round(sum(h[3] for h in holds if h[0] == kind) * 1e3, 1)}
    background = [(h[1], h[1] + h[2], h[0]) for h in holds if h[0] != "capture"]
    causes: dict[str, list[float]] = {}
    for start, wait in waits:
        if wait <= 0.0005:
            continue
        held = [k for s, e, k in background if s < start + wait and e > start]
        cause = held[-1] if held else ("the other process" if second_writer else "other")
        causes.setdefault(cause, []).append(wait)
    out["waits_over_0.5ms"] = {k: {"captures": len(v), "total_ms": round(sum(v) * 1e3, 1),
                                   "max_ms": round(max(v) * 1e3, 1)} for k, v in causes.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=3000, help="calls per run (default 3000)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per stage; the median is shown (default 5)")
    ap.add_argument("--envelope", default=os.environ.get("ENVELOPE", ENVELOPE))
    ap.add_argument("--second-writer", action="store_true",
                    help="also time the fast path while another process writes the same ledger")
    ap.add_argument("--holds", action="store_true", help="only record who holds the write lock, and how long")
    args = ap.parse_args()
    if args.holds:
        from skills_sdk.server.ops import configure_logging

        configure_logging("INFO", stream=open(os.devnull, "w"))
        body = open(args.envelope, "rb").read()
        print(f"== {os.cpu_count()} CPUs, loadavg {os.getloadavg()[0]:.1f}", flush=True)
        print(json.dumps(_holds(args.n, body, args.second_writer)))
        return

    from inproc_target import same_work_skill

    from skills_sdk import SkillHost, load_request
    from skills_sdk.envelope import parse_body
    from skills_sdk.server import create_app
    from skills_sdk.server.ops import configure_logging
    from skills_sdk.transcripts import open_ledger
    from skills_sdk.transcripts.compose import ledger_middleware

    body = open(args.envelope, "rb").read()
    data = parse_body(body)
    tmp = tempfile.mkdtemp(prefix="skills-breakdown-")
    bare = SkillHost([same_work_skill()])
    ledger = open_ledger(os.path.join(tmp, "inproc.db")).start()  # as a server runs it: checkpoints off the request
    captured = SkillHost([same_work_skill()], state=ledger, middleware=ledger_middleware(ledger))
    result = captured.handle("pizza", data)

    configure_logging("INFO", stream=open(os.devnull, "w"))

    def wsgi(fast: bool) -> Callable[[], object]:
        return _wsgi_loop(lambda db: create_app([same_work_skill()], db=db,
                                                test_config={"SKILLS_ALEXA_FAST_PATH": fast}).wsgi_app,
                          os.path.join(tmp, f"wsgi-{fast}.db"), body)

    n, r = args.n, args.repeats
    t = {
        "json": cpu_us(lambda: parse_body(body), n, r),
        "load": cpu_us(lambda: load_request(data), n, r),
        "turn": cpu_us(lambda: bare.handle("pizza", data), n, r),
        "captured": cpu_us(lambda: captured.handle("pizza", data), n, r),
        "reply": cpu_us(result.json, n, r),
        "inproc": cpu_us(lambda: captured.handle_json("pizza", body), n, r),
        "wsgi_fast": cpu_us(fast := wsgi(True), n, r),
        "reads": reads_per_call(fast, n),
        "wsgi_flask": cpu_us(wsgi(False), n, r),
    }
    if args.second_writer:
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")  # a fresh process: no SQLite connection crosses a fork
        ready, stop = spawn.Event(), spawn.Event()
        other = spawn.Process(target=_second_writer, args=(os.path.join(tmp, "wsgi-True.db"), body, ready, stop))
        other.start()
        try:
            if not ready.wait(60):
                raise SystemExit("the second writer did not start")
            t["wsgi_fast_2w"] = cpu_us(fast, n, r)
            t["reads_2w"] = reads_per_call(fast, n)
        finally:
            stop.set()
            other.join()
    rows = [
        ("JSON body parsed (strict)", t["json"]),
        ("envelope loaded", t["load"]),
        ("skill: route, handler, response envelope", t["turn"] - t["load"]),
        ("capture: consent, redaction, row, commit", t["captured"] - t["turn"]),
        ("reply encoded to JSON", t["reply"]),
        ("in-process round trip (sum of the above)", t["inproc"]),
        ("HTTP layer in front of Flask + access log", t["wsgi_fast"] - t["inproc"]),
        ("HTTP layer behind Flask + access log", t["wsgi_flask"] - t["inproc"]),
        ("WSGI app, fast path (whole request)", t["wsgi_fast"]),
        ("WSGI app, behind Flask (whole request)", t["wsgi_flask"]),
    ]
    if "wsgi_fast_2w" in t:
        rows.append(("fast path, a 2nd process writing the ledger", t["wsgi_fast_2w"]))
        rows.append(("read syscalls per request: alone", t["reads"]))
        rows.append(("read syscalls per request: 2nd process writing", t["reads_2w"]))
    print(f"== CPU us per request, median of {r} runs of {n}; {os.cpu_count()} CPUs, "
          f"loadavg {os.getloadavg()[0]:.1f}")
    for label, us in rows:
        print(f"{label:<46} {us:8.1f}")
    print(json.dumps({k: round(v, 1) for k, v in t.items()}))
    logging.shutdown()


if __name__ == "__main__":
    main()
