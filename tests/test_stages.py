"""The opt-in stage times (SKILLS_STAGE_LOG): each Alexa request's stages, the background work's holds, nothing when off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from _server import free_port, start, stop, wait_until
from conftest import build_greeter, make_envelope
from test_maintenance import _indexed, _post_turns

from skills_sdk.server import create_app

FIELDS = ("start", "wall", "read", "answer", "handle", "record", "lock_wait", "lock_held", "respond", "observe",
          "cpu", "gc", "gc_gen", "vcsw", "ivcsw", "gap", "lock_at", "others")


def _rows(folder, role):
    return [dict(zip(FIELDS, json.loads(line), strict=True)) if role == "worker" else json.loads(line)
            for path in sorted(folder.glob(f"{role}-*.jsonl")) for line in path.read_text().splitlines()]


def test_each_alexa_request_is_timed_stage_by_stage_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLS_STAGE_LOG", str(tmp_path / "stages"))
    app = create_app([build_greeter()], db=str(tmp_path / "t.db"))
    client = app.test_client()
    for i in range(3):
        r = client.post("/alexa/greeter", json=make_envelope(session_id=f"s{i}"))
        assert r.status_code == 200 and r.json["response"]["outputSpeech"]
    assert client.get("/healthz").status_code == 200  # not an Alexa request: not timed
    assert client.post("/alexa/nobody", json=make_envelope()).status_code == 404  # timed: answered by the endpoint
    app.wsgi_app.stage_log.flush()
    rows = _rows(tmp_path / "stages", "worker")
    assert len(rows) == 4
    for r in rows[:3]:
        assert r["wall"] >= r["read"] + r["answer"] + r["respond"]
        assert r["answer"] >= r["handle"] >= r["record"] >= r["lock_wait"] + r["lock_held"] > 0
        assert r["start"] <= r["lock_at"] <= r["start"] + r["wall"]
        assert r["cpu"] > 0 and r["gc_gen"] in (-1, 0, 1, 2)
    assert rows[1]["gap"] > 0 and rows[1]["start"] >= rows[0]["start"] + rows[0]["wall"]
    unknown = rows[3]
    assert unknown["handle"] == unknown["record"] == unknown["lock_at"] == 0  # refused before any handler


def test_a_write_lock_another_thread_waits_for_is_not_counted_as_the_requests(tmp_path, monkeypatch):
    # The ledger's own threads (a checkpoint, the indexer) take the same lock: their waits are theirs.
    # Thread A holds the lock; B waits for it before the request does; A lets go 0.3 s after the
    # request began to wait. B's longer wait must not be put in the request's record.
    import threading

    monkeypatch.setenv("SKILLS_STAGE_LOG", str(tmp_path / "stages"))
    app = create_app([build_greeter()], db=str(tmp_path / "t.db"))
    store, client = app.extensions["skills_sdk"]["store"], app.test_client()
    held, go = threading.Event(), threading.Event()

    def hold() -> None:
        fd = store.take_write_lock()
        held.set()
        go.wait(10)
        store.release_write_lock(fd)

    a = threading.Thread(target=hold)
    a.start()
    held.wait(10)
    b = threading.Thread(target=lambda: store.release_write_lock(store.take_write_lock()))
    b.start()
    wait_until("B's wait for the lock", lambda: _waiting_for_the_lock(b))
    serving = threading.current_thread()  # the timer times the app's own thread, as a sync worker has one

    def let_go() -> None:
        wait_until("the request's wait for the lock", lambda: _waiting_for_the_lock(serving))
        time.sleep(0.3)  # not a hope: both surely wait, and this is how long at least (B: longer)
        go.set()

    threading.Thread(target=let_go, daemon=True).start()
    assert client.post("/alexa/greeter", json=make_envelope()).status_code == 200
    a.join()
    b.join()
    app.wsgi_app.stage_log.flush()
    (row,) = _rows(tmp_path / "stages", "worker")
    assert 100_000_000 < row["lock_wait"] and row["lock_wait"] + row["lock_held"] <= row["record"]


def _waiting_for_the_lock(thread) -> bool:
    """True while ``thread`` is inside ``take_write_lock`` (another holds it: so it waits)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code.co_name != "take_write_lock":
        frame = frame.f_back
    return frame is not None


def test_off_the_stage_timer_is_not_even_imported(tmp_path):
    code = ("import sys; from conftest import build_greeter, make_envelope; from skills_sdk.server import create_app\n"
            f"app = create_app([build_greeter()], db={str(tmp_path / 't.db')!r})\n"
            "assert app.test_client().post('/alexa/greeter', json=make_envelope()).status_code == 200\n"
            "print('skills_sdk.server.stages' in sys.modules, type(app.wsgi_app).__name__)")
    here = os.path.dirname(__file__)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=here,
                         env={**os.environ, "PYTHONPATH": here, "SKILLS_STAGE_LOG": ""}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "AlexaEndpoint"]


def test_under_gunicorn_workers_and_the_maintenance_process_write_their_records_at_exit(tmp_path):
    port, folder = free_port(), tmp_path / "stages"
    proc = start(["serve", "--db", str(tmp_path / "t.db"), "--workers", "2"], port, cwd=tmp_path,
                 env={**os.environ, "SKILLS_STAGE_LOG": str(folder)}, stdout=open(tmp_path / "server.log", "w"))
    try:
        _post_turns(port, 30, 0)
        wait_until("the maintenance process's indexing of the rows", lambda: _indexed(str(tmp_path / "t.db")))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop(proc)
    rows = _rows(folder, "worker")
    assert len(rows) == 30  # the Alexa requests, from whichever worker answered them
    assert all(r["lock_held"] > 0 for r in rows)
    background = _rows(folder, "background")
    assert {b[0] for b in background} >= {"lock"}  # the rows' indexing held the write lock, in the maintenance process
    assert all(b[2] >= 0 and b[3] >= 0 for b in background)
