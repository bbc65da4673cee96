"""A turn answered while the ledger could not take its row keeps its state change: spooled with the row, saved at replay."""

from __future__ import annotations

import json

import psycopg
import pytest
from conftest import LEDGER_BACKENDS, make_envelope

from skills_sdk import Skill, SkillHost, say
from skills_sdk.context import StateChange
from skills_sdk.transcripts.compose import ledger_middleware
from skills_sdk.transcripts.record import utcnow_iso
from skills_sdk.transcripts.spool import STATE_KEY, with_state

# The ledger's own SQLite library: a second one in this process would not see its locks.
from skills_sdk.transcripts.sqlite.driver import sqlite3

USER = "amzn1.ask.account.CART"
OWNER = ("dev-shop", "shop", USER)


@pytest.fixture(params=[p for p in LEDGER_BACKENDS if p.id != "sqlite-memory"])  # a spool needs a file beside it
def ledger(request, tmp_path):
    led = request.param(request, tmp_path)
    led.start()
    yield led
    led.stop()


def shop() -> Skill:
    skill = Skill("shop", developer_id="dev-shop", invocation_name="corner shop")

    @skill.intent("AddIntent", samples=["add {item}"], slots={"item": "AMAZON.Food"})
    def add(ctx):
        ctx.state["cart"] = [*ctx.state.get("cart", []), ctx.slot("item")]
        return say(f"Added {ctx.slot('item')}. Your cart has {len(ctx.state['cart'])} things.")

    @skill.intent("ClearIntent", samples=["clear my cart"])
    def clear(ctx):
        ctx.state.pop("cart", None)
        ctx.state["cleared"] = True
        return say("Your cart is empty.")

    return skill


def add(host: SkillHost, item: str) -> str:
    env = make_envelope(intent="AddIntent", slots={"item": item}, user_id=USER)
    return host.handle("shop", env).response.speech


def spooled_row(words: str, **extra) -> dict:
    return {"developer_id": OWNER[0], "skill": OWNER[1], "user_id": OWNER[2], "session_id": "S1",
            "request_type": "IntentRequest", "intent": "AddIntent", "utterance": words, "speech": "Added.",
            "slots": {}, "latency_ms": 1.0, "end_session": False, "request_id": "R-" + words.replace(" ", "-"),
            "created_at": utcnow_iso(), **extra}


def change(base: dict, mine: dict) -> StateChange:
    return StateChange(json.dumps(mine), token="loaded", base=base, mine=mine)


@pytest.fixture
def write_fault(ledger):
    """A real fault that lets the ledger read but not write: a lock held (SQLite), read-only sessions (PostgreSQL)."""
    path = ledger.local_file()
    if path is not None:
        ledger.capture_timeout_ms = 50
        holder = sqlite3.connect(path, isolation_level=None, timeout=5)

        def begin():
            holder.execute("BEGIN EXCLUSIVE")  # WAL: readers go on, no one else writes

        def end():
            holder.execute("ROLLBACK")
            holder.close()
        return begin, end

    with ledger.connection() as conn:
        name = conn.info.dbname

    def read_only(on: bool):
        with psycopg.connect(ledger.url, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                         "AND pid <> pg_backend_pid()", (name,))
        ledger.pool.check()  # the pool's connections were ended: take new sessions, as its own check would
    return (lambda: read_only(True)), (lambda: read_only(False))


def test_a_turn_answered_while_the_ledger_could_not_write_keeps_its_state_change(ledger, write_fault, caplog):
    spool = ledger.spool()
    host = SkillHost([shop()], state=ledger, middleware=ledger_middleware(ledger, spool=spool))
    assert add(host, "bread") == "Added bread. Your cart has 1 things."
    begin, end = write_fault
    begin()
    try:
        with caplog.at_level("ERROR", logger="skills_sdk"):
            assert add(host, "milk") == "Added milk. Your cart has 2 things."  # the user was told: it must hold
        assert spool.pending() == 1
        # The spool took the change with the row: the turn did not try to save it on its own too.
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        end()
    assert dict(ledger.load_state(*OWNER)) == {"cart": ["bread"]}  # not yet: it waits with its row
    assert spool.replay(ledger) == 1
    assert dict(ledger.load_state(*OWNER)) == {"cart": ["bread", "milk"]}
    assert [r["speech"] for r in ledger.iter_transcripts()] == ["Added bread. Your cart has 1 things.",
                                                                "Added milk. Your cart has 2 things."]
    assert spool.replay(ledger) == 0 and dict(ledger.load_state(*OWNER)) == {"cart": ["bread", "milk"]}


def test_a_spooled_change_is_merged_over_what_was_stored_meanwhile(ledger):
    spool = ledger.spool()
    ledger.save_state(*OWNER, {"cart": ["bread"], "plays": 1, "gone": "x"})
    # The turn loaded that state, set cart and removed "gone"; its row could not be written.
    turn = change({"cart": ["bread"], "plays": 1, "gone": "x"}, {"cart": ["bread", "milk"], "plays": 1})
    assert spool.append(with_state(spooled_row("add milk"), turn), OSError("the database is unreachable"))
    ledger.save_state(*OWNER, {"cart": ["bread"], "plays": 2, "gone": "x", "favorite": "jazz"})  # meanwhile
    assert spool.replay(ledger) == 1
    # Its own changes over what another turn stored since; nothing else undone.
    assert dict(ledger.load_state(*OWNER)) == {"cart": ["bread", "milk"], "plays": 2, "favorite": "jazz"}


def test_changes_spooled_in_turn_order_are_saved_in_that_order(ledger):
    spool = ledger.spool()
    spool.append(with_state(spooled_row("add milk"), change({}, {"cart": ["milk"]})), OSError("down"))
    spool.append(with_state(spooled_row("clear my cart"), change({"cart": ["milk"]}, {"cleared": True})), OSError("down"))
    assert spool.replay(ledger) == 2
    assert dict(ledger.load_state(*OWNER)) == {"cleared": True}


def test_a_row_the_ledger_refuses_keeps_its_state_change_and_is_kept_without_it(ledger):
    spool = ledger.spool()
    bad = spooled_row("add milk", latency_ms="slow")  # refused for what it holds
    assert spool.append(with_state(bad, change({}, {"cart": ["milk"]})), OSError("down"))
    assert spool.replay(ledger) == 0
    assert dict(ledger.load_state(*OWNER)) == {"cart": ["milk"]}  # the user was told it was added
    (kept,) = [json.loads(line) for line in open(spool.refused.path, encoding="utf-8")]
    assert STATE_KEY not in kept  # a retry of the row never saves the change a second time
    assert kept["utterance"] == "add milk"


def test_an_erased_users_spooled_change_never_comes_back(ledger):
    spool = ledger.spool()
    assert spool.append(with_state(spooled_row("add milk"), change({}, {"cart": ["milk"]})), OSError("down"))
    ledger.erase_user(USER)
    assert spool.replay(ledger) == 0
    assert dict(ledger.load_state(*OWNER)) == {}


def test_an_unreadable_spooled_change_is_logged_and_the_row_still_replayed(ledger, caplog):
    spool = ledger.spool()
    row = {**spooled_row("add milk"), STATE_KEY: ["not", "a", "change"]}
    assert spool.append(row, OSError("down"))
    with caplog.at_level("ERROR", logger="skills_sdk.transcripts"):
        assert spool.replay(ledger) == 1
    assert dict(ledger.load_state(*OWNER)) == {}
    assert any("state change spooled with request R-add-milk was not applied" in r.getMessage() for r in caplog.records)


def test_a_state_change_is_kept_as_its_changes_alone():
    turn = change({"cart": ["bread"], "plays": 1, "gone": "x"}, {"cart": ["bread", "milk"], "plays": 1, "new": 0})
    assert turn.delta() == {"set": {"cart": ["bread", "milk"], "new": 0}, "unset": ["gone"]}
    again = StateChange.from_delta(json.loads(json.dumps(turn.delta())))
    assert again.merged({"cart": ["bread"], "plays": 1, "gone": "x"}) == {"cart": ["bread", "milk"], "plays": 1,
                                                                           "new": 0}
    with pytest.raises(ValueError, match="'set' must be an object"):
        StateChange.from_delta({"set": [1]})
    assert with_state({"a": 1}, None) == {"a": 1} and with_state({"a": 1}, '{"plain": 1}') == {"a": 1}
