"""Tamper evidence: a seal in every row and a hash chain of removals catch edits made outside the ledger and survive erasure."""

from __future__ import annotations

import pytest
from _plain_sqlite import plain
from _privacy_kit import marker, note_skill, occurrences, retention_skills, speak
from click.testing import CliRunner
from conftest import ledger_host
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.erasure import erase_user
from skills_sdk.transcripts.record import INSERT_COLUMNS, storage_values
from skills_sdk.transcripts.retention import purge
from skills_sdk.transcripts.spool import Spool
from skills_sdk.transcripts.sqlite.chain import _append
from skills_sdk.transcripts.sqlite.content import (
    CONTENT,
    KINDS,
    content_in_python,
    content_of,
    content_utf8,
    row_digest,
)
from skills_sdk.transcripts.sqlite.content import available as content_available
from skills_sdk.transcripts.sqlite.ledger import INSERT_SQL
from skills_sdk.transcripts.sqlite.seal import seal_of

ALICE, BOB = "amzn1.ask.account.ALICE", "amzn1.ask.account.BOB"


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    host = ledger_host([note_skill("notes", "dev-a"), note_skill("shop", "dev-b")], store)
    for i in range(3):
        speak(host, "notes", ALICE, f"alice note {i}")
        speak(host, "shop", BOB, f"bob note {i}")
    yield store, host, path
    store.close()


def verify(path):
    return CliRunner().invoke(main, ["transcripts", "verify", "--db", str(path)])


def edit(path, sql: str, *params) -> None:
    """Change the database with plain sqlite3, behind the ledger's back."""
    plain(path, (sql, params))


def test_an_untouched_ledger_verifies(ledger):
    store, host, path = ledger
    result = verify(path)
    assert result.exit_code == 0, result.output
    assert "Intact: 0 chain entries, 6 rows match" in result.output  # each row carries its seal: no entry per capture


@pytest.mark.parametrize("sql, params, says", [
    ("UPDATE transcripts SET speech = 'Noted nothing.' WHERE id = ?", (4,), "row 4 was changed outside the ledger"),
    ("UPDATE transcripts SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (2,),
     "row 2 was changed outside the ledger"),
    ("DELETE FROM transcripts WHERE id = ?", (3,), "row 3 was deleted outside the ledger"),
    ("INSERT INTO transcripts (created_at, developer_id, skill, user_id, speech) VALUES "
     "('2026-12-01T00:00:00.000Z', 'dev-a', 'notes', ?, 'forged')", (ALICE,), "row 7 was inserted outside the ledger"),
    ("DELETE FROM transcripts WHERE id = ?", (6,), "row 6 was deleted outside the ledger"),  # the newest
    ("UPDATE transcripts SET seal = (SELECT seal FROM transcripts WHERE id = 1) WHERE id = ?", (2,),
     "row 2 was changed outside the ledger"),
    ("UPDATE transcripts SET speech = (SELECT speech FROM transcripts WHERE id = 1) WHERE id = ?", (3,),
     "row 3 was changed outside the ledger"),
    ("INSERT INTO transcripts (created_at, developer_id, skill, user_id, speech, seal) SELECT created_at, "
     "developer_id, skill, user_id, speech, seal FROM transcripts WHERE id = ?", (1,),
     "row 7 was changed outside the ledger"),  # a copy of row 1, seal and all: the id is in the seal
    # Below the chain's start, where rows older than the chain would be: none can be, ids start at 1.
    ("INSERT INTO transcripts (id, created_at, developer_id, skill, user_id, speech) VALUES "
     "(0, '2026-12-01T00:00:00.000Z', 'dev-a', 'notes', ?, 'forged')", (ALICE,), "row 0 was inserted outside the ledger"),
    ("INSERT INTO transcripts (id, created_at, developer_id, skill, user_id, speech) VALUES "
     "(-7, '2026-12-01T00:00:00.000Z', 'dev-a', 'notes', ?, 'forged')", (ALICE,), "row -7 was inserted outside"),
])
def test_an_edit_with_plain_sqlite3_is_caught_and_named(ledger, sql, params, says):
    store, host, path = ledger
    store.close()
    edit(path, sql, *params)
    result = verify(path)
    assert result.exit_code == 1
    assert says in result.output


def test_rows_swapped_with_their_seals_are_caught(ledger):
    store, host, path = ledger
    store.close()
    plain(path, ("UPDATE transcripts SET id = 100 WHERE id = 1", ()), ("UPDATE transcripts SET id = 1 WHERE id = 3", ()),
          ("UPDATE transcripts SET id = 3 WHERE id = 100", ()))
    result = verify(path)
    assert result.exit_code == 1 and "row 1 was changed outside the ledger" in result.output


@pytest.mark.parametrize("sql, says", [
    ("UPDATE ledger_chain SET digest = '00' WHERE seq = 2", "chain entry 2 (row 3) was changed outside"),
    ("DELETE FROM ledger_chain WHERE seq = 2", "chain entry 2 is missing"),
    ("DELETE FROM ledger_chain WHERE seq = 3", "row 5 was deleted outside the ledger"),  # the last tombstone
])
def test_an_edit_of_the_chains_tombstones_is_caught_and_named(ledger, sql, says):
    store, host, path = ledger
    erase_user(store, ALICE)
    store.close()
    edit(path, sql)
    result = verify(path)
    assert result.exit_code == 1 and says in result.output, result.output


def test_a_row_erased_and_then_put_back_is_caught(ledger):
    store, host, path = ledger
    saved, = plain(path, ("SELECT * FROM transcripts WHERE id = 1", ()))
    erase_user(store, ALICE)
    store.close()
    edit(path, f"INSERT INTO transcripts VALUES ({','.join('?' * len(saved))})", *saved)
    result = verify(path)
    assert result.exit_code == 1 and "row 1 was erased by the ledger but is back" in result.output


def test_erasing_a_user_leaves_tombstones_without_their_words_and_the_chain_verifies(ledger):
    store, host, path = ledger
    words = marker()
    store.set_capture_mode(ALICE, "full")
    speak(host, "notes", ALICE, words)
    receipt = erase_user(store, ALICE)
    assert receipt["transcripts"] == 4 and receipt["scrubbed"] is True

    result = verify(path)

    assert result.exit_code == 0, result.output
    assert "3 rows match, 4 erased or purged rows left tombstones" in result.output
    tombs = store.db.conn.execute("SELECT id, event, digest, at FROM ledger_chain WHERE event = 'erase'").fetchall()
    assert sorted(t[0] for t in tombs) == [1, 3, 5, 7] and all(len(t[2]) == 64 and t[3] for t in tombs)
    assert occurrences(path, words) == 0


def test_purges_strips_spool_replays_and_imports_keep_the_chain_whole(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    host = ledger_host(retention_skills(), store)
    from _privacy_kit import at

    at(host, "2026-09-01T00:00:00.000Z")
    speak(host, "shop", ALICE, "receipt kept", intent="BuyIntent")
    speak(host, "shop", ALICE, "gone")
    speak(host, "notes", ALICE, "gone too")
    store.record_many([{"developer_id": "dev-x", "skill": "imported", "user_id": BOB, "speech": "imported"}] * 3)
    Spool.for_store(store).append({"developer_id": "dev-x", "skill": "imported", "user_id": BOB, "speech": "late"})
    Spool.for_store(store).replay(store)
    report = purge(store, retention_skills(), now="2026-12-01T00:00:00Z")
    assert report["deleted"] >= 2 and report["stripped"] == 1

    result = verify(path)

    assert result.exit_code == 0, result.output
    events = [e for (e,) in store.db.conn.execute("SELECT event FROM ledger_chain ORDER BY seq")]
    assert events.count("strip") == 1 and events.count("purge_range") == 1  # one tombstone per purge transaction
    assert f"{report['deleted']} erased or purged rows left tombstones" in result.output


@pytest.mark.parametrize("ids, runs", [([1, 2, 3, 7, 9, 10], "1-3,7,9-10"), ([5], "5"), ([4, 6, 8], "4,6,8")])
def test_a_purges_ids_are_kept_as_runs_and_read_back_exactly(ids, runs):
    from skills_sdk.transcripts.sqlite.ranges import runs_of, spans_of

    assert runs_of(ids) == runs
    assert [i for lo, hi in spans_of(runs) for i in range(lo, hi + 1)] == ids


def purged_ledger(tmp_path, rows: int = 6):
    """A ledger whose ``rows`` old notes (ids 1..rows) a purge has removed, beside two new ones (ids rows+1, +2)."""
    from _privacy_kit import at

    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    host = ledger_host(retention_skills(), store)
    at(host, "2026-09-01T00:00:00.000Z")
    for i in range(rows):
        speak(host, "notes", ALICE, f"old {i}")
    at(host, "2026-11-30T00:00:00.000Z")
    speak(host, "notes", ALICE, "new")
    speak(host, "notes", BOB, "new")
    return store, path


def test_a_purge_leaves_one_tombstone_naming_its_ids_and_a_digest_of_their_digests(tmp_path):
    store, path = purged_ledger(tmp_path)
    old_form(store, upto=4)  # rows 1-4 recorded before the seal (an insert entry each), 5-8 sealed
    digests = store.db.conn.execute("SELECT id, digest FROM ledger_chain WHERE id <= 6 ORDER BY id").fetchall()
    assert [i for i, _ in digests] == [1, 2, 3, 4]

    assert purge(store, retention_skills(), now="2026-12-01T00:00:00Z", wait=True)["deleted"] == 6

    (rid, digest), = store.db.conn.execute("SELECT id, digest FROM ledger_chain WHERE event = 'purge_range'")
    import hashlib

    expected = hashlib.sha256("".join(f"{i}:{d}\n" for i, d in digests).encode()).hexdigest()
    assert (rid, digest) == (0, f"{expected}/1-6")  # the digest covers the rows with insert entries
    assert "old" not in digest
    result = verify(path)
    assert result.exit_code == 0, result.output
    assert "8 rows match" not in result.output and "6 erased or purged rows left tombstones" in result.output


@pytest.mark.parametrize("before, after, says", [
    ("UPDATE transcripts SET speech = 'Noted nothing.' WHERE id = 3", None,
     "a purge of 6 rows) does not match the rows the chain recorded"),
    (None, "INSERT INTO transcripts (id, created_at, developer_id, skill, user_id, speech) VALUES "
           "(4, '2026-09-01T00:00:00.000Z', 'dev-a', 'notes', 'x', 'back')", "row 4 was purged by the ledger but is back"),
    (None, "UPDATE ledger_chain SET digest = replace(digest, '/1-6', '/1-2,4-6') WHERE event = 'purge_range'",
     "was changed outside the ledger"),
    (None, "DELETE FROM transcripts WHERE id = 7", "row 7 was deleted outside the ledger"),
])
def test_edits_around_a_purge_are_caught_and_named(tmp_path, before, after, says):
    store, path = purged_ledger(tmp_path)
    if before:
        edit(path, before)
    purge(store, retention_skills(), now="2026-12-01T00:00:00Z", wait=True)
    if after:
        edit(path, after)

    result = verify(path)

    assert result.exit_code == 1 and says in result.output, result.output


def old_form(store, upto: int) -> None:
    """Make rows 1..``upto`` of a fresh ledger as a ledger from before the seal left them: unsealed, an insert entry each."""
    conn = store.db.conn
    contents = conn.execute(f"SELECT id, {CONTENT} FROM transcripts WHERE id <= ? ORDER BY id", (upto,)).fetchall()
    with store.transaction():
        _append(conn, [("insert", rid, row_digest(store.secret(), content)) for rid, content in contents])
        conn.execute("UPDATE transcripts SET seal = NULL WHERE id <= ?", (upto,))
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'seal_from'", (str(upto + 1),))


def test_a_ledger_from_before_the_seal_is_migrated_at_open_and_verifies_both_forms(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    for i in range(4):
        store.record({"developer_id": "d", "skill": "s", "user_id": ALICE if i % 2 else BOB, "speech": f"old {i}"})
    store.close()
    plain(path, ("ALTER TABLE transcripts DROP COLUMN seal", ()), ("DELETE FROM privacy_meta WHERE name = 'seal_from'", ()))
    store = TranscriptStore(path)  # the migration: a column added (no row rewritten), sealing from the next id
    assert store.conn.execute("SELECT value FROM privacy_meta WHERE name = 'seal_from'").fetchone() == ("5",)
    old_form(store, upto=4)
    for i in range(3):
        store.record({"developer_id": "d", "skill": "s", "user_id": ALICE, "speech": f"new {i}"})
    erase_user(store, BOB)  # rows 1 and 3, both old
    assert store.verify_chain().ok and store.verify_chain().rows == 5
    store.close()
    edits = {"UPDATE {} SET speech = 'x' WHERE id = 2": "row 2 was changed",  # an old row
             "UPDATE {} SET speech = 'x' WHERE id = 6": "row 6 was changed",  # a sealed one
             "DELETE FROM {} WHERE id = 4": "row 4 was deleted", "DELETE FROM {} WHERE id = 5": "row 5 was deleted"}
    copies = [tmp_path / f"c{i}.db" for i in range(len(edits))]
    plain(path, *[(f"VACUUM INTO '{copy}'", ()) for copy in copies],  # no VACUUM or ATTACH once an edit began
          *[(f"ATTACH '{copy}' AS c{i}", ()) for i, copy in enumerate(copies)],
          *[(sql.format(f"c{i}.transcripts"), ()) for i, sql in enumerate(edits)])
    for copy, says in zip(copies, edits.values(), strict=True):
        report = TranscriptStore(copy).verify_chain()
        assert not report.ok and says in (report.problem or ""), (copy, report.problem)


def test_a_row_an_old_worker_chains_beside_sealed_rows_verifies(ledger):
    # During a deploy a process still running the code from before the seal records a row with an
    # insert entry and no seal, above seal_from: verify checks it against its entry.
    store, host, path = ledger
    values = storage_values({"developer_id": "d", "skill": "s", "user_id": BOB, "speech": "old worker"})
    with store.transaction() as conn:
        rid = conn.execute(INSERT_SQL, values).lastrowid
        (content,) = conn.execute(f"SELECT {CONTENT} FROM transcripts WHERE id = ?", (rid,)).fetchone()
        _append(conn, [("insert", rid, row_digest(store.secret(), content))])
    assert store.verify_chain().ok
    store.close()
    edit(path, "UPDATE transcripts SET speech = 'changed' WHERE id = ?", rid)
    result = verify(path)
    assert result.exit_code == 1 and f"row {rid} was changed outside the ledger" in result.output


def test_rows_from_before_the_chain_are_reported_not_failed(tmp_path):
    path = tmp_path / "t.db"
    TranscriptStore(path).close()
    plain(path, ("DROP TABLE ledger_chain", ()),  # a ledger from before the chain: its rows and no entries
          ("DELETE FROM privacy_meta WHERE name = 'chain_from'", ()),
          ("ALTER TABLE transcripts DROP COLUMN seal", ()), ("DELETE FROM privacy_meta WHERE name = 'seal_from'", ()),
          ("INSERT INTO transcripts (created_at, developer_id, skill, user_id) VALUES "
           "('2026-01-01T00:00:00.000Z', 'd', 's', 'u')", ()))
    store = TranscriptStore(path)
    store.record({"developer_id": "d", "skill": "s", "user_id": "u", "speech": "new"})
    result = verify(path)
    assert result.exit_code == 0 and "1 older row(s) predate the chain" in result.output


_TEXT = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))


@settings(max_examples=300, deadline=None)
@given(speech=_TEXT, utterance=_TEXT, intent=_TEXT, end=st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
       latency=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False),
                         st.floats(0, 10**7).map(lambda x: round(x, 3))))
def test_a_capture_digests_its_row_as_verify_reads_it_back(speech, utterance, intent, end, latency):
    # record() digests the values in hand instead of reading the row back: whatever the values,
    # that digest is the one verify computes from the stored row.
    store = TranscriptStore(":memory:")
    rid = store.record({"developer_id": "d", "skill": "s", "user_id": "u", "speech": speech, "utterance": utterance,
                        "intent": intent, "end_session": end, "latency_ms": latency})
    (stored,) = store.conn.execute(f"SELECT {CONTENT} FROM transcripts WHERE id = ?", (rid,)).fetchone()
    (seal,) = store.conn.execute("SELECT seal FROM transcripts WHERE id = ?", (rid,)).fetchone()
    assert seal == seal_of(rid, row_digest(store.secret(), stored))
    assert store.verify_chain().ok


def test_capture_builds_the_digest_in_python_where_sqlite_would_print_the_same():
    store = TranscriptStore(":memory:")
    row = {"developer_id": "d", "skill": "s", "user_id": "u", "speech": 'say "hi" \\ é\n\x01', "latency_ms": 12.345,
           "end_session": 1}
    values = storage_values(row)
    assert content_in_python(store.conn)
    store.conn.execute(INSERT_SQL, values)
    assert content_of(values) == store.conn.execute(f"SELECT {CONTENT} FROM transcripts").fetchone()[0]
    # Spellings only SQLite knows for sure (a float past fixed notation, a bool in an INTEGER column) are read back.
    assert content_of(storage_values({**row, "latency_ms": 1e16})) is None
    assert content_of(storage_values({**row, "end_session": True})) is None


_VALUE = {str: st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),  # quotes, controls, any plane
          int: st.integers(-2**70, 2**70), float: st.floats(1e-4, 1e15) | st.floats(-1e15, -1e-4)}


@pytest.mark.skipif(not content_available(), reason="_content.c was not built (test_compiled_modules says why)")
@settings(max_examples=500, deadline=None)
@given(st.tuples(*(st.none() | _VALUE[kind] for kind in KINDS)))
def test_the_compiled_content_text_is_the_python_one_byte_for_byte(values):
    # The seal of a captured row is made of this text; verify reads the row's back through SQLite,
    # which the probe (content_in_python) and the test above hold the Python text to.
    text = content_of(values)
    assert content_utf8(values) == (None if text is None else text.encode())


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(max_size=130), content=st.text(max_size=200))
def test_a_row_digest_is_hmac_sha256_of_its_content_so_older_chains_still_verify(secret, content):
    import hashlib
    import hmac

    assert row_digest(secret, content) == hmac.new(secret, content.encode(), hashlib.sha256).hexdigest()


def test_a_0_1_table_hands_out_no_erased_id_again_so_imports_and_replays_verify(tmp_path):
    path = tmp_path / "old.db"
    plain(path, ('CREATE TABLE "transcripts" ("id" INTEGER PRIMARY KEY, ' + ", ".join(
        f'"{c}" TEXT' for c in INSERT_COLUMNS) + ")", ()))  # INTEGER PRIMARY KEY without AUTOINCREMENT
    store = TranscriptStore(path)
    store.record({"developer_id": "d", "skill": "s", "user_id": ALICE, "speech": "kept"})
    newest = store.record({"developer_id": "d", "skill": "s", "user_id": BOB, "speech": "erased"})
    erase_user(store, BOB)
    assert store.record({"developer_id": "d", "skill": "s", "user_id": ALICE, "speech": "next"}) == newest + 1
    erase_user(store, ALICE)
    store.record_many([{"developer_id": "d", "skill": "s", "user_id": BOB, "speech": "imported"}] * 2)
    Spool.for_store(store).append({"developer_id": "d", "skill": "s", "user_id": BOB, "speech": "late"})
    Spool.for_store(store).replay(store)
    assert [r["id"] for r in store.user_history(BOB)] == [6, 5, 4]
    assert store.verify_chain().ok, store.verify_chain().problem
