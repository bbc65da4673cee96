"""The serving breakdown's ``--holds`` runs end to end and accounts for every capture's hold of the write lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENVELOPE = ROOT.parent / "shared" / "bench" / "intent_envelope.json"


@pytest.mark.skipif(not ENVELOPE.exists(), reason="the peer harness's envelope is not beside this checkout")
def test_holds_counts_one_hold_per_capture_and_sums_the_background_ones(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "serving_breakdown.py"), "--holds", "-n", "120",
                           "--envelope", str(ENVELOPE)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["requests"] == 120 and summary["capture"]["holds"] == 120
    assert summary["capture"]["p50_ms"] <= summary["capture"]["p99_ms"] <= summary["capture"]["max_ms"]
    for cause in summary["waits_over_0.5ms"].values():
        assert cause["captures"] >= 1 and cause["max_ms"] <= cause["total_ms"]
