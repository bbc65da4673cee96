"""Retention: expired transcripts are purged without residue; receipts outlive their text only as long as declared."""

from __future__ import annotations

import json
import time

import pytest
from _privacy_kit import at, fts_integrity_check, fts_rowids, marker, occurrences, retention_skills, speak
from click.testing import CliRunner
from conftest import ledger_host

from skills_sdk.cli import main
from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.retention import RECEIPT_COLUMNS, Policy, purge
from skills_sdk.transcripts.sqlite.fts import index_pending

USER = "amzn1.ask.account.RET"
OLD, RECENT, NOW = "2026-01-01T10:00:00.000Z", "2026-11-20T10:00:00.000Z", "2026-12-01T00:00:00Z"


@pytest.fixture
def ledger(tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    skills = retention_skills()
    host = ledger_host(skills, store)
    yield store, host, skills, tmp_path / "t.db"
    store.close()


def test_rows_older_than_their_skills_retention_are_gone_newer_stay(ledger):
    store, host, skills, path = ledger
    old = marker()
    at(host, OLD)
    speak(host, "notes", USER, old)
    at(host, RECENT)
    speak(host, "notes", USER, "recent")

    report = purge(store, skills, now=NOW, wait=True)

    assert report["deleted"] == 1 and report["scrubbed"] is True and report["pending"] == 0
    assert [r["created_at"] for r in store.iter_transcripts(skill="notes")] == [RECENT]
    assert occurrences(path, old) == 0


def test_skills_without_retention_use_the_default_or_keep_everything(ledger):
    store, host, skills, path = ledger
    at(host, OLD)
    speak(host, "forever", USER, "kept")
    assert purge(store, skills, now=NOW)["deleted"] == 0
    assert purge(store, skills, default_days=90, now=NOW)["per_skill"] == {"forever": 1}


def test_rows_of_skills_not_hosted_follow_the_default(ledger):
    store, host, skills, path = ledger
    store.record({"developer_id": "gone", "skill": "retired", "user_id": USER, "created_at": OLD})
    assert purge(store, {}, default_days=30, now=NOW)["per_skill"] == {"retired": 1}


def test_a_transaction_keeps_only_its_receipt_until_receipt_retention_ends(ledger):
    store, host, skills, path = ledger
    text = marker()
    at(host, "2026-09-01T00:00:00.000Z")
    speak(host, "shop", USER, text, intent="BuyIntent")
    speak(host, "shop", USER, "no purchase")
    index_pending(store.db.conn)

    report = purge(store, skills, now=NOW)

    assert (report["deleted"], report["stripped"]) == (1, 1)
    (row,) = store.iter_transcripts(skill="shop")
    assert row["transaction"]["kind"] == "order"
    assert {k for k, v in row.items() if v not in (None, [])} == set(RECEIPT_COLUMNS)
    assert occurrences(path, text) == 0
    assert fts_rowids(store, f'"{text}"') == []

    assert purge(store, skills, now="2027-09-02T00:00:00Z")["deleted"] == 1
    assert store.count(skill="shop") == 0


@pytest.mark.parametrize("request_type", [None, "", "Connections.Response"])
def test_an_expired_receipt_is_stripped_whatever_its_request_type(ledger, request_type):
    """An imported transaction row may carry no request_type: its words still go at retention's end."""
    store, host, skills, path = ledger
    text = marker()
    store.record_many([{"developer_id": "acme", "skill": "shop", "user_id": USER, "created_at": "2026-09-01T00:00:00.000Z",
                        "request_id": "R-1", "request_type": request_type, "speech": text, "utterance": text,
                        "transaction": {"kind": "order", "reference": "A-1"}}])
    index_pending(store.db.conn)

    report = purge(store, skills, now=NOW)

    assert report["stripped"] == 1
    (row,) = store.iter_transcripts(skill="shop")
    assert {k for k, v in row.items() if v not in (None, [])} == set(RECEIPT_COLUMNS)
    assert occurrences(path, text) == 0
    assert purge(store, skills, now=NOW)["stripped"] == 0


def test_purging_twice_changes_nothing_more(ledger):
    store, host, skills, path = ledger
    at(host, "2026-09-01T00:00:00.000Z")
    speak(host, "shop", USER, "x", intent="BuyIntent")
    purge(store, skills, now=NOW)
    again = purge(store, skills, now=NOW)
    assert (again["deleted"], again["stripped"]) == (0, 0)


def test_policy_mapping_is_accepted_in_place_of_skills(ledger):
    store, host, skills, path = ledger
    at(host, OLD)
    speak(host, "forever", USER, "x")
    assert purge(store, {"forever": Policy(10)}, now=NOW)["deleted"] == 1


def test_cli_purge_reads_the_skills_retention_and_a_fixed_now(ledger):
    store, host, skills, path = ledger
    at(host, OLD)
    speak(host, "notes", USER, "old")
    speak(host, "forever", USER, "old")

    result = CliRunner().invoke(main, ["transcripts", "purge", "--db", str(path), "--skills",
                                       "_privacy_kit:retention_skills", "--now", NOW])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["per_skill"] == {"notes": 1}
    assert [r["skill"] for r in store.iter_transcripts()] == ["forever"]


def test_the_server_purges_on_its_own_when_an_interval_is_set(tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    store.record({"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": OLD, "speech": "old"})
    create_app(skills=retention_skills(), store=store,
               test_config={"SKILLS_PURGE_INTERVAL": 0.05, "SECRET_KEY": "x", "SKILLS_SPOOL": False})
    from skills_sdk.transcripts.retention import PurgeThread

    (purger,) = [j for j in store.jobs if isinstance(j, PurgeThread)]  # the ledger runs what create_app asked for
    try:
        for _ in range(200):  # wait for the first run, whenever it comes
            if store.count(skill="notes") == 0:
                break
            time.sleep(0.05)
        assert store.count(skill="notes") == 0
    finally:
        store.stop()
    assert purger.stopped


def test_testing_apps_do_not_start_a_purge_thread(tmp_path):
    from skills_sdk.transcripts.retention import PurgeThread

    store = TranscriptStore(tmp_path / "t.db")
    create_app(skills=retention_skills(), store=store, test_config={"TESTING": True, "SECRET_KEY": "x"})
    assert not [job for job in store.jobs if isinstance(job, PurgeThread)]


def test_a_large_purge_runs_in_short_audited_transactions_and_reports_progress(tmp_path, monkeypatch):
    from skills_sdk.transcripts.audit import iter_audit
    from skills_sdk.transcripts.sqlite import retention

    monkeypatch.setattr(retention, "_autoincrement", lambda conn: False)  # no mark: every row in this call
    monkeypatch.setattr(retention, "_CHUNK", 3)
    store = TranscriptStore(tmp_path / "t.db")
    rows = [{"developer_id": "d", "skill": s, "user_id": USER, "created_at": OLD, "speech": f"old {i}"}
            for i, s in enumerate(["notes"] * 7 + ["shop"] * 3)]
    store.record_many(rows)
    store.record({"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": RECENT, "speech": "new"})
    seen = []

    report = retention.purge(store, {}, default_days=30, now=NOW, progress=seen.append, batch_seconds=0)

    assert report["deleted"] == 10 and report["per_skill"] == {"notes": 7, "shop": 3}
    assert seen == [3, 6, 9, 10]        # one transaction per statement when the budget is 0, in id order
    purges = [a for a in iter_audit(store) if a["action"] == "purge"]
    assert sorted(a["rows"] for a in purges) == [1, 3, 3, 3]
    assert [r["speech"] for r in store.iter_transcripts()] == ["new"]


def test_captures_go_on_while_a_long_purge_runs(tmp_path, monkeypatch):
    import threading

    from skills_sdk.transcripts.sqlite import retention

    monkeypatch.setattr(retention, "_autoincrement", lambda conn: False)  # no mark: every row in this call
    monkeypatch.setattr(retention, "_CHUNK", 50)
    store = TranscriptStore(tmp_path / "t.db")
    store.record_many([{"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": OLD, "speech": "x"}
                       for _ in range(5000)])
    progressed = threading.Event()
    captured = []

    def capture_while_purging(done):
        if not progressed.is_set():
            progressed.set()
            # Between two purge transactions another thread's capture commits at once.
            t = threading.Thread(target=lambda: captured.append(store.record(
                {"developer_id": "d", "skill": "live", "user_id": USER, "speech": "live"})))
            t.start()
            t.join(timeout=5)

    report = retention.purge(store, {}, default_days=30, now=NOW, progress=capture_while_purging, batch_seconds=0)

    assert captured and report["deleted"] == 5000
    assert store.count(skill="live") == 1


def test_a_purge_in_id_order_counts_each_skill_and_also_takes_rows_written_while_it_runs(tmp_path, monkeypatch):
    from skills_sdk.transcripts.sqlite import retention

    monkeypatch.setattr(retention, "_CHUNK", 4)
    store = TranscriptStore(tmp_path / "t.db")
    # Three skills' rows interleaved in id order, as a day's captures are; one skill keeps everything.
    store.record_many([{"developer_id": "d", "skill": s, "user_id": USER, "created_at": OLD, "speech": f"old {i}"}
                       for i, s in enumerate(["notes", "shop", "quiz", "notes", "vault"] * 6)])
    late = []

    def import_old_rows(done):
        if not late:  # an import of old rows lands after the purge gathered its ids
            late.append(store.record({"developer_id": "d", "skill": "shop", "user_id": USER, "created_at": OLD,
                                      "speech": "late"}))

    policies = {"notes": Policy(30), "shop": Policy(30), "quiz": Policy(30), "vault": Policy(None)}
    report = retention.purge(store, policies, now=NOW, progress=import_old_rows, batch_seconds=0)

    assert report["per_skill"] == {"notes": 12, "shop": 7, "quiz": 6} and report["deleted"] == 25
    assert {r["skill"] for r in store.iter_transcripts()} == {"vault"} and store.count() == 6
    store.close()
    result = CliRunner().invoke(main, ["transcripts", "verify", "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output


def test_a_purge_of_whole_days_leaves_the_full_text_queue_trigger_as_it_was(ledger):
    """Rows of days whose full-text tables are dropped are deleted without the queueing trigger,
    which the purge puts back: rows of a day it keeps, and later erasures, still leave the index."""
    store, host, skills, path = ledger
    conn = store.db.conn
    trigger = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'transcripts_fts_queue_del'"
    before = conn.execute(trigger).fetchone()
    old, edge, later = marker(), marker(), marker()
    # The edge row is expired for notes (30 days) in a day that shop (31 days) keeps.
    store.record_many([{"developer_id": "d", "skill": skill, "user_id": user, "created_at": when, "speech": text}
                       for skill, user, when, text in [("notes", USER, OLD, old),
                                                       ("notes", USER, "2026-10-31T10:00:00.000Z", edge),
                                                       ("shop", USER, RECENT, "kept"),
                                                       ("notes", "amzn1.ask.account.OTHER", RECENT, later)]])
    index_pending(conn)

    report = purge(store, {"notes": Policy(30), "shop": Policy(31)}, now=NOW, wait=True)

    assert report["deleted"] == 2
    assert conn.execute(trigger).fetchone() == before
    assert fts_rowids(store, f'"{old}"') == [] and fts_rowids(store, f'"{edge}"') == []
    assert occurrences(path, old) == 0 and occurrences(path, edge) == 0
    fts_integrity_check(store)
    erase = store.conn.execute("DELETE FROM transcripts WHERE user_id = 'amzn1.ask.account.OTHER'")
    assert erase.rowcount == 1 and store.conn.execute("SELECT count(*) FROM fts_changes").fetchone()[0] == 1


_KILLED_MID_PURGE = """
import os, signal, sys
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import retention

retention._CHUNK = 5
retention._autoincrement = lambda conn: False  # no mark: every row in this call
store = TranscriptStore(sys.argv[1])
deletes = []

def kill_in_the_third_transaction(sql):
    # SIGKILL inside the third purge transaction: its rows deleted, the queueing trigger not yet back
    if sql.startswith("CREATE TRIGGER"):
        deletes.append(sql)
        if len(deletes) == 3:
            os.kill(os.getpid(), signal.SIGKILL)

store.conn.set_trace_callback(kill_in_the_third_transaction)
retention.purge(store, {}, default_days=30, now=sys.argv[2], batch_seconds=0)
"""


def test_a_purge_killed_mid_transaction_leaves_a_sound_ledger_and_the_next_one_finishes(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    old = marker()
    store.record_many([{"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": OLD,
                        "speech": f"{old} {i}"} for i in range(40)])
    store.record({"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": RECENT, "speech": "new"})
    index_pending(store.db.conn)
    trigger = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'transcripts_fts_queue_del'"
    before = store.conn.execute(trigger).fetchone()
    store.close()

    child = subprocess.run([sys.executable, "-c", _KILLED_MID_PURGE, str(path), NOW], capture_output=True, text=True)

    assert child.returncode == -9, child.stderr
    store = TranscriptStore(path)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute(trigger).fetchone() == before
    assert store.count() == 31    # two transactions of five rows committed, the third rolled back
    assert purge(store, {}, default_days=30, now=NOW, wait=True)["deleted"] == 30
    assert [r["speech"] for r in store.iter_transcripts()] == ["new"]
    fts_integrity_check(store)
    store.close()
    assert occurrences(path, old) == 0
    result = CliRunner().invoke(main, ["transcripts", "verify", "--db", str(path)])
    assert result.exit_code == 0, result.output
