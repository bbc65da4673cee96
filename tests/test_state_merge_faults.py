"""A turn whose state change is merged over another turn's commits its row and the merged state together, or neither."""

from __future__ import annotations

import threading

import psycopg
import pytest
from conftest import LEDGER_BACKENDS, make_envelope, raw_sql
from test_state_merge import USER, player

from skills_sdk import SkillHost
from skills_sdk.transcripts.compose import ledger_middleware

OWNER = ("dev-player", "player", USER)
#: The advisory lock the injected trigger waits on, held by the test until it ends that backend.
HELD = 0x54455354


#: (backend, fault): a spool needs a file beside it (no in-memory SQLite); a backend ended mid-transaction
#: is a PostgreSQL server's fault (SQLite's crashes: tests/test_crash.py).
CASES = [pytest.param(p.values[0], fault, id=f"{p.id}-{fault}") for p in LEDGER_BACKENDS if p.id != "sqlite-memory"
         for fault in ("error", "crash") if fault == "error" or p.id == "postgres"]


@pytest.fixture
def ledger(request, tmp_path):
    led = request.param(request, tmp_path)
    led.start()
    yield led
    led.stop()


def _pg_trigger(ledger, body: str) -> None:
    raw_sql(ledger, f"CREATE FUNCTION merge_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
                    "RETURN NEW; END $$")
    # BEFORE UPDATE: an upsert whose WHERE keeps the stored row (a turn over a version moved since) fires none.
    raw_sql(ledger, "CREATE TRIGGER merge_fault BEFORE UPDATE ON user_state FOR EACH ROW EXECUTE FUNCTION merge_fault()")


def _crash_when_waiting(url: str, holder: psycopg.Connection) -> threading.Thread:
    """A thread that ends (pg_terminate_backend) the backend that waits for the lock ``holder`` holds."""

    def end_it() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(6000):  # until the merge's backend waits on the lock (at most a minute)
                got = conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                                   "objid = %s", (HELD,)).fetchone()
                if got is not None:
                    conn.execute("SELECT pg_terminate_backend(%s)", (got[0],))
                    return
                threading.Event().wait(0.01)

    ender = threading.Thread(target=end_it, daemon=True)
    ender.start()
    return ender


@pytest.mark.parametrize("ledger, fault", CASES, indirect=["ledger"])
def test_a_merged_turn_keeps_its_row_and_its_change_together_through_a_fault(ledger, fault):
    postgres = hasattr(ledger, "connection")
    spool = ledger.spool()
    ledger.save_state(*OWNER, {"plays": 3, "offset": 0})
    holder = psycopg.connect(ledger.url, autocommit=True) if fault == "crash" else None
    ender: list[threading.Thread] = []

    def arm() -> None:
        if not postgres:
            raw_sql(ledger, "CREATE TRIGGER merge_fault BEFORE UPDATE ON user_state "
                            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        elif fault == "error":
            _pg_trigger(ledger, "RAISE EXCEPTION 'injected fault';")
        else:
            holder.execute("SELECT pg_advisory_lock(%s)", (HELD,))
            _pg_trigger(ledger, f"PERFORM pg_advisory_xact_lock({HELD});")
            ender.append(_crash_when_waiting(ledger.url, holder))

    host_of: list = []
    host = SkillHost([player(host_of, key="offset", value=1200, after_other=arm)], state=ledger, middleware=ledger_middleware(ledger, spool=spool))
    host_of.append(host)
    turn = make_envelope(intent="ProgressIntent", user_id=USER)
    try:
        assert host.handle("player", turn).response.speech == "Saved your place."
    finally:
        for thread in ender:
            thread.join(timeout=60)
        if holder is not None:
            holder.close()
        raw_sql(ledger, "DROP TRIGGER merge_fault" + (" ON user_state" if postgres else ""))

    def rows_of_the_turn() -> int:
        return sum(r["request_id"] == turn["request"]["requestId"] for r in ledger.iter_transcripts())

    # Neither the row nor its change: not a row whose change is lost, nor a change without its row.
    assert rows_of_the_turn() == 0
    assert dict(ledger.load_state(*OWNER)) == {"plays": 4, "offset": 0, "favorite": "jazz"}
    assert spool.pending() == 1
    assert spool.replay(ledger) == 1  # both, once
    assert rows_of_the_turn() == 1
    assert dict(ledger.load_state(*OWNER)) == {"plays": 4, "offset": 1200, "favorite": "jazz"}
    assert spool.replay(ledger) == 0 and rows_of_the_turn() == 1
    assert len(list(ledger.iter_transcripts())) == 2  # the other device's turn, once too


def test_a_state_that_keeps_moving_under_a_turn_ends_its_retries_with_a_clear_error(postgres_ledger_url, tmp_path):
    from skills_sdk.context import StateChange
    from skills_sdk.errors import StoreError
    from skills_sdk.transcripts import open_ledger

    with open_ledger(postgres_ledger_url, key_file=str(tmp_path / "ledger.key")) as led:
        led.save_state(*OWNER, {"plays": 3})
        loaded = led.load_state(*OWNER)
        led.save_state(*OWNER, {"plays": 4})  # another turn, after this one loaded
        merged = led.merged_over_stored
        # Every run finds yet another version stored under it (as under a stream of the user's turns).
        led.merged_over_stored = lambda conn, *a: (b"moved again", merged(conn, *a)[1])
        change = StateChange('{"plays":3,"offset":1}', token=loaded.token, base=dict(loaded),
                             mine={"plays": 3, "offset": 1})
        row = {"developer_id": OWNER[0], "skill": OWNER[1], "user_id": USER, "speech": "Saved your place.",
               "request_id": "R-moving"}
        moved = "ran 8 times and each time the user's state changed under this turn's change.*spools the row"
        with pytest.raises(StoreError, match=moved):
            led.record(row, state=change)
        assert [r for r in led.iter_transcripts() if r["request_id"] == "R-moving"] == []
        assert dict(led.load_state(*OWNER)) == {"plays": 4}
