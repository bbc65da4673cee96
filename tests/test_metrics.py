"""GET /metrics: requests, turn errors, capture latency, the spool and the ledger's state, as Prometheus scrapes them."""

from __future__ import annotations

import json
import os
import time
import urllib.request

from _server import free_port, post, start, stop
from conftest import build_greeter, make_envelope
from prometheus_client.parser import text_string_to_metric_families

from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore

SMALL = {"SKILLS_SPOOL_RESERVE": 256 * 1024, "SKILLS_SPOOL_FLOOR": 16 * 1024, "SKILLS_LEDGER_INTERVAL": 3600}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of a scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client) -> dict:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=")
    return samples(resp.get_data(as_text=True))


def test_requests_errors_and_capture_latency_are_counted(tmp_path):
    skill = build_greeter()

    @skill.intent("BrokenIntent", samples=["break"])
    def broken(ctx):
        raise RuntimeError("partner down")

    client = create_app([skill], store=TranscriptStore(str(tmp_path / "t.db")), test_config=SMALL).test_client()
    # Each skill's error series is there, at 0, before its first error: a rate alert needs it.
    assert scrape(client)[("skills_turn_errors_total", (("skill", "greeter"),))] == 0
    for _ in range(3):
        assert client.post("/alexa/greeter", json=make_envelope("LaunchRequest")).status_code == 200
    assert client.post("/alexa/greeter", json=make_envelope(intent="BrokenIntent")).status_code == 200
    assert client.post("/alexa/greeter", data=b"{nope", content_type="application/json").status_code == 400
    assert client.get("/no/such/page").status_code == 404
    got = scrape(client)
    assert got[("skills_requests_total", (("route", "/alexa/<skill>"), ("status", "200")))] == 4
    assert got[("skills_requests_total", (("route", "/alexa/<skill>"), ("status", "400")))] == 1
    assert got[("skills_requests_total", (("route", "unmatched"), ("status", "404")))] == 1
    assert got[("skills_turn_errors_total", (("skill", "greeter"),))] == 1
    assert got[("skills_capture_seconds_count", ())] == 4  # every answered turn's row, timed
    assert 0 < got[("skills_capture_seconds_sum", ())] < 4
    assert got[("skills_ledger_state", ())] == 0
    assert got[("skills_transcripts_lost_total", ())] == 0
    assert got[("skills_spool_rows", ())] == 0
    assert got[("skills_spool_reserve_bytes", ())] == 256 * 1024


def test_spooled_refused_replayed_and_state_follow_a_fault(tmp_path):
    db = str(tmp_path / "t.db")
    store = TranscriptStore(db, busy_timeout_ms=50)
    app = create_app([build_greeter()], store=store, test_config={**SMALL, "SKILLS_SPOOL_RESERVE": 24 * 1024})
    client = app.test_client()
    guard = app.extensions["skills_sdk"]["guard"]
    lock = store._connect()
    lock.execute("BEGIN EXCLUSIVE")
    try:
        statuses = [client.post("/alexa/greeter", json=make_envelope("LaunchRequest")).status_code for _ in range(40)]
        got = scrape(client)
    finally:
        lock.execute("ROLLBACK")
    spooled, refused = statuses.count(200), statuses.count(503)
    assert spooled and refused and spooled + refused == 40
    assert got[("skills_transcripts_spooled_total", ())] == spooled
    assert got[("skills_turns_refused_total", ())] == refused
    assert got[("skills_spool_rows", ())] == spooled
    assert got[("skills_ledger_state", ())] == 2  # refusing
    assert got[("skills_spool_reserve_bytes", ())] < 16 * 1024
    assert guard.check() == "ok"
    got = scrape(client)
    assert got[("skills_transcripts_replayed_total", ())] == spooled
    assert got[("skills_ledger_state", ())] == 0 and got[("skills_spool_rows", ())] == 0
    assert got[("skills_spool_reserve_bytes", ())] == 24 * 1024
    assert got[("skills_transcripts_lost_total", ())] == 0


def two_workers(tmp_path) -> tuple[object, str, object]:
    """``skills serve --workers 2`` on a metrics folder of the test's: (the process, its URL, the folder)."""
    port = free_port()
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with open(tmp_path / "server.log", "wb") as log:
        proc = start(["serve", "--db", str(tmp_path / "t.db"), "--workers", "2"], port, env=env, stdout=log)
    return proc, f"http://127.0.0.1:{port}", shared


def test_gunicorn_workers_are_counted_together(tmp_path):
    proc, base, shared = two_workers(tmp_path)
    try:
        for _ in range(30):
            status, answer = post(base + "/alexa/pizza", json.dumps(make_envelope("LaunchRequest")).encode())
            assert status == 200, (answer, (tmp_path / "server.log").read_text()[-3000:])
        totals = set()
        for _ in range(6):  # several scrapes: each lands on either worker, each counts both
            with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
                got = samples(resp.read().decode())
            totals.add(got[("skills_requests_total", (("route", "/alexa/<skill>"), ("status", "200")))])
            assert got[("skills_capture_seconds_count", ())] == 30
        assert totals == {30}
        # Each worker writes its own files there (its ledger state at least, set when it has built the
        # app), and each scrape read them all. A worker may still be booting on a loaded machine when the
        # other has answered everything: wait for it, within a bound.
        deadline = time.monotonic() + 60
        while len(pids := {f.stem.rsplit("_", 1)[1] for f in shared.glob("gauge_livemax_*.db")}) < 2:
            assert time.monotonic() < deadline, f"only these workers wrote metric files: {sorted(pids)}"
            time.sleep(0.2)
        assert len(pids) == 2
    finally:
        stop(proc)
    assert (tmp_path / "server.log").read_text().count("Booting worker") == 2
    assert len(list(shared.glob("*.db"))) >= 2  # the operator's folder is theirs: it stays


def test_a_scrape_while_a_process_is_making_its_metric_file_still_answers(tmp_path):
    # A process (a worker booting, the maintenance process) makes its file empty, then sizes it: a
    # scrape reading the folder in between failed with a 500 on the empty file.
    proc, base, shared = two_workers(tmp_path)
    try:
        for _ in range(3):
            assert post(base + "/alexa/pizza", json.dumps(make_envelope("LaunchRequest")).encode())[0] == 200
        (shared / "counter_999999.db").touch()  # a file at the instant its process made it
        for _ in range(4):
            with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
                got = samples(resp.read().decode())
            assert got[("skills_capture_seconds_count", ())] == 3
    finally:
        stop(proc)


def test_the_metrics_folder_serve_made_is_removed_when_gunicorn_stops(tmp_path):
    port = free_port()
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(temp)  # where tempfile.mkdtemp() makes it
    with open(tmp_path / "server.log", "wb") as log:
        proc = start(["serve", "--db", str(tmp_path / "t.db"), "--workers", "2"], port, env=env, stdout=log)
    try:
        status, _ = post(f"http://127.0.0.1:{port}/alexa/pizza", json.dumps(make_envelope("LaunchRequest")).encode())
        assert status == 200
        made = list(temp.glob("skills-metrics-*"))
        assert len(made) == 1 and any(made[0].glob("*.db")), made
    finally:
        stop(proc)
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()[-3000:]
    assert not made[0].exists(), "each restart of skills serve --workers would leave a folder behind"


def test_metrics_can_be_left_out():
    app = create_app([build_greeter()], store=TranscriptStore(":memory:"),
                     test_config={"SKILLS_METRICS": False})
    assert app.test_client().get("/metrics").status_code == 404
