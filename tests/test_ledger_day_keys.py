"""The SQLite ledger's user and session indexes led by the row's day: reads walk the days, plans use them, old ledgers migrate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptFilter, TranscriptStore
from skills_sdk.transcripts.sqlite import schema
from skills_sdk.transcripts.sqlite.chain import _CONTENT, _CONTENT_LEAN
from skills_sdk.transcripts.sqlite.queries import DAY_INDEXES, FLAT_INDEXES, day_keyed, days

START = datetime(2026, 9, 1, tzinfo=UTC)


def at(day: int, second: int = 0) -> str:
    return (START + timedelta(days=day, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def row(user: str = "u", day: int = 0, second: int = 0, **kw):
    base = {"developer_id": "acme", "skill": "pizza", "user_id": user, "session_id": f"s-{user}-{day}",
            "request_id": "r", "request_type": "IntentRequest", "speech": "Hello.", "created_at": at(day, second)}
    return {**base, **kw}


def fill(store: TranscriptStore) -> None:
    """A heavy user on the newest days, a light one every fifth day of 60, others between them."""
    rows = []
    for day in range(60):
        for s in range(3):
            rows.append(row("other", day, s))
        if day % 5 == 0:
            rows.append(row("light", day, 10))
        if day >= 57:
            rows.extend(row("heavy", day, 20 + s) for s in range(30))
    store.record_many(rows)


def all_pages(store: TranscriptStore, user: str, limit: int) -> list[int]:
    seen: list[int] = []
    before = None
    while True:
        page = store.user_history(user, limit=limit, before_id=before)
        if not page:
            return seen
        seen.extend(r["id"] for r in page)
        before = page[-1]["id"]


@pytest.mark.parametrize("user", ["heavy", "light", "other", "nobody"])
def test_a_users_history_pages_through_every_row_once_newest_first(memory_store, user):
    fill(memory_store)
    every = [r[0] for r in memory_store.conn.execute("SELECT id FROM transcripts WHERE +user_id = ? ORDER BY id DESC",
                                                     (user,))]
    assert [r["id"] for r in memory_store.user_history(user, limit=50)] == every[:50]
    assert all_pages(memory_store, user, 7) == every
    found, after = memory_store.query(TranscriptFilter(), user_id=user, limit=7)
    seen = [r["id"] for r in found]
    while after is not None:
        found, after = memory_store.query(TranscriptFilter(), user_id=user, limit=7, before_id=after)
        seen.extend(r["id"] for r in found)
    assert seen == every
    assert memory_store.count(user_id=user) == len(every)
    assert [r["id"] for r in memory_store.iter_transcripts(user_id=user)] == every[::-1]


def test_rows_imported_with_older_times_are_listed_by_day_and_none_is_skipped(memory_store):
    fill(memory_store)
    # Imported later (higher ids) with times days before the newest rows.
    memory_store.record_many([row("light", day, 30) for day in (3, 41, 58)])
    want = [r[0] for r in memory_store.conn.execute(
        "SELECT id FROM transcripts WHERE +user_id = 'light' ORDER BY substr(created_at, 1, 10) DESC, id DESC")]
    assert all_pages(memory_store, "light", 2) == want
    assert sorted(all_pages(memory_store, "light", 100)) == sorted(want)


def test_a_cursor_whose_row_was_erased_goes_on_below_its_id(memory_store):
    fill(memory_store)
    every = [r["id"] for r in memory_store.user_history("heavy", limit=1000)]
    memory_store.conn.execute("DELETE FROM transcripts WHERE id = ?", (every[9],))
    assert [r["id"] for r in memory_store.user_history("heavy", limit=5, before_id=every[9])] == every[10:15]


def test_a_sessions_turns_are_found_on_every_day_it_spans(memory_store):
    fill(memory_store)
    memory_store.record_many([row("night", 10, 86_399, session_id="late"), row("night", 11, 1, session_id="late")])
    turns = memory_store.session_turns("late")
    assert [t["created_at"][:10] for t in turns] == [at(10)[:10], at(11)[:10]]
    assert [t["id"] for t in turns] == sorted(t["id"] for t in turns)


def test_the_days_are_every_calendar_day_between_the_oldest_and_the_newest(memory_store):
    assert days(memory_store.conn) == []
    fill(memory_store)
    got = days(memory_store.conn)
    assert got[0] == at(59)[:10] and got[-1] == at(0)[:10] and len(got) == 60


READS = {
    "history": lambda s: s.user_history("heavy"),
    "history page 2": lambda s: s.user_history("heavy", before_id=s.user_history("heavy", limit=40)[-1]["id"]),
    "user page": lambda s: s.query(TranscriptFilter(skill="pizza"), user_id="heavy"),
    "developer's user page by time": lambda s: s.query(TranscriptFilter(user_id="heavy", since=at(0)),
                                                       developer_id="acme"),
    "count": lambda s: s.count(user_id="heavy"),
    "export": lambda s: list(s.iter_jsonl(user_id="heavy")),
    "session": lambda s: s.session_turns("s-heavy-58"),
    "session export": lambda s: list(s.iter_transcripts(session_id="s-heavy-58")),
    "erasure": lambda s: s.erase_user("heavy"),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_every_read_that_names_a_user_or_a_session_seeks_through_a_day_index(memory_store, read):
    # A plan that reads the whole table or the whole index would only be slow: no result shows it.
    fill(memory_store)
    seen: list[str] = []
    memory_store.conn.set_trace_callback(seen.append)
    read(memory_store)
    memory_store.conn.set_trace_callback(None)
    named = [sql for sql in seen if "transcripts" in sql and ("'heavy'" in sql or "'s-heavy-58'" in sql)
             and sql.lstrip().upper().startswith(("SELECT", "DELETE"))]
    assert named
    for sql in named:
        plan = " ".join(str(p) for p in memory_store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
        assert any(f"USING INDEX {name}" in plan or f"USING COVERING INDEX {name}" in plan for name in DAY_INDEXES), \
            (sql, plan)
        assert "SCAN transcripts" not in plan and "SCAN t " not in plan + " ", (sql, plan)


def flat_ledger(path, rows) -> None:
    """A ledger as the version before made it: user and session indexes keyed by them alone."""
    store = TranscriptStore(path)
    store.record_many(rows)
    with store.transaction() as conn:
        for name in DAY_INDEXES:
            conn.execute(f"DROP INDEX {name}")
        for name, key in FLAT_INDEXES.items():
            conn.execute(f"CREATE INDEX {name} ON transcripts ({key})")
    store.close()


def test_a_small_ledger_gets_its_day_keys_when_opened(tmp_path):
    flat_ledger(tmp_path / "t.db", [row("u", d) for d in range(5)])
    store = TranscriptStore(tmp_path / "t.db")
    assert day_keyed(store.conn)
    assert not any(store.conn.execute(f"PRAGMA index_info({name})").fetchone() for name in FLAT_INDEXES)
    assert len(store.user_history("u")) == 5
    store.close()


def test_a_big_ledger_keeps_its_indexes_until_migrated_and_reads_alike_meanwhile(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(schema, "MIGRATE_ON_OPEN", 3)
    db = str(tmp_path / "t.db")
    flat_ledger(db, [row(u, d, s) for d in range(6) for u in ("u", "v") for s in range(2)])
    with caplog.at_level(logging.WARNING, logger="skills_sdk.transcripts"):
        store = TranscriptStore(db)
    assert "skills ledger migrate" in caplog.text
    assert not day_keyed(store.conn)
    before = ([r["id"] for r in store.user_history("u", limit=5)], [r["id"] for r in store.session_turns("s-u-2")],
              store.count(user_id="v"))
    store.close()
    result = CliRunner().invoke(main, ["ledger", "migrate", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Built the day-keyed" in result.output
    store = TranscriptStore(db)
    assert day_keyed(store.conn)
    assert before == ([r["id"] for r in store.user_history("u", limit=5)], [r["id"] for r in store.session_turns("s-u-2")],
                      store.count(user_id="v"))
    store.close()
    again = CliRunner().invoke(main, ["ledger", "migrate", "--db", db])
    assert again.exit_code == 0 and "Nothing to do" in again.output


@pytest.mark.parametrize("value", ["plain", "quote \" back \\ slash", "tab\tnew\nline\x01\x1f\x7f", "é 漢 \u2028 🍕",
                                   "", None, "{\"json\": [1, 2.5e-300]}"])
def test_the_lean_content_is_the_contents_text_exactly(memory_store, value):
    # A purge's tombstone digests its rows' content as the capture did: one byte apart, verify fails.
    memory_store.record(row(speech=value, utterance=value, latency_ms=12.345, slots={"a": value}))
    memory_store.record(row(speech=value, latency_ms=1e20, status=None))
    memory_store.record(row(speech=value, latency_ms=-0.000123456789, end_session=True))
    for plain, lean in memory_store.conn.execute(f"SELECT {_CONTENT}, {_CONTENT_LEAN} FROM transcripts"):
        assert lean == plain
