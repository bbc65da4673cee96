"""The spool: a store that cannot be written never fails a user's request, and every row reaches the store exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import build_greeter, make_envelope

from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.spool import Spool
from skills_sdk.transcripts.sqlite.driver import sqlite3  # the driver the store uses: one SQLite per process

SKILLS = os.path.join(os.path.dirname(sys.executable), "skills")


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "t.db")


@pytest.fixture
def app(db):
    store = TranscriptStore(db, busy_timeout_ms=50)
    # The guard's thread probes once when a write fails, then not for an hour: these tests replay by hand.
    return create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600})


def ask(client, n: int, user: str = "amzn1.ask.account.USER1") -> list[str]:
    ids = []
    for _ in range(n):
        env = make_envelope("LaunchRequest", user_id=user)
        resp = client.post("/alexa/greeter", json=env)
        assert resp.status_code == 200 and "How are you" in resp.get_data(as_text=True)
        ids.append(env["request"]["requestId"])
    return ids


class Locked:
    """Another connection holding an exclusive lock: the store cannot be written until release."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def request_ids(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT request_id FROM transcripts ORDER BY id")]


def test_locked_store_answers_users_and_replay_loses_and_repeats_nothing(app, db):
    client = app.test_client()
    spool = app.extensions["skills_sdk"]["spool"]
    before = ask(client, 3)
    lock = Locked(db)
    try:
        during = ask(client, 4)
        assert spool.pending() == 4
    finally:
        lock.release()
    assert spool.replay(TranscriptStore(db)) == 4
    assert spool.replay(TranscriptStore(db)) == 0
    assert app.extensions["skills_sdk"]["guard"].check() == "ok"  # what its thread does every second
    after = ask(client, 2)
    assert sorted(request_ids(db)) == sorted(before + during + after)
    assert spool.files() == []


def test_replay_waits_while_the_store_is_still_locked(app, db):
    client = app.test_client()
    spool = app.extensions["skills_sdk"]["spool"]
    lock = Locked(db)
    try:
        ids = ask(client, 2)
        with pytest.raises(sqlite3.OperationalError):
            spool.replay(TranscriptStore(db, busy_timeout_ms=50))
    finally:
        lock.release()
    assert spool.pending() == 2  # still waiting, renamed aside for replay
    assert spool.replay(TranscriptStore(db)) == 2
    assert sorted(request_ids(db)) == sorted(ids)


def test_replay_killed_after_commit_does_not_insert_twice(db):
    store = TranscriptStore(db)
    spool = Spool.for_store(store)
    for i in range(5):
        spool.append({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": f"r{i}"})
    spool._rotate()
    (leftover,) = spool.files()
    # Simulate a crash between the commit and the unlink: replay a copy, then put the file back.
    data = open(leftover, "rb").read()
    assert spool.replay(store) == 5
    with open(leftover, "wb") as f:
        f.write(data)
    store.db.conn.execute("INSERT INTO spool_replay (file, offset) VALUES (?, ?)", (os.path.basename(leftover), len(data)))
    assert spool.replay(store) == 0
    assert sorted(request_ids(db)) == [f"r{i}" for i in range(5)]


def test_torn_and_unreadable_lines_are_skipped(db):
    store = TranscriptStore(db)
    spool = Spool.for_store(store)
    spool.append({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": "good"})
    with open(spool.path, "ab") as f:
        f.write(b"{not json}\n")
        f.write(b'{"developer_id": "d", "skill": "s", "user_id": "u", "request_id": "to')  # killed mid-write
    assert spool.replay(store) == 1
    assert request_ids(db) == ["good"]


def test_appends_from_many_threads_never_interleave(db):
    spool = Spool(db + ".spool")
    text = "x" * 5000

    def write(t: int) -> None:
        for i in range(50):
            spool.append({"developer_id": "d", "skill": "s", "user_id": f"u{t}", "request_id": f"{t}-{i}",
                          "speech": text})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = open(spool.path, "rb").read().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["speech"] == text for line in lines)


def test_spool_that_cannot_be_written_still_answers(tmp_path, caplog):
    spool = Spool(tmp_path / "missing-dir" / "t.db.spool")
    assert spool.append({"request_id": "r1", "user_id": "u"}, OSError("disk full")) is False
    assert "r1" in caplog.text


def spool_two_users(app, db: str, *, erased: int) -> list[str]:
    """While the store is locked, ``erased`` turns of ERASE-ME and one of KEEP go to the spool; KEEP's request ids."""
    client = app.test_client()
    lock = Locked(db)
    try:
        ask(client, erased, user="amzn1.ask.account.ERASE-ME")
        return ask(client, 1, user="amzn1.ask.account.KEEP")
    finally:
        lock.release()


def test_erase_user_blanks_their_spooled_rows_and_replay_skips_them(app, db):
    spool = app.extensions["skills_sdk"]["spool"]
    kept = spool_two_users(app, db, erased=2)
    assert spool.erase_user("amzn1.ask.account.ERASE-ME") == 2
    raw = b"".join(open(p, "rb").read() for p in spool.files())
    assert b"ERASE-ME" not in raw
    assert spool.replay(TranscriptStore(db)) == 1
    assert request_ids(db) == kept


def test_erasure_blanks_a_row_written_after_the_zeros_of_a_killed_append(db):
    spool = Spool(db + ".spool")
    # An append killed between allocating its space and writing leaves zeros; the next append
    # follows them on the same line, and replay reads that row (it skips the zeros).
    with open(spool.path, "wb") as f:
        f.write(b"\0" * 64)
    spool.append({"developer_id": "d", "skill": "s", "user_id": "amzn1.ask.account.GONE", "request_id": "r1",
                  "utterance": "heron-marker words"})
    assert spool.erase_user("amzn1.ask.account.GONE") == 1
    assert b"heron-marker" not in b"".join(open(p, "rb").read() for p in spool.files())
    assert spool.replay(TranscriptStore(db)) == 0


def test_cli_replay_moves_the_spool_into_the_store(app, db):
    client = app.test_client()
    lock = Locked(db)
    try:
        ids = ask(client, 3)
    finally:
        lock.release()
    out = subprocess.run([SKILLS, "transcripts", "replay", "--db", db], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Replayed 3 row(s)" in out.stdout
    assert sorted(request_ids(db)) == sorted(ids)


def test_server_replays_the_spool_at_start_up(app, db):
    client = app.test_client()
    lock = Locked(db)
    try:
        ids = ask(client, 2)
    finally:
        lock.release()
    create_app([build_greeter()], db=db)  # a restarted server
    assert sorted(request_ids(db)) == sorted(ids)


def test_erase_spooled_is_a_no_op_for_a_memory_store_and_finds_the_file_spool(db):
    from skills_sdk.transcripts.spool import erase_spooled

    assert erase_spooled(TranscriptStore(":memory:"), "u") == 0
    store = TranscriptStore(db)
    Spool.for_store(store).append({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": "r"})
    assert erase_spooled(store, "u") == 1


def test_an_erasure_and_a_replay_renaming_the_spool_cannot_hide_rows_from_each_other(app, db, monkeypatch):
    """Force the interleaving: a replayer (another worker) renames the spool just as the erasure lists it."""
    from skills_sdk.transcripts.erasure import erase_user

    kept = spool_two_users(app, db, erased=3)
    other_worker = Spool(app.extensions["skills_sdk"]["spool"].path)
    listed = Spool.files

    def files_then_rename(self):
        found = listed(self)
        other_worker._rotate()  # the replayer's rename, between the listing and the opening
        return found

    monkeypatch.setattr(Spool, "files", files_then_rename)
    store = TranscriptStore(db)
    receipt = erase_user(store, "amzn1.ask.account.ERASE-ME")
    monkeypatch.undo()

    assert receipt["spooled"] == 3
    raw = b"".join(open(p, "rb").read() for p in other_worker.files())
    assert b"ERASE-ME" not in raw
    other_worker.replay(store)  # what the replayer does next
    assert request_ids(db) == kept
    assert store.count(user_id="amzn1.ask.account.ERASE-ME") == 0


def test_cli_replay_finds_the_spool_of_a_sqlite_url(db):
    from click.testing import CliRunner

    from skills_sdk.cli import main

    store = TranscriptStore(db)
    Spool.for_store(store).append({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": "r-url"})
    out = CliRunner().invoke(main, ["transcripts", "replay", "--db", f"sqlite:///{db}"])
    assert out.exit_code == 0, out.output
    assert "Replayed 1 row(s)" in out.output and store.count(request_id="r-url") == 1
    again = CliRunner().invoke(main, ["transcripts", "replay", "--db", f"sqlite:///{db}"])
    assert "Nothing to replay" in again.output
