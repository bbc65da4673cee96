"""Under gunicorn, the ledger's background work runs in one maintenance process, which comes back when killed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request

from _server import SKILLS, alive, free_port
from conftest import make_envelope

from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.sqlite.fts import FTS_UPTO

STARTED = re.compile(r"Started the ledger's maintenance process \(pid: (\d+)\)")


def test_a_ledger_told_its_background_work_runs_elsewhere_starts_no_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLS_BACKGROUND", "elsewhere")  # what gunicorn_hooks sets in the master for its workers
    ledger = open_ledger(str(tmp_path / "worker.db")).start()
    try:
        assert ledger.background_running  # so the process's shared checkpointer leaves it alone too
        assert ledger.scrub_soon() is False  # no thread of its own here: an erasure scrubs by itself
    finally:
        ledger.stop()
    monkeypatch.delenv("SKILLS_BACKGROUND")
    ledger = open_ledger(str(tmp_path / "single.db")).start()
    try:
        assert ledger.scrub_soon() is True  # a single-process server keeps its thread
    finally:
        ledger.stop()


def _post_turns(port: int, n: int, start: int) -> None:
    for i in range(start, start + n):
        env = make_envelope(intent="AMAZON.HelpIntent", user_id=f"amzn1.ask.account.M{i % 4}", session_id=f"s{i}")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/alexa/pizza", data=json.dumps(env).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200


def _wait_for(what: str, check, log_path, deadline_s: float = 60.0):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {deadline_s} s; server log:\n{log_path.read_text()[-4000:]}")


def _indexed(db: str) -> bool:
    with sqlite3.connect(db) as conn:
        newest, upto = conn.execute("SELECT coalesce(max(id), 0), " + FTS_UPTO + " FROM transcripts").fetchone()
    return newest > 0 and upto == newest


def test_gunicorn_workers_leave_indexing_to_one_maintenance_process_that_comes_back_when_killed(tmp_path):
    db, port, log_path = str(tmp_path / "t.db"), free_port(), tmp_path / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([SKILLS, "serve", "--db", db, "--port", str(port), "--workers", "2"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    started = lambda: [int(p) for p in STARTED.findall(log_path.read_text())]  # noqa: E731
    try:
        first = _wait_for("the maintenance process's start", started, log_path)[0]
        _wait_for("the server's readiness", lambda: _ready(port), log_path)
        _post_turns(port, 20, 0)
        _wait_for("the rows' indexing", lambda: _indexed(db), log_path)

        # Held still, it indexes nothing, and neither do the workers (their threads ticked every 0.1 s).
        os.kill(first, signal.SIGSTOP)
        try:
            _post_turns(port, 10, 20)
            time.sleep(1.5)
            assert not _indexed(db)
        finally:
            os.kill(first, signal.SIGCONT)
        _wait_for("the rows' indexing once it goes on", lambda: _indexed(db), log_path)

        os.kill(first, signal.SIGKILL)
        second = _wait_for("a new maintenance process", lambda: started()[1:], log_path)[0]
        assert second != first and alive(second)
        _post_turns(port, 20, 30)
        _wait_for("the new rows' indexing", lambda: _indexed(db), log_path)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not alive(second)  # it stops with the server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 50


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False
