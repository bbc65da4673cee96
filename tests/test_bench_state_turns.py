"""The state-turns benchmark runs end to end on SQLite and PostgreSQL, and its turns keep their state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skills_sdk.transcripts import open_ledger

ROOT = Path(__file__).resolve().parents[1]


def test_state_turns_reports_each_ledger_and_keeps_every_turns_change(tmp_path, postgres_ledger_url):
    db = str(tmp_path / "s.db")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "state_turns.py"), "--db", db, "--db",
                           postgres_ledger_url, "--turns", "40", "--conflicts"],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["turns"] == 40 and 0 < r["p50_us"] <= r["p99_us"] for r in rows)
    with open_ledger(db) as ledger:  # turn 40 (user 39) met another's state stored after it read: both stayed
        assert ledger.load_state("dev-player", "player", "amzn1.ask.account.U39") == {
            "offset": 1000, "elsewhere": 40, "track": "t-42"}
