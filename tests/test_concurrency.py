"""Many worker processes writing one store: every answer has its transcript, and no user sees an error."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from _server import SKILLS, free_port
from conftest import make_envelope


def answer_under_load(tmp_path, argv: list[str], port: int, *, env: dict | None = None, clients: int = 8) -> str:
    """Start the server ``argv`` (on ``port``, writing ``tmp_path/t.db``), send 400 turns from ``clients`` threads,
    stop it with SIGTERM; check every turn was answered 200 and recorded once, and return the server's log."""
    db = str(tmp_path / "t.db")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            env=None if env is None else dict(os.environ, **env))
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
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.1)
        with ThreadPoolExecutor(clients) as pool:
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
    return text


def test_four_gunicorn_workers_under_concurrent_load_record_every_answer(tmp_path):
    port = free_port()
    text = answer_under_load(tmp_path, [SKILLS, "serve", "--db", str(tmp_path / "t.db"), "--port", str(port),
                                        "--workers", "4"], port)
    access = [json.loads(line) for line in text.splitlines() if '"skills_sdk.access"' in line]
    assert len(access) >= 400 and len({line["pid"] for line in access}) >= 2  # several workers answered
