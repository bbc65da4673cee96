"""The per-request tail tool runs end to end and records every call, with the collector's runs inside them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import make_envelope

ROOT = Path(__file__).resolve().parents[1]


def test_request_tail_records_every_call_and_the_collections_inside_them(tmp_path):
    envelope = tmp_path / "intent_envelope.json"
    envelope.write_text(json.dumps(make_envelope(intent="OrderPizzaIntent", dialogState="COMPLETED",
                                                 slots={"size": "large", "topping": "pepperoni"})))
    records = tmp_path / "calls.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "bench"), str(ROOT)]), TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "request_tail.py"), "-n", "400", "--repeats", "2",
                           "--envelope", str(envelope), "--json", str(records)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(records.read_text())
    assert len(rows) == 800 and {r[0] for r in rows} == {0, 1}
    # 800 captured turns allocate enough for the collector's youngest generation to run inside some of them.
    collected = [r for r in rows if r[5] >= 0]
    assert collected and all(r[4] > 0 for r in collected)
    assert "slowest 1% (8 calls" in proc.stdout
