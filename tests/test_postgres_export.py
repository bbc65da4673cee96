"""Reading the PostgreSQL ledger fast: the export's spliced lines, both formats of sealed words, search windows."""

from __future__ import annotations

import datetime
import itertools
import json
import os
import resource
import threading

import psycopg
import pytest
from _postgres import search_pages

from skills_sdk.errors import StoreError
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.postgres import PostgresLedger, crypto, export, jsonl, schema, sealed


@pytest.fixture
def store(postgres_url, tmp_path):
    led = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"))
    yield led
    led.stop()


@pytest.fixture(params=["compiled", "python"])
def line_code(request, monkeypatch):
    """The export's lines made by the compiled twin (where built) and by the Python code."""
    if request.param == "compiled" and not jsonl.available():
        pytest.skip("the compiled twin was not built")
    monkeypatch.setattr(jsonl, "_compiled", request.param == "compiled")
    return request.param


def _turn(n: int, **extra) -> dict:
    return {"developer_id": "dev-a", "skill": "notes", "user_id": f"u{n % 3}", "session_id": f"S{n}",
            "request_id": f"R{n}", "request_type": "IntentRequest", "intent": "NoteIntent",
            "utterance": f"note {n} \"quoted\" \\ tab\t ünï", "speech": f"Noted {n}.", "slots": {"n": {"value": n}},
            "card": {"title": "Note", "content": f"{n}"}, "directives": [{"type": "Hint", "n": n}],
            "error": f"partner said {n}" if n % 2 else None, "latency_ms": [12.0, 0.25, 1e-05, 123456.789, 0.0, None, 1e16][n % 7],
            "end_session": bool(n % 2), "transaction": {"amount": "9.50"} if n % 5 == 0 else None,
            "redacted": ["", "phone", "phone,email"][n % 3], "created_at": f"2026-11-{20 + n % 5}T09:{n:02d}:00.000Z",
            **extra}


def _format_1(store: PostgresLedger, rid: int) -> None:
    """Re-seal row ``rid``'s words as the previous version wrote them ({column: stored value}, JSON as text)."""
    with psycopg.connect(store.url, autocommit=True) as conn:
        key_id, blob = conn.execute("SELECT key_id, sealed FROM transcripts WHERE id = %s", (rid,)).fetchone()
        key = store.keys.keys_for(conn, {key_id})[key_id]
        words = sealed.words(crypto.unseal(key, bytes(blob), str(key_id).encode()))
        old = {c: (json.dumps(v, separators=(",", ":"), ensure_ascii=False) if c in ("slots", "card", "directives")
                   else v) for c, v in words.items() if v is not None}
        conn.execute("UPDATE transcripts SET sealed = %s WHERE id = %s",
                     (crypto.seal(key, json.dumps(old).encode(), str(key_id).encode()), rid))


def _in_export_order(lines) -> list[str]:
    """The SQLite ledger's lines in the export's order on PostgreSQL: oldest first, then by id."""
    return sorted(lines, key=lambda line: (json.loads(line)["created_at"], json.loads(line)["id"]))


def test_export_lines_equal_the_sqlite_ledgers_for_both_formats_of_sealed_words(store, tmp_path, line_code):
    rows = [_turn(n) for n in range(12)]
    rows.append({"developer_id": "dev-a", "skill": "notes", "user_id": "meta", "capture_mode": "metadata",
                 "created_at": "2026-11-25T00:00:00.000Z", "redacted": "card"})
    rows.append({**_turn(99), "created_at": "not a date"})  # the default partition, after every day
    sqlite = TranscriptStore(tmp_path / "t.db")
    sqlite.record_many(rows)
    store.record_many(rows)
    expected = list(sqlite.iter_jsonl(developer_id="dev-a"))  # in created_at order on both
    assert list(store.iter_jsonl(developer_id="dev-a")) == expected
    _format_1(store, 3)  # rows written before this version
    _format_1(store, 4)
    assert list(store.iter_jsonl(developer_id="dev-a")) == expected
    assert [json.loads(line) for line in store.iter_jsonl(user_id="u1", since="2026-11-22")] == list(
        store.iter_transcripts(user_id="u1", since="2026-11-22"))
    sqlite.close()


def test_an_export_read_in_many_fetches_keeps_every_row_in_order(store, tmp_path, monkeypatch, line_code):
    monkeypatch.setattr(export, "_CHUNK", 4)  # batches of 4 rows, what arrived meanwhile taken every 3
    monkeypatch.setattr(export, "_POLL", 3)
    rows = [_turn(n) for n in range(40)] + [{**_turn(n), "developer_id": "dev-b"} for n in range(40, 57)]
    sqlite = TranscriptStore(tmp_path / "t.db")
    sqlite.record_many(rows)
    store.record_many(rows)
    for scope in ({}, {"developer_id": "dev-a"}, {"developer_id": "dev-b", "since": "2026-11-22"}):
        expected = _in_export_order(sqlite.iter_jsonl(**scope))
        assert list(store.iter_jsonl(**scope)) == expected, scope  # oldest first, then by id
    lines = store.iter_jsonl(developer_id="dev-a")  # left in its third batch, its COPY's end unread
    assert len(list(itertools.islice(lines, 10))) == 10
    lines.close()
    assert store.pool.get_stats().get("returns_bad", 0) == 0  # its connection went back usable, not discarded
    for _ in range(store.max_size + 1):
        assert len(list(store.iter_jsonl(developer_id="dev-b"))) == 17
    sqlite.close()


def _long_days(store, days: int = 3, rows: int = 1500) -> None:
    """Days of 3 MB each: far more than a socket holds, so the server is still sending a day when it is sampled."""
    store.record_many([_turn(m, created_at=f"2026-11-{20 + d}T{m // 60:02d}:{m % 60:02d}:00.000Z", request_id=f"R{d}.{m}",
                             utterance=f"{m} " + "long words " * 180) for d in range(days) for m in range(rows)])


def _copies(conn, state: str = "active") -> int:
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%' AND state = %s",
                        (state,)).fetchone()[0]


def test_an_export_holds_two_days_sorts_at_most(store, monkeypatch):
    monkeypatch.setattr(export, "_WORK_MEM", "64kB")  # each day's sort spills to a temporary file
    monkeypatch.setattr(export, "_CHUNK", 50)
    _long_days(store)
    seen = []
    with psycopg.connect(store.url, autocommit=True) as watch:
        for n, _ in enumerate(store.iter_jsonl()):
            if n % 1500 == 10:  # the server's temporary files, a few rows into each day: that day's and the next's
                seen.append(watch.execute("SELECT count(*) FROM pg_ls_tmpdir()").fetchone()[0])
    assert seen[:2] in ([1, 1], [1, 2], [2, 1], [2, 2]) and seen[2] == 1  # no finished day's sort kept


def test_an_export_left_in_the_middle_of_a_days_copy_leaves_its_connections_usable(store, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 50)
    _long_days(store)
    with psycopg.connect(store.url, autocommit=True) as watch:
        lines = store.iter_jsonl()
        assert len(list(itertools.islice(lines, 10))) == 10
        assert _copies(watch) == 2  # this day's still sending, the next day's sorted ahead on the second connection
        lines.close()
        assert _copies(watch) == 0 and _copies(watch, "idle in transaction") == 0
    assert store.pool.get_stats().get("returns_bad", 0) == 0  # cancelled and drained, not discarded
    for _ in range(store.max_size + 1):
        assert len(list(store.iter_jsonl())) == 4500


def test_rows_committed_after_an_exports_snapshot_are_not_read_by_its_second_connection(store, tmp_path, monkeypatch):
    rows = [_turn(n) for n in range(20)]
    store.record_many(rows)
    sqlite = TranscriptStore(tmp_path / "t.db")
    sqlite.record_many(rows)
    expected = _in_export_order(sqlite.iter_jsonl())
    sqlite.close()
    begin, began = export._begin, []

    def capture_then_begin(conn, f, snapshot=None):
        if snapshot is not None:  # after the first connection's snapshot, before the second's start: a row a day
            store.record_many([{**_turn(n), "request_id": f"late{n}", "utterance": "late"} for n in range(5)])
        began.append(snapshot)
        begin(conn, f, snapshot)

    monkeypatch.setattr(export, "_begin", capture_then_begin)
    assert list(store.iter_jsonl()) == expected
    assert began[0] is None and began[1]  # the second connection began in the first one's snapshot
    assert len(list(store.iter_jsonl())) == 25


def test_a_purge_during_an_export_takes_no_day_from_it(store, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 50)
    monkeypatch.setattr(schema, "DETACH_TRIES", 1)
    _long_days(store, days=4, rows=600)
    begin, purged = export._begin, []

    def purge_then_begin(conn, f, snapshot=None):
        if snapshot is not None:  # the first connection's snapshot taken, no day read yet: a purge of every day
            with pytest.raises(StoreError, match="export"):  # gives way to the export's lock
                store.purge({}, default_days=1, now="2026-11-25T00:00:00Z")
            purged.append(True)
        begin(conn, f, snapshot)

    monkeypatch.setattr(export, "_begin", purge_then_begin)
    lines = store.iter_jsonl()
    first = list(itertools.islice(lines, 10))
    with psycopg.connect(store.url, autocommit=True) as conn:  # nor can a day not read yet be detached now
        conn.execute("SET lock_timeout = 200")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            conn.execute("ALTER TABLE transcripts DETACH PARTITION transcripts_20261123")
    got = first + list(lines)
    assert purged and len(got) == 2400 and json.loads(got[-1])["created_at"].startswith("2026-11-23")
    assert store.purge({}, default_days=1, now="2026-11-25T00:00:00Z")["dropped_days"] == [
        "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]  # the export over: they go


def test_an_export_whose_connections_are_lost_raises_and_the_next_one_reads_every_row(store, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 50)
    _long_days(store)
    lines = store.iter_jsonl()
    assert len(list(itertools.islice(lines, 10))) == 10
    with psycopg.connect(store.url, autocommit=True) as admin:
        assert admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE query LIKE 'COPY%%' AND pid <> pg_backend_pid()").fetchone()[0] == 2
    with pytest.raises(StoreError, match="cannot be reached"):
        list(lines)
    assert len(list(store.iter_jsonl())) == 4500


def test_an_export_on_a_pool_of_two_reads_every_day_on_one_connection(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 4)
    led = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"),
                         max_size=2)
    try:
        rows = [_turn(n) for n in range(30)]
        led.record_many(rows)
        sqlite = TranscriptStore(tmp_path / "t.db")
        sqlite.record_many(rows)
        assert list(led.iter_jsonl()) == _in_export_order(sqlite.iter_jsonl())
        sqlite.close()
    finally:
        led.stop()


def test_an_export_left_early_stops_its_reader_and_frees_its_connections(store):
    store.record_many([_turn(n) for n in range(30)])
    lines = store.iter_jsonl()
    first = list(itertools.islice(lines, 2))
    lines.close()
    assert len(first) == 2
    assert not [t for t in threading.enumerate() if t.name == "skills-ledger-export"]
    for _ in range(store.max_size + 1):  # every connection went back to the pool
        assert len(list(store.iter_jsonl(user_id="u0"))) == 10


def test_a_rows_words_export_as_nothing_once_its_key_is_erased_mid_export(store, line_code):
    store.record_many([_turn(n) for n in range(6)])
    with psycopg.connect(store.url, autocommit=True) as conn:  # as if erased after the rows were read
        conn.execute("DELETE FROM user_keys WHERE user_id = 'u1'")
    store.keys.forget(everything=True)
    got = {json.loads(line)["request_id"]: json.loads(line) for line in store.iter_jsonl()}
    assert got["R1"]["utterance"] is None and got["R1"]["slots"] is None
    assert got["R2"]["utterance"].startswith("note 2")


def test_search_reaches_the_oldest_day_and_pages_across_its_windows(store):
    today = datetime.datetime.now(datetime.UTC).date()
    days = [today - datetime.timedelta(days=d) for d in (0, 1, 3, 9, 40, 200)]
    store.record_many([{**_turn(n), "utterance": f"rare word {n}" if n % 2 == 0 else "other",
                        "created_at": f"{day.isoformat()}T0{n % 10}:00:00.000Z"}
                       for n, day in enumerate(d for d in days for _ in range(4))])
    found = [(r["created_at"][:10], r["id"]) for r in search_pages(store, "rare", developer_id="dev-a", limit=3)]
    assert len(found) == 12 and found == sorted(found, reverse=True)  # by day, then id, newest first
    assert found[-1][0] == days[-1].isoformat()
    assert store.search("rare", {"since": days[3].isoformat()}, developer_id="dev-a", limit=50)[0][-1][
        "created_at"][:10] == days[3].isoformat()


def test_search_through_a_token_every_word_shares_finds_each_match_once(store, monkeypatch):
    monkeypatch.setattr(crypto, "group_tokens", lambda key, terms: [0])  # every word collides: each candidate checked
    today = datetime.datetime.now(datetime.UTC).date()
    rows = [{**_turn(n), "utterance": "ordinary words" if n % 50 else "a rare one", "speech": None,
             "created_at": f"{(today - datetime.timedelta(days=n % 9)).isoformat()}T10:{n % 60:02d}:00.000Z"}
            for n in range(400)]
    store.record_many(rows)
    found = [r["request_id"] for r in search_pages(store, "rare", developer_id="dev-a", limit=3)]
    expected = sorted((r for r in rows if r["utterance"] == "a rare one"), key=lambda r: r["created_at"][:10],
                      reverse=True)
    assert found == [r["request_id"] for r in expected] and len(found) == 8


def test_an_export_whose_connection_has_a_descriptor_past_1024_reads_every_row(postgres_url, tmp_path):
    # select.select() refuses descriptors >= FD_SETSIZE (1024): a server process with many open
    # files or sockets would have had every PostgreSQL export fail with ValueError.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this process may open {hard} files at most: no descriptor reaches 1024")
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    held: list[int] = []
    try:
        for _ in range(10):
            # Padding up to 1100 takes every lower number, holes included; a descriptor another thread
            # (the test databases' spares) closes meanwhile may still go to the pool: then again.
            while not held or held[-1] < 1100:
                held.append(os.open(os.devnull, os.O_RDONLY))
            led = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"),
                                 spool_path=str(tmp_path / "spool"))
            with led.connection() as conn:
                high = conn.pgconn.socket >= 1024
            if high:
                break
            led.stop()
            held.append(os.open(os.devnull, os.O_RDONLY))  # the pool's freed number goes to the padding
        assert high  # the pool's connections were opened after the padding
        try:
            led.record_many([_turn(n) for n in range(12)])
            with led.connection() as conn:
                assert conn.pgconn.socket >= 1024
            assert len(list(led.iter_jsonl(developer_id="dev-a"))) == 12
        finally:
            led.stop()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
