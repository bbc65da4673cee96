"""Where a request's CPU goes under gunicorn: each app in a loop in one process, against the same app served.

Three apps, the peer harness's envelope for each: bare Flask (the harness's ``app_bare``, fixed bytes
of our reply's length), ours with capture off (``wsgi_pizza:app_nocapture``) and ours as
``http_bench.sh`` serves it (``wsgi_pizza:app``, capture on, the JSON access log). For each app:

``loop``      ``--loop`` requests in a fresh process after a warm-up, through the app's WSGI callable in
              the environ a gunicorn sync worker makes (``request_instructions.GUNICORN_ENVIRON``):
              user + system CPU a request (``getrusage``);
``-w N``      the app under ``gunicorn -k sync -w N`` (ours with the project's hooks, so with its
              maintenance process), wrk -t2 -c16 with the harness's ``post.lua`` for ``--duration`` s
              after a 2 s warm-up: the CPU of every process of the server (master, workers, the
              maintenance process) from ``/proc/PID/stat`` around the run, per request served.

Then, from the one-worker column, ``f``: how much a request's loop cost grows under gunicorn,
(served B - served A) / (loop B - loop A) for each pair against bare; and the second writer: what
``-w 2`` costs a request more than ``-w 1``, app by app. A loop runs warm caches and no other
process; a worker shares the cores with gunicorn's own work, wrk and the other processes.

    python bench/worker_cpu.py                          # -w 1 and -w 2, 5 s runs, 5,000 loop requests
    python bench/worker_cpu.py --workers 2 --duration 8
    python bench/worker_cpu.py --root ../before --apps bare,capture   # another checkout (before app_nocapture)

Needs wrk and the peer harness beside the checkout (``../shared/bench``), as ``http_bench.sh`` does.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
from typing import Any

from _gunicorn_load import PEER, wait_until_answering
from _proc import cpu_seconds

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = {"bare": "app_bare:app", "nocapture": "wsgi_pizza:app_nocapture", "capture": "wsgi_pizza:app"}
HOOKS = "python:skills_sdk.server.gunicorn_hooks"


def loop_child(kind: str, n: int, root: str) -> None:
    """In a fresh process: ``n`` requests through ``kind``'s WSGI callable; prints user and system µs a request."""
    sys.path[:0] = [os.path.join(root, "bench"), root, PEER]
    import request_instructions as ri

    body = open(os.environ.get("ENVELOPE") or os.path.join(PEER, "intent_envelope.json"), "rb").read()
    environ = {**ri.GUNICORN_ENVIRON, "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_LENGTH": str(len(body))}
    if kind == "bare":
        import app_bare

        app = app_bare.app.wsgi_app
        environ.update(PATH_INFO="/", RAW_URI="/")
    else:
        import wsgi_pizza

        from skills_sdk.server.ops import configure_logging

        app = getattr(wsgi_pizza, APPS[kind].split(":")[1]).wsgi_app
        configure_logging("INFO", stream=open(os.devnull, "w"))  # the access line written, as a worker's

    def one() -> None:
        out = app({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, headers, exc=None: None)
        b"".join(out)
        if hasattr(out, "close"):
            out.close()

    for _ in range(min(n // 10, 500)):
        one()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(n):
        one()
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"user_us": (after.ru_utime - before.ru_utime) / n * 1e6,
                      "sys_us": (after.ru_stime - before.ru_stime) / n * 1e6}))


def env_for(root: str, tmp: str, kind: str) -> dict[str, str]:
    """The environment each app runs in: the checkout's bench/ first, a fresh ledger, the bare app's reply file."""
    reply = os.path.join(tmp, "reply.json")
    if not os.path.exists(reply):
        with open(reply, "wb") as f:
            f.write(b"x" * 374)  # our reply's length (bench/request_instructions.py does the same)
    return dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(root, "bench"), root, PEER]),
                ENVELOPE=os.path.join(PEER, "intent_envelope.json"), BARE_RESPONSE_FILE=reply,
                SKILLS_BENCH_DB=os.path.join(tmp, f"{kind}.db"), SKILLS_BACKGROUND="elsewhere")


def in_loop(kind: str, n: int, root: str, tmp: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--loop-child", kind, str(n), root],
                         env=env_for(root, tmp, kind), capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_of(pids: list[int]) -> dict[int, float]:
    """The CPU seconds of each process still there."""
    return {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}


def family(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    out = [pid]
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        out += family(int(child))
    return out


def served(kind: str, workers: int, duration: int, port: int, root: str, tmp: str) -> dict[str, Any]:
    """The app under gunicorn sync x``workers`` and wrk: the server's CPU a request, and wrk's figures."""
    env = env_for(root, tmp, kind)
    env.pop("SKILLS_BACKGROUND")  # the hooks set it in the workers and start the maintenance process
    args = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(workers), "-b", f"127.0.0.1:{port}",
            "--log-level", "warning"] + ([] if kind == "bare" else ["-c", HOOKS]) + [APPS[kind]]
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(args, cwd=PEER, env=env, stderr=open(os.path.join(tmp, f"gunicorn-{kind}.log"), "w"))
    try:
        wait_until_answering(url)
        wrk = ["wrk", "-t2", "-c16", "-s", "post.lua", url]
        subprocess.run([*wrk, "-d2s"], cwd=PEER, env=env, capture_output=True)
        pids = family(server.pid)
        before = cpu_of(pids)
        out = subprocess.run([*wrk, f"-d{duration}s"], cwd=PEER, env=env, capture_output=True, text=True).stdout
        after = cpu_of(pids)
    finally:
        server.terminate()
        server.wait(timeout=60)
    summary = json.loads(out.split("WRKJSON ", 1)[1].splitlines()[0])
    requests = summary["requests"]
    used = sum(after[p] - before[p] for p in after if p in before)
    return {"cpu_us": used / requests * 1e6, "rps": summary["rps"], "p99_ms": summary["p99_us"] / 1000,
            "processes": len(pids)}


def main() -> None:
    if sys.argv[1:2] == ["--loop-child"]:
        loop_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--root", default=os.path.dirname(HERE), help="the checkout whose skills_sdk and bench apps run")
    ap.add_argument("--workers", type=int, action="append", help="gunicorn sync workers (default: 1 and 2)")
    ap.add_argument("--duration", type=int, default=5, help="seconds of each measured wrk run")
    ap.add_argument("--loop", type=int, default=5000, help="requests measured in each loop")
    ap.add_argument("--port", type=int, default=18290)
    ap.add_argument("--apps", default=",".join(APPS), help=f"comma-separated, of {', '.join(APPS)} (bare always runs)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    workers = args.workers or [1, 2]
    kinds = ["bare"] + [k for k in args.apps.split(",") if k != "bare"]
    unknown = [k for k in kinds if k not in APPS]
    if unknown:
        ap.error(f"--apps: unknown {', '.join(unknown)}; choose from {', '.join(APPS)}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="skills-worker-cpu-") as tmp:
        for i, kind in enumerate(kinds):
            loop = in_loop(kind, args.loop, root, tmp)
            results[kind] = {"loop_us": loop["user_us"] + loop["sys_us"], **{f"loop_{k}": v for k, v in loop.items()}}
            for w in workers:
                for old in os.listdir(tmp):  # a fresh ledger for each server
                    if old.startswith(f"{kind}.db"):
                        os.remove(os.path.join(tmp, old))
                results[kind][f"w{w}"] = served(kind, w, args.duration, args.port + 10 * i + w, root, tmp)
            print(f"-- {kind}: loop {results[kind]['loop_us']:.1f} us; "
                  + "; ".join(f"-w {w} {results[kind][f'w{w}']['cpu_us']:.1f} us, {results[kind][f'w{w}']['rps']:.0f} req/s"
                              for w in workers), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}; CPU µs a request")
    print(f"| app | in a loop | {' | '.join(f'gunicorn -w {w}' for w in workers)} |")
    print("|---|---:|" + "---:|" * len(workers))
    for kind, r in results.items():
        print(f"| {kind} | {r['loop_us']:.1f} | " + " | ".join(f"{r[f'w{w}']['cpu_us']:.1f}" for w in workers) + " |")
    first = f"w{workers[0]}"
    bare = results["bare"]
    for kind in kinds[1:]:
        d_loop = results[kind]["loop_us"] - bare["loop_us"]
        d_served = results[kind][first]["cpu_us"] - bare[first]["cpu_us"]
        factor = d_served / d_loop if d_loop > 0 else float("nan")
        results[kind]["f"] = factor
        print(f"f ({kind} against bare, -w {workers[0]}): {d_served:.1f} / {d_loop:.1f} = {factor:.2f}")
    if len(workers) > 1:
        a, b = f"w{workers[0]}", f"w{workers[-1]}"
        for kind, r in results.items():
            print(f"-w {workers[-1]} against -w {workers[0]}, {kind}: {r[b]['cpu_us'] - r[a]['cpu_us']:+.1f} us a request")
    print(json.dumps({"root": root, "workers": workers, "duration": args.duration, "results": results}))


if __name__ == "__main__":
    main()
