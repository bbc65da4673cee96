"""Cold start side by side: fresh processes that import and build ``inproc_target`` and answer one turn.

Each round starts one process per contender, interleaved, so a busy machine slows them alike:
ask-sdk-core as the peer harness builds it (``../shared/bench``, run with its venv's Python),
each checkout named by ``--root`` (default this one) on the same-work target, and a bare
``python -c pass`` (the interpreter's own start). Per contender it reports the medians of the
in-process time (the harness's ``import_build_ms + first_request_ms``), the process's wall time
and its CPU time (user + system, which a loaded machine disturbs least).

    python bench/cold_start.py                                  # this checkout against ask-sdk-core
    python bench/cold_start.py --root . --root ../before --rounds 15

Compile each checkout first (``python -m compileall -q skills_sdk``), as an install does; with
``PYTHONDONTWRITEBYTECODE`` set, an uncompiled checkout recompiles itself in every process.
One JSON line per contender, then a table with the ratios to the first ``--root``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER_BENCH", os.path.join(HERE, "..", "..", "shared", "bench"))
PEER_PY = os.path.join(os.environ.get("ANCHORS_VENV", "/tmp/anchors-venv"), "bin", "python")

# The harness's own cold-start snippet (bench_inproc.COLD_START_SNIPPET), so the figures compare.
SNIPPET = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {here!r})
{import_code}
t1 = time.perf_counter()
out = round_trip(open({envelope!r}).read())
t2 = time.perf_counter()
assert "large" in out and "pepperoni" in out, out
print(json.dumps({{"import_build_ms": (t1 - t0) * 1e3, "first_request_ms": (t2 - t1) * 1e3}}))
"""
OURS = "from inproc_target import handle_json_same_work as round_trip"
ASKSDK = "import bench_inproc as b\nskill, round_trip = b.asksdk_round_trip_factory(False)"


def one(python: str, code: str | None, pythonpath: str | None, cwd: str) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # Run from an empty folder: ``python -c`` puts the current folder first on the path, and run
    # from a checkout it would import that checkout's skills_sdk for every --root.
    proc = subprocess.run([python, "-c", code or "pass"], capture_output=True, text=True, env=env, check=False,
                          cwd=cwd)
    wall = (time.perf_counter() - t0) * 1e3
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"a cold-start process failed:\n{proc.stderr[-2000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1]) if code else {}
    return {"in_process_ms": row.get("import_build_ms", 0.0) + row.get("first_request_ms", 0.0), "wall_ms": wall,
            "cpu_ms": (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default: this one)")
    ap.add_argument("--rounds", type=int, default=11, help="processes per contender, interleaved")
    ap.add_argument("--python", default=PEER_PY if os.path.exists(PEER_PY) else sys.executable,
                    help="the Python that runs every contender (default: the peer harness's venv)")
    ap.add_argument("--no-peer", action="store_true", help="leave ask-sdk-core out")
    args = ap.parse_args()
    if os.sep in args.python:  # a path, to be found from the empty folder the processes run in
        args.python = os.path.abspath(args.python)

    envelope = os.path.join(PEER, "intent_envelope.json")
    if not os.path.exists(envelope):
        envelope = os.path.join(HERE, "..", "tests", "fixtures", "order_pizza_envelope.json")  # the same bytes
    contenders: dict[str, tuple[str | None, str | None]] = {}
    if not args.no_peer and os.path.isdir(PEER):
        contenders["ask-sdk-core"] = (SNIPPET.format(here=PEER, import_code=ASKSDK, envelope=envelope), None)
    roots = [os.path.abspath(r) for r in (args.root or [os.path.join(HERE, "..")])]
    for root in roots:
        code = SNIPPET.format(here=os.path.join(root, "bench"), import_code=OURS, envelope=envelope)
        contenders[os.path.relpath(root)] = (code, f"{root}/bench:{root}")
    contenders["python -c pass"] = (None, None)

    runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(prefix="cold-start-") as empty:
        for _ in range(args.rounds):
            for name, (code, path) in contenders.items():
                runs[name].append(one(args.python, code, path, empty))
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
    summary = {name: {k: round(statistics.median(r[k] for r in rs), 1) for k in rs[0]} for name, rs in runs.items()}
    for name, figures in summary.items():
        print(json.dumps({"contender": name, "rounds": args.rounds, "loadavg": load, **figures}))
    base = summary[os.path.relpath(roots[0])]
    print(f"\n{os.cpu_count()} CPUs, loadavg {load}, {args.rounds} interleaved rounds; medians, ms "
          f"(ratio: this figure / {os.path.relpath(roots[0])}'s)")
    print(f"{'contender':<24} {'in process':>18} {'process wall':>18} {'process CPU':>18}")
    for name, f in summary.items():
        cells = [f"{f[k]:8.1f} ({f[k] / base[k] if base[k] else float('nan'):5.2f}x)"
                 for k in ("in_process_ms", "wall_ms", "cpu_ms")]
        print(f"{name:<24} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}")


if __name__ == "__main__":
    main()
