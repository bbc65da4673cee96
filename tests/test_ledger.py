"""The ledger interface, run against every backend in ``LEDGER_BACKENDS``: only ``Ledger`` methods, no SQL."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from skills_sdk import Skill
from skills_sdk.errors import BadQuery, NotFound, StoreError
from skills_sdk.transcripts import Ledger, Transcript, TranscriptFilter, open_ledger
from skills_sdk.transcripts.ledger import BACKENDS
from skills_sdk.transcripts.retention import Policy

ALICE, BOB = "amzn1.ask.account.ALICE", "amzn1.ask.account.BOB"


def row(n: int, **kw):
    """A transcript row as capture writes it, at second ``n`` of 2026-11-28."""
    base = {"created_at": f"2026-11-28T09:00:{n:02d}.000Z", "developer_id": "dev-a", "skill": "pizza",
            "user_id": ALICE, "session_id": "S1", "request_id": f"R{n}", "request_type": "IntentRequest",
            "intent": "OrderIntent", "speech": f"turn {n}", "status": "ok", "capture_mode": "redacted"}
    return {**base, **kw}


def test_a_recorded_row_reads_back_as_the_apis_json(ledger: Ledger):
    rid = ledger.record(row(1, slots={"size": "large"}, end_session=True, redacted="CARD,PHONE",
                            transaction={"kind": "order", "amount": "9.50"}, latency_ms=12.3456))
    got = ledger.get(rid)
    assert got["speech"] == "turn 1" and got["slots"] == {"size": "large"} and got["end_session"] is True
    assert got["redacted"] == ["CARD", "PHONE"] and got["transaction"]["amount"] == "9.50"
    assert got["latency_ms"] == 12.346
    assert Transcript.from_json(got).to_json() == got
    assert ledger.get(rid + 1000) is None


def test_a_row_without_its_owner_is_refused_naming_the_column_and_nothing_is_stored(ledger: Ledger):
    with pytest.raises(StoreError, match="developer_id"):
        ledger.record(row(1, developer_id=None))
    assert ledger.count() == 0


def test_created_at_defaults_to_now_in_the_ledgers_format(ledger: Ledger):
    rid = ledger.record({"developer_id": "d", "skill": "s", "user_id": "u"})
    stamp = ledger.get(rid)["created_at"]
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


def test_state_is_saved_with_the_row_in_one_commit(ledger: Ledger):
    ledger.record(row(1), state=json.dumps({"last": "pepperoni"}))
    assert ledger.load_state("dev-a", "pizza", ALICE) == {"last": "pepperoni"}
    ledger.save_state("dev-a", "pizza", ALICE, {"last": "ham"})
    assert ledger.load_state("dev-a", "pizza", ALICE) == {"last": "ham"}
    assert ledger.load_state("dev-a", "pizza", BOB) == {}


def test_count_takes_the_filter_and_refuses_a_misspelt_field(ledger: Ledger):
    ledger.record_many([row(1), row(2, user_id=BOB), row(3, skill="ride")])
    assert ledger.count() == 3
    assert ledger.count(user_id=ALICE) == 2
    assert ledger.count(TranscriptFilter(skill="pizza", user_id=BOB)) == 1
    with pytest.raises(ValueError, match="'usr_id'"):  # a typo must not count every row
        ledger.count(usr_id=ALICE)


def test_iter_transcripts_filters_and_reads_oldest_first_in_any_batch_size(ledger: Ledger):
    ledger.record_many([row(n, developer_id="dev-a" if n % 2 else "dev-b") for n in range(10)])
    assert [r["request_id"] for r in ledger.iter_transcripts(developer_id="dev-a", batch=2)] == [
        "R1", "R3", "R5", "R7", "R9"]
    window = ledger.iter_transcripts(since="2026-11-28T09:00:03Z", until="2026-11-28T09:00:05Z", batch=1)
    assert [r["request_id"] for r in window] == ["R3", "R4"]
    assert [r["request_id"] for r in ledger.iter_transcripts({"session_id": "S1", "skill": "none"})] == []


def test_jsonl_export_is_json_of_each_row_and_csv_neutralises_formulas(ledger: Ledger):
    ledger.record(row(1, utterance='=HYPERLINK("http://x")', slots={"a": "ü"}))
    (line,) = ledger.iter_jsonl(developer_id="dev-a")
    (decoded,) = ledger.iter_transcripts(developer_id="dev-a")
    assert json.loads(line) == decoded
    assert "".join(ledger.export(fmt="jsonl")) == line + "\n"
    (cells,) = csv.DictReader(io.StringIO("".join(ledger.export(developer_id="dev-a", fmt="csv"))))
    assert cells["utterance"].startswith("'=HYPERLINK") and cells["slots"] == '{"a":"ü"}'
    with pytest.raises(ValueError, match="xlsx"):
        ledger.export(fmt="xlsx")


def test_jsonl_export_holds_the_rows_a_scope_pages_through(ledger: Ledger):
    """The API's export streams iter_jsonl where a listing pages with query: the same rows, whatever the backend."""
    ledger.record_many([row(n, developer_id="dev-a" if n % 3 else "dev-b", slots={"n": str(n)}) for n in range(12)])
    for where in ({}, {"skill": "pizza"}, {"user_id": ALICE}, {"user_id": "nobody"}):
        lines = [json.loads(x) for x in ledger.iter_jsonl(where, developer_id="dev-a")]
        page, _ = ledger.query(where, developer_id="dev-a", limit=500)
        assert sorted(lines, key=lambda r: r["id"]) == sorted(page, key=lambda r: r["id"])
        assert {r["developer_id"] for r in lines} <= {"dev-a"}


def test_query_pages_newest_first_inside_the_scope_only(ledger: Ledger):
    ledger.record_many([row(n, developer_id="dev-a" if n < 7 else "dev-b") for n in range(10)])
    seen, before = [], None
    while True:
        rows, before = ledger.query(developer_id="dev-a", before_id=before, limit=3)
        seen += [r["request_id"] for r in rows]
        if before is None:
            break
    assert seen == [f"R{n}" for n in range(6, -1, -1)]
    rows, _ = ledger.query({"intent": "OrderIntent"}, developer_id="dev-b")
    assert {r["developer_id"] for r in rows} == {"dev-b"}
    with pytest.raises(ValueError, match="scope"):
        ledger.query()


def test_search_matches_words_said_within_the_scope(ledger: Ledger):
    ledger.record(row(1, speech="One large pepperoni."))
    ledger.record(row(2, speech="One small ham."))
    ledger.record(row(3, developer_id="dev-b", speech="pepperoni for them"))
    rows, last = ledger.search("PEPPERONI", developer_id="dev-a")
    assert [r["speech"] for r in rows] == ["One large pepperoni."] and last is None
    rows, _ = ledger.search("pepperoni", user_id=ALICE)
    assert len(rows) == 2  # a user's scope spans developers
    with pytest.raises(BadQuery):
        ledger.search("!!!", developer_id="dev-a")


def test_user_history_and_session_turns(ledger: Ledger):
    ledger.record_many([row(1), row(2, session_id="S2"), row(3), row(4, user_id=BOB)])
    assert [r["request_id"] for r in ledger.user_history(ALICE)] == ["R3", "R2", "R1"]
    assert [r["request_id"] for r in ledger.user_history(ALICE, limit=1, before_id=3)] == ["R2"]
    assert [r["request_id"] for r in ledger.session_turns("S1")] == ["R1", "R3", "R4"]


def scrubbed(ledger: Ledger, receipt: dict, within: float = 15.0) -> bool:
    """The erasure reached the logs: at once, or (a server's PostgreSQL ledger batches its key ratchet) moments later."""
    deadline = time.monotonic() + within
    while not receipt["scrubbed"] and time.monotonic() < deadline:
        time.sleep(0.05)
        receipt = next(r for r in ledger.receipts() if r["receipt_id"] == receipt["receipt_id"])
    return receipt["scrubbed"] is True


def test_erasure_removes_the_users_rows_and_state_and_keeps_a_receipt_without_the_id(ledger: Ledger):
    ledger.record(row(1, speech="my secret"), state='{"x": 1}')
    ledger.record(row(2, skill="ride"))
    ledger.record(row(3, user_id=BOB))
    ledger.set_capture_mode(ALICE, "full")

    receipt = ledger.erase_user(ALICE)

    assert receipt["transcripts"] == 2 and receipt["per_skill"] == {"pizza": 1, "ride": 1}
    assert receipt["state_rows"] == 1 and scrubbed(ledger, receipt)
    assert ledger.count(user_id=ALICE) == 0 and ledger.count(user_id=BOB) == 1
    assert ledger.load_state("dev-a", "pizza", ALICE) == {}
    assert ledger.search("secret", user_id=ALICE)[0] == []
    assert ledger.capture_mode(ALICE) == "full"  # consent holds no text; dropping it would change the mode
    (stored,) = ledger.receipts(user_id=ALICE)
    assert stored["receipt_id"] == receipt["receipt_id"] and ALICE not in json.dumps(stored)
    assert stored["user_hash"] == ledger.user_hash(ALICE) != ledger.user_hash(BOB)


def test_erasure_of_one_skill_keeps_the_users_other_skills(ledger: Ledger):
    ledger.record_many([row(1), row(2, skill="ride")])
    assert ledger.erase_user(ALICE, skill="ride")["transcripts"] == 1
    assert [r["skill"] for r in ledger.iter_transcripts(user_id=ALICE)] == ["pizza"]


def test_purge_expires_by_retention_and_runs_due_erasures(ledger: Ledger):
    skills = [Skill("pizza", developer_id="dev-a", retention_days=30), Skill("ride", developer_id="dev-a")]
    ledger.record_many([row(1), row(2, created_at="2026-12-20T00:00:00.000Z"), row(3, skill="ride"),
                        row(4, user_id=BOB, skill="ride", created_at="2026-12-20T00:00:00.000Z")])
    ledger.schedule_erasure(BOB, skill="ride", developer_id="dev-a", due=datetime(2026, 12, 30, tzinfo=UTC))

    report = ledger.purge(skills, now="2027-01-01T00:00:00Z")

    assert report["deleted"] == 1 and report["per_skill"] == {"pizza": 1} and len(report["erasures"]) == 1
    assert sorted(r["request_id"] for r in ledger.iter_transcripts()) == ["R2", "R3"]
    assert {"purge", "skill_disabled"} <= {a["action"] for a in ledger.iter_audit()}


def test_a_purge_applies_each_policy_and_the_default_to_every_other_skill(ledger: Ledger):
    # Skills without a policy sort between and after the two that have one, and one of those sorts first.
    policies = {"a": Policy(60), "c": Policy(5)}
    days = {"a": "2026-11-01", "b": "2026-11-20", "c": "2026-11-25", "d": "2026-11-10", "e": "2026-11-26"}
    ledger.record_many([row(n, skill=s, created_at=f"{day}T09:00:{n:02d}.000Z", request_id=f"{s}{n}")
                        for s, day in days.items() for n in range(2)])

    kept_by_default = ledger.purge(policies, now="2026-12-01T00:00:00Z")  # no default: only b expires
    by_default = ledger.purge(policies, default_days=8, now="2026-12-01T00:00:00Z")

    assert kept_by_default["per_skill"] == {"c": 2}
    assert by_default["per_skill"] == {"b": 2, "d": 2} and by_default["deleted"] == 4
    assert sorted({r["skill"] for r in ledger.iter_transcripts()}) == ["a", "e"]


def test_no_read_returns_a_purged_row_once_the_purge_returns_and_wait_leaves_none_pending(ledger: Ledger):
    from skills_sdk.transcripts.retention import purge

    ledger.record_many([row(1), row(2), row(3, created_at="2026-12-20T00:00:00.000Z")])

    report = purge(ledger, {}, default_days=30, now="2027-01-01T00:00:00Z")

    # SQLite hides the two whole-day rows and deletes them after; PostgreSQL drops them at once.
    assert report["deleted"] == 2 and report["pending"] == (2 if type(ledger).__name__ == "SQLiteLedger" else 0)
    assert [r["request_id"] for r in ledger.iter_transcripts()] == ["R3"] and ledger.count() == 1
    assert [r["request_id"] for r in ledger.user_history(ALICE)] == ["R3"] and ledger.session_turns("S1")[0]["request_id"] == "R3"
    assert [r["request_id"] for r in ledger.query(developer_id="dev-a")[0]] == ["R3"]
    waited = purge(ledger, {}, default_days=30, now="2027-01-01T00:00:00Z", wait=True)
    assert waited["deleted"] == 0 and waited["pending"] == 0 and waited["scrubbed"]


def test_keys_are_made_checked_and_revoked(ledger: Ledger):
    info, key = ledger.create_key("developer", "dev-a")
    assert ledger.verify_key(key) == info and info.kind == "developer" and info.subject == "dev-a"
    assert ledger.verify_key(key + "x") is None
    assert ledger.revoke_key(info.id).revoked_at is not None
    assert ledger.verify_key(key) is None
    assert [k.id for k in ledger.list_keys()] == [info.id]
    with pytest.raises(NotFound):
        ledger.revoke_key("key_nosuch")
    with pytest.raises(ValueError, match="developer' or 'user'"):
        ledger.create_key("admin", "x")


def test_consent_defaults_to_redacted_and_a_change_is_audited(ledger: Ledger):
    assert ledger.capture_mode(ALICE) == "redacted"
    ledger.set_capture_mode(ALICE, "metadata", actor="key_1")
    assert ledger.capture_mode(ALICE) == "metadata"
    (entry,) = ledger.iter_audit(limit=1)
    assert entry["action"] == "consent" and entry["actor"] == "key_1"
    assert ALICE not in json.dumps(entry) and entry["filters"]["user_id"] == ledger.user_hash(ALICE)
    with pytest.raises(ValueError, match="'everything'"):
        ledger.set_capture_mode(ALICE, "everything")


def test_audit_rows_come_back_newest_first_with_search_text_hashed(ledger: Ledger):
    ledger.audit("key_1", "list", {"skill": "pizza", "q": "my words"}, 3)
    ledger.audit("cli", "export", None, 10)
    newest, older = ledger.iter_audit()
    assert (newest["actor"], newest["action"], newest["rows"]) == ("cli", "export", 10)
    assert older["filters"]["skill"] == "pizza" and "my words" not in json.dumps(older)
    with pytest.raises(ValueError, match="audit action"):
        ledger.audit("cli", "peek")


def test_stats_count_requests_errors_and_transactions_of_one_developer(ledger: Ledger):
    ledger.record_many([row(1, latency_ms=10.0), row(2, status="error", latency_ms=30.0),
                        row(3, transaction={"amount": "9.50", "currency": "USD"}, latency_ms=20.0),
                        row(4, developer_id="dev-b")])
    stats = ledger.skill_stats("dev-a", "pizza", since="2026-11-01T00:00:00.000Z")
    assert (stats["requests"], stats["errors"], stats["transactions"]) == (3, 1, 1)
    assert stats["totals"] == {"USD": "9.50"} and stats["p50_ms"] == 20.0


def test_a_started_ledger_is_ready_and_stops_cleanly_twice(ledger: Ledger):
    assert ledger.check_writable() is None and ledger.ready()
    assert ledger.start() is ledger  # idempotent
    ledger.stop()
    ledger.stop()


def test_jobs_given_to_start_run_once_and_again_after_a_stop(ledger: Ledger):
    class Job:
        def __init__(self) -> None:
            self.starts = self.stops = 0

        def start(self) -> None:
            self.starts += 1

        def stop(self) -> None:
            self.stops += 1

    guard, later = Job(), Job()
    jobs = (guard,)
    for _ in range(3):  # as a server calls it before each request
        ledger.start(jobs=jobs)
    assert (guard.starts, guard.stops) == (1, 0) and guard in ledger.jobs
    ledger.stop()
    assert guard.stops == 1 and ledger.jobs == []
    ledger.start(jobs=jobs)
    assert guard.starts == 2 and guard in ledger.jobs
    ledger.start(jobs=(guard, later))
    ledger.start(jobs=jobs)
    assert (guard.starts, later.starts) == (2, 1) and later in ledger.jobs
    ledger.stop()


def test_open_ledger_takes_paths_and_sqlite_urls(tmp_path):
    with open_ledger(f"sqlite:///{tmp_path}/a.db") as led:
        led.record(row(1))
    with open_ledger(tmp_path / "a.db") as led:
        assert led.count() == 1


def test_open_ledger_refuses_an_unknown_scheme_instead_of_making_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="'mysql'.*postgresql://"):
        open_ledger("mysql://root@db/transcripts")
    assert list(tmp_path.iterdir()) == []


def test_open_ledger_names_a_missing_backend_package_and_hides_the_password(monkeypatch):
    monkeypatch.setitem(BACKENDS, "nosuch", "skills_sdk.transcripts.nosuch")
    with pytest.raises(ValueError, match="skills_sdk.transcripts.nosuch") as err:
        open_ledger("nosuch://me:hunter2@host/db")
    assert "hunter2" not in str(err.value)
