"""Transcript capture: one row per response, tagged with developer and user, redacted per consent."""

from __future__ import annotations

import json

import pytest
from conftest import ledger_host, make_envelope

from skills_sdk import Skill, SkillHost, say
from skills_sdk.transcripts import TranscriptStore


def test_one_row_per_response_with_developer_and_user(greeter, memory_store):
    host = ledger_host([greeter], memory_store)
    host.handle("greeter", make_envelope("LaunchRequest", user_id="alice"))
    host.handle("greeter", make_envelope(intent="MoodIntent", slots={"mood": "happy"}, user_id="alice"))
    host.handle("greeter", make_envelope(intent="MoodIntent", slots={"mood": "sad"}, user_id="bob"))
    rows = list(memory_store.iter_transcripts())
    assert len(rows) == 3
    assert {r["developer_id"] for r in rows} == {"dev-greeter"}
    assert [r["user_id"] for r in rows] == ["alice", "alice", "bob"]
    mood = rows[1]
    assert mood["intent"] == "MoodIntent" and mood["slots"] == {"mood": "happy"}
    assert mood["speech"] == "Glad to know you are happy." and mood["card"]["title"] == "Mood"
    assert mood["request_type"] == "IntentRequest" and mood["status"] == "ok" and mood["end_session"] is True
    assert rows[0]["intent"] is None and rows[0]["reprompt"] == "How are you?"
    assert mood["latency_ms"] >= 0 and mood["locale"] == "en-US"


def test_speech_is_plain_text_without_ssml(memory_store):
    skill = Skill("speaker", developer_id="d")
    skill.add_launch(lambda ctx: say("ham & pineapple"))
    ledger_host([skill], memory_store).handle("speaker", make_envelope())
    assert next(memory_store.iter_transcripts())["speech"] == "ham & pineapple"


def test_transaction_and_directives_are_recorded(memory_store):
    skill = Skill("shop", developer_id="d")
    skill.add_launch(lambda ctx: say("Bought.").transaction("order", "O-9", "12.30").play(
        "https://cdn/x.mp3", token="t"))
    ledger_host([skill], memory_store).handle("shop", make_envelope())
    r = next(memory_store.iter_transcripts())
    assert r["transaction"] == {"kind": "order", "reference": "O-9", "amount": "12.30", "currency": "USD",
                                "status": "completed"}
    assert r["directives"] == ["AudioPlayer.Play"]


def test_handler_error_is_recorded_redacted_and_the_user_hears_an_apology(greeter, memory_store):
    result = ledger_host([greeter], memory_store).handle("greeter", make_envelope(intent="BoomIntent"))
    assert "Sorry" in result.response.speech
    r = next(memory_store.iter_transcripts())
    assert r["status"] == "error"
    assert "4111" not in r["error"] and "[CARD]" in r["error"]
    assert "CARD" in r["redacted"]


def test_middleware_failure_is_recorded_too(greeter, memory_store):
    def broken(ctx, call_next):
        raise KeyError("oops")

    host = ledger_host([greeter], memory_store, middleware=[broken])
    result = host.handle("greeter", make_envelope())
    assert "Sorry" in result.response.speech
    assert next(memory_store.iter_transcripts())["status"] == "error"


def test_pii_is_redacted_before_storage_by_default(memory_store):
    skill = Skill("echo", developer_id="d")
    skill.add_launch(lambda ctx: say("I'll text 415-555-0100 and mail jane.doe@example.com."))
    ledger_host([skill], memory_store).handle("echo", make_envelope())
    r = next(memory_store.iter_transcripts())
    assert "555-0100" not in r["speech"] and "jane.doe" not in r["speech"]
    assert set(r["redacted"]) >= {"PHONE", "EMAIL"} and r["capture_mode"] == "redacted"


def test_full_mode_keeps_text_and_metadata_mode_keeps_none(memory_store):
    skill = Skill("echo", developer_id="d")
    skill.add_launch(lambda ctx: say("Call 415-555-0100.").transaction("order", "O-1", "5.00"))
    host = ledger_host([skill], memory_store)
    memory_store.set_capture_mode("full-user", "full")
    memory_store.set_capture_mode("meta-user", "metadata")
    host.handle("echo", make_envelope(user_id="full-user"))
    host.handle("echo", make_envelope(user_id="meta-user"))
    full, meta = list(memory_store.iter_transcripts())
    assert full["speech"] == "Call 415-555-0100." and full["capture_mode"] == "full"
    assert meta["speech"] is None and meta["card"] is None and meta["slots"] is None
    assert meta["transaction"]["reference"] == "O-1" and meta["capture_mode"] == "metadata"


def test_row_is_committed_before_the_reply_is_returned(greeter, tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    host = ledger_host([greeter], store)
    result = host.handle("greeter", make_envelope())
    # A second, independent connection sees the row the moment handle() returns.
    other = TranscriptStore(tmp_path / "t.db")
    assert other.get(result.transcript["id"])["request_id"] == result.transcript["request_id"]


def test_store_failure_does_not_fail_the_request(greeter):
    class BrokenStore(TranscriptStore):
        def record(self, row, **kwargs):
            import sqlite3

            raise sqlite3.OperationalError("database is locked")

    spooled = []
    host = ledger_host([greeter], BrokenStore(":memory:"))
    host.capture.guard.fallback = lambda row, exc: spooled.append((row, str(exc)))
    result = host.handle("greeter", make_envelope())
    assert result.response.speech.startswith("Hello")
    assert spooled and spooled[0][1] == "database is locked"


def test_row_values_are_plain_json(greeter, memory_store):
    ledger_host([greeter], memory_store).handle("greeter", make_envelope(intent="MoodIntent",
                                                                             slots={"mood": "happy"}))
    raw = memory_store.db.conn.execute("SELECT slots, card FROM transcripts").fetchone()
    assert json.loads(raw[0]) == {"mood": "happy"} and json.loads(raw[1])["type"] == "Simple"


def test_the_ledger_middleware_forgets_disabled_users_before_capturing(greeter, memory_store):
    from skills_sdk.transcripts.capture import Capture
    from skills_sdk.transcripts.compose import ledger_middleware
    from skills_sdk.transcripts.erasure import ForgetOnDisable

    chain = ledger_middleware(memory_store)
    assert [type(m) for m in chain] == [ForgetOnDisable, Capture]
    assert [type(m) for m in ledger_middleware(memory_store, capture=False)] == [ForgetOnDisable]
    host = SkillHost([greeter], state=memory_store, middleware=chain)
    assert host.capture is chain[1]
    host.handle("greeter", make_envelope("LaunchRequest", user_id="alice"))
    host.handle("greeter", make_envelope("AlexaSkillEvent.SkillDisabled", user_id="alice"))
    assert memory_store.count(user_id="alice") == 0  # erased, and the event itself left no row



def test_the_older_store_keyword_warns_with_the_replacement_and_still_composes_the_ledger(greeter, memory_store):
    from skills_sdk.host import STORE_DEPRECATED

    with pytest.warns(DeprecationWarning) as caught:
        host = SkillHost([greeter], store=memory_store, capture=False)
    assert [str(w.message) for w in caught] == [STORE_DEPRECATED]
    assert caught[0].filename == __file__  # points at the caller's line, not at SkillHost
    message = str(caught[0].message)
    assert "SkillHost(skills, state=ledger, middleware=[*ledger_middleware(ledger), *middleware])" in message
    assert "from skills_sdk.transcripts.compose import ledger_middleware" in message
    # Still working: state is the ledger and forget-on-disable runs (capture=False went to ledger_middleware).
    assert host.store is memory_store and host.capture is None
    ledger_host([greeter], memory_store).handle("greeter", make_envelope("LaunchRequest", user_id="alice"))
    assert memory_store.count(user_id="alice") == 1
    host.handle("greeter", make_envelope("AlexaSkillEvent.SkillDisabled", user_id="alice"))
    assert memory_store.count(user_id="alice") == 0
    with pytest.raises(TypeError, match="state= .* or the older store=, not both"):
        SkillHost([greeter], state=memory_store, store=memory_store)
    for older in ({"capture": False}, {"guard": object()}, {"spool": object()}):  # never silently ignored
        with pytest.raises(TypeError, match=r"pass them to ledger_middleware\(ledger, capture="):
            SkillHost([greeter], state=memory_store, **older)


def test_an_unguarded_capture_hands_a_refused_row_to_its_fallback_and_a_guard_refuses_a_fallback(memory_store):
    import sqlite3

    from skills_sdk.transcripts.capture import Capture
    from skills_sdk.transcripts.guard import LedgerGuard, Unguarded

    class Locked(TranscriptStore):
        def record(self, row, **kwargs):
            raise sqlite3.OperationalError("database is locked")

    kept = []
    policy = Unguarded(Locked(":memory:"), fallback=lambda row, exc: kept.append((row["request_id"], str(exc))))
    policy.admit()  # never refuses
    assert policy.record({"request_id": "r1", "developer_id": "d", "skill": "s", "user_id": "u"}) is None
    assert kept == [("r1", "database is locked")]
    assert Unguarded(memory_store).record({"request_id": "r2", "developer_id": "d", "skill": "s", "user_id": "u"}) == 1
    with pytest.raises(ValueError, match="guard or a fallback, not both"):
        Capture(memory_store, guard=LedgerGuard(memory_store), fallback=lambda row, exc: None)
