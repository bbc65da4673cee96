"""The full-text index in partitions per developer and day: search, whole-day purges, erasure, text changes, migration."""

from __future__ import annotations

import pytest
from _privacy_kit import fts_integrity_check, fts_rowids, marker, occurrences

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.erasure import erase_user
from skills_sdk.transcripts.retention import Policy, purge
from skills_sdk.transcripts.search import parse_filters, search
from skills_sdk.transcripts.sqlite.fts import fts_day, fts_partitions, index_pending

DEV = "dev-a"


def row(day: str, text: str, *, user: str = "u1", skill: str = "notes", hour: int = 10) -> dict:
    return {"developer_id": DEV, "skill": skill, "user_id": user, "speech": text,
            "created_at": f"{day}T{hour:02d}:00:00.000Z"}


@pytest.fixture
def store(tmp_path):
    s = TranscriptStore(tmp_path / "t.db")
    yield s
    s.close()


def days_of(store: TranscriptStore) -> list[str]:
    return list(dict.fromkeys(day for day, _, _ in fts_partitions(store.db.conn)))


def pages(store: TranscriptStore, q: str, limit: int) -> list[list[int]]:
    out, before = [], None
    while True:
        rows, before = search(store, parse_filters({"q": q}), developer_id=DEV, before_id=before, limit=limit)
        out.append([r["id"] for r in rows])
        if before is None:
            return out


def test_each_day_gets_its_own_partition_and_search_pages_through_all_of_them(store):
    days = ["2026-11-01", "2026-11-02", "2026-11-03"]
    ids = [store.record(row(d, f"pepperoni {i}", hour=h)) for i, (d, h) in
           enumerate((d, h) for d in days for h in (9, 12, 15))]
    index_pending(store.db.conn)

    assert days_of(store) == days[::-1]
    assert pages(store, "pepperoni", 2) == [ids[8:6:-1], ids[6:4:-1], ids[4:2:-1], ids[2:0:-1], ids[:1]]
    fts_integrity_check(store)


def test_each_developer_has_its_own_partitions_and_a_users_search_merges_them(store):
    a = store.record(row("2026-11-01", "shared word", user="u1"))
    b = store.record(dict(row("2026-11-01", "shared word", user="u1"), developer_id="dev-b"))
    c = store.record(row("2026-11-01", "shared word", user="u1", hour=11))
    index_pending(store.db.conn)

    assert sorted({dev for _, dev, _ in fts_partitions(store.db.conn)}) == [DEV, "dev-b"]
    mine, _ = search(store, parse_filters({"q": "shared"}), developer_id="dev-b")
    users, _ = search(store, parse_filters({"q": "shared"}), user_id="u1")
    assert [r["id"] for r in mine] == [b]
    assert [r["id"] for r in users] == [c, b, a]
    fts_integrity_check(store)


def test_a_text_search_skips_days_outside_its_time_window(store):
    old = store.record(row("2026-10-01", "pizza night"))
    new = store.record(row("2026-11-01", "pizza night"))
    filters = parse_filters({"q": "pizza", "since": "2026-10-15"})
    rows, _ = search(store, filters, developer_id=DEV)
    assert [r["id"] for r in rows] == [new] and old < new


def test_a_purge_of_whole_days_drops_their_partitions_and_leaves_no_trace(store, tmp_path):
    gone, kept = marker(), marker()
    for h in range(5):
        store.record(row("2026-11-01", f"{gone} {h}", hour=h))
    store.record(row("2026-11-02", kept))
    index_pending(store.db.conn)

    report = purge(store, {}, default_days=1, now="2026-11-03T00:00:00Z")

    assert report["deleted"] == 5 and report["scrubbed"]
    assert days_of(store) == ["2026-11-02"]
    assert fts_rowids(store, f'"{gone}"') == [] and len(fts_rowids(store, f'"{kept}"')) == 1
    assert occurrences(tmp_path / "t.db", gone) == 0
    fts_integrity_check(store)


def test_a_cutoff_inside_a_day_deletes_that_days_rows_one_by_one(store, tmp_path):
    early, late = marker(), marker()
    store.record(row("2026-11-02", early, hour=6))
    store.record(row("2026-11-02", late, hour=18))
    index_pending(store.db.conn)

    assert purge(store, {}, default_days=1, now="2026-11-03T12:00:00Z")["deleted"] == 1

    assert days_of(store) == ["2026-11-02"]
    assert fts_rowids(store, f'"{early}"') == [] and len(fts_rowids(store, f'"{late}"')) == 1
    assert occurrences(tmp_path / "t.db", early) == 0
    fts_integrity_check(store)


def test_a_skill_kept_forever_keeps_its_days_searchable(store):
    forever = store.record(row("2026-01-01", "forever words", skill="archive"))
    store.record(row("2026-01-01", "short lived", skill="notes"))
    index_pending(store.db.conn)

    report = purge(store, {"notes": Policy(1), "archive": Policy(None)}, now="2026-11-03T00:00:00Z")

    assert report["deleted"] == 1
    assert fts_rowids(store, "forever") == [forever] and fts_rowids(store, "short") == []
    fts_integrity_check(store)


def test_erasure_removes_tokens_from_every_day_the_user_spoke(store, tmp_path):
    secret = marker()
    for d in ("2026-11-01", "2026-11-05", "2026-11-09"):
        store.record(row(d, secret, user="alice"))
        store.record(row(d, "bob words", user="bob"))
    index_pending(store.db.conn)

    erase_user(store, "alice")

    assert fts_rowids(store, f'"{secret}"') == [] and len(fts_rowids(store, "bob")) == 3
    assert occurrences(tmp_path / "t.db", secret) == 0
    fts_integrity_check(store)


def test_changed_text_is_reindexed_and_the_old_tokens_go(store, tmp_path):
    old = marker()
    rid = store.record(row("2026-11-01", old))
    index_pending(store.db.conn)
    with store.transaction() as conn:
        conn.execute("UPDATE transcripts SET speech = 'rewritten', created_at = '2026-11-04T00:00:00.000Z' "
                     "WHERE id = ?", (rid,))
        conn.execute("UPDATE transcripts SET speech = 'rewritten again' WHERE id = ?", (rid,))
    index_pending(store.db.conn)

    assert fts_rowids(store, f'"{old}"') == [] and fts_rowids(store, "again") == [rid]
    assert "2026-11-04" in days_of(store)
    fts_integrity_check(store)


def test_rows_older_than_a_dropped_day_become_searchable_and_erasable_again(store, tmp_path):
    store.record(row("2026-11-01", "expired"))
    store.record(row("2026-11-05", "recent"))
    index_pending(store.db.conn)
    purge(store, {}, default_days=1, now="2026-11-03T00:00:00Z")
    assert days_of(store) == ["2026-11-05"]

    secret = marker()
    imported = store.record(row("2026-10-20", secret, user="carol"))
    index_pending(store.db.conn)
    assert fts_rowids(store, f'"{secret}"') == [imported]

    erase_user(store, "carol")
    assert fts_rowids(store, f'"{secret}"') == [] and occurrences(tmp_path / "t.db", secret) == 0
    fts_integrity_check(store)


def test_rows_whose_time_is_not_iso_are_indexed_in_a_partition_of_their_own(store):
    rid = store.record(dict(row("2026-11-01", "odd clock"), created_at="yesterday"))
    index_pending(store.db.conn)
    assert fts_day("yesterday") == "other" and days_of(store) == ["other"]
    rows, _ = search(store, parse_filters({"q": "odd"}), developer_id=DEV)
    assert [r["id"] for r in rows] == [rid]
    erase_user(store, "u1")
    assert fts_rowids(store, "odd") == []
    fts_integrity_check(store)


def test_a_database_with_the_single_index_of_0_1_is_moved_to_day_partitions(tmp_path):
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    path = tmp_path / "old.db"
    store = TranscriptStore(path)
    # No background tick may index the row into a day partition first: a 0.1 database has none, and a
    # row indexed there and again by the move stayed searchable after its erasure (seen once in ~20 runs).
    store.checkpoint_interval = 3600
    store.record(row("2026-11-01", "legacy words"))
    store.stop()
    conn = sqlite3.connect(path)  # the 0.1 layout: one index for every row, kept by triggers
    conn.execute("CREATE VIRTUAL TABLE transcripts_fts USING fts5(utterance, speech, content='transcripts', "
                 "content_rowid='id')")
    conn.execute("INSERT INTO transcripts_fts (transcripts_fts) VALUES ('rebuild')")
    conn.execute("CREATE TRIGGER transcripts_fts_del AFTER DELETE ON transcripts BEGIN INSERT INTO transcripts_fts "
                 "(transcripts_fts, rowid, utterance, speech) VALUES ('delete', old.id, old.utterance, old.speech); END")
    conn.execute("UPDATE privacy_meta SET value = '1' WHERE name = 'fts_upto'")
    conn.commit()
    conn.close()

    store = TranscriptStore(path)
    rows, _ = search(store, parse_filters({"q": "legacy"}), developer_id=DEV)

    assert [r["speech"] for r in rows] == ["legacy words"]
    names = {r[0] for r in store.db.conn.execute("SELECT name FROM sqlite_master")}
    assert "transcripts_fts" not in names and "transcripts_fts_del" not in names
    erase_user(store, "u1")
    assert fts_rowids(store, "legacy") == []


def test_new_ledgers_never_hand_out_an_id_twice(store):
    store.record(row("2026-11-01", "first"))
    last = store.record(row("2026-11-01", "second", user="gone"))
    erase_user(store, "gone")
    assert store.record(row("2026-11-01", "third")) == last + 1


def test_a_0_1_table_whose_ids_can_be_reused_keeps_them_searchable(tmp_path):
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)  # the 0.1 table: INTEGER PRIMARY KEY without AUTOINCREMENT
    conn.execute('CREATE TABLE "transcripts" ("id" INTEGER PRIMARY KEY, "created_at" TEXT NOT NULL, '
                 '"developer_id" TEXT NOT NULL, "skill" TEXT NOT NULL, "user_id" TEXT NOT NULL, "session_id" TEXT, '
                 '"request_id" TEXT, "request_type" TEXT, "intent" TEXT, "slots" TEXT, "utterance" TEXT, '
                 '"speech" TEXT, "reprompt" TEXT, "card" TEXT, "directives" TEXT, "end_session" INTEGER, '
                 '"transaction" TEXT, "locale" TEXT, "latency_ms" REAL, "status" TEXT, "error" TEXT, '
                 '"redacted" TEXT, "capture_mode" TEXT)')
    conn.commit()
    conn.close()
    store = TranscriptStore(path)
    store.record(row("2026-11-01", "first"))
    last = store.record(row("2026-11-01", "second", user="gone"))
    index_pending(store.db.conn)
    erase_user(store, "gone")

    reused = store.record(row("2026-11-01", "again"))

    assert reused == last
    assert [r["id"] for r in search(store, parse_filters({"q": "again"}), developer_id=DEV)[0]] == [reused]
    fts_integrity_check(store)


def test_tomorrows_partitions_exist_before_its_first_capture(store):
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    store.record(row(today.isoformat(), "today", user="u1"))
    store.record(dict(row(today.isoformat(), "today", user="u1"), developer_id="dev-b"))
    index_pending(store.db.conn)

    made = fts_partitions(store.db.conn)
    assert sorted(dev for day, dev, _ in made if day == tomorrow) == [DEV, "dev-b"]
    store.record(row(tomorrow, "tomorrow"))
    index_pending(store.db.conn)   # no table created, so no connection reloads its schema
    assert fts_partitions(store.db.conn) == made
    assert fts_rowids(store, "tomorrow") != []


def test_a_search_keeps_its_partitions_while_a_purge_drops_them(store, monkeypatch):
    from skills_sdk.transcripts.sqlite import fts as search_module
    from skills_sdk.transcripts.sqlite.fts import drop_fts_days

    old = store.record(row("2026-11-01", "pizza one"))
    store.record(row("2026-11-02", "pizza two"))
    index_pending(store.db.conn)
    other = TranscriptStore(store.path)
    listed = search_module.fts_partitions

    purged = []

    def list_then_purge(conn, developer_id=None):
        parts = listed(conn, developer_id)
        if not purged:  # once: the purge lists the partitions too (same module), through this function
            purged.append(True)
            with other.writing(), other.transaction() as c:  # another connection drops 2026-11-01
                drop_fts_days(c, "2026-11-02")
        return parts

    monkeypatch.setattr(search_module, "fts_partitions", list_then_purge)
    rows, _ = search(store, parse_filters({"q": "pizza"}), developer_id=DEV)

    assert [r["id"] for r in rows][-1] == old  # read from the snapshot the partitions were listed in
    assert days_of(store) == ["2026-11-02"]


def test_a_search_indexes_a_bounded_backlog_and_leaves_the_rest_to_the_background(monkeypatch):
    from skills_sdk.transcripts.sqlite import fts as search_module

    monkeypatch.setattr(search_module, "SEARCH_INDEX_LIMIT", 3)
    store = TranscriptStore(":memory:")  # no background thread here: only the searches index
    ids = [store.record(row("2026-11-01", f"word {i}", hour=i)) for i in range(5)]

    first, _ = search(store, parse_filters({"q": "word"}), developer_id=DEV)
    assert [r["id"] for r in first] == ids[:3][::-1]
    index_pending(store.db.conn)
    assert len(search(store, parse_filters({"q": "word"}), developer_id=DEV)[0]) == 5
