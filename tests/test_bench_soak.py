"""The soak benchmark's readings: each process of a server found, named and measured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402


def test_a_servers_processes_are_found_below_its_master():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert {os.getpid(), child.pid} <= set(soak._descendants(os.getpid()))
        memory = soak._memory(child.pid)
        assert memory is not None and memory["RssAnon"] > 0 and memory["VmHWM"] >= memory["RssAnon"]
    finally:
        child.kill()
        child.wait()
    assert soak._memory(child.pid) is None  # reaped: gone from /proc


def test_each_process_is_named_by_its_part_from_gunicorns_log(tmp_path):
    log = tmp_path / "server.log"
    log.write_text(
        "[2026-12-04 20:01:00 +0000] [100] [INFO] Starting gunicorn 23.0.0\n"
        "[2026-12-04 20:01:00 +0000] [100] [INFO] Started the ledger's maintenance process (pid: 104)\n"
        "[2026-12-04 20:01:00 +0000] [105] [INFO] Booting worker with pid: 105\n"
        "[2026-12-04 20:01:00 +0000] [107] [INFO] Booting worker with pid: 107\n")
    assert soak._roles(100, str(log)) == {100: "master", 104: "maintenance", 105: "worker", 107: "worker"}
