"""Two hosts over one PostgreSQL: a user erased on one host while the other holds their turns in its spool."""

from __future__ import annotations

import time

import pytest

from skills_sdk.transcripts.postgres import PostgresLedger
from skills_sdk.transcripts.record import utcnow_iso
from skills_sdk.transcripts.redaction import Redactor


@pytest.fixture
def hosts(postgres_url, tmp_path):
    key_file = str(tmp_path / "ledger.key")
    made = [PostgresLedger(postgres_url, key_file=key_file, spool_path=str(tmp_path / f"spool-{h}")) for h in "ab"]
    yield made
    for host in made:
        host.stop()


def _turn(user: str, words: str, *, skill: str = "notes", developer_id: str = "dev-a") -> dict:
    return {"developer_id": developer_id, "skill": skill, "user_id": user, "session_id": "S-" + user,
            "request_type": "IntentRequest", "intent": "NoteIntent", "utterance": words, "speech": f"Noted: {words}.",
            "slots": {}, "latency_ms": 1.0, "end_session": False, "request_id": "R-" + words.replace(" ", "-"),
            "created_at": utcnow_iso()}


def _utterances(ledger: PostgresLedger) -> list[str]:
    return sorted(r["utterance"] for r in ledger.iter_transcripts())


def test_a_row_spooled_on_one_host_does_not_come_back_after_the_user_is_erased_on_the_other(hosts, caplog):
    a, b = hosts
    a.record(_turn("gone", "stored words"))
    spool = b.spool()
    # Host b could not reach the database for these turns: they wait in its own spool.
    assert spool.append(_turn("gone", "spooled secret"), OSError("unreachable"))
    assert spool.append(_turn("kept", "spooled other"), OSError("unreachable"))
    time.sleep(0.002)  # the erasure's time must follow the captures', as it does on a real clock
    receipt = a.erase_user("gone", ratchet=False)
    assert receipt["transcripts"] == 1 and receipt["spooled"] == 0  # a's spool never held them

    with caplog.at_level("WARNING", logger="skills_sdk.transcripts"):
        assert spool.replay(b) == 1
    assert _utterances(a) == ["spooled other"]  # the erased user's row stayed gone
    # The warning says how many were dropped, and keeps it through the log's redactor (which read
    # "1 spooled row" as a street address).
    said = next(r.getMessage() for r in caplog.records if "erased since their capture" in r.getMessage())
    assert said.endswith(": 1") and Redactor().redact(said).text == said

    time.sleep(0.002)
    a.record(_turn("gone", "said after the erasure"))  # a user who comes back is recorded again
    assert spool.append(_turn("gone", "spooled after the erasure"), OSError("unreachable"))
    assert spool.replay(b) == 1
    assert _utterances(a) == ["said after the erasure", "spooled after the erasure", "spooled other"]


def test_an_erasure_for_one_skill_drops_only_that_skills_spooled_rows(hosts):
    a, b = hosts
    spool = b.spool()
    assert spool.append(_turn("u", "pizza words", skill="pizza"), OSError("unreachable"))
    assert spool.append(_turn("u", "music words", skill="music"), OSError("unreachable"))
    assert spool.append(_turn("u", "other developer", skill="pizza", developer_id="dev-b"), OSError("unreachable"))
    time.sleep(0.002)
    a.erase_user("u", skill="pizza", developer_id="dev-a", ratchet=False)
    assert spool.replay(b) == 2
    assert _utterances(a) == ["music words", "other developer"]
