"""The capture breakdown runs end to end and names every statement a capture runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skills_sdk.request_builders import intent_request

ROOT = Path(__file__).resolve().parents[1]


def test_capture_breakdown_times_each_statement_of_a_capture(tmp_path):
    # The same turn as the peer harness's envelope (a large pepperoni pizza), built by the SDK, so
    # the bench is checked on a clean checkout that has no peer harness beside it.
    envelope = tmp_path / "intent_envelope.json"
    envelope.write_text(json.dumps(intent_request("OrderPizzaIntent", {"size": "large", "topping": "pepperoni"})))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "capture_breakdown.py"), "--runs", "1", "-n", "50",
                           "--envelope", str(envelope)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    us = {part: values[0] for part, values in json.loads(proc.stdout.strip().splitlines()[-1])["us"].items()}
    for statement in ("consent read", "BEGIN", "INSERT row", "COMMIT"):
        assert us[f"sql: {statement}"] > 0, statement
    assert "sql: chain INSERT" not in us  # the row carries its seal: no chain entry per capture
    assert "sql: other" not in us  # every statement of a capture has a name
    assert 0 < us["sql: COMMIT"] < us["capture (whole)"]
