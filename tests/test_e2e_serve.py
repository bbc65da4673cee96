"""End to end: ``skills serve`` in a subprocess on a loopback port, real envelopes, then ``export``."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import make_envelope

SKILLS = str(pathlib.Path(sys.executable).with_name("skills"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(tmp_path):
    port = free_port()
    db = tmp_path / "served.db"
    proc = subprocess.Popen([SKILLS, "serve", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {proc.stdout.read().decode()}") from None
                time.sleep(0.1)
        yield base, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_answers_envelopes_and_export_reads_them_back(server, order_pizza_body):
    base, db = server
    status, body = post(base + "/alexa/pizza", order_pizza_body.encode())
    assert status == 200 and "pepperoni" in body["response"]["outputSpeech"]["ssml"]
    status, body = post(base + "/alexa/pizza", json.dumps(make_envelope("LaunchRequest", user_id="e2e-user")).encode())
    assert status == 200 and body["response"]["shouldEndSession"] is False
    status, body = post(base + "/alexa/pizza", b"{broken")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, _ = post(base + "/alexa/nope", order_pizza_body.encode())
    assert status == 404

    out = subprocess.run([SKILLS, "transcripts", "export", "--db", str(db), "--format", "jsonl"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    order, launch = rows
    assert order["developer_id"] == "pronto-pizza-labs" and order["intent"] == "OrderPizzaIntent"
    assert "pepperoni" in order["speech"] and order["transaction"]["kind"] == "pizza_order"
    assert launch["user_id"] == "e2e-user" and launch["request_type"] == "LaunchRequest"
