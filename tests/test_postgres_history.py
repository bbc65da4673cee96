"""A user's history on PostgreSQL reads only the days the user has rows in (``user_days``), and stays exact."""

from __future__ import annotations

import random

import psycopg
import pytest

from skills_sdk.transcripts.postgres import PostgresLedger, schema
from skills_sdk.transcripts.postgres.columns import SELECT, keyed


@pytest.fixture
def store(postgres_url, tmp_path):
    s = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"))
    yield s
    s.stop()


def _row(user: str, day: int, n: int, skill: str = "notes") -> dict:
    return {"developer_id": "dev-a", "skill": skill, "user_id": user, "session_id": f"S-{user}-{day}",
            "created_at": f"2026-11-{day:02d}T{n % 24:02d}:{n % 60:02d}:00.000Z", "request_type": "IntentRequest",
            "intent": "NoteIntent", "utterance": f"note {n}", "speech": f"Noted {n}."}


def _ids(store: PostgresLedger, user: str) -> list[int]:
    """The user's ids, newest first, read without user_days (every partition)."""
    with store.connection() as conn:
        return [r[0] for r in conn.execute("SELECT id FROM transcripts WHERE user_id = %s ORDER BY id DESC", (user,))]


def _pages(store: PostgresLedger, user: str, limit: int) -> list[int]:
    out: list[int] = []
    before = None
    while True:
        page = store.user_history(user, limit=limit, before_id=before)
        out += [r["id"] for r in page]
        if len(page) < limit:
            return out
        before = page[-1]["id"]


def _days(store: PostgresLedger, user: str) -> list[tuple[str, int]]:
    with store.connection() as conn:
        return [tuple(r) for r in conn.execute("SELECT day, top_id FROM user_days WHERE user_id = %s ORDER BY day",
                                               (user,))]


def _expected_days(store: PostgresLedger, user: str) -> list[tuple[str, int]]:
    with store.connection() as conn:
        return [tuple(r) for r in conn.execute("SELECT left(created_at, 10), max(id) FROM transcripts WHERE user_id = %s "
                                               "GROUP BY 1 ORDER BY 1", (user,))]


def test_pages_are_exact_when_imports_write_old_days_with_new_ids(store):
    # Live captures first (recent days), then imports of older days, which take higher ids: id order
    # is not day order, and a page must still be the user's newest ids.
    rng = random.Random(5)
    users = ["u-a", "u-b", "u-c"]
    for n in range(60):
        store.record(_row(rng.choice(users), 20 + rng.randrange(8), n))
    for start in range(0, 90, 30):
        store.record_many([_row(rng.choice(users), 1 + rng.randrange(18), 100 + start + k) for k in range(30)])
    for n in range(20):
        store.record(_row(rng.choice(users), 1 + rng.randrange(27), 200 + n))
    for user in users:
        every = _ids(store, user)
        assert len(every) > 20
        # A capture's day holds an upper bound of its ids (writes.DAY_AHEAD above its row's): enough for a page.
        assert [d for d, _ in _days(store, user)] == [d for d, _ in _expected_days(store, user)]
        assert all(top >= high for (_, top), (_, high) in zip(_days(store, user), _expected_days(store, user),
                                                               strict=True))
        for limit in (1, 3, 7, 50):
            assert _pages(store, user, limit) == every, (user, limit)


def test_a_page_stops_at_the_days_it_needs(store):
    # 30 days of 5 rows: a page of 10 reads the two newest days and stops (the function returns what it read).
    store.record_many([_row("u1", day, day * 10 + k) for day in range(1, 31) for k in range(5)])
    page = store.user_history("u1", limit=10)
    assert [r["created_at"][:10] for r in page] == ["2026-11-30"] * 5 + ["2026-11-29"] * 5
    with store.connection() as conn:
        read = conn.execute("SELECT count(*) FROM user_history_rows('u1', 9223372036854775807, 10)").fetchone()[0]
    assert read == 10


def test_pages_are_exact_across_batches_of_days(store):
    # One to four rows on each of 28 days, then old days imported with new ids: a page is read in
    # batches of 4, 8 and 16 days, and a page's edge falls inside a batch, on one, and past several.
    rng = random.Random(9)
    store.record_many([_row("u1", 1 + day % 28, day * 3 + k, skill=f"s{day // 28}")
                       for day in range(40) for k in range(1 + day % 2)])
    store.record_many([_row("u1", 1 + rng.randrange(28), 500 + k) for k in range(15)])
    store.record_many([_row("u2", 1 + rng.randrange(28), 600 + k) for k in range(5)])
    every = _ids(store, "u1")
    assert len(_days(store, "u1")) == 28 and len(every) == 75
    for limit in (1, 3, 4, 5, 11, 12, 13, 29, 50, 75, 80):
        assert _pages(store, "u1", limit) == every, limit


def test_erasure_and_purge_forget_the_users_days(store):
    store.record_many([_row("u1", day, day, skill=skill) for day in (1, 2, 3) for skill in ("notes", "music")]
                      + [_row("u1", 4, 40, skill="music"), _row("u2", 2, 50)])
    store.erase_user("u1", skill="music", ratchet=False)
    # The 4th day held music only; a day's highest id stays an upper bound of what is left (enough to stop a page).
    assert [d for d, _ in _days(store, "u1")] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert all(top >= high for (_, top), (_, high) in zip(_days(store, "u1"), _expected_days(store, "u1"), strict=True))
    assert _pages(store, "u1", 2) == _ids(store, "u1")
    store.erase_user("u1", ratchet=False)
    assert _days(store, "u1") == [] and store.user_history("u1") == []
    assert [d for d, _ in _days(store, "u2")] == ["2026-11-02"]
    with store.connection() as conn, conn.transaction():
        schema.drop_days_before(conn, "2026-11-03")
    assert _days(store, "u2") == [] and store.user_history("u2") == []


def test_a_ledger_migrated_from_before_user_days_knows_every_users_days(postgres_url, tmp_path):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        schema.migrate(conn, target=4)
        with conn.transaction():
            schema.ensure_days(conn, [f"2026-11-{d:02d}" for d in range(1, 4)])
        conn.execute("INSERT INTO transcripts (created_at, developer_id, skill, user_id) "
                     "SELECT '2026-11-0' || (1 + g % 3) || 'T10:00:00.000Z', 'dev-a', 'notes', 'u' || (g % 4) "
                     "FROM generate_series(1, 40) g")
    store = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"))
    try:
        assert store.applied == list(range(5, len(schema.MIGRATIONS) + 1))
        for user in ("u0", "u1", "u2", "u3"):
            assert _days(store, user) == _expected_days(store, user) and len(_days(store, user)) == 3
            assert _pages(store, user, 4) == _ids(store, user)
    finally:
        store.stop()


def test_history_is_read_under_the_users_scope_in_sql(store):
    store.record(_row("u1", 1, 1))
    store.record(_row("u2", 1, 2))
    with store.connection() as conn:
        # Called for u1, the function reads through user_transcripts scoped to u1: u2's rows cannot come back.
        got = conn.execute("SELECT user_id FROM user_history_rows('u1', 9223372036854775807, 50)").fetchall()
        assert got == [("u1",)]
        try:  # the scope ended with the statement: the view raises, or (the setting known, now empty) finds nothing
            left = conn.execute("SELECT count(*) FROM user_transcripts").fetchone()[0]
        except psycopg.errors.UndefinedObject:
            left = 0
        assert left == 0


def test_an_erasures_check_of_its_users_days_is_planned_once_per_connection(store):
    # Planned for one day at each call, a heavy user's erasure spent 27-91 ms checking 90 days.
    with store.connection() as conn:
        (config,) = conn.execute("SELECT proconfig FROM pg_proc WHERE proname = 'user_days_prune'").fetchone()
    assert "plan_cache_mode=force_generic_plan" in (config or [])


def _plan_nodes(conn, sql: str, params=()) -> list[tuple[str, str]]:
    """The (node type, index) pairs of ``sql``'s plan, sequential and bitmap scans switched off (tiny test tables)."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        (plan,) = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    out, todo = [], [plan["Plan"]]
    while todo:
        node = todo.pop()
        out.append((node["Node Type"], node.get("Index Name", "")))
        todo += node.get("Plans", [])
    return out


def test_a_history_reads_its_days_and_keys_from_index_pages(store):
    # Each day of a user's, and each of its data keys, was an index entry pointing at a heap page of
    # its own: a cold history at 10M rows read some 150 pages, two thirds of them for these.
    store.record_many([_row("u1", day, day * 10 + k, skill=f"s{k}") for day in range(1, 8) for k in range(3)])
    with store.connection() as conn:
        days = _plan_nodes(conn, "SELECT array_agg(day ORDER BY top_id DESC) FROM user_days WHERE user_id = 'u1'")
        keys = _plan_nodes(conn, keyed("SELECT " + SELECT + " FROM transcripts WHERE user_id = 'u1'", "r.id DESC"))
    assert ("Index Only Scan", "user_days_pkey") in days
    assert ("Index Only Scan", "user_keys_owner") in keys and not any(i == "user_keys_pkey" for _, i in keys)


def test_a_ledger_from_before_reads_its_history_from_index_pages_once_migrated(postgres_url, tmp_path, monkeypatch):
    key_file = str(tmp_path / "ledger.key")
    with monkeypatch.context() as m:  # the ledger as the version before this one made it, with rows of every kind
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:9])
        old = PostgresLedger(postgres_url, key_file=key_file)
        old.record_many([_row(u, day, day * 10 + k, skill=f"s{k}") for u in ("u1", "u2") for day in (1, 2, 3)
                         for k in range(3)])
        old.record(_row("u1", 4, 99))
        before = {u: old.user_history(u) for u in ("u1", "u2")}
        old.stop()
    store = PostgresLedger(postgres_url, key_file=key_file)
    try:
        assert store.applied == list(range(10, len(schema.MIGRATIONS) + 1))
        assert {u: store.user_history(u) for u in ("u1", "u2")} == before and len(before["u1"]) == 10
        assert store.verify_chain().ok
        # The constraints the captures' upserts name still hold: a new user's key, a user's new day, a known day.
        store.record(_row("u3", 4, 1))
        store.record(_row("u1", 5, 2, skill="s9"))
        store.record(_row("u1", 5, 3, skill="s9"))
        assert [r["utterance"] for r in store.user_history("u1", limit=2)] == ["note 3", "note 2"]
        assert _days(store, "u1")[-1][0] == "2026-11-05" and _pages(store, "u3", 1) == _ids(store, "u3")
        assert store.verify_chain().ok
    finally:
        store.stop()


def test_a_batch_of_days_reads_only_those_days_partitions(store):
    # u1 has rows on three days of four weeks: its one batch read every partition from the first to
    # the last (one range), 28 index descents for three days' rows.
    store.record_many([_row("u2", day, day) for day in range(1, 29)]
                      + [_row("u1", day, 100 + day) for day in (2, 15, 27)])
    with store.connection() as conn:
        def scanned() -> dict[str, int]:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            return dict(conn.execute("SELECT relname, sum(idx_scan) FROM pg_stat_user_indexes "
                                     "WHERE relname LIKE 'transcripts_2026%' GROUP BY 1").fetchall())
        was = scanned()
        conn.execute("SELECT pg_stat_force_next_flush()")
        assert len(conn.execute("SELECT id FROM user_history_rows('u1', 9223372036854775807, 50)").fetchall()) == 3
        conn.execute("SELECT pg_stat_force_next_flush()")
        now = scanned()
    assert sorted(t for t in now if now[t] != was[t]) == ["transcripts_20261102", "transcripts_20261115",
                                                            "transcripts_20261127"]
