"""gunicorn's threaded workers under concurrent load: every answer has its transcript, once, and the chain verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from _server import free_port
from conftest import make_envelope

from skills_sdk.host import DEFAULT_SKILLS
from skills_sdk.transcripts.sqlite.driver import sqlite3
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger


def test_gthread_workers_under_concurrent_load_record_every_answer_once(tmp_path):
    db, port = str(tmp_path / "t.db"), free_port()
    log = open(tmp_path / "server.log", "w")
    env = dict(os.environ, SKILLS_DB=db, SKILLS_VERIFY="0", SKILLS_SKILLS=DEFAULT_SKILLS,
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    # Two workers of four threads: captures overlap inside each process (group commit) and across them.
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4",
                             "-b", f"127.0.0.1:{port}", "-c", "python:skills_sdk.server.gunicorn_hooks",
                             "skills_sdk.wsgi:app"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    base = f"http://127.0.0.1:{port}"

    def one(i: int) -> tuple[int, str]:
        env = make_envelope(intent="AMAZON.HelpIntent", user_id=f"amzn1.ask.account.U{i % 16}",
                            session_id=f"s{i % 32}")
        req = urllib.request.Request(base + "/alexa/pizza", data=json.dumps(env).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, env["request"]["requestId"]
        except urllib.error.HTTPError as exc:
            return exc.code, env["request"]["requestId"]

    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.1)
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(400)))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert [s for s, _ in results if s != 200] == []
    with sqlite3.connect(db) as conn:
        recorded = sorted(r[0] for r in conn.execute("SELECT request_id FROM transcripts"))
    assert recorded == sorted(rid for _, rid in results)
    text = (tmp_path / "server.log").read_text()
    assert "database is locked" not in text and "spooled" not in text
    store = SQLiteLedger(db)
    assert store.verify_chain().ok
    store.close()
