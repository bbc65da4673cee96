"""Memory under hours of traffic: each server process's RSS as many distinct users' requests go by.

    python bench/soak.py --duration 600 --every 20 --users 50000

Serves ``wsgi_pizza:app`` (the same-work pizza skill, capture on, JSON access log) under gunicorn as
``bench/http_bench.sh`` does (sync x2, the project's hooks, a fresh ledger), then runs wrk in slices of
``--every`` seconds for ``--duration`` seconds. Unlike the harness's single envelope, each request is
a new session and request id, and its user one of ``--users`` (so per-user caches, the ledger's
indexes and its user rows grow as they would in production). After each slice it reads every
process of the server (the master, the workers, the ledger's maintenance process) from
``/proc/PID/status``: ``RssAnon`` (the process's own memory: the Python heap, SQLite's page cache,
C allocations) and ``RssFile`` (mapped files: the ledger's pages read through its mapping, which
belong to the page cache). Printed: one row per slice, then each process's ``RssAnon`` growth per
100,000 requests from the end of the first slice (warm-up) to the end, and one JSON line.
A process that keeps growing at a steady slope has a leak; one that levels off has filled a cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _gunicorn_load import PEER, bench_env, wait_until_answering  # noqa: E402

#: wrk's script: the harness's envelope with a new session and request id per request, its user one of
#: ``users`` (arguments after ``--``: the first request's number and the number of users).
_LUA = r"""
local f = assert(io.open(os.getenv("ENVELOPE"), "rb"))
local template = f:read("*a")
f:close()
local threads = {}
local counter, offset, users = 0, 0, 1

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  offset, users = tonumber(args[1]), tonumber(args[2])
end

function request()
  counter = counter + 1
  local n = offset + counter * #threads + tid
  local body = template
    :gsub('"userId":"[^"]*"', string.format('"userId":"amzn1.ask.account.SOAK%08d"', n % users))
    :gsub('"sessionId":"[^"]*"', '"sessionId":"amzn1.echo-api.session.soak-' .. n .. '"')
    :gsub('"requestId":"[^"]*"', '"requestId":"amzn1.echo-api.request.soak-' .. n .. '"')
  return wrk.format("POST", nil, {["Content-Type"] = "application/json; charset=utf-8"}, body)
end

function done(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"errors":%d,"p99_us":%d}\n', summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
    + summary.errors.timeout, latency:percentile(99)))
end
"""


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the master, its workers, the maintenance process)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:  # gone meanwhile
            continue
    return out


def _memory(pid: int) -> dict[str, float] | None:
    """``RssAnon``, ``RssFile`` and ``VmHWM`` of ``pid`` in MB; None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    return {k: int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile", "VmHWM") if k in status}


def _roles(master: int, log_path: str) -> dict[int, str]:
    """Each process's part, from gunicorn's log (info): the master, its workers, the ledger's maintenance process."""
    roles = {master: "master"}
    with open(log_path, errors="replace") as f:
        for line in f:
            if "maintenance process (pid: " in line:
                roles[int(line.rsplit("(pid: ", 1)[1].split(")")[0])] = "maintenance"
            elif "Booting worker with pid: " in line:
                roles[int(line.rsplit(": ", 1)[1])] = "worker"
    return roles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=600, help="seconds of load in all")
    ap.add_argument("--every", type=int, default=20, help="seconds of load between two readings")
    ap.add_argument("--users", type=int, default=50_000, help="distinct users the requests come from")
    ap.add_argument("--app", default="wsgi_pizza:app")
    ap.add_argument("--port", type=int, default=8931)
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="soak-")
    lua = os.path.join(work, "soak.lua")
    with open(lua, "w") as f:
        f.write(_LUA)
    env = bench_env(SKILLS_BENCH_DB=os.path.join(work, "soak.db"))
    url = f"http://127.0.0.1:{args.port}/"
    log_path = os.path.join(work, "server.log")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "2", "-b", f"127.0.0.1:{args.port}",
                               "--log-level", "info", "-c", "python:skills_sdk.server.gunicorn_hooks", args.app],
                              cwd=PEER, env=env, stderr=open(log_path, "w"),
                              stdout=subprocess.DEVNULL)
    readings: list[dict[str, object]] = []
    sent = 0
    try:
        wait_until_answering(url)
        print("| s | requests | req/s | p99 ms | errors | " + "RssAnon MB per process (RssFile) |")
        print("|---:|---:|---:|---:|---:|---|")
        start = time.monotonic()
        while time.monotonic() - start < args.duration:
            out = subprocess.run(["wrk", "-t2", "-c16", f"-d{args.every}s", "-s", lua, url, "--", str(sent),
                                  str(args.users)], cwd=PEER, env=env, capture_output=True, text=True).stdout
            got = json.loads(out.split("WRKJSON ", 1)[1].splitlines()[0])
            sent += got["requests"] * 2 + 16  # numbers are spread over the threads: never reused
            roles = _roles(server.pid, log_path)
            procs = {f"{roles.get(pid, 'other')} {pid}": m for pid in _descendants(server.pid)
                     if (m := _memory(pid)) is not None}
            reading = {"s": round(time.monotonic() - start), "requests": (readings[-1]["requests"] if readings else 0) +
                       got["requests"], "rps": round(got["requests"] / args.every), "p99_ms": got["p99_us"] / 1000,
                       "errors": got["errors"], "procs": {str(p): m for p, m in procs.items()}}
            readings.append(reading)
            cells = ", ".join(f"{p}: {m['RssAnon']:.1f} ({m['RssFile']:.1f})" for p, m in procs.items())
            print(f"| {reading['s']} | {reading['requests']:,} | {reading['rps']:,} | {reading['p99_ms']:.1f} | "
                  f"{reading['errors']} | {cells} |", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    if len(readings) < 2:
        raise SystemExit("too short: give --duration at least twice --every")
    first, last = readings[0], readings[-1]
    served = int(last["requests"]) - int(first["requests"])  # type: ignore[call-overload]
    slopes = {}
    for pid, m in last["procs"].items():  # type: ignore[union-attr]
        was = first["procs"].get(pid)  # type: ignore[union-attr]
        if was is not None and served > 0:
            slopes[pid] = {"rss_anon_mb": [round(was["RssAnon"], 1), round(m["RssAnon"], 1)],
                           "mb_per_100k_requests": round((m["RssAnon"] - was["RssAnon"]) * 100_000 / served, 2)}
    print(f"\nRssAnon from the first reading to the last ({served:,} requests):")
    for pid, s in slopes.items():
        print(f"  {pid}: {s['rss_anon_mb'][0]} -> {s['rss_anon_mb'][1]} MB, "
              f"{s['mb_per_100k_requests']:+} MB per 100,000 requests")
    print(json.dumps({"users": args.users, "duration_s": args.duration, "requests": last["requests"],
                      "slopes": slopes, "ledger_mb": round(os.path.getsize(os.path.join(work, "soak.db")) / 2**20, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
