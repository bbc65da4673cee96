"""The transcript store: durable writes, queries, export iteration, state, consent, checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from _plain_sqlite import plain

from skills_sdk import StoreError
from skills_sdk.transcripts import TranscriptFilter, TranscriptStore


def row(**kw):
    base = {"developer_id": "acme", "skill": "pizza", "user_id": "u1", "session_id": "s1", "request_id": "r",
            "request_type": "IntentRequest", "speech": "Hello."}
    return {**base, **kw}


def test_record_returns_increasing_ids_and_reads_back(memory_store):
    a = memory_store.record(row(speech="one"))
    b = memory_store.record(row(speech="two", slots={"size": "large"}, transaction={"amount": "1.00"}))
    assert b > a
    got = memory_store.get(b)
    assert got["slots"] == {"size": "large"} and got["transaction"] == {"amount": "1.00"}
    assert got["created_at"].endswith("Z")


@pytest.mark.parametrize("missing", ["developer_id", "skill", "user_id"])
def test_record_requires_owner_columns(memory_store, missing):
    with pytest.raises(StoreError, match=missing):
        memory_store.record(row(**{missing: None}))


def test_user_history_is_newest_first_across_skills(memory_store):
    for i in range(5):
        memory_store.record(row(skill=f"skill{i % 2}", speech=f"s{i}"))
    memory_store.record(row(user_id="other", speech="not mine"))
    history = memory_store.user_history("u1", limit=3)
    assert [r["speech"] for r in history] == ["s4", "s3", "s2"]
    older = memory_store.user_history("u1", limit=10, before_id=history[-1]["id"])
    assert [r["speech"] for r in older] == ["s1", "s0"]


def test_iter_transcripts_filters_and_pages(memory_store):
    for i in range(25):
        memory_store.record(row(developer_id="acme" if i % 2 else "other", created_at=f"2026-01-01T00:00:{i:02d}.000Z"))
    rows = list(memory_store.iter_transcripts(developer_id="acme", batch=4))
    assert len(rows) == 12 and all(r["developer_id"] == "acme" for r in rows)
    window = list(memory_store.iter_transcripts(since="2026-01-01T00:00:10.000Z", until="2026-01-01T00:00:15.000Z"))
    assert len(window) == 5


def test_session_turns_in_order(memory_store):
    for i in range(3):
        memory_store.record(row(session_id="sess-x", speech=f"turn {i}"))
    assert [r["speech"] for r in memory_store.session_turns("sess-x")] == ["turn 0", "turn 1", "turn 2"]


def test_state_round_trip_and_isolation(memory_store):
    memory_store.save_state("acme", "grocery", "u1", {"cart": ["milk"]})
    memory_store.save_state("acme", "grocery", "u1", {"cart": ["milk", "eggs"]})
    assert memory_store.load_state("acme", "grocery", "u1") == {"cart": ["milk", "eggs"]}
    assert memory_store.load_state("acme", "grocery", "u2") == {}
    assert memory_store.load_state("acme", "music", "u1") == {}


def test_capture_mode_defaults_to_redacted_and_can_change(memory_store):
    assert memory_store.capture_mode("u1") == "redacted"
    memory_store.set_capture_mode("u1", "metadata")
    assert memory_store.capture_mode("u1") == "metadata"
    with pytest.raises(ValueError, match="capture mode"):
        memory_store.set_capture_mode("u1", "everything")


def test_file_store_uses_wal_and_secure_delete(file_store):
    conn = file_store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_synchronous_full_is_a_setting(tmp_path):
    store = TranscriptStore(tmp_path / "t.db", synchronous="FULL")
    assert store.db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(ValueError, match="synchronous"):
        TranscriptStore(tmp_path / "u.db", synchronous="SOMETIMES")


def test_checkpoint_truncate_empties_the_wal(file_store, tmp_path):
    for _ in range(20):
        file_store.record(row())
    busy, _, _ = file_store.checkpoint("TRUNCATE")
    assert busy == 0
    assert os.path.getsize(str(tmp_path / "transcripts.db") + "-wal") == 0


def test_rows_survive_a_killed_process(tmp_path):
    """A committed row is on disk even when the writer dies without closing (WAL, synchronous=NORMAL)."""
    db = tmp_path / "t.db"
    code = textwrap.dedent(f"""
        import os
        from skills_sdk.transcripts import TranscriptStore
        s = TranscriptStore({str(db)!r})
        for i in range(50):
            s.record({{"developer_id": "d", "skill": "k", "user_id": "u", "speech": f"row {{i}}"}})
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9
    assert TranscriptStore(db).count(user_id="u") == 50


def test_the_database_is_readable_with_plain_sqlite(file_store, tmp_path):
    file_store.record(row(speech="plain"))
    assert plain(tmp_path / "transcripts.db", ("SELECT speech FROM transcripts", ())) == [("plain",)]


def test_indexes_cover_the_common_queries(memory_store):
    plan = memory_store.db.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM transcripts WHERE user_id = ? ORDER BY id DESC LIMIT 50", ("u",)
    ).fetchall()
    assert "USING INDEX" in " ".join(str(p) for p in plan) or "USING COVERING INDEX" in str(plan)
    plan = memory_store.db.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM transcripts WHERE developer_id = ? AND created_at >= ?", ("d", "x")
    ).fetchall()
    assert "idx_transcripts_developer_id_created_at" in str(plan)


@pytest.mark.parametrize("skill, developer_id", [(None, None), ("notes", None), (None, "dev-a"), ("notes", "dev-a")])
def test_an_erasure_finds_the_users_rows_through_the_user_index_whatever_its_scope(memory_store, skill, developer_id):
    # Without statistics SQLite took the developer's or the skill's index for a scoped erasure and
    # read every row of that developer (325-470 ms for a 6-row user at 1M rows, 4 developers).
    from skills_sdk.transcripts.sqlite.erasure import _where

    where, params = _where("u", skill, developer_id)
    for table in ("transcripts", "user_state"):
        plan = str(memory_store.conn.execute(f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE {where}", params).fetchall())
        assert f"idx_{table}_user_id" in plan, plan


@pytest.mark.parametrize("read", [
    lambda s: s.query(TranscriptFilter(user_id="u"), developer_id="dev-a"),
    lambda s: s.query(TranscriptFilter(user_id="u", since="2026-01-01T00:00:00.000Z"), developer_id="dev-a"),
    lambda s: s.query(TranscriptFilter(skill="notes"), user_id="u"),
    lambda s: s.count(developer_id="dev-a", user_id="u"),
    lambda s: list(s.iter_transcripts(developer_id="dev-a", user_id="u")),
    lambda s: list(s.iter_jsonl(skill="notes", user_id="u")),
], ids=["developer page", "developer page by time", "user page by skill", "count", "export", "export by skill"])
def test_a_read_that_names_a_user_finds_its_rows_through_the_user_index(memory_store, read):
    # Without statistics SQLite read every row of the developer (or skill) to find one user's few:
    # a page for a 6-row user of a 453,121-row developer took 13-15 s.
    memory_store.record(row())
    seen: list[str] = []
    memory_store.conn.set_trace_callback(seen.append)
    read(memory_store)
    memory_store.conn.set_trace_callback(None)
    selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT") and "FROM transcripts" in sql
               and "'u'" in sql]
    assert selects
    for sql in selects:
        plan = str(memory_store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
        assert "idx_transcripts_user_id_id" in plan, (sql, plan)


def test_json_columns_are_stored_in_one_canonical_spelling():
    from skills_sdk.transcripts.record import encode_json

    store = TranscriptStore(":memory:")
    base = {"developer_id": "d", "skill": "s", "user_id": "u"}
    store.record(dict(base, slots='{ "n": 1e2, "u": "\\u00e9" }', card="not json", directives=["A"],
                      transaction=encode_json({"amount": "1.50"})))
    raw = store.db.conn.execute("SELECT slots, card, directives, \"transaction\" FROM transcripts").fetchone()
    assert raw == ('{"n":100.0,"u":"é"}', '"not json"', '["A"]', '{"amount":"1.50"}')
    assert store.get(1)["card"] == "not json"      # decoded as before: text that is not JSON stays text


def test_export_lines_stay_valid_json_for_rows_written_around_the_store():
    store = TranscriptStore(":memory:")
    store.db.conn.execute(
        "INSERT INTO transcripts (created_at, developer_id, skill, user_id, slots, card, latency_ms) "
        "VALUES ('2026-01-01T00:00:00.000Z', 'd', 's', 'u', '{ \"a\" : 1.50 }', 'NaN', 1e300)")
    (line,) = store.iter_jsonl(developer_id="d")
    exported = json.loads(line)
    (row,) = store.iter_transcripts(developer_id="d")
    assert exported["slots"] == row["slots"] == {"a": 1.5}
    assert exported["card"] == "NaN" and exported["latency_ms"] == 1e300


def test_latency_is_stored_to_the_microsecond_and_older_rows_export_exactly():
    store = TranscriptStore(":memory:")
    conn = store.db.conn
    # A row from before the store rounded latency: its id is at or below exact_latency_from.
    conn.execute("INSERT INTO transcripts (created_at, developer_id, skill, user_id, latency_ms) "
                 "VALUES ('2026-01-01T00:00:00.000Z', 'd', 's', 'u', ?)", (0.1 + 0.2,))
    conn.execute("UPDATE privacy_meta SET value = '1' WHERE name = 'exact_latency_from'")
    store.record({"developer_id": "d", "skill": "s", "user_id": "u", "latency_ms": 12.3456789})

    assert [r["latency_ms"] for r in store.iter_transcripts()] == [0.1 + 0.2, 12.346]
    expected = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in store.iter_transcripts()]
    assert list(store.iter_jsonl(developer_id="d")) == expected
