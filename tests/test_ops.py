"""Operations: /readyz follows the store's writability; one JSON log line per request, with no speech and no clear user id."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from _server import wait_until
from conftest import build_greeter, make_envelope

from skills_sdk.server import create_app
from skills_sdk.server.ops import configure_logging
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import user_hash
from skills_sdk.transcripts.sqlite.driver import sqlite3  # the driver the store uses: one SQLite per process

SKILLS = os.path.join(os.path.dirname(sys.executable), "skills")
USER = "amzn1.ask.account.PRIVATE-USER-42"


@pytest.fixture
def log_lines():
    """The JSON lines the ``skills_sdk`` loggers write, as dicts (logger state restored afterwards)."""
    logger = logging.getLogger("skills_sdk")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.handlers[:], logger.level, logger.propagate = saved


def test_readyz_is_200_when_the_store_is_writable_and_503_when_locked(tmp_path):
    db = str(tmp_path / "t.db")
    client = create_app([build_greeter()], db=db).test_client()
    ok = client.get("/readyz")
    assert ok.status_code == 200 and ok.json["status"] == "ok"
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        down = client.get("/readyz")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert down.status_code == 503
    assert down.json["status"] == "unavailable" and "locked" in down.json["store"]
    assert client.get("/readyz").status_code == 200


def test_healthz_answers_even_when_the_store_is_locked(tmp_path):
    db = str(tmp_path / "t.db")
    client = create_app([build_greeter()], db=db).test_client()
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def test_one_json_line_per_request_without_speech_or_user_id(log_lines):
    store = TranscriptStore(":memory:")
    client = create_app([build_greeter()], store=store).test_client()
    env = make_envelope(intent="MoodIntent", slots={"mood": "cheerful"}, user_id=USER)
    resp = client.post("/alexa/greeter", json=env)
    assert "Glad to know you are" in resp.get_data(as_text=True)
    (line,) = [r for r in log_lines() if r["logger"] == "skills_sdk.access"]
    assert line["request_id"] == env["request"]["requestId"]
    assert line["skill"] == "greeter" and line["request_type"] == "IntentRequest" and line["status"] == 200
    assert line["level"] == "info" and line["ts"].endswith("Z") and line["latency_ms"] >= 0
    assert line["user"] == user_hash(store, USER)  # the audit's salted hash: one user, one tag
    text = json.dumps(log_lines())
    assert USER not in text and "Glad to know" not in text and "cheerful" not in text


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        (b"not json", 400, {"request_id": None}),
        (json.dumps({"request": {"type": "LaunchRequest", "requestId": "r-9"}}).encode(), 400, {"request_id": "r-9"}),
    ],
)
def test_rejected_requests_are_logged_with_their_status(log_lines, body, status, fields):
    client = create_app([build_greeter()], store=TranscriptStore(":memory:")).test_client()
    assert client.post("/alexa/greeter", data=body, content_type="application/json").status_code == status
    (line,) = [r for r in log_lines() if r["logger"] == "skills_sdk.access"]
    assert line["status"] == status and line["skill"] == "greeter"
    for key, value in fields.items():
        assert line.get(key) == value


def test_a_handler_error_logs_no_transcript_text(log_lines):
    client = create_app([build_greeter()], store=TranscriptStore(":memory:")).test_client()
    client.post("/alexa/greeter", json=make_envelope(intent="BoomIntent", user_id=USER))
    lines = log_lines()
    assert any(line["level"] == "error" for line in lines), lines   # the failure is logged...
    text = json.dumps(lines)
    # ...without the exception's card number, in any spacing. Not a bare "4111": hashed ids and request
    # ids in the same lines are random hex and hold "4111" now and then.
    for leaked in ("4111 1111 1111 1111", "4111111111111111", "1111 1111"):
        assert leaked not in text
    assert USER not in text


def test_bad_log_level_says_what_is_accepted():
    with pytest.raises(ValueError, match="DEBUG, INFO"):
        configure_logging("LOUD")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_finishes_the_request_in_flight_then_exits(tmp_path):
    # The handler marks that it runs, then waits for the test's go: SIGTERM lands while the request
    # is surely in flight, and the go comes only once the server has stopped accepting connections.
    port = _free_port()
    inside, go = tmp_path / "inside", tmp_path / "go"
    module = tmp_path / "slow_skill.py"
    module.write_text(
        "import pathlib, time\nfrom skills_sdk import Skill, say\n"
        "skill = Skill('slow', developer_id='d', invocation_name='slow')\n"
        "@skill.launch\ndef launch(ctx):\n"
        f"    pathlib.Path({str(inside)!r}).touch()\n"
        "    deadline = time.monotonic() + 60\n"
        f"    while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    return say('done at last')\n"
    )
    proc = subprocess.Popen([SKILLS, "serve", "--db", str(tmp_path / "t.db"), "--port", str(port),
                             "--skills", "slow_skill:skill"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until("the server's start", lambda: _answers(base + "/healthz"))
        result: dict = {}

        def call() -> None:
            req = urllib.request.Request(base + "/alexa/slow", data=json.dumps(make_envelope()).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                result["body"] = r.read().decode()

        t = threading.Thread(target=call)
        t.start()
        wait_until("the request's arrival in the handler", inside.exists)
        proc.send_signal(signal.SIGTERM)
        wait_until("the server's refusal of new connections", lambda: not _answers(base + "/healthz"))
        go.touch()
        t.join(60)
        assert "done at last" in result.get("body", "")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).read()
    except OSError:
        return False
    return True


def _access_lines(log_lines) -> list[dict]:
    return [r for r in log_lines() if r["logger"] == "skills_sdk.access"]


@pytest.mark.parametrize("fast_path", [True, False], ids=["alexa-endpoint", "flask-route"])
@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/alexa/greeter", None, 200),
        ("/alexa/greeter", {"request": {"type": "LaunchRequest", "requestId": 'r "quoted" \\ é\n\x01'}}, 400),
        ("/alexa/greeter", {"request": {"type": 7, "requestId": None}}, 400),
        ("/alexa/greeter", [1, 2], 400),
        ("/alexa/no-such-skill", None, 404),
    ],
)
def test_the_access_line_holds_the_fields_the_logging_path_would_write(log_lines, fast_path, path, body, status):
    """The pre-encoded JSON line equals what JsonFormatter writes for the same fields, odd strings included."""
    from skills_sdk.server import ops

    store = TranscriptStore(":memory:")
    app = create_app([build_greeter()], store=store, test_config={"SKILLS_ALEXA_FAST_PATH": fast_path})
    env = make_envelope(intent="MoodIntent", slots={"mood": "cheerful"}, user_id=USER)
    sent = env if body is None else body
    assert app.test_client().post(path, json=sent).status_code == status
    (fast,) = _access_lines(log_lines)
    ext = app.extensions["skills_sdk"]
    turn = None
    if status == 200:
        turn = ext["host"].handle("greeter", env).turn
    parsed = sent if status == 400 else None  # a 404 is refused before its body is read
    exchange = ops.Exchange("POST", path, "/alexa/<skill>", status, 0.0, turn, parsed, path[len("/alexa/"):], None)
    slow = ops._fields(exchange, ext)
    assert list(fast)[:5] == ["ts", "level", "logger", "pid", "msg"]
    assert {k: v for k, v in fast.items() if k not in ("ts", "pid", "latency_ms")} == {
        "level": "info", "logger": "skills_sdk.access", "msg": "request",
        **{k: v for k, v in slow.items() if k != "latency_ms"}}
    assert list(fast)[5:] == list(slow) and fast["pid"] == os.getpid()


def test_no_user_id_reaches_the_access_line_through_what_the_client_chose(log_lines):
    client = create_app([build_greeter()], store=TranscriptStore(":memory:")).test_client()
    env = make_envelope(intent="MoodIntent", slots={"mood": "cheerful"}, user_id=USER)
    env["request"]["requestId"] = f"req-{USER}"
    assert client.post("/alexa/greeter", json=env).status_code == 200
    assert client.post(f"/alexa/{USER}", json=env).status_code == 404
    refused = {"request": {"type": f"x-{USER}", "requestId": f"r-{USER}"}}
    assert client.post("/alexa/greeter", json=refused).status_code == 400
    lines = _access_lines(log_lines)
    assert len(lines) == 3 and USER not in json.dumps(lines)
    assert lines[0]["request_id"] == "req-[user id]" and lines[1]["skill"] == "[user id]"
    assert lines[2]["request_id"] == "r-[user id]"


@pytest.mark.parametrize("text, forgotten", [
    ("Authorization: Bearer sk-abc.def", "Authorization: Bearer [token]"),
    ("authorization: bearer abc", "authorization: Bearer [token]"),
    ("BEARER abc and bEaReR\tdef", "Bearer [token] and Bearer [token]"),
    ("unbearer  xyz'", "unBearer [token]'"),
    ("bearers abc, Bear abc, bearer", "bearers abc, Bear abc, bearer"),
    (f"ids {USER} amzn1.ask.person.P1 amzn1.account.A2", "ids [user id] [user id] [user id]"),
    ("amzn1.echo-api.request.7d2e9b1c-4f3a", "amzn1.echo-api.request.7d2e9b1c-4f3a"),
    ("key sk_dev_9Qx, token sk_user_a-b, jwt eyJa.b.c!", "key [key], token [key], jwt [token]!"),
])
def test_forget_finds_user_ids_keys_and_tokens_anywhere_and_bearer_in_any_case(text, forgotten):
    from skills_sdk.server.ops import forget

    assert forget(text) == forgotten


def test_the_access_line_stamp_follows_the_clock_across_seconds(log_lines, monkeypatch):
    from skills_sdk.server import ops

    client = create_app([build_greeter()], store=TranscriptStore(":memory:")).test_client()
    for now in (1_800_000_000.999, 1_800_000_001.0005, 1_800_000_001.25):
        monkeypatch.setattr(ops.time, "time", lambda now=now: now)
        client.post("/alexa/greeter", json=make_envelope(intent="MoodIntent", slots={"mood": "cheerful"}))
    assert [line["ts"] for line in _access_lines(log_lines)] == [
        "2027-01-15T08:00:00.999Z", "2027-01-15T08:00:01.000Z", "2027-01-15T08:00:01.250Z"]


def test_what_the_access_line_remembers_stays_forgotten_on_every_line(log_lines):
    """Paths, request types and intent names are encoded once and reused: the user id is out of the second line too."""
    client = create_app([build_greeter()], store=TranscriptStore(":memory:")).test_client()
    env = make_envelope(intent=f"x-{USER}", user_id=USER)
    for _ in range(2):
        assert client.post(f"/alexa/{USER}", json=env).status_code == 404
        assert client.post("/alexa/greeter", json=env).status_code == 200
    lines = _access_lines(log_lines)
    assert len(lines) == 4 and USER not in json.dumps(lines)
    assert [line["path"] for line in lines] == ["/alexa/[user id]", "/alexa/greeter"] * 2
    assert [line.get("intent") for line in lines] == [None, "x-[user id]"] * 2


def test_a_forked_worker_writes_its_own_pid_in_the_access_line():
    from skills_sdk.server import ops

    exchange = ops.Exchange("GET", "/healthz", "/healthz", 200, time.perf_counter())
    assert json.loads(ops._json_line(exchange, {}))["pid"] == os.getpid()  # the parent's head, made
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child writes its line's pid and leaves without running pytest's exit
        try:
            os.write(write, str(json.loads(ops._json_line(exchange, {}))["pid"]).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as f:
        assert int(f.read()) == child
