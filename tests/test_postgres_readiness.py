"""Readiness on PostgreSQL: while a lock a capture needs is held, the probe and /readyz say so, and name it."""

from __future__ import annotations

import re
import threading

import psycopg
import pytest
from conftest import build_greeter, make_envelope

from skills_sdk.errors import StoreError
from skills_sdk.server import create_app
from skills_sdk.transcripts.postgres import PostgresLedger, probe, writes


@pytest.fixture
def store(postgres_ledger_url, tmp_path):
    # Two connections: a capture cancelled under the lock has its connection closed, and the probe takes the other.
    s = PostgresLedger(postgres_ledger_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"),
                       write_timeout=0.5, min_size=2)
    yield s
    s.stop()


@pytest.mark.parametrize("table", ["transcripts", "user_state"])
def test_a_lock_held_on_a_table_captures_write_is_named_by_the_probe_and_readyz_until_released(store, table):
    client = create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600}).test_client()
    # What a migration rebuilding the table holds until it commits.
    with psycopg.connect(store.url) as holder:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        problem = store.check_writable(timeout_ms=100)
        assert problem is not None and f"a lock on {table} is held by pid {holder.info.backend_pid}" in problem
        assert "LOCK TABLE" in problem, problem  # what the holder is doing
        ready = client.get("/readyz")
        assert ready.status_code == 503 and f"a lock on {table}" in ready.get_json()["store"]
    assert store.check_writable() is None
    assert client.get("/readyz").status_code == 200


def test_the_guard_stays_spooling_while_the_lock_that_failed_a_capture_is_held(store):
    app = create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600})
    client, guard = app.test_client(), app.extensions["skills_sdk"]["guard"]
    turn = make_envelope("LaunchRequest")
    with psycopg.connect(store.url) as holder:
        holder.execute("LOCK TABLE transcripts IN ACCESS EXCLUSIVE MODE")
        # Released by then at the latest: a probe that calls the store writable replays the spool into it, which waits.
        release = threading.Timer(20, holder.rollback)
        release.start()
        assert client.post("/alexa/greeter", json=turn).status_code == 200  # answered; its row spooled
        assert guard.state == "spooling"
        assert guard.check() == "spooling"  # not "ok": the next turn would only wait out write_timeout again
        assert "a lock on transcripts" in guard.cause and client.get("/readyz").status_code == 503
        release.cancel()
    assert guard.check() == "ok" and client.get("/readyz").status_code == 200
    assert [r["request_id"] for r in store.iter_transcripts()] == [turn["request"]["requestId"]]  # replayed once


@pytest.mark.parametrize("day", ["2026-11-28", None])
def test_the_probe_takes_the_tables_a_capture_writes_in_the_order_its_statement_names_them(day):
    # A table added to the capture's statement, or its order changed, must reach the probe too.
    sql = writes._capture(True, True, day).sql.decode()
    ctes = set(re.findall(r"(\w+) AS \(", sql))
    named = [t for t in re.findall(r"\b(?:INSERT INTO|UPDATE|FROM) ([a-z_0-9]+)", sql) if t not in ctes]
    seen = [t for t in dict.fromkeys(named) if t != "ledger_meta"]  # the key epoch's row, share-locked: never at stake
    partition = "transcripts_20261128" if day else None
    assert seen == [t or partition for t, _ in probe.TABLES if (t or partition) and (t != "transcripts" or not day)]


def test_a_turn_reading_its_state_under_a_held_lock_fails_within_write_timeout(store):
    store.save_state("dev", "greeter", "amzn1.ask.account.U", {"visits": 1})
    with psycopg.connect(store.url) as holder:
        holder.execute("LOCK TABLE user_state IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(20, holder.rollback)  # an unbounded read would wait for this, and then succeed
        release.start()
        with pytest.raises(StoreError, match=r"Reading the user's state waited past write_timeout \(0.5 s\)"):
            store.load_state_and_mode("dev", "greeter", "amzn1.ask.account.U")
        release.cancel()
    assert store.load_state("dev", "greeter", "amzn1.ask.account.U") == {"visits": 1}  # the lock gone, read again


def test_readyz_names_what_holds_the_lock_without_its_querys_values(store):
    client = create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600}).test_client()
    with psycopg.connect(store.url) as holder:
        holder.execute("LOCK TABLE user_state IN ACCESS EXCLUSIVE MODE")
        holder.execute("SELECT count(*) FROM user_state WHERE user_id = 'amzn1.ask.account.SECRET'")  # its last query
        body = client.get("/readyz").get_json()
    assert "a lock on user_state is held by pid" in body["store"]
    assert "SELECT count ..." in body["store"] and "SECRET" not in body["store"]  # /readyz answers anyone


def test_a_new_connection_warms_without_waiting_for_a_held_lock(postgres_ledger_url, tmp_path):
    # A new pooled connection plans the hot reads first; under a migration's lock that waited as long
    # as the lock was held, and the pool could hand out no new connection meanwhile.
    s = PostgresLedger(postgres_ledger_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"),
                       write_timeout=0.5, min_size=1, max_size=2)
    released = threading.Event()
    try:
        first = s.pool.getconn()
        with psycopg.connect(s.url) as holder:
            holder.execute("LOCK TABLE transcripts IN ACCESS EXCLUSIVE MODE")

            def release() -> None:
                holder.rollback()
                released.set()

            timer = threading.Timer(20, release)  # an unbounded warm-up waits for this
            timer.start()
            second = s.pool.getconn(timeout=30)  # the pool must open and set up a new one now
            assert not released.is_set()  # handed out while the lock was still held
            timer.cancel()
            release()
        s.pool.putconn(second)
        s.pool.putconn(first)
        assert s.check_writable() is None
    finally:
        s.stop()
