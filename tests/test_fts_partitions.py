"""The full-text index in tables per day (developer tokens inside): search, whole-day purges, erasure, text changes, migrations."""

from __future__ import annotations

import pytest
from _privacy_kit import fts_integrity_check, fts_rowids, marker, occurrences

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.erasure import erase_user
from skills_sdk.transcripts.retention import Policy, purge
from skills_sdk.transcripts.search import parse_filters, search
from skills_sdk.transcripts.sqlite.fts import fts_bucket, fts_day, fts_partitions, index_pending

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


def pages(store: TranscriptStore, q: str, limit: int, developer_id: str = DEV) -> list[list[int]]:
    out, before = [], None
    while True:
        rows, before = search(store, parse_filters({"q": q}), developer_id=developer_id, before_id=before, limit=limit)
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


def test_a_developers_search_stays_in_its_rows_by_its_token_and_a_users_search_merges_them(store):
    a = store.record(row("2026-11-01", "shared word", user="u1"))
    b = store.record(dict(row("2026-11-01", "shared word", user="u1"), developer_id="dev-b"))
    c = store.record(row("2026-11-01", "shared word", user="u1", hour=11))
    index_pending(store.db.conn)

    mine, _ = search(store, parse_filters({"q": "shared"}), developer_id="dev-b")
    theirs, _ = search(store, parse_filters({"q": "shared"}), developer_id=DEV)
    users, _ = search(store, parse_filters({"q": "shared"}), user_id="u1")
    assert [r["id"] for r in mine] == [b] and [r["id"] for r in theirs] == [c, a]
    assert [r["id"] for r in users] == [c, b, a]
    fts_integrity_check(store)


def test_the_number_of_tables_follows_days_not_developers(store):
    from skills_sdk.transcripts.sqlite.fts import FTS_BUCKETS

    for i in range(40):
        store.record(dict(row("2026-11-01", f"word{i} common"), developer_id=f"dev-{i}"))
        store.record(dict(row("2026-11-02", f"word{i} common"), developer_id=f"dev-{i}"))
    index_pending(store.db.conn)
    before = store.db.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    for i in range(40, 200):
        store.record(dict(row("2026-11-02", f"word{i} common"), developer_id=f"dev-{i}"))
    index_pending(store.db.conn)

    assert store.db.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == before
    assert len(fts_partitions(store.db.conn)) <= 2 * FTS_BUCKETS
    # Each developer finds its own row of a word every developer uses, and another's word not at all.
    for i in (0, 7, 150):
        rows, _ = search(store, parse_filters({"q": "common"}), developer_id=f"dev-{i}")
        assert {r["developer_id"] for r in rows} == {f"dev-{i}"}
        assert search(store, parse_filters({"q": f"word{i + 1}"}), developer_id=f"dev-{i}")[0] == []
    fts_integrity_check(store)


def test_a_developer_token_is_not_a_word_a_search_can_find(store):
    from skills_sdk.transcripts.sqlite.fts import developer_token

    store.record(row("2026-11-01", "plain words"))
    index_pending(store.db.conn)
    assert search(store, parse_filters({"q": developer_token(DEV)}), developer_id=DEV)[0] == []
    assert search(store, parse_filters({"q": "plain"}), developer_id=DEV)[0] != []


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

    report = purge(store, {}, default_days=1, now="2026-11-03T00:00:00Z", wait=True)

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


def test_a_search_leaves_queued_deletes_to_the_background_yet_never_returns_a_deleted_row(store):
    gone = store.record(row("2026-11-01", "pepperoni gone"))
    kept = store.record(row("2026-11-01", "pepperoni kept", hour=11))
    changed = store.record(row("2026-11-01", "pepperoni plain", hour=12))
    index_pending(store.db.conn)
    store.db.conn.execute("DELETE FROM transcripts WHERE id = ?", (gone,))

    rows, _ = search(store, parse_filters({"q": "pepperoni"}), developer_id=DEV)
    assert [r["id"] for r in rows] == [changed, kept]
    assert store.db.conn.execute("SELECT count(*) FROM fts_changes").fetchone()[0] == 1  # not the search's to pay

    # A text change is another matter: the row must be found by its new words, so a search applies it.
    store.db.conn.execute("UPDATE transcripts SET speech = 'pepperoni spicy' WHERE id = ?", (changed,))
    rows, _ = search(store, parse_filters({"q": "spicy"}), developer_id=DEV)
    assert [r["id"] for r in rows] == [changed]
    assert fts_rowids(store, "gone") == [] and fts_rowids(store, "plain") == []
    fts_integrity_check(store)


@pytest.mark.parametrize("buckets", [1, 4])
def test_rows_of_many_days_and_developers_are_indexed_into_exactly_their_tables(tmp_path, monkeypatch, buckets):
    from skills_sdk.transcripts.sqlite import fts as fts_module

    monkeypatch.setattr(fts_module, "FTS_BUCKETS", buckets)
    store = TranscriptStore(tmp_path / "t.db")
    ids = [store.record(dict(row(f"2026-11-0{1 + i % 3}", f"olive {i}" if i % 4 else None, hour=i % 24),
                             developer_id=f"dev-{i % 5}")) for i in range(40)]
    store.record(dict(row("2026-11-01", "odd clock olive"), created_at="yesterday"))
    while index_pending(store.db.conn, limit=7):  # slices that cut days and developers apart
        pass

    assert fts_integrity_check(store) is None
    assert len(fts_rowids(store, "olive")) == 1 + sum(1 for i in range(40) if i % 4)
    assert fts_rowids(store, "7") == [ids[7]]
    store.close()


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

    # No longer reused since rows carry their seal (the id is in it): the next id passes the erased one.
    assert reused == last + 1 and store.verify_chain().ok
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
    buckets = int(store.db.conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_buckets'").fetchone()[0])
    assert sorted(b for day, b, _ in made if day == tomorrow) == sorted({fts_bucket(d, buckets) for d in (DEV, "dev-b")})
    store.record(row(tomorrow, "tomorrow"))
    index_pending(store.db.conn)   # no table created, so no connection reloads its schema
    assert fts_partitions(store.db.conn) == made
    assert fts_rowids(store, "tomorrow") != []


def test_a_search_keeps_its_partitions_while_a_purge_drops_them(store, monkeypatch):
    from skills_sdk.transcripts.sqlite import search as search_module
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
    from skills_sdk.transcripts.sqlite import search as search_module

    monkeypatch.setattr(search_module, "SEARCH_INDEX_LIMIT", 3)
    store = TranscriptStore(":memory:")  # no background thread here: only the searches index
    ids = [store.record(row("2026-11-01", f"word {i}", hour=i)) for i in range(5)]

    first, _ = search(store, parse_filters({"q": "word"}), developer_id=DEV)
    assert [r["id"] for r in first] == ids[:3][::-1]
    index_pending(store.db.conn)
    assert len(search(store, parse_filters({"q": "word"}), developer_id=DEV)[0]) == 5


# -- the move from one table per developer and day ------------------------------------------------
# The layout before day tables, as its DDL made it: kept here to build such a ledger.
OLD_PARTS_DDL = ("CREATE TABLE IF NOT EXISTS fts_parts (seq INTEGER PRIMARY KEY, day TEXT NOT NULL, "
                 "developer_id TEXT NOT NULL, UNIQUE (developer_id, day))")
OLD_TABLE_DDL = ("CREATE VIRTUAL TABLE {name} USING fts5(utterance, speech, content='transcripts', "
                 "content_rowid='id', columnsize=0)")
OLD_DAY = ("(CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
           "THEN substr(created_at, 1, 10) ELSE 'other' END)")


def old_layout_ledger(path, rows: list[dict]) -> list[int]:
    """A ledger whose full-text index is one FTS5 table per developer and day, every row indexed; returns ids."""
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    store = TranscriptStore(path)
    store.checkpoint_interval = 3600  # nothing indexed into day tables before the old layout is made
    ids = store.record_many(rows) if hasattr(store, "record_many") else [store.record(r) for r in rows]
    ids = [r[0] for r in store.db.conn.execute("SELECT id FROM transcripts ORDER BY id")]
    store.stop()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for name, _kind in conn.execute("SELECT name, type FROM sqlite_master WHERE name GLOB 'transcripts_fts_2*' "
                                   "AND type = 'table' AND sql LIKE 'CREATE VIRTUAL%'").fetchall():
        conn.execute(f"DROP TABLE {name}")
    conn.execute("DROP VIEW transcripts_fts_source")
    conn.execute("DROP TABLE fts_days")
    conn.execute("DELETE FROM privacy_meta WHERE name = 'fts_buckets'")
    conn.execute(OLD_PARTS_DDL)
    for day, dev in conn.execute(f"SELECT DISTINCT {OLD_DAY}, developer_id FROM transcripts WHERE "
                                 "utterance IS NOT NULL OR speech IS NOT NULL ORDER BY 1, 2").fetchall():
        seq = conn.execute("INSERT INTO fts_parts (day, developer_id) VALUES (?, ?)", (day, dev)).lastrowid
        name = f"transcripts_fts_{day.replace('-', '')}_{seq}"
        conn.execute(OLD_TABLE_DDL.format(name=name))
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('secure-delete', 1)")
        conn.execute(f"INSERT INTO {name} (rowid, utterance, speech) SELECT id, utterance, speech FROM transcripts "
                     f"WHERE {OLD_DAY} = ? AND developer_id = ? AND (utterance IS NOT NULL OR speech IS NOT NULL)",
                     (day, dev))
    conn.execute("UPDATE privacy_meta SET value = (SELECT max(id) FROM transcripts) WHERE name = 'fts_upto'")
    conn.execute("COMMIT")
    conn.close()
    return ids


def old_tables(store: TranscriptStore) -> list[str]:
    return [r[0] for r in store.db.conn.execute(
        "SELECT name FROM sqlite_master WHERE name GLOB 'transcripts_fts_*' AND name NOT GLOB '*_b[0-9]*' "
        "AND name != 'transcripts_fts_source' AND type = 'table' AND sql LIKE 'CREATE VIRTUAL%'")]


DEVS = ("dev-a", "dev-b", "dev-c")
WORDS = ("pizza", "pasta", "olive", "basil")


def mixed_rows(secret: str) -> list[dict]:
    out = []
    for i in range(36):
        dev, day = DEVS[i % 3], f"2026-11-0{1 + i % 4}"
        text = f"{WORDS[i % 4]} {WORDS[(i // 4) % 4]} order {i}" + (f" {secret}" if i % 9 == 0 else "")
        out.append(dict(row(day, text, user="carol" if i % 9 == 0 else f"u{i % 5}", hour=i % 24), developer_id=dev))
    out.append(dict(row("2026-11-02", "odd clock pizza"), created_at="yesterday"))
    return out


def all_searches(store: TranscriptStore) -> dict:
    found = {}
    for dev in DEVS:
        for word in (*WORDS, "order"):
            found[dev, word] = pages(store, word, 4, dev)
    for user in ("u1", "u3"):
        found[user, "order"] = [[r["id"] for r in search(store, parse_filters({"q": "order"}), user_id=user)[0]]]
    return found


def test_a_ledger_with_tables_per_developer_and_day_moves_to_day_tables_and_finds_the_same(tmp_path, monkeypatch):
    from skills_sdk.transcripts.sqlite import fts as fts_module

    secret = marker()
    path = tmp_path / "old.db"
    old_layout_ledger(path, mixed_rows(secret))
    monkeypatch.setattr(fts_module, "MIGRATE_SECONDS", 0)  # one old table per step: every stage is seen
    monkeypatch.setattr(fts_module, "SEARCH_INDEX_LIMIT", 0)
    store = TranscriptStore(path)
    store.checkpoint_interval = 3600
    conn = store.db.conn
    assert len(old_tables(store)) == 13 and fts_partitions(conn) == []
    fts_integrity_check(store)
    # Before anything moves: the searches as the old layout answers them.
    move = fts_module._move_legacy
    monkeypatch.setattr(fts_module, "_move_legacy", lambda c, budget: 0)
    before = all_searches(store)
    assert len(old_tables(store)) == 13
    monkeypatch.setattr(fts_module, "_move_legacy", move)
    assert before[DEV, "pizza"][0] and before["u1", "order"][0]

    while old_tables(store):  # (each search moves one old table too)
        left = len(old_tables(store))
        index_pending(conn)
        assert len(old_tables(store)) == left - 1
        fts_integrity_check(store)  # each row in exactly one table after every step
        assert all_searches(store) == before

    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "fts_parts" not in names and not old_tables(store)
    assert conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_legacy_upto'").fetchone() is None
    assert sorted({d for d, _, _ in fts_partitions(conn)}) == ["2026-11-01", "2026-11-02", "2026-11-03",
                                                              "2026-11-04", "other"]
    assert index_pending(conn) == 0
    erase_user(store, "carol")
    assert fts_rowids(store, f'"{secret}"') == [] and occurrences(path, secret) == 0
    store.close()


def test_erasure_purge_and_new_rows_during_the_move_leave_no_trace_and_lose_nothing(tmp_path, monkeypatch):
    from skills_sdk.transcripts.sqlite import fts as fts_module

    secret = marker()
    path = tmp_path / "old.db"
    old_layout_ledger(path, mixed_rows(secret))
    monkeypatch.setattr(fts_module, "MIGRATE_SECONDS", 0)
    store = TranscriptStore(path)
    store.checkpoint_interval = 3600
    conn = store.db.conn
    index_pending(conn)  # one old table moved, twelve left
    new = store.record(dict(row("2026-11-04", f"pizza late {secret}", user="carol"), developer_id="dev-b"))
    index_pending(conn)
    assert len(old_tables(store)) == 11

    erase_user(store, "carol")  # rows in old tables, in moved ones and the new row
    assert fts_rowids(store, f'"{secret}"') == [] and occurrences(path, secret) == 0
    assert new not in fts_rowids(store, "pizza")
    fts_integrity_check(store)

    report = purge(store, {}, default_days=1, now="2026-11-03T00:00:00Z")  # 11-01 expires: old and new tables
    assert report["deleted"] > 0
    assert "2026-11-01" not in {d for d, _, _ in fts_partitions(conn)}
    assert not any(t.startswith("transcripts_fts_20261101_") for t in old_tables(store))
    assert any(t.startswith("transcripts_fts_20261102_") for t in old_tables(store))
    fts_integrity_check(store)
    while index_pending(conn):
        pass
    assert not old_tables(store)
    fts_integrity_check(store)
    store.close()


def test_a_move_cut_short_leaves_every_row_in_one_table_and_the_next_step_resumes(tmp_path, monkeypatch):
    from skills_sdk.transcripts.sqlite import fts as fts_module

    path = tmp_path / "old.db"
    ids = old_layout_ledger(path, mixed_rows(marker()))
    monkeypatch.setattr(fts_module, "MIGRATE_SECONDS", 0)
    store = TranscriptStore(path)
    store.checkpoint_interval = 3600
    conn = store.db.conn
    real_drop = fts_module._finish_move

    def crash(c):
        raise RuntimeError("power cut")

    monkeypatch.setattr(fts_module, "_finish_move", crash)  # after the rows moved, before the commit
    with pytest.raises(RuntimeError):
        index_pending(conn)
    assert len(old_tables(store)) == 13 and fts_partitions(conn) == []  # rolled back whole
    fts_integrity_check(store)
    monkeypatch.setattr(fts_module, "_finish_move", real_drop)
    while index_pending(conn):
        pass
    assert not old_tables(store)
    assert sorted(fts_rowids(store, "order")) == ids[:-1]  # every row with the word, once
    fts_integrity_check(store)
    store.close()


def test_processes_opening_an_old_ledger_together_move_it_once(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "old.db"
    ids = old_layout_ledger(path, mixed_rows(marker()))
    script = ("import sys\nfrom skills_sdk.transcripts import TranscriptStore\n"
              "from skills_sdk.transcripts.sqlite import fts\nfts.MIGRATE_SECONDS = 0\n"
              "s = TranscriptStore(sys.argv[1]); s.checkpoint_interval = 3600\n"
              "while fts.index_pending(s.db.conn):\n    pass\ns.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]

    store = TranscriptStore(path)
    assert not old_tables(store)
    assert sorted(fts_rowids(store, "order")) == ids[:-1]
    fts_integrity_check(store)
    store.close()


def segments(store: TranscriptStore, name: str) -> int:
    return store.db.conn.execute(f"SELECT count(DISTINCT segid) FROM {name}_idx").fetchone()[0]


@pytest.mark.parametrize("apart", [False, True], ids=["in-the-batch", "a-step-of-its-own"])
def test_a_past_days_table_is_merged_into_one_segment_so_erasing_from_it_stays_cheap(store, monkeypatch, apart):
    import datetime

    from skills_sdk.transcripts.sqlite import fts as fts_module
    from skills_sdk.transcripts.sqlite import fts_merge

    monkeypatch.setattr(fts_merge, "MERGE_PAGES", 2)  # several steps even for a small table
    monkeypatch.setattr(fts_merge, "PAST_DAY_EVERY", 0)
    monkeypatch.setattr(fts_merge, "utc_today", lambda: datetime.date(2026, 11, 2))
    ids = []
    for i in range(24):  # indexed a few rows at a time, as captures come: a segment per batch
        ids.append(store.record(row("2026-11-01", f"word{i} pizza {i} " + "filler " * 30, hour=i % 24)))
        if i % 3 == 2:
            with store.transaction() as conn:
                fts_module._index_rows(conn, "id > ?", (ids[-3] - 1,))
                conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_upto'", (str(ids[-1]),))
    name = fts_partitions(store.db.conn)[0][2]
    assert segments(store, name) > 1

    steps = 0
    while True:  # each indexing batch after the day is over takes one merge step
        store.record(row("2026-11-02", "today"))
        # The background thread indexes a batch and then takes the merge step as a hold of its own.
        index_pending(store.db.conn, merge=not apart)
        if apart:
            fts_merge.merge_step(store.db.conn)
        steps += 1
        if store.db.conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_merged_upto'").fetchone():
            break
        assert steps < 50
    assert segments(store, name) == 1 and steps > 1
    today = [n for d, _, n in fts_partitions(store.db.conn) if d == "2026-11-02"]
    assert segments(store, today[0]) > 1  # today's table is left alone
    assert len(search(store, parse_filters({"q": "pizza"}), developer_id=DEV, limit=50)[0]) == 24
    erase_user(store, "u1")
    assert fts_rowids(store, "pizza") == []
    fts_integrity_check(store)


def test_todays_segments_are_merged_in_bounded_steps_not_inside_the_inserts_that_index_rows(store):
    import datetime

    from skills_sdk.transcripts.sqlite import fts_merge

    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    for i in range(12):  # a segment per indexing slice
        store.record(row(today, f"pizza {i}", hour=i))
        index_pending(store.db.conn, merge=False)
    name = [n for d, _, n in fts_partitions(store.db.conn) if d == today][0]
    assert segments(store, name) == 12
    # FTS5 merges inside an insert once enough pages were written (automerge): off, merge_step() does it.
    assert store.db.conn.execute(f"SELECT v FROM {name}_config WHERE k = 'automerge'").fetchone()[0] == 0

    steps = 0
    while fts_merge.merge_step(store.db.conn):
        steps += 1
        assert steps < 20
    assert steps >= 1 and segments(store, name) < 12
    assert len(search(store, parse_filters({"q": "pizza"}), developer_id=DEV, limit=50)[0]) == 12
    fts_integrity_check(store)


def test_queued_changes_can_be_applied_a_few_rows_at_a_time(store, tmp_path):
    from skills_sdk.transcripts.sqlite.fts import apply_fts_changes

    secret = marker()
    ids = [store.record(row("2026-11-01", f"{secret} number{i}", user="alice", hour=i)) for i in range(5)]
    store.record(row("2026-11-01", "bob words", user="bob"))
    index_pending(store.db.conn)
    store.db.conn.execute("DELETE FROM transcripts WHERE user_id = 'alice'")

    with store.transaction() as conn:
        assert apply_fts_changes(conn, rows=2) == 2
    assert fts_rowids(store, f'"{secret}"') == ids[2:]  # the two lowest ids first, the rest still queued
    with store.transaction() as conn:
        assert apply_fts_changes(conn, rows=10) == 3
        assert apply_fts_changes(conn, rows=10) == 0
    assert fts_rowids(store, f'"{secret}"') == [] and len(fts_rowids(store, "bob")) == 1
    fts_integrity_check(store)


def test_a_past_days_merge_steps_come_at_most_every_past_day_every_seconds(store, monkeypatch):
    from skills_sdk.transcripts.sqlite import fts_merge

    steps = []
    real = fts_merge._merge_past_day
    monkeypatch.setattr(fts_merge, "_merge_past_day", lambda conn: steps.append(1) or real(conn))
    monkeypatch.setattr(fts_merge, "PAST_DAY_EVERY", 3600)
    monkeypatch.setattr(fts_merge, "_past_day_at", [float("-inf")])  # whatever the uptime
    store.record(row("2026-11-01", "pizza"))
    index_pending(store.db.conn, merge=False)
    for _ in range(6):  # a merge step after each indexing slice: today's tables every time
        fts_merge.merge_step(store.db.conn)
    assert len(steps) == 1  # a past day's once in the hour
