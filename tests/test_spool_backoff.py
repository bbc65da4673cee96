"""Without the server's guard, a ledger that failed a write is skipped for a moment: later turns spool without waiting."""

from __future__ import annotations

import psycopg
import pytest
from conftest import make_envelope

from skills_sdk import SkillHost
from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.backoff import Backoff
from skills_sdk.transcripts.compose import ledger_middleware


@pytest.fixture
def ledger(postgres_ledger_url, tmp_path):
    # A short write_timeout: the first turn under the lock waits it (there is no timing asserted below).
    led = open_ledger(postgres_ledger_url, key_file=str(tmp_path / "ledger.key"),
                      spool_path=str(tmp_path / "ledger.spool"), write_timeout=0.3)
    led.start()
    yield led
    led.stop()


def test_under_a_held_lock_only_the_first_turn_and_then_one_probe_a_second_wait_for_the_database(
        ledger, greeter, monkeypatch):
    spool = ledger.spool()
    middleware = ledger_middleware(ledger, spool=spool)  # a skill developer's own wiring: no LedgerGuard
    now = [0.0]
    middleware[-1].guard.backoff.clock = lambda: now[0]  # the back-off's seconds pass when the test says so
    tried: list[str] = []
    record = ledger.record

    def counted(row, **kwargs):
        tried.append(row["request_id"])
        return record(row, **kwargs)

    monkeypatch.setattr(ledger, "record", counted)
    host = SkillHost([greeter], state=ledger, middleware=middleware)
    turns: list[str] = []

    def turn() -> None:
        env = make_envelope(intent="CountIntent", slots={"n": "2"}, user_id="amzn1.ask.account.LOCKED")
        assert host.handle("greeter", env).response.speech == "1, 2"  # answered either way
        turns.append(env["request"]["requestId"])

    # What a migration rebuilding the table holds until it commits.
    with psycopg.connect(ledger.url) as holder:
        holder.execute("LOCK TABLE transcripts IN ACCESS EXCLUSIVE MODE")
        for _ in range(5):
            turn()
        assert tried == turns[:1]  # the first waited write_timeout; the other four went straight to the spool
        assert spool.pending() == 5
        now[0] += 1.5  # the back-off is over, the lock still held: one turn probes, the next spools at once
        turn()
        turn()
        assert tried == [turns[0], turns[5]] and spool.pending() == 7
    now[0] += 3.0  # released; the next turn probes and the store takes its row, and every row after it
    turn()
    turn()
    assert tried == [turns[0], turns[5], turns[7], turns[8]]
    assert spool.replay(ledger) == 7
    stored = [r["request_id"] for r in ledger.iter_transcripts()]
    assert sorted(stored) == sorted(turns)  # each turn's row once: none lost, none replayed twice
    assert spool.replay(ledger) == 0


def test_a_backoff_lets_one_write_probe_while_the_others_go_on_spooling():
    now = [10.0]
    backoff = Backoff(1.0, clock=lambda: now[0])
    backoff.failed(OSError("down"))
    assert backoff.skip() and backoff.cause.args == ("down",)
    now[0] = 11.0
    assert not backoff.skip()  # this write is the probe
    assert backoff.skip()  # the others spool while it runs (and for a second more if it fails too)
    backoff.recovered()
    assert not backoff.skip() and backoff.cause is None
