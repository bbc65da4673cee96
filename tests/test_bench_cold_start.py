"""The cold-start benchmark runs end to end and reports each contender's figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cold_start_reports_this_checkout_and_a_bare_interpreter(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "cold_start.py"), "--rounds", "1", "--no-peer",
                           "--python", sys.executable, "--root", str(ROOT)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["contender"] for r in rows][-1] == "python -c pass" and len(rows) == 2
    ours = rows[0]
    # The turn was answered (the child asserts the reply) and every figure was measured.
    assert ours["in_process_ms"] > 0 and ours["wall_ms"] >= ours["in_process_ms"] and ours["cpu_ms"] > 0
