"""Erasure: a user's rows, state and index entries are gone from every file byte, with a receipt; others stay."""

from __future__ import annotations

import json
import threading
from datetime import UTC

import pytest
from _privacy_kit import (
    ALICE,
    BOB,
    fts_integrity_check,
    fts_rowids,
    ledger,  # noqa: F401 (the fixture)
    marker,
    note_skill,
    occurrences,
    speak,
)
from click.testing import CliRunner
from conftest import ledger_host, make_envelope

from skills_sdk import say
from skills_sdk.cli import main
from skills_sdk.errors import ErasureIncomplete
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.erasure import erase_user, iter_receipts
from skills_sdk.transcripts.sqlite.erasure import scrub
from skills_sdk.transcripts.sqlite.fts import index_pending


def test_erased_markers_leave_no_byte_in_db_wal_or_shm_while_others_remain(ledger):
    store, host, path = ledger
    store.set_capture_mode(ALICE, "full")  # the words as said: the hardest case
    mine = [marker() for _ in range(6)]
    theirs = marker()
    for i, m in enumerate(mine):
        speak(host, "notes" if i % 2 else "shop", ALICE, m, intent="BuyIntent" if i == 3 else "NoteIntent")
    speak(host, "notes", BOB, theirs)
    assert index_pending(store.db.conn) == 7  # the markers are in the full-text index too
    store.checkpoint("PASSIVE")
    assert all(occurrences(path, m) for m in mine)

    receipt = erase_user(store, ALICE)

    assert receipt["transcripts"] == 6 and receipt["scrubbed"] is True
    assert [m for m in mine if occurrences(path, m)] == []
    assert occurrences(path, theirs) > 0
    assert store.count(user_id=BOB) == 1


def test_erasure_removes_full_text_entries_and_saved_state(ledger):
    store, host, _ = ledger
    m = marker()
    speak(host, "notes", ALICE, m)
    assert store.load_state("dev-a", "notes", ALICE) == {"last": m}
    index_pending(store.db.conn)

    erase_user(store, ALICE)

    assert fts_rowids(store, f'"{m}"') == []
    assert store.load_state("dev-a", "notes", ALICE) == {}


def test_receipt_counts_per_skill_and_developer_and_holds_no_user_id(ledger):
    store, host, path = ledger
    for skill, n in (("notes", 2), ("shop", 3)):
        for _ in range(n):
            speak(host, skill, ALICE, "hello")

    receipt = erase_user(store, ALICE)

    assert receipt["per_skill"] == {"notes": 2, "shop": 3}
    assert receipt["developers"] == ["dev-a", "dev-b"]
    assert receipt["receipt_id"].startswith("er_")
    stored = iter_receipts(store, user_id=ALICE)
    assert [r["receipt_id"] for r in stored] == [receipt["receipt_id"]]
    row = store.db.conn.execute("SELECT * FROM erasure_receipts").fetchone()
    assert ALICE not in json.dumps(row)


def test_erasure_of_one_skill_keeps_the_users_other_skills(ledger):
    store, host, _ = ledger
    speak(host, "notes", ALICE, "one")
    speak(host, "shop", ALICE, "two")

    receipt = erase_user(store, ALICE, skill="notes")

    assert receipt["per_skill"] == {"notes": 1}
    assert [r["skill"] for r in store.user_history(ALICE)] == ["shop"]


def test_unknown_user_gets_a_zero_row_receipt(ledger):
    store, host, _ = ledger
    speak(host, "notes", BOB, "kept")

    receipt = erase_user(store, "amzn1.ask.account.NOBODY")

    assert (receipt["transcripts"], receipt["per_skill"], receipt["scrubbed"]) == (0, {}, True)
    assert store.count(user_id=BOB) == 1


def test_consent_choice_survives_erasure(ledger):
    store, host, _ = ledger
    store.set_capture_mode(ALICE, "metadata")
    speak(host, "notes", ALICE, "x")

    erase_user(store, ALICE)

    assert store.capture_mode(ALICE) == "metadata"


def test_busy_checkpoint_is_reported_not_claimed(ledger):
    store, host, path = ledger
    speak(host, "notes", ALICE, marker())
    reader = TranscriptStore(path)
    reader.db.conn.execute("BEGIN")
    reader.db.conn.execute("SELECT count(*) FROM transcripts").fetchone()  # holds a read transaction open
    try:
        with pytest.raises(ErasureIncomplete) as info:
            erase_user(store, ALICE)
    finally:
        reader.db.conn.execute("COMMIT")
        reader.close()

    assert info.value.receipt["scrubbed"] is False and info.value.receipt["transcripts"] == 1
    assert [r["scrubbed"] for r in iter_receipts(store, user_id=ALICE)] == [False]
    assert erase_user(store, ALICE)["scrubbed"] is True  # retrying finishes the scrub
    assert [r["scrubbed"] for r in iter_receipts(store, user_id=ALICE)] == [True, True]


def test_capture_for_other_users_during_erasure_neither_fails_nor_resurrects(ledger):
    store, host, path = ledger
    mine = [marker() for _ in range(20)]
    for i, m in enumerate(mine):
        speak(host, "notes", ALICE, m)
        if i == 9:
            index_pending(store.db.conn)  # half of them indexed, half not yet
    errors: list[BaseException] = []
    stop = threading.Event()
    written = []

    def capture_others():
        n = 0
        while not stop.is_set() and n < 200:
            try:
                r = speak(host, "notes", f"amzn1.ask.account.OTHER{n % 3}", f"other {n}")
                assert r.response.error is None and r.transcript.get("id")
                written.append(r.transcript["id"])
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            n += 1

    t = threading.Thread(target=capture_others)
    t.start()
    receipts = [erase_user(store, ALICE, check=False) for _ in range(3)]
    stop.set()
    t.join()

    assert errors == []
    assert sum(r["transcripts"] for r in receipts) == 20
    assert store.count(user_id=ALICE) == 0
    assert len(written) == sum(store.count(user_id=f"amzn1.ask.account.OTHER{i}") for i in range(3))
    assert scrub(store)
    assert [m for m in mine if occurrences(path, m)] == []


def test_skill_disabled_forgets_the_user_in_that_skill_only(ledger):
    store, host, path = ledger
    gone, kept = marker(), marker()
    speak(host, "notes", ALICE, gone)
    speak(host, "shop", ALICE, kept)
    event = make_envelope("AlexaSkillEvent.SkillDisabled", user_id=ALICE)
    del event["session"]

    result = host.handle("notes", event)

    assert result.envelope["response"] == {}
    assert [r["skill"] for r in store.user_history(ALICE)] == ["shop"]
    assert store.load_state("dev-a", "notes", ALICE) == {}
    assert occurrences(path, gone) == 0 and occurrences(path, kept) > 0
    assert [r["reason"] for r in iter_receipts(store, user_id=ALICE)] == ["skill_disabled"]


def test_skill_disabled_with_grace_days_is_queued_for_the_purge(tmp_path):
    from datetime import datetime, timedelta

    from skills_sdk.transcripts.retention import purge

    store = TranscriptStore(tmp_path / "t.db")
    skill = note_skill("notes", "dev-a", disable_grace_days=7)
    host = ledger_host([skill], store)
    speak(host, "notes", ALICE, "remember me")
    event = make_envelope("AlexaSkillEvent.SkillDisabled", user_id=ALICE)
    del event["session"]
    host.handle("notes", event)
    assert store.count(user_id=ALICE) == 1

    now = datetime.now(UTC)
    assert purge(store, [skill], now=now + timedelta(days=6))["erasures"] == []
    report = purge(store, [skill], now=now + timedelta(days=8))

    assert len(report["erasures"]) == 1
    assert store.count(user_id=ALICE) == 0
    assert store.db.conn.execute("SELECT count(*) FROM pending_erasures").fetchone()[0] == 0


def test_cli_erase_prints_the_receipt(ledger):
    store, host, path = ledger
    speak(host, "notes", ALICE, "a")
    speak(host, "shop", ALICE, "b")

    result = CliRunner().invoke(main, ["transcripts", "erase", "--db", str(path), "--user", ALICE,
                                       "--skill", "shop"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["per_skill"] == {"shop": 1}
    assert store.count(user_id=ALICE) == 1


def test_ids_reused_after_erasing_the_last_rows_stay_searchable_and_the_index_stays_sound(ledger):
    store, host, _ = ledger
    speak(host, "notes", BOB, "first")
    speak(host, "notes", ALICE, "second")
    index_pending(store.db.conn)
    erase_user(store, ALICE)  # removes the last row: its id will be handed out again
    reused = speak(host, "notes", ALICE, "again").transcript["id"]
    index_pending(store.db.conn)

    assert fts_rowids(store, "again") == [reused]
    erase_user(store, ALICE)
    fts_integrity_check(store)


def test_rows_waiting_in_the_spool_do_not_come_back_after_erasure(ledger):
    from skills_sdk.transcripts.spool import Spool

    store, host, path = ledger
    spool = Spool.for_store(store)
    gone, kept = marker(), marker()
    spool.append({"developer_id": "dev-a", "skill": "notes", "user_id": ALICE, "speech": gone})
    spool.append({"developer_id": "dev-a", "skill": "notes", "user_id": BOB, "speech": kept})

    receipt = erase_user(store, ALICE)
    assert [f for f in spool.files() if gone.encode() in open(f, "rb").read()] == []
    spool.replay(store)

    assert receipt["spooled"] == 1
    assert store.count(user_id=ALICE) == 0 and store.count(user_id=BOB) == 1
    assert occurrences(path, gone) == 0


def test_erasing_one_skill_keeps_the_users_other_spooled_rows(ledger):
    from skills_sdk.transcripts.spool import Spool

    store, host, path = ledger
    spool = Spool.for_store(store)
    spool.append({"developer_id": "dev-a", "skill": "notes", "user_id": ALICE, "speech": "a"})
    spool.append({"developer_id": "dev-b", "skill": "shop", "user_id": ALICE, "speech": "b"})

    receipt = erase_user(store, ALICE, skill="notes")
    spool.replay(store)

    assert receipt["per_skill"] == {"notes": 1}
    assert [r["skill"] for r in store.user_history(ALICE)] == ["shop"]


def test_cli_erase_refuses_an_empty_skill(ledger):
    store, host, path = ledger
    speak(host, "notes", ALICE, "a")
    result = CliRunner().invoke(main, ["transcripts", "erase", "--db", str(path), "--user", ALICE, "--skill", ""])
    assert result.exit_code == 2 and "Invalid value for --skill: is empty: leave it out to erase every skill" in result.output
    assert store.count(user_id=ALICE) == 1


def test_the_skills_own_disable_handler_still_runs_and_cannot_bring_state_back(tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    skill = note_skill("notes", "dev-a")
    seen = []

    @skill.on("AlexaSkillEvent.SkillDisabled")
    def disabled(ctx):
        seen.append(ctx.user_id)
        ctx.state["goodbye"] = True
        return say("ignored")

    host = ledger_host([skill], store)
    speak(host, "notes", ALICE, "hello")
    event = make_envelope("AlexaSkillEvent.SkillDisabled", user_id=ALICE)
    del event["session"]

    result = host.handle("notes", event)

    assert seen == [ALICE] and result.envelope["response"] == {}
    assert store.load_state("dev-a", "notes", ALICE) == {} and store.count(user_id=ALICE) == 0


def test_each_receipt_carries_a_manifest_of_where_the_data_was_and_what_is_out_of_reach(ledger):
    store, host, path = ledger
    speak(host, "notes", ALICE, "first")
    speak(host, "shop", ALICE, "second")

    receipt = erase_user(store, ALICE)

    places = {m["place"]: m["what"] for m in receipt["manifest"]["removed"]}
    assert set(places) == {"transcripts", "search index", "spool", "saved skill state", "scheduled erasures",
                           "database file", "write-ahead log"}
    assert places["transcripts"].startswith("2 transcripts") and places["saved skill state"].startswith("2 records")
    assert "emptied" in places["write-ahead log"]
    assert {m["place"] for m in receipt["manifest"]["kept"]} == {"your capture choice", "your user tokens",
                                                                  "this receipt and the audit log"}
    beyond = {m["place"] for m in receipt["manifest"]["out_of_reach"]}
    assert {"exports and downloads already made", "backups"} <= beyond
    assert ALICE not in json.dumps(receipt)
    assert iter_receipts(store, user_id=ALICE)[0]["manifest"]["removed"][0] == receipt["manifest"]["removed"][0]


def test_the_my_data_receipt_page_shows_the_manifest(tmp_path):
    import re

    from skills_sdk.server import create_app
    from skills_sdk.transcripts.keys import create_key

    store = TranscriptStore(tmp_path / "t.db")
    app = create_app([note_skill("notes", "dev-a")], store=store)
    speak(app.extensions["skills_sdk"]["host"], "notes", ALICE, "hello")
    token = create_key(store, "user", ALICE)[1]
    c = app.test_client()

    def csrf() -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/console/me").get_data(as_text=True)).group(1)

    c.post("/console/me/sign-in", data={"token": token, "csrf_token": csrf()})
    page = c.post("/console/me/erase", data={"confirm": "yes", "csrf_token": csrf()}).get_data(as_text=True)
    assert 'id="manifest"' in page and "search index" in page and "backups" in page
    assert "1 transcript (what skills said to you" in page
