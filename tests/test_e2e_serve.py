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


def _raw(base: str, head: str, body: bytes = b"", *, timeout: float = 30) -> tuple[int, str, dict]:
    """One request written by hand on a socket (headers a client library would refuse to send); status, type, JSON."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head_out, _, payload = data.partition(b"\r\n\r\n")
    lines = head_out.decode("latin-1").split("\r\n")
    kind = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), "")
    return int(lines[0].split()[1]), kind, json.loads(payload) if kind == "application/json" else {}


def _chunked(payload: bytes, size: int = 65536) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(payload[i:i + size]), payload[i:i + size]) for i in range(0, len(payload), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def test_a_chunked_body_past_the_limit_is_a_413_not_a_body_cut_short(server, order_pizza_body):
    base, _ = server
    head = ("POST /alexa/pizza HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close")
    whole = json.loads(order_pizza_body)
    whole["session"]["attributes"] = {"note": "x" * (1 << 20)}  # one string past 1 MB
    status, kind, body = _raw(base, head, _chunked(json.dumps(whole).encode()))
    assert (status, kind) == (413, "application/json") and body["error"]["code"] == "request_entity_too_large"
    # A good envelope followed by 1 MB of spaces was answered 200: everything past the limit went unread.
    status, _, body = _raw(base, head, _chunked(order_pizza_body.encode() + b" " * (1 << 20)))
    assert status == 413 and body["error"]["code"] == "request_entity_too_large"
    status, _, body = _raw(base, head.replace("/alexa/pizza", "/simulate/pizza"),
                           _chunked(b'{"text": "' + b"a" * (1 << 20) + b'"}'))
    assert status == 413
    # Far past the limit, the rest still on its way: read and dropped before the 413, so the server
    # closes the connection (it used to wait for the client to hang up, and the client for it).
    status, _, body = _raw(base, head, _chunked(b'{"text": "' + b"a" * (4 << 20) + b'"}'), timeout=20)
    assert status == 413
    status, _, body = _raw(base, head, _chunked(order_pizza_body.encode()))  # under the limit: answered
    assert status == 200 and "pepperoni" in body["response"]["outputSpeech"]["ssml"]


def test_a_content_length_of_digits_that_are_not_ascii_is_a_json_4xx(server, order_pizza_body):
    base, _ = server
    status, kind, body = _raw(base, "POST /alexa/pizza HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    "Content-Length: \xb2\r\nConnection: close", order_pizza_body.encode())
    assert 400 <= status < 500 and kind == "application/json", (status, kind)
