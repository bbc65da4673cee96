"""A turn that reads its state reads the user's capture mode in the same statement: one read transaction, not two."""

from __future__ import annotations

import pytest
from _privacy_kit import note_skill, speak
from conftest import LEDGER_BACKENDS, ledger_host

from skills_sdk import Skill, say
from skills_sdk.transcripts import Ledger

USER = "amzn1.ask.account.ONEREAD"


@pytest.fixture(params=[p for p in LEDGER_BACKENDS if p.id != "sqlite-memory"])  # its one connection is open already
def store(request, tmp_path) -> Ledger:
    """A started ledger of each backend whose connections ``reads_outside_transactions`` can still watch."""
    led = request.param(request, tmp_path)
    led.start()
    yield led
    led.stop()


def reads_outside_transactions(store: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reads run on ``store``'s connections from now on outside a transaction (each its own round trip).

    SQLite: every statement outside ``BEGIN``..``COMMIT`` on a connection opened from now on.
    PostgreSQL: every ``SELECT`` psycopg runs on a connection not in a transaction.
    """
    seen: list[str] = []
    if hasattr(store, "connection"):  # PostgreSQL
        import psycopg

        execute = psycopg.Connection.execute

        def counted(conn, query, *args, **kwargs):
            idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if idle and str(query).startswith("SELECT"):
                seen.append(str(query))
            return execute(conn, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", counted)
        return seen
    connect = store._connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: None if conn.in_transaction or sql in ("BEGIN IMMEDIATE", "COMMIT")
                                else seen.append(sql))
        return conn

    monkeypatch.setattr(store, "_connect", traced)
    return seen


def test_a_turn_with_state_opens_one_read_transaction(store, monkeypatch):
    host = ledger_host([note_skill()], store)
    reads = reads_outside_transactions(store, monkeypatch)
    speak(host, "notes", USER, "the one-time reads", intent="BuyIntent")  # the connection's probes, the search key
    del reads[:]
    first = speak(host, "notes", USER, "first")
    second = speak(host, "notes", USER, "second")
    assert [r.transcript["capture_mode"] for r in (first, second)] == ["redacted", "redacted"]
    assert len(reads) == 2, "\n".join(reads)  # one a turn: state and consent together
    assert all("user_state" in sql and "FROM consent" in sql for sql in reads), reads
    assert store.load_state("dev-a", "notes", USER) == {"last": "second"}

    del reads[:]
    speak(host, "notes", USER, "a purchase", intent="BuyIntent")  # no state read: the consent alone
    assert len(reads) == 1 and "FROM consent" in reads[0] and "user_state" not in reads[0], reads


def test_the_mode_read_with_the_state_is_the_one_in_force(store):
    host = ledger_host([note_skill()], store)
    store.set_capture_mode(USER, "full")
    assert speak(host, "notes", USER, "my card 4111 1111 1111 1111").transcript["capture_mode"] == "full"
    store.set_capture_mode(USER, "metadata")
    turn = speak(host, "notes", USER, "my card 4111 1111 1111 1111")
    assert turn.transcript["capture_mode"] == "metadata" and turn.transcript["utterance"] is None
    assert store.load_state("dev-a", "notes", USER) == {"last": "my card 4111 1111 1111 1111"}


def test_a_mode_set_during_the_turn_is_read_again(store):
    """A handler that changes the user's mode after reading the state: the turn is recorded under the new mode."""
    skill = Skill("quiet", developer_id="dev-q", invocation_name="quiet keeper")

    @skill.intent("NoteIntent", samples=["note {note}"], slots={"note": "AMAZON.SearchQuery"})
    def note(ctx, note=None):
        ctx.state["asked"] = True  # the state (and, with it, the mode) is read first
        store.set_capture_mode(ctx.user_id, "metadata")
        return say("I will keep no words of yours.")

    host = ledger_host([skill], store)
    turn = speak(host, "quiet", USER, "stop keeping my words")
    assert turn.transcript["capture_mode"] == "metadata"
    assert turn.transcript["utterance"] is None and turn.transcript["speech"] is None
