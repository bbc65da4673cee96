"""The tamper-evident chains on PostgreSQL: many writers, edits with psycopg caught, erasure and purge still verify."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts.postgres import PostgresLedger, chain
from skills_sdk.transcripts.retention import Policy


@pytest.fixture
def key_file(tmp_path) -> str:
    return str(tmp_path / "ledger.key")


@pytest.fixture
def store(postgres_url, key_file, tmp_path):
    s = PostgresLedger(postgres_url, key_file=key_file, spool_path=str(tmp_path / "spool"))
    yield s
    s.stop()


def _turn(user: str, words: str, **over) -> dict:
    return {"developer_id": "dev-a", "skill": "notes", "user_id": user, "session_id": "S-" + user,
            "request_type": "IntentRequest", "intent": "NoteIntent", "utterance": words, "speech": f"Noted: {words}.",
            "slots": {"note": {"value": words}}, "latency_ms": 2.5, "end_session": False, **over}


def _sql(url: str, statement: str, params: tuple = ()) -> None:
    """Change the database behind the ledger's back, as anyone with psql could."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def _verify(url: str, key_file: str):
    return CliRunner().invoke(main, ["transcripts", "verify", "--db", url],
                              env={"SKILLS_LEDGER_KEY_FILE": key_file}, catch_exceptions=False)


def _filled(store) -> list[int]:
    ids = [store.record(_turn(f"u{i % 4}", f"note {i}")) for i in range(12)]
    store.record({"developer_id": "dev-a", "skill": "notes", "user_id": "u9", "intent": "NoWords"})
    store.record_many([_turn(f"u{i}", f"imported {i}", created_at=f"2026-11-{10 + i:02d}T08:00:00.000Z")
                       for i in range(5)])
    return ids


def test_a_ledger_written_by_capture_and_import_verifies_from_the_cli(store, postgres_url, key_file):
    _filled(store)
    report = store.verify_chain()
    assert report.ok and report.rows == 18 and report.entries == 18 and report.unchained == 0
    done = _verify(postgres_url, key_file)
    assert done.exit_code == 0, done.output
    assert "Intact: 18 chain entries, 18 rows match" in done.output


@pytest.mark.parametrize("statement, says", [
    ("UPDATE transcripts SET intent = 'Refund' WHERE id = {id}", "row {id} was changed outside the ledger"),
    ("UPDATE transcripts SET sealed = sealed || '\\x00'::bytea WHERE id = {id}", "row {id} was changed"),
    ("DELETE FROM transcripts WHERE id = {id}", "row {id} was deleted outside the ledger"),
    ("INSERT INTO transcripts (id, created_at, developer_id, skill, user_id) SELECT {id} + 1000, created_at, "
     "developer_id, skill, user_id FROM transcripts WHERE id = {id}", "row {id}000 was inserted outside"),
    ("INSERT INTO transcripts (id, created_at, developer_id, skill, user_id) SELECT 0, created_at, "
     "developer_id, skill, user_id FROM transcripts WHERE id = {id}", "row 0 was inserted outside the ledger"),
    ("INSERT INTO transcripts (id, created_at, developer_id, skill, user_id, intent) SELECT -7, created_at, "
     "developer_id, skill, user_id, 'Refund' FROM transcripts WHERE id = {id}", "row -7 was inserted outside"),
    ("UPDATE ledger_chain SET digest = md5(digest) || md5(digest) WHERE id = {id}", "(row {id}) was changed"),
    ("DELETE FROM ledger_chain WHERE id = {id}", "the chain was cut"),
])
def test_an_edit_with_psycopg_is_caught_and_named(store, postgres_url, key_file, statement, says):
    ids = _filled(store)
    victim = ids[5]
    _sql(postgres_url, statement.format(id=victim))
    report = store.verify_chain()
    expected = says.format(id=victim).replace(f"{victim}000", str(victim + 1000))
    assert not report.ok and expected in report.problem
    done = _verify(postgres_url, key_file)
    assert done.exit_code == 1 and expected in done.output


def test_cutting_the_newest_entries_and_their_rows_is_caught_by_the_lane_head(store, postgres_url):
    _filled(store)
    lane = chain.lane_of("u1")
    with psycopg.connect(postgres_url) as conn:
        newest = conn.execute("SELECT id FROM ledger_chain WHERE lane = %s ORDER BY seq DESC LIMIT 1",
                              (lane,)).fetchone()[0]
    _sql(postgres_url, "DELETE FROM transcripts WHERE id = %s", (newest,))
    _sql(postgres_url, "DELETE FROM ledger_chain WHERE id = %s", (newest,))
    report = store.verify_chain()
    assert not report.ok and f"lane {lane} ends at entry" in report.problem


def test_erasing_a_user_leaves_tombstones_without_their_words_and_the_chain_verifies(store, postgres_url):
    marker = "MARKER" + uuid.uuid4().hex[:12]
    store.record_many([_turn("gone", f"{marker} {i}") for i in range(3)])
    store.record(_turn("gone", marker))
    store.record(_turn("stays", "hello"))
    assert store.erase_user("gone")["transcripts"] == 4
    report = store.verify_chain()
    assert report.ok and report.tombstones == 4 and report.rows == 1
    with psycopg.connect(postgres_url) as conn:
        entries = conn.execute("SELECT event, count(*) FROM ledger_chain GROUP BY 1 ORDER BY 1").fetchall()
        dump = repr(conn.execute("SELECT * FROM ledger_chain").fetchall())
    assert entries == [("erase", 4), ("insert", 5)]
    assert marker not in dump and "gone" not in dump  # ids, digests, days, times: no words, no user id
    store.record(_turn("gone", "back again, as a new row"))
    assert store.verify_chain().ok


def test_a_purge_that_drops_days_strips_receipts_and_deletes_rows_keeps_the_chain_whole(store):
    store.record_many([_turn("u1", "old day", created_at="2026-01-01T10:00:00.000Z"),
                       _turn("u2", "old day too", created_at="2026-01-02T10:00:00.000Z")])
    kept = store.record(_turn("u4", "today"))
    assert store.purge({"notes": Policy(30)})["dropped_days"] == ["2026-01-01", "2026-01-02"]
    assert store.verify_chain().ok
    # A skill that keeps receipts longer than its words: rows are deleted and stripped one by one.
    store.record_many([_turn("u3", "receipt", skill="shop", created_at="2026-01-03T10:00:00.000Z",
                             transaction={"kind": "order", "reference": "R1", "amount": "1.00", "currency": "USD"}),
                       _turn("u3", "no receipt", skill="shop", created_at="2026-01-03T11:00:00.000Z")])
    report = store.purge({"notes": Policy(30), "shop": Policy(30, receipt_days=3650)})
    assert report["stripped"] == 1 and report["deleted"] == 1 and report["dropped_days"] == []
    result = store.verify_chain()
    assert result.ok, result.problem
    assert result.rows == 2 and result.tombstones == 3 and store.get(kept)["speech"] == "Noted: today."


def test_a_row_deleted_from_a_dropped_day_that_was_not_dropped_is_still_caught(store, postgres_url):
    store.record_many([_turn("u1", "old", created_at="2026-01-01T10:00:00.000Z")])
    store.purge({"notes": Policy(30)})
    late = store.record_many([_turn("u1", "late import", created_at="2026-01-01T12:00:00.000Z")])
    assert late == 1 and store.verify_chain().ok
    _sql(postgres_url, "DELETE FROM transcripts WHERE created_at LIKE '2026-01-01%%'")
    report = store.verify_chain()
    assert not report.ok and "deleted outside the ledger" in report.problem


def test_two_hosts_capturing_at_once_keep_every_lane_whole(postgres_url, key_file, tmp_path):
    hosts = [PostgresLedger(postgres_url, key_file=key_file, spool_path=str(tmp_path / f"spool{h}"), max_size=4)
             for h in range(2)]
    errors: list[BaseException] = []

    def capture(host: PostgresLedger, worker: int) -> None:
        try:
            for i in range(40):
                host.record(_turn(f"user-{(worker * 7 + i) % 5}", f"turn {worker}-{i}"))
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=capture, args=(hosts[w % 2], w)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        report = hosts[0].verify_chain()
        assert report.ok, report.problem
        assert report.rows == report.entries == 240
    finally:
        for h in hosts:
            h.stop()


def test_an_erasure_receipt_says_the_key_was_destroyed_and_what_backups_keep(store):
    store.record(_turn("gone", "secret words"))
    store.save_state("dev-a", "notes", "gone", {"last": "secret words"})
    receipt = store.erase_user("gone", ratchet=False)
    places = {m["place"]: m["what"] for m in receipt["manifest"]["removed"]}
    assert "1 transcript " in places["transcripts"] and "1 record" in places["saved skill state"]
    assert "key your words and saved state were locked with is destroyed" in places["your data key"]
    assert places["the ledger's master key"].startswith("Not yet")
    assert "database file" not in places and "write-ahead log" not in places  # no zeroed pages here: ciphertext
    backups = {m["place"]: m["what"] for m in receipt["manifest"]["out_of_reach"]}["backups"]
    assert "no one can read" in backups and "which skills you used and when" in backups
    store.finish_scrubs()
    stored = store.receipts(user_id="gone")[0]["manifest"]["removed"]
    assert "cannot be turned back" in {m["place"]: m["what"] for m in stored}["the ledger's master key"]


def test_a_servers_erasure_answers_at_once_and_one_ratchet_scrubs_the_erasures_of_that_moment(store):
    store.scrub_delay = 1.5
    store.start()
    try:
        for user in ("a", "b", "c"):
            store.record(_turn(user, f"words of {user}"))
        epoch = store.keys.key_file.epoch
        receipts = [store.erase_user(user) for user in ("a", "b", "c")]
        assert [r["scrubbed"] for r in receipts] == [False] * 3  # the ratchet is the maintenance thread's
        deadline = time.monotonic() + 15
        while not all(r["scrubbed"] for r in store.receipts()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(r["scrubbed"] for r in store.receipts())
        assert store.keys.key_file.epoch == epoch + 1  # one ratchet for the three erasures
    finally:
        store.stop()


def test_rows_written_before_the_chain_existed_are_counted_not_failed(postgres_url, key_file, tmp_path):
    from skills_sdk.transcripts.postgres import schema

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert schema.migrate(conn, target=1) == [1]  # a ledger from before the chain
        conn.execute("INSERT INTO transcripts (created_at, developer_id, skill, user_id, intent) "
                     "SELECT '2031-01-01T00:00:00.000Z', 'dev-a', 'notes', 'u' || g, 'Old' FROM generate_series(1, 3) g")
    led = PostgresLedger(postgres_url, key_file=key_file, spool_path=str(tmp_path / "spool"))
    try:
        assert led.applied == list(range(2, len(schema.MIGRATIONS) + 1))
        led.record(_turn("u1", "chained from now on"))
        report = led.verify_chain()
        assert report.ok and report.unchained == 3 and report.rows == 1
        _sql(postgres_url, "UPDATE transcripts SET intent = 'Changed' WHERE intent = 'NoteIntent'")
        assert "changed outside the ledger" in led.verify_chain().problem
    finally:
        led.stop()


@pytest.mark.parametrize("clear", [
    ["2026-12-03T12:00:00.000Z", "dev-a", "notes", "u1", None, 2.5, True, 'quote " back \\ line \n \u2028 é', 3],
    ["x"] * 18,
    ["bytes in a clear column", b"\x00\xff", None],  # the encoder refuses bytes: digest's own way then
])
@pytest.mark.parametrize("tokens", [None, [], [-7, 0, 2**31 - 1]])
def test_a_captures_digest_with_its_sealed_hex_spliced_in_is_the_digest_verify_recomputes(clear, tokens):
    secret, sealed = b"s" * 32, bytes(range(256)) * 2
    assert chain.digest_sealed(secret, clear, 41, sealed, tokens) == chain.digest(secret, (*clear, 41, sealed, tokens))
    assert chain.digest_sealed(secret, clear, 41, sealed, tokens) != chain.digest(secret, (*clear, 41, sealed[:-1],
                                                                                            tokens))
