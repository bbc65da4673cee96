"""End to end: ``skills serve`` in a subprocess on a loopback port, real envelopes, then ``export``."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from _server import SKILLS, post, serving
from conftest import make_envelope


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "served.db"
    with serving(db) as base:
        yield base, db


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


def test_a_port_in_use_exits_1_without_announcing_that_it_serves(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([SKILLS, "serve", "--db", str(tmp_path / "t.db"), "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in run.stderr and f"--port {port + 1}" in run.stderr
    assert "Serving" not in run.stdout  # announced only once the port is bound
