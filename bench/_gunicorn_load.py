"""Serve a WSGI app under gunicorn as the peer harness runs ours, and load it with the harness's wrk.

gunicorn sync x2 on 127.0.0.1 (the caller's config module: the project's hooks), wrk -t2 -c16 with
the harness's ``post.lua`` and envelope, an optional 3 s warm-up, then the measured run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER_BENCH") or os.path.join(HERE, "..", "..", "shared", "bench")


def bench_env(**extra: str) -> dict[str, str]:
    """This process's environment with bench/ and the checkout first on PYTHONPATH and the harness's envelope."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]),
                ENVELOPE=os.path.join(PEER, "intent_envelope.json"), **extra)


def wait_until_answering(url: str) -> None:
    """Post the harness's envelope to ``url`` until it answers (30 s at most): the server has started."""
    for _ in range(150):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", "--data-binary", "@intent_envelope.json",
                           url], cwd=PEER).returncode == 0:
            return
        time.sleep(0.2)


def load_under_gunicorn(app: str, config: str, env: dict[str, str], port: int, duration: int, log_path: str,
                        warm_up: bool = True) -> tuple[float, int, dict[str, Any]]:
    """``(load average, perf_counter_ns at the measured run's start, wrk's summary)``; the server is stopped after."""
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "--log-level", "warning", "-c", config, app],
                              cwd=PEER, env=env, stderr=open(log_path, "w"))
    try:
        wait_until_answering(url)
        wrk = ["wrk", "-t2", "-c16", "-s", "post.lua", url]
        if warm_up:
            subprocess.run([*wrk, "-d3s"], cwd=PEER, capture_output=True)
        load, since_ns = os.getloadavg()[0], time.perf_counter_ns()
        out = subprocess.run([*wrk, f"-d{duration}s"], cwd=PEER, capture_output=True, text=True).stdout
    finally:
        server.terminate()
        server.wait(timeout=60)
    return load, since_ns, json.loads(out.split("WRKJSON ", 1)[1].splitlines()[0])
