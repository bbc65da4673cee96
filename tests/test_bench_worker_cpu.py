"""The worker-CPU benchmark's loop: each app answers the harness's envelope; the capture-off app writes no row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT / "bench"))

import worker_cpu  # noqa: E402


@pytest.mark.parametrize("kind, rows", [("bare", None), ("nocapture", 0), ("capture", 55)])
def test_each_app_answers_in_the_loop_and_only_capture_records(kind, rows, tmp_path):
    if kind == "bare" and not (PEER / "app_bare.py").exists():
        pytest.skip("bare Flask is the peer harness's app: needs ../shared/bench beside the checkout")
    env = worker_cpu.env_for(str(ROOT), str(tmp_path), kind)
    if not (PEER / "intent_envelope.json").exists():  # a checkout alone: the project's own pizza order
        env["ENVELOPE"] = str(ROOT / "tests" / "fixtures" / "order_pizza_envelope.json")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "worker_cpu.py"), "--loop-child", kind, "50", str(ROOT)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # 50 requests of a light app can take less CPU than one clock tick the kernel counts in: >= 0, not > 0
    assert figures["user_us"] >= 0 and figures["sys_us"] >= 0
    db = Path(env["SKILLS_BENCH_DB"])
    if rows is None:
        assert not db.exists()  # bare Flask has no ledger
        return
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == rows  # 5 warm-up + 50 measured
    finally:
        conn.close()


def test_an_unknown_app_is_refused_naming_the_choices():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "worker_cpu.py"), "--apps", "bare,nocap"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--apps: unknown nocap; choose from bare, nocapture, capture" in done.stderr
