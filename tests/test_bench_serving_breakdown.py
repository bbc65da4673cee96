"""The serving breakdown's ``--holds`` runs end to end and accounts for every capture's hold of the write lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import make_envelope

ROOT = Path(__file__).resolve().parents[1]


def test_holds_counts_one_hold_per_capture_and_sums_the_background_ones(tmp_path):
    # The same turn as the peer harness's envelope (which a clean clone does not have beside it):
    # a completed pizza order, which the bench's same-work skill answers and captures.
    envelope = tmp_path / "intent_envelope.json"
    envelope.write_text(json.dumps(make_envelope(intent="OrderPizzaIntent", dialogState="COMPLETED",
                                                 slots={"size": "large", "topping": "pepperoni"})))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "serving_breakdown.py"), "--holds", "-n", "120",
                           "--envelope", str(envelope)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["requests"] == 120 and summary["capture"]["holds"] == 120
    assert summary["capture"]["p50_ms"] <= summary["capture"]["p99_ms"] <= summary["capture"]["max_ms"]
    for cause in summary["waits_over_0.5ms"].values():
        assert cause["captures"] >= 1 and cause["max_ms"] <= cause["total_ms"]
