"""Crash safety: a server killed with SIGKILL mid-stream has recorded every reply it sent, once."""

from __future__ import annotations

import collections
import http.client
import json
import sqlite3
import subprocess
import threading
import time
import urllib.request

from _server import SKILLS, free_port
from conftest import make_envelope


def start(db: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SKILLS, "serve", "--db", db, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60  # a loaded machine starts a server slowly; this is no speed test
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"skills serve exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError("skills serve did not start")


def post(port: int, env: dict, skill: str = "pizza") -> bool:
    """True when the server at ``port`` answered ``env`` for ``skill`` with speech (not cut by a kill)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/alexa/{skill}", data=json.dumps(env).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status == 200 and b"outputSpeech" in r.read()
    except (OSError, http.client.HTTPException):
        # A request cut by the SIGKILL ends in a refused or reset connection (OSError) or in a reply
        # cut short (IncompleteRead, BadStatusLine: HTTPException); either way it was not answered.
        return False


def test_sigkill_mid_stream_loses_no_answered_transcript_and_duplicates_none(tmp_path):
    db, port = str(tmp_path / "t.db"), free_port()
    answered: list[str] = []
    sent: list[str] = []
    restarted = threading.Event()
    died: list[BaseException] = []
    procs = [start(db, port)]

    def client() -> None:
        try:
            talk()
        except BaseException as exc:  # shown by the assertion below, not lost with the thread
            died.append(exc)

    def talk() -> None:
        for i in range(200):
            env = make_envelope(intent="AMAZON.HelpIntent", session_id=f"s{i // 10}")
            sent.append(env["request"]["requestId"])
            if post(port, env):
                answered.append(env["request"]["requestId"])
            if i == 80:
                restarted.wait(30)

    try:
        t = threading.Thread(target=client)
        t.start()
        while len(answered) < 60 and t.is_alive():
            time.sleep(0.01)
        procs[0].kill()  # SIGKILL, with requests in flight
        procs[0].wait(10)
        procs.append(start(db, port))
        restarted.set()
        t.join(120)
        assert not t.is_alive()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    with sqlite3.connect(db) as conn:
        recorded = [r[0] for r in conn.execute("SELECT request_id FROM transcripts")]
    counts = collections.Counter(recorded)
    assert died == [], "the client thread died"
    assert len(answered) > 120, "the restarted server kept answering"
    assert set(answered) <= set(recorded), "an answered request has no transcript"
    assert [rid for rid, n in counts.items() if n > 1] == []
    assert set(recorded) <= set(sent)
