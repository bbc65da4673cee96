"""The backends benchmark measures only the steps asked for (a ledger filled once keeps what erase and purge would change)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = str(ROOT / "bench" / "ledger_backends.py")


def test_only_the_steps_asked_for_are_measured(tmp_path):
    db = str(tmp_path / "ledger.db")
    subprocess.run([sys.executable, BENCH, "--rows", "2000", "--db", db, "--fill-only"], check=True,
                   capture_output=True, timeout=120, cwd=tmp_path)
    out = subprocess.run([sys.executable, BENCH, "--rows", "2000", "--queries", "20", "--db", db, "--filled",
                          "--only", "reads,export"], check=True, capture_output=True, text=True, timeout=120,
                         cwd=tmp_path).stdout
    fig = json.loads(out.strip().splitlines()[-1])["figures"][0]
    assert fig["export_rows"] == 2000 and fig["user_history_cpu_p99_ms"] >= 0 and "dev_page_p99_ms" in fig
    assert not {"capture_p50_us", "search_p99_ms", "erase_ms", "purge_ms"} & fig.keys()


def test_an_unknown_step_is_refused_naming_the_steps(tmp_path):
    proc = subprocess.run([sys.executable, BENCH, "--db", str(tmp_path / "l.db"), "--only", "reads,erasure"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0
    assert "no step 'erasure'" in proc.stderr and "capture, reads, search, erase, purge, export" in proc.stderr


def test_erase_first_erases_the_heavy_users_it_names(tmp_path):
    import sqlite3

    db = str(tmp_path / "ledger.db")
    subprocess.run([sys.executable, BENCH, "--rows", "8000", "--db", db, "--fill-only"], check=True,
                   capture_output=True, timeout=120, cwd=tmp_path)
    out = subprocess.run([sys.executable, BENCH, "--rows", "8000", "--db", db, "--filled", "--only", "erase",
                          "--erase-first", "4", "--scrub-wait", "0"], check=True, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path).stdout
    assert json.loads(out.strip().splitlines()[-1])["figures"][0]["erase_rows"] == 200
    with sqlite3.connect(db) as conn:
        left = dict(conn.execute("SELECT user_id, count(*) FROM transcripts WHERE user_id LIKE '%HEAVY%' GROUP BY 1"))
    assert sorted(k[-4:] for k in left) == ["0000", "0001", "0002", "0003", "0007", "0008", "0009"]
