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
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=3000, help="calls per run (default 3000)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per stage; the median is shown (default 5)")
    ap.add_argument("--envelope", default=os.environ.get("ENVELOPE", ENVELOPE))
    ap.add_argument("--second-writer", action="store_true",
                    help="also time the fast path while another process writes the same ledger")
    args = ap.parse_args()

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
    print(f"== CPU us per request, median of {r} runs of {n}; {os.cpu_count()} CPUs, "
          f"loadavg {os.getloadavg()[0]:.1f}")
    for label, us in rows:
        print(f"{label:<46} {us:8.1f}")
    print(json.dumps({k: round(v, 1) for k, v in t.items()}))
    logging.shutdown()


if __name__ == "__main__":
    main()
