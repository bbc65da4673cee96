"""A spooled row the ledger refuses for what it holds is kept aside with the reason, never dropped; erasure and retention reach it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import LEDGER_BACKENDS, build_greeter, make_envelope

from skills_sdk.server import create_app
from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.record import to_iso, utcnow_iso
from skills_sdk.transcripts.retention import Policy

SKILLS = os.path.join(os.path.dirname(sys.executable), "skills")
#: Ledgers with a spool: a file, or a server with this host's spool file (not SQLite in memory).
SPOOLED = [p for p in LEDGER_BACKENDS if p.id != "sqlite-memory"]


@pytest.fixture(params=SPOOLED)
def ledger(request, tmp_path):
    led = request.param(request, tmp_path)
    led.start()
    yield led
    led.stop()


def turn(rid: str, *, user: str = "amzn1.ask.account.ANN", at: str | None = None, **over) -> dict:
    row = {"developer_id": "dev-a", "skill": "notes", "user_id": user, "session_id": "S1",
           "request_type": "IntentRequest", "intent": "NoteIntent", "utterance": f"note {rid}",
           "speech": f"Noted {rid}.", "request_id": rid, "created_at": at or utcnow_iso()}
    row.update(over)
    return row


def spool_with(ledger, *rows) -> None:
    for row in rows:
        assert ledger.spool().append(row, OSError("unreachable"))


def stored(ledger) -> list[str]:
    return sorted(r["request_id"] for r in ledger.iter_transcripts())


def on_disk(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def test_a_refused_row_is_kept_with_its_reason_and_the_rest_are_replayed(ledger):
    spool_with(ledger, turn("R1"), turn("R2", developer_id=None, utterance="orphan words"), turn("R3"))
    spool = ledger.spool()
    assert spool.replay(ledger) == 2
    assert stored(ledger) == ["R1", "R3"]
    [kept] = spool.refused.rows()
    assert kept["request_id"] == "R2" and kept["utterance"] == "orphan words"
    assert "developer_id" in kept["_refused"]["error"]
    assert spool.files() == [] and spool.pending() == 0
    # The spool is done with it: a second replay neither inserts it nor keeps it twice.
    spool_with(ledger, turn("R4"))
    assert spool.replay(ledger) == 1
    assert len(spool.refused.rows()) == 1


def test_a_refused_row_is_tried_again_once_its_cause_is_fixed(ledger):
    spool_with(ledger, turn("R1", developer_id=None), turn("R2", skill=""))
    spool = ledger.spool()
    assert spool.replay(ledger) == 0
    assert len(spool.refused.rows()) == 2
    # The operator fixes one row (it names its developer again); the other is still refused.
    fixed = [json.dumps({**row, "developer_id": "dev-a"} if row["request_id"] == "R1" else row)
             for row in spool.refused.rows()]
    with open(spool.refused.path, "w") as f:
        f.write("\n".join(fixed) + "\n")
    assert spool.replay(ledger, refused=True) == 1
    assert stored(ledger) == ["R1"]
    [still] = spool.refused.rows()
    assert still["request_id"] == "R2" and "skill" in still["_refused"]["error"]
    assert [r for r in ledger.iter_transcripts() if "_refused" in json.dumps(r)] == []


def test_erasing_a_user_overwrites_their_refused_rows(ledger):
    spool_with(ledger, turn("R1", developer_id=None, utterance="zebra-marker secret"),
               turn("R2", developer_id=None, user="amzn1.ask.account.BOB", utterance="bob keeps this"))
    spool = ledger.spool()
    spool.replay(ledger)
    assert b"zebra-marker" in on_disk(spool.refused.path)
    receipt = ledger.erase_user("amzn1.ask.account.ANN")
    assert receipt["spooled"] == 1
    assert b"zebra-marker" not in on_disk(spool.refused.path)
    assert [r["request_id"] for r in spool.refused.rows()] == ["R2"]
    ledger.erase_user("amzn1.ask.account.BOB")
    assert not os.path.exists(spool.refused.path)


def test_the_purge_drops_refused_rows_past_their_skills_retention(ledger):
    old = to_iso(datetime.now(UTC) - timedelta(days=40))
    spool_with(ledger, turn("R1", developer_id=None, at=old, utterance="walrus-marker from long ago"),
               turn("R2", developer_id=None, utterance="recent words"),
               turn("R3", developer_id=None, at=old, skill="forever", utterance="kept by its skill"))
    spool = ledger.spool()
    spool.replay(ledger)
    report = ledger.purge({"notes": Policy(30), "forever": Policy(None)})
    assert report["refused_expired"] == 1
    assert b"walrus-marker" not in on_disk(spool.refused.path)
    assert sorted(r["request_id"] for r in spool.refused.rows()) == ["R2", "R3"]


def test_the_cli_says_where_refused_rows_are_and_retries_them(tmp_path):
    db = str(tmp_path / "t.db")
    ledger = open_ledger(db)
    spool_with(ledger, turn("R1"), turn("R2", developer_id=None))
    ledger.close()
    out = subprocess.run([SKILLS, "transcripts", "replay", "--db", db], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Replayed 1 row(s)" in out.stdout
    assert f"1 row(s) the ledger refused are kept in {db}.spool.refused" in out.stdout
    assert "developer_id" in out.stdout and "replay --refused" in out.stdout
    # Nothing to replay, but the refused row is still named.
    again = subprocess.run([SKILLS, "transcripts", "replay", "--db", db], capture_output=True, text=True, timeout=60)
    assert "Nothing to replay" in again.stdout and "1 row(s) the ledger refused" in again.stdout
    retry = subprocess.run([SKILLS, "transcripts", "replay", "--db", db, "--refused"], capture_output=True,
                           text=True, timeout=60)
    assert retry.returncode == 0 and "Replayed 0 row(s)" in retry.stdout and "1 row(s) the ledger refused" in retry.stdout


def test_readyz_and_metrics_count_refused_rows_without_failing(tmp_path):
    db = str(tmp_path / "t.db")
    ledger = open_ledger(db)
    app = create_app([build_greeter()], store=ledger, test_config={"SKILLS_LEDGER_INTERVAL": 3600})
    client = app.test_client()
    assert "refused_rows" not in client.get("/readyz").get_json()
    spool_with(ledger, turn("R1", developer_id=None))
    ledger.spool().replay(ledger)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["refused_rows"] == 1
    assert "skills_spool_refused_rows 1.0" in client.get("/metrics").get_data(as_text=True)
    assert client.post("/alexa/greeter", json=make_envelope("LaunchRequest")).status_code == 200
