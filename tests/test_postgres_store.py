"""The PostgreSQL ledger on a real server: sealed words, erasure that reaches WAL and an earlier backup, partitions, isolation in SQL."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import threading
import time
import uuid

import psycopg
import psycopg.sql
import pytest
from _postgres import Cluster, search_pages
from _server import wait_until

from skills_sdk.errors import StoreError
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.postgres import PostgresLedger, chain, crypto, schema, warmkeys, writes
from skills_sdk.transcripts.postgres.prepared import Prepared
from skills_sdk.transcripts.record import utcnow_iso
from skills_sdk.transcripts.retention import Policy


@pytest.fixture
def store(postgres_url, tmp_path):
    s = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"),
                       write_timeout=0.5)
    yield s
    s.stop()


def _marker() -> str:
    return "MARKER" + uuid.uuid4().hex[:16]


def _grep(folder: str, needles: list[str]) -> dict[str, list[str]]:
    """Which files under ``folder`` hold which needle (UTF-8 bytes), case-insensitively."""
    found: dict[str, list[str]] = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                data = pathlib.Path(path).read_bytes().lower()
            except OSError:
                continue
            for n in needles:
                if n.lower().encode() in data:
                    found.setdefault(n, []).append(os.path.relpath(path, folder))
    return found


def _turn(user: str, words: str, **extra) -> dict:
    return {"developer_id": "dev-a", "skill": "notes", "user_id": user, "session_id": "S-" + user,
            "request_type": "IntentRequest", "intent": "NoteIntent", "utterance": f"note {words}",
            "speech": f"Noted {words}.", "reprompt": f"Anything after {words}?",
            "card": {"title": "Note", "content": words}, "slots": {"note": {"value": words}},
            "error": f"partner said {words}", **extra}


def test_erasure_reaches_the_data_directory_the_wal_and_a_backup_taken_before_it(postgres_cluster, store, tmp_path):
    alice, bob = "amzn1.ask.account.ALICE" + uuid.uuid4().hex[:6], "amzn1.ask.account.BOB" + uuid.uuid4().hex[:6]
    a_words, b_words = [_marker() for _ in range(3)], [_marker()]
    for w in a_words:
        store.record(_turn(alice, w), state=json.dumps({"last": w}))
    store.record(_turn(bob, b_words[0]))
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    # The grep works: user ids are metadata, stored in clear, and it finds them...
    assert alice in _grep(postgres_cluster.data, [alice])
    # ...while the words were sealed from the first write: not in a table, an index, or the WAL.
    assert _grep(postgres_cluster.data, a_words + b_words) == {}
    backup = postgres_cluster.basebackup(str(tmp_path / "before"))
    old_key_file = tmp_path / "ledger.key.before"
    shutil.copy(store.keys.key_file_path, old_key_file)

    receipt = store.erase_user(alice)
    assert (receipt["transcripts"], receipt["state_rows"], receipt["scrubbed"]) == (3, 1, True)
    assert store.count(user_id=alice) == 0 and store.load_state("dev-a", "notes", alice) == {}
    assert store.get(4)["utterance"] == f"note {b_words[0]}"  # bob's words still read under the new epoch
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    assert _grep(postgres_cluster.data, a_words) == {}
    assert _grep(backup, a_words) == {}

    # The backup, restored, still holds alice's rows and her wrapped key: no key that remains opens them.
    restored = Cluster.from_backup(postgres_cluster.bindir, backup)
    try:
        url = restored.url(postgres_cluster_db(store))
        with pytest.raises(StoreError, match="restored from before a key ratchet"):
            PostgresLedger(url, key_file=str(store.keys.key_file_path), migrate=False)
        with psycopg.connect(url) as conn:
            epoch, wrapped = conn.execute("SELECT epoch, wrapped FROM user_keys WHERE user_id = %s", (alice,)).fetchone()
            sealed = [bytes(r[0]) for r in conn.execute("SELECT sealed FROM transcripts WHERE user_id = %s", (alice,))]
        assert len(sealed) == 3
        label = "user:" + json.dumps(["dev-a", "notes", alice])
        with pytest.raises(StoreError):  # the current key file derives only later epochs
            store.keys.key_file.key_at(epoch)
        with pytest.raises(StoreError):
            crypto.unwrap(store.keys.key_file.key, bytes(wrapped), label)
        with psycopg.connect(store.url) as conn:  # nor does any data key left in the live ledger
            for (other,) in conn.execute("SELECT wrapped FROM user_keys").fetchall():
                left = crypto.unwrap(store.keys.key_file.key, bytes(other), "user:" + json.dumps(["dev-a", "notes", bob]))
                for s in sealed:
                    with pytest.raises(StoreError):
                        crypto.unseal(left, s, b"1")
        # The key file as it was before the erasure would have opened them: it is what the ratchet destroyed.
        old = crypto.KeyFile.open(str(old_key_file), create=False)
        key = crypto.unwrap(old.key_at(epoch), bytes(wrapped), label)
        assert a_words[0].encode() in b"".join(crypto.unseal(key, s, str(i + 1).encode()) for i, s in
                                               enumerate(sealed[:1]))
    finally:
        restored.stop()


def postgres_cluster_db(store: PostgresLedger) -> str:
    return store.url.split("/")[3].split("?")[0]


@pytest.mark.parametrize("view", ["developer_transcripts", "developer_search"])
def test_a_developer_read_without_its_scope_fails_in_sql(store, view):
    store.record(_turn("u1", "alpha"))
    store.record({**_turn("u2", "beta"), "developer_id": "dev-b"})
    with psycopg.connect(store.url) as conn:
        with pytest.raises(psycopg.errors.UndefinedObject):
            conn.execute(f"SELECT count(*) FROM {view}").fetchone()
    with psycopg.connect(store.url) as conn:
        conn.execute("SELECT set_config('skills.developer_id', 'dev-b', true)")
        assert conn.execute(f"SELECT developer_id, count(*) FROM {view} GROUP BY 1").fetchall() == [("dev-b", 1)]


def test_search_finds_words_in_its_own_developers_rows_only(store):
    store.record(_turn("u1", "pepperoni large"))
    store.record({**_turn("u2", "pepperoni small"), "developer_id": "dev-b"})
    store.record(_turn("u3", "mushroom"))
    rows, last = store.search("PEPPERONI", developer_id="dev-a")
    assert [(r["developer_id"], r["user_id"]) for r in rows] == [("dev-a", "u1")] and last is None
    rows, _ = store.search("pepperoni small", developer_id="dev-a")
    assert rows == []
    rows, _ = store.search("pepperoni", user_id="u2")
    assert [r["developer_id"] for r in rows] == ["dev-b"]
    with psycopg.connect(store.url) as conn:  # the index holds keyed hashes under the user's group key, never a word
        stored = conn.execute("SELECT developer_id, user_id, tokens FROM transcripts ORDER BY id").fetchall()
        assert conn.execute("SELECT count(*) FROM search_keys").fetchone()[0] == 0
        for dev, user, tokens in stored:
            key = store.keys.group_key(conn, dev, crypto.group_of(user))[1]
            turn = _turn(user, {"u1": "pepperoni large", "u2": "pepperoni small", "u3": "mushroom"}[user])
            assert tokens == crypto.group_tokens(key, crypto.words(turn["utterance"]) | crypto.words(turn["speech"]))


def test_full_text_pages_walk_every_match_once_newest_first(store):
    ids = [store.record(_turn("u1", f"pizza {i}")) for i in range(45)]
    seen = [r["id"] for r in search_pages(store, "pizza", developer_id="dev-a", limit=20)]
    assert seen == sorted(ids, reverse=True)


def test_purge_drops_whole_expired_days_and_keeps_the_rest(store):
    store.record_many([_turn("u1", "old", created_at="2026-01-01T10:00:00.000Z"),
                       _turn("u1", "old2", created_at="2026-01-02T10:00:00.000Z")])
    kept = store.record(_turn("u1", "new"))
    assert {"2026-01-01", "2026-01-02"} <= set(_days(store))
    report = store.purge({"notes": Policy(30)})
    assert report["deleted"] == 2 and report["dropped_days"] == ["2026-01-01", "2026-01-02"]
    assert "2026-01-01" not in _days(store) and store.get(kept) is not None
    assert report["per_skill"] == {"notes": 2}


def _days(store):
    with store.pool.connection() as conn:
        return schema.partition_days(conn)


def test_a_row_for_a_day_without_a_partition_moves_into_it_when_it_is_made(store):
    far = "2031-05-05T00:00:00.000Z"
    rid = store.record(_turn("u1", "future", created_at=far))
    store.make_partitions(["2031-05-05"])
    with store.pool.connection() as conn:
        assert conn.execute("SELECT tableoid::regclass::text FROM transcripts WHERE id = %s",
                            (rid,)).fetchone()[0] == "transcripts_20310505"
    assert store.get(rid)["utterance"] == "note future"


def test_export_matches_the_sqlite_ledgers_line_for_line(store, tmp_path):
    rows = [_turn(f"u{i}", f"word{i}", created_at=f"2026-11-2{i}T09:30:00.{i:03d}Z", latency_ms=1.5 + i,
                  end_session=bool(i % 2), transaction={"amount": "9.50", "n": i}) for i in range(5)]
    rows.append({"developer_id": "dev-a", "skill": "notes", "user_id": "meta", "request_type": "LaunchRequest",
                 "capture_mode": "metadata", "redacted": "phone,email", "created_at": "2026-11-25T00:00:00.000Z"})
    sqlite = TranscriptStore(tmp_path / "t.db")
    sqlite.record_many(rows)
    store.record_many(rows)
    assert list(store.iter_jsonl(developer_id="dev-a")) == list(sqlite.iter_jsonl(developer_id="dev-a"))
    assert list(store.iter_jsonl(user_id="u3", since="2026-11-20")) == list(sqlite.iter_jsonl(user_id="u3",
                                                                                                since="2026-11-20"))
    sqlite.close()


def test_migrations_from_many_hosts_at_once_run_once(postgres_url):
    results: list[list[int]] = []

    def run():
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            results.append(schema.migrate(conn))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each migration ran once, whichever host ran it.
    assert sorted(n for applied in results for n in applied) == list(range(1, len(schema.MIGRATIONS) + 1))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE ledger_meta SET value = '99' WHERE name = 'schema_version'")
        with pytest.raises(StoreError, match="newer than this skills_sdk knows"):
            schema.migrate(conn)


def test_a_key_file_that_is_not_this_ledgers_is_refused(store, tmp_path):
    store.record(_turn("u1", "x"))
    with pytest.raises(StoreError, match="is missing"):
        PostgresLedger(store.url, key_file=str(tmp_path / "nowhere.key"))
    other = tmp_path / "other.key"
    crypto.KeyFile.open(str(other), create=True)
    with pytest.raises(StoreError, match="not this ledger's"):
        PostgresLedger(store.url, key_file=str(other))


def test_a_key_file_that_cannot_be_made_is_one_error_naming_the_setting(postgres_url, tmp_path):
    (tmp_path / "keys").write_text("a file where the key's folder should be")
    with pytest.raises(StoreError, match="cannot be made .*Set SKILLS_LEDGER_KEY_FILE to a path in a folder"):
        PostgresLedger(postgres_url, key_file=str(tmp_path / "keys" / "ledger.key"))


def test_a_host_behind_a_ratchet_follows_it(store, tmp_path):
    rid = store.record(_turn("u1", "before"))
    copy = tmp_path / "host2.key"
    shutil.copy(store.keys.key_file_path, copy)
    second = PostgresLedger(store.url, key_file=str(copy))
    try:
        store.ratchet()
        store.ratchet()
        assert second.get(rid)["utterance"] == "note before"
        assert crypto.KeyFile.open(str(copy), create=False).epoch == 2
        assert second.record(_turn("u9", "after")) and store.get(rid + 1)["utterance"] == "note after"
    finally:
        second.stop()


def test_a_host_behind_a_ratchet_makes_a_new_users_key_at_the_databases_epoch(store, tmp_path):
    store.record(_turn("u1", "before"))
    copy = tmp_path / "host2.key"
    shutil.copy(store.keys.key_file_path, copy)
    second = PostgresLedger(store.url, key_file=str(copy))
    try:
        store.ratchet()
        rid = second.record(_turn("u9", "after"))  # its first statement since the ratchet makes a key
        assert crypto.KeyFile.open(str(copy), create=False).epoch == 1
        assert store.get(rid)["utterance"] == "note after"
        with store.connection() as conn:
            assert conn.execute("SELECT epoch FROM user_keys WHERE user_id = 'u9'").fetchone()[0] == 1
    finally:
        second.stop()


def test_a_second_host_takes_a_users_key_when_the_server_sends_bytea_escaped(store, tmp_path):
    first = store.record(_turn("u1", "first"))
    with store.connection() as conn:  # new sessions, the second host's, get bytea in the escape format
        conn.execute(psycopg.sql.SQL("ALTER DATABASE {} SET bytea_output = 'escape'").format(
            psycopg.sql.Identifier(conn.info.dbname)))
    copy = tmp_path / "host2.key"
    shutil.copy(store.keys.key_file_path, copy)
    second = PostgresLedger(store.url, key_file=str(copy), spool_path=str(tmp_path / "spool2"), write_timeout=0.5)
    try:
        with second.connection() as conn:
            assert conn.execute("SHOW bytea_output").fetchone()[0] == "escape"
        # Its capture offers a new key for u1, and the statement answers with u1's key made by the first host.
        rid = second.record(_turn("u1", "second"))
        assert [second.get(i)["utterance"] for i in (first, rid)] == ["note first", "note second"]
        assert store.get(rid)["utterance"] == "note second"
    finally:
        second.stop()


def _statements(monkeypatch) -> list[str]:
    """The statements every connection runs from now on (their text), in order."""
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def counted(self, query, *args, **kwargs):
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    run = Prepared.run

    def counted_prepared(self, conn, params):  # the capture's statement, sent through libpq itself
        sent.append(self.sql.decode())
        return run(self, conn, params)

    monkeypatch.setattr(Prepared, "run", counted_prepared)
    return sent


def test_a_capture_prepares_its_statement_again_after_psycopg_deallocated_every_one(store):
    # psycopg sends DEALLOCATE ALL after any rollback on a connection where it prepared statements
    # of its own (the ledger's reads): the capture's statements went with them, and the next
    # capture on that connection failed (a 500 to Alexa), found by replaying real envelopes.
    kinds = {"sealed": (_turn("u1", "first"), None),
             "plain": ({"developer_id": "dev-a", "skill": "notes", "user_id": "u2"}, None),
             "plain, with state": ({"developer_id": "dev-a", "skill": "notes", "user_id": "u3"}, '{"n": 1}')}
    for row, state in kinds.values():
        store.record(row, state=state)
        store.record(row, state=state)  # with words, the first capture made the user's key: another statement
    for kind, (row, state) in kinds.items():
        with store.connection() as conn:  # the pool's one connection: the one the captures used
            conn.execute("SELECT 1", prepare=True)  # one of psycopg's own, so that a rollback deallocates all
            with pytest.raises(ZeroDivisionError), conn.transaction():
                raise ZeroDivisionError
            assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,), kind
        store.record(row, state=state)
        store.record(row, state=state)
        assert store.count(user_id=row["user_id"]) == 4, kind
    assert store.load_state("dev-a", "notes", "u3") == {"n": 1}


def test_a_capture_writes_into_its_days_partition_and_through_the_parent_when_the_day_has_none(store, monkeypatch):
    def where(rid: int) -> str:
        with store.connection() as conn:
            return conn.execute("SELECT tableoid::regclass::text FROM transcripts WHERE id = %s", (rid,)).fetchone()[0]

    sent = _statements(monkeypatch)
    today = utcnow_iso()[:10]
    first = store.record(_turn("u1", "today"))
    assert where(first) == schema.partition_name(today)
    assert any(f"INSERT INTO {schema.partition_name(today)} (" in s for s in sent)  # not routed by the parent
    far = "2031-01-0"  # days with no partition: the row goes through the parent, into the default partition
    rows = [store.record(_turn("u1", f"far{n}", created_at=f"{far}{n}T10:00:00.000Z")) for n in (1, 1, 2)]
    assert [where(r) for r in rows] == ["transcripts_other"] * 3
    assert set(writes._NO_PARTITION) >= {far + "1", far + "2"}
    with store.connection() as conn, conn.transaction():  # the maintenance makes the day (its rows move in)
        schema.ensure_days(conn, [far + "1"])
    monkeypatch.setattr(writes, "_NO_PARTITION", {})  # the minute's wait is over
    moved = store.record(_turn("u1", "far again", created_at=far + "1T11:00:00.000Z"))
    assert [where(r) for r in (*rows[:2], moved)] == [schema.partition_name(far + "1")] * 3
    with store.connection() as conn, conn.transaction():  # the day dropped under the prepared statement, as a purge would
        conn.execute(f"ALTER TABLE transcripts DETACH PARTITION {schema.partition_name(far + '1')}")
        conn.execute(f"DROP TABLE {schema.partition_name(far + '1')}")
    late = store.record(_turn("u1", "after the purge", created_at=far + "1T12:00:00.000Z"))
    assert where(late) == "transcripts_other"
    assert [r["utterance"] for r in store.user_history("u1")][:2] == ["note after the purge", "note far2"]


def test_a_capture_is_one_statement_or_two_when_its_users_key_is_not_in_memory(store, tmp_path, monkeypatch):
    store.record(_turn("u1", "first"))
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path)
    try:
        with other.connection() as conn:  # the search groups' keys, read once a process (not per user)
            for user in ("u1", "u2"):
                other.keys.group_key(conn, "dev-a", crypto.group_of(user))
        sent = _statements(monkeypatch)
        per_capture = []
        for user, words in (("u2", "new user"), ("u1", "known, not in memory"), ("u1", "in memory")):
            other.record(_turn(user, words))
            per_capture.append(len(sent))
            sent.clear()
        # A new user's key is made by the row's own statement; a key the database has already is
        # offered too and comes back (the row is written under it next); a key in memory is used.
        assert per_capture == [1, 2, 1]
    finally:
        other.stop()
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM user_keys").fetchone()[0] == 2
    assert [r["utterance"] for r in store.user_history("u1")] == ["note in memory", "note known, not in memory",
                                                                  "note first"]
    assert store.user_history("u2")[0]["utterance"] == "note new user"


def test_a_started_ledger_opens_the_keys_of_the_users_seen_lately_so_their_next_capture_is_one_statement(
        store, monkeypatch):
    store.record(_turn("u1", "first"))
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path)  # a worker just started
    try:
        other.start()  # opens u1's data key and dev-a's group key before its first turn
        sent = _statements(monkeypatch)
        other.record(_turn("u1", "second"))
        assert len(sent) == 1  # not three: the group's key read, the offered key, the row under u1's own key
    finally:
        other.stop()
    assert [r["utterance"] for r in store.user_history("u1")] == ["note second", "note first"]


def test_the_keys_of_recent_users_are_opened_once_a_ledger_not_again_at_each_start(store, monkeypatch):
    # A worker forked after the start inherits its parent's keys and its start must not read them again.
    store.record(_turn("u1", "first"))
    store.start()
    store.stop()
    sent = _statements(monkeypatch)
    store.start()
    assert not [s for s in sent if s.startswith(warmkeys.RECENT_KEYS[:40])], sent


def test_keys_opened_ahead_are_dropped_when_the_process_forgot_keys_meanwhile(store, monkeypatch):
    store.record(_turn("u1", "first"))
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path)
    unwrap = crypto.unwrap

    def erased_meanwhile(*args, **kwargs):  # an erasure in this process while the keys are being opened
        other.keys.forget([-1])
        return unwrap(*args, **kwargs)

    try:
        monkeypatch.setattr(crypto, "unwrap", erased_meanwhile)
        with other.connection() as conn:
            assert warmkeys.preload(other.keys, conn) == 0
        monkeypatch.setattr(crypto, "unwrap", unwrap)
        with other.connection() as conn:
            assert warmkeys.preload(other.keys, conn) == 2  # u1's data key and dev-a's group key
    finally:
        other.stop()


def test_a_stateful_capture_of_a_new_user_is_one_statement_and_both_read_back(store, monkeypatch):
    with store.connection() as conn:  # the search group's key, read once a process (not per user)
        store.keys.group_key(conn, "dev-a", crypto.group_of("u7"))
    sent = _statements(monkeypatch)
    rid = store.record(_turn("u7", "with state"), state='{"n": 7}')
    assert len(sent) == 1, sent
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path)
    try:
        assert other.load_state_and_mode("dev-a", "notes", "u7") == ({"n": 7}, "redacted")
        assert other.get(rid)["utterance"] == "note with state"
        rid2 = other.record(_turn("u7", "again"), state='{"n": 8}')  # the key read back, then the row and state
    finally:
        other.stop()
    assert store.load_state("dev-a", "notes", "u7") == {"n": 8}
    assert store.get(rid2)["utterance"] == "note again"
    assert store.verify_chain().ok


def test_a_turns_state_and_mode_are_one_statement_when_the_users_key_is_not_in_memory(store, monkeypatch):
    store.save_state("dev-a", "notes", "u1", {"n": 1})
    store.set_capture_mode("u1", "full")
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path)
    try:
        sent = _statements(monkeypatch)
        assert other.load_state_and_mode("dev-a", "notes", "u1") == ({"n": 1}, "full")  # the key comes along
        assert other.load_state_and_mode("dev-a", "notes", "u2") == ({}, "redacted")
        assert len(sent) == 2, sent
        store.erase_user("u1", ratchet=False)
        assert other.load_state_and_mode("dev-a", "notes", "u1") == ({}, "full")  # the consent row stays
    finally:
        other.stop()


def test_a_capture_racing_an_erasure_leaves_no_row_of_the_erased_key(store):
    store.record(_turn("u1", "first"))
    stop = threading.Event()
    errors: list[BaseException] = []

    def capture():
        while not stop.is_set():
            try:
                store.record(_turn("u1", "again"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    t = threading.Thread(target=capture)
    t.start()
    try:
        for _ in range(5):
            store.erase_user("u1", ratchet=False)
    finally:
        stop.set()
        t.join()
    assert errors == []
    with store.pool.connection() as conn:
        orphans = conn.execute("SELECT count(*) FROM transcripts t WHERE sealed IS NOT NULL AND NOT EXISTS "
                               "(SELECT 1 FROM user_keys k WHERE k.id = t.key_id)").fetchone()[0]
    assert orphans == 0


def _refuse_connections(cluster, url: str, refuse: bool) -> None:
    """Make the database of ``url`` refuse new sessions (and end its open ones), or take them again."""
    name = url.split("/")[3].split("?")[0]
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
        if refuse:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def test_turns_answered_while_the_database_is_unreachable_are_spooled_and_replayed_once(postgres_cluster, store):
    from conftest import build_greeter, make_envelope

    from skills_sdk.server import create_app

    app = create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600})
    client, guard = app.test_client(), app.extensions["skills_sdk"]["guard"]

    def ask() -> str:
        env = make_envelope("LaunchRequest")
        resp = client.post("/alexa/greeter", json=env)
        assert resp.status_code == 200 and "How are you" in resp.get_data(as_text=True)
        return env["request"]["requestId"]

    sent = [ask()]
    _refuse_connections(postgres_cluster, store.url, True)
    try:
        sent += [ask() for _ in range(3)]
        assert store.spool().pending() == 3 and guard.state == "spooling"
        assert guard.check() != "ok"  # still unreachable: the rows stay spooled
    finally:
        _refuse_connections(postgres_cluster, store.url, False)
    deadline = time.monotonic() + 60  # the pool reconnects with a backoff; the guard's thread probes every second
    while guard.check() != "ok" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert guard.state == "ok"
    assert store.spool().replay(store) == 0 and store.spool().files() == []
    sent.append(ask())
    rows = {r["request_id"]: r for r in store.iter_transcripts()}
    assert sorted(rows) == sorted(sent)
    # The users' choices could not be read during the outage: those rows keep the least, no words.
    assert [(rows[i]["capture_mode"], rows[i]["speech"]) for i in sent[1:4]] == [("metadata", None)] * 3
    assert rows[sent[0]]["capture_mode"] == rows[sent[-1]]["capture_mode"] == "redacted"
    assert "How are you" in rows[sent[-1]]["speech"]


def test_a_receipt_past_its_text_retention_is_stripped_whatever_its_request_type(store):
    receipt = {"kind": "order", "reference": "R1", "amount": "9.00", "currency": "USD"}
    imported = store.record_many([_turn("u1", "said long ago", skill="shop", request_type=None, transaction=receipt,
                                        created_at="2026-01-05T10:00:00.000Z")])
    assert imported == 1
    report = store.purge({"shop": Policy(30, receipt_days=3650)})
    assert report["stripped"] == 1
    (row,) = list(store.iter_transcripts())
    assert row["transaction"] == receipt and row["speech"] is None and row["utterance"] is None
    assert store.purge({"shop": Policy(30, receipt_days=3650)})["stripped"] == 0  # stripped once, not again



def test_pooled_connections_plan_generically_without_jit(store):
    # A generic plan is costed over every day partition: at 10M rows a search window crossed
    # jit_above_cost and spent 0.8 s compiling for a 1 ms statement.
    with store.connection() as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"


def test_a_purge_waits_for_a_running_rekey_without_blocking_its_writes(store):
    # A re-key's reading pass: the re-key lock held, a transaction open on the table, as its cursor holds one.
    from skills_sdk.transcripts.postgres import groups

    store.record(_turn("u1", "old", created_at="2020-01-01T10:00:00.000Z"))
    store.make_partitions(["2020-01-01"])
    rid = store.record(_turn("u2", "new"))
    reader = psycopg.connect(store.url, autocommit=True)
    writer = psycopg.connect(store.url, autocommit=True)
    try:
        reader.execute("SELECT pg_advisory_lock(%s)", (groups._REKEY_LOCK,))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM transcripts").fetchone()
        done: list[dict] = []
        purge = threading.Thread(target=lambda: done.append(store.purge({}, default_days=30)))
        purge.start()
        wait_until("the purge's wait for the re-key", lambda: writer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0])
        # The re-key's write must not queue behind the purge's DETACH (it would hang: a cancel stops it).
        writer.execute("SET statement_timeout = '20s'")
        writer.execute("UPDATE transcripts SET tokens = tokens WHERE id = %s", (rid,))
        assert purge.is_alive() and not done  # still waiting for the re-key to end
        reader.execute("COMMIT")
        reader.execute("SELECT pg_advisory_unlock(%s)", (groups._REKEY_LOCK,))
        purge.join(timeout=60)
        assert done and done[0]["dropped_days"] == ["2020-01-01"]
    finally:
        reader.close()
        writer.close()


def test_a_purge_gives_way_to_a_long_export_rather_than_hold_up_every_capture(store):
    # An export's snapshot holds the table as long as it reads. A DETACH queued behind it would queue
    # every capture behind itself: the purge waits a little at a time, then gives up, purging nothing.
    store.record(_turn("u1", "old", created_at="2020-01-01T10:00:00.000Z"))
    store.make_partitions(["2020-01-01"])
    # Two pooled connections before the purge takes one: the capture below then waits for the table,
    # which is what this test is about, and not for the pool to open and warm a second connection,
    # which at a load of 4 took longer than the fixture's 0.5 s write timeout.
    with store.pool.connection(), store.pool.connection():
        pass
    reader = psycopg.connect(store.url, autocommit=True)
    try:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        reader.execute("LOCK TABLE transcripts IN ACCESS SHARE MODE")  # as the export takes it
        done: list = []

        def purge() -> None:
            try:
                done.append(store.purge({}, default_days=30))
            except StoreError as exc:
                done.append(exc)

        worker = threading.Thread(target=purge)
        worker.start()
        store.record(_turn("u2", "a turn while the purge tries"))  # answered: not queued behind a DETACH
        worker.join(timeout=60)
        assert not worker.is_alive(), "the purge waited for the export to end, holding up every capture"
        assert isinstance(done[0], StoreError) and "2020-01-01" in str(done[0]) and "export" in str(done[0])
        assert "2020-01-01" in schema.partition_days(reader)
    finally:
        reader.close()
    assert store.purge({}, default_days=30)["dropped_days"] == ["2020-01-01"]  # the export over: it goes


def _prepared(conn) -> set[str]:
    """The statements prepared on ``conn`` (but this one)."""
    return {r[0] for r in conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()} - {
        "SELECT statement FROM pg_prepared_statements"}


@pytest.mark.parametrize("warm", [True, False])
def test_a_new_connection_has_the_hot_reads_prepared_before_a_request_needs_them(store, warm):
    store.record(_turn("u1", "first"))
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path, warm=warm, max_size=1)
    try:
        with other.connection() as conn:
            ready = _prepared(conn)
        assert any("user_history_rows" in s for s in ready) is warm
        assert any("developer_transcripts" in s and "created_at DESC" in s for s in ready) is warm
        for _ in range(2):  # a statement is prepared on its second use
            assert other.user_history("u1")[0]["utterance"] == "note first"
            page, _ = other.query({"since": "2000-01-01T00:00:00.000Z", "until": "2100-01-01T00:00:00.000Z"},
                                  developer_id="dev-a")
            assert [r["utterance"] for r in page] == ["note first"]
        with other.connection() as conn:
            after = _prepared(conn)
        assert (after == ready) is warm  # the requests found their statements prepared (cold: they prepared them)
    finally:
        other.stop()


def test_a_connection_the_pool_adds_later_is_warmed_too(store):
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path, min_size=1, max_size=2)
    try:
        with other.pool.connection() as first, other.pool.connection() as second:  # the second made on demand
            assert [any("user_history_rows" in s for s in _prepared(c)) for c in (first, second)] == [True, True]
    finally:
        other.stop()


def _generic_plan(conn, sql: str, params: list) -> str:
    """The plan PostgreSQL keeps for ``sql`` prepared (every day partition costed, none pruned yet), as JSON text."""
    numbered = sql
    for n in range(1, len(params) + 1):
        numbered = numbered.replace("%s", f"${n}", 1)
    types = ", ".join("integer" if isinstance(p, int) else "text" for p in params)
    with conn.transaction():
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE page_plan ({types}) AS {numbered}")
        try:
            args = psycopg.sql.SQL(", ").join(psycopg.sql.Literal(p) for p in params)
            return json.dumps(conn.execute(psycopg.sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE page_plan ({})").format(args)
                                           ).fetchone()[0])
        finally:
            conn.execute("DEALLOCATE page_plan")


def test_a_developers_page_reads_the_developers_index_whoever_holds_the_rows(store, monkeypatch):
    store.record_many([{**_turn(f"u{n % 40}", f"w{n}"), "developer_id": ("dev-a", "dev-b")[n % 2],
                        "created_at": f"2026-11-2{n % 3}T10:{n % 60:02d}:00.000Z"} for n in range(1200)])
    with store.connection() as conn:
        conn.execute("ANALYZE transcripts")
    sent = _statements(monkeypatch)
    page, _ = store.query(developer_id="dev-c")  # no rows: a walk of the primary key would read them all
    assert page == []
    (sql,) = [s for s in sent if "developer_transcripts" in s]
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("SELECT set_config('skills.developer_id', 'dev-c', false)")
        params = ["skills.developer_id", *(["dev-c"] * (sql.count("%s") - 2)), 51]
        plan = _generic_plan(conn, sql, params)
    indexes = set(re.findall(r'"Index Name": "(transcripts_[^"]*)"', plan))
    assert indexes and all(i.endswith("_developer_id_id_idx") for i in indexes), indexes
    assert [r["utterance"] for r in store.query(developer_id="dev-b", limit=3)[0]] == ["note w1199", "note w1197",
                                                                                      "note w1195"]


def test_a_capture_keeps_its_users_day_itself_and_other_writers_go_through_the_trigger(store):
    with store.connection() as conn:  # a trigger that refuses: the capture must not call it, anything else must
        conn.execute("CREATE OR REPLACE FUNCTION user_days_insert() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'user_days trigger called'; END $$")
    rid = store.record(_turn("u1", "one"), state='{"n": 1}')
    store.record(_turn("u1", "two"))  # below the day's top: the day's row stays as the first left it
    with store.connection() as conn:
        day = store.get(rid)["created_at"][:10]
        assert conn.execute("SELECT top_id FROM user_days WHERE user_id = 'u1' AND day = %s", (day,)
                            ).fetchone() == (rid + writes.DAY_AHEAD,)
        with pytest.raises(psycopg.errors.RaiseException, match="trigger called"):
            conn.execute("INSERT INTO transcripts (created_at, developer_id, skill, user_id) "
                         "VALUES (%s, 'dev-a', 'notes', 'u2')", (store.get(rid)["created_at"],))
    assert [r["utterance"] for r in store.user_history("u1")] == ["note two", "note one"]


def test_a_users_later_captures_of_a_day_leave_its_row_alone_until_an_id_passes_its_top(store):
    def day_row(day: str) -> tuple:
        with store.connection() as conn:
            return conn.execute("SELECT top_id, xmin::text, xmax::text FROM user_days WHERE user_id = 'u1' AND day = %s",
                                (day,)).fetchone()

    first = store.record(_turn("u1", "one"))
    day = store.get(first)["created_at"][:10]
    top, xmin, _ = day_row(day)
    assert top == first + writes.DAY_AHEAD
    second = store.record(_turn("u1", "two"), state='{"n": 2}')
    assert day_row(day) == (top, xmin, "0")  # neither written nor locked: its top is above the row's id
    with store.connection() as conn:
        conn.execute("SELECT setval('transcripts_id_seq', %s)", (top,))
    third = store.record(_turn("u1", "three"))
    assert third > top and day_row(day)[0] == third + writes.DAY_AHEAD
    assert [r["id"] for r in store.user_history("u1")] == [third, second, first]


def _capture_behind(store, other, turn: dict, table: str) -> list[int]:
    """Capture ``turn`` while ``other``'s open transaction holds a row of ``table``; commit it once the capture waits."""
    got: list[int] = []
    # This capture waits for ``other`` on purpose: past the fixture's write_timeout, it would be cancelled and spooled.
    store.write_timeout = 60
    capture = threading.Thread(target=lambda: got.append(store.record(turn)))
    capture.start()
    with psycopg.connect(store.url, autocommit=True) as watch:
        for _ in range(500):
            if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND query LIKE %s", (f"%{table}%",)).fetchone()[0]:
                break
            time.sleep(0.01)
    other.execute("COMMIT")
    capture.join(timeout=30)
    return got


def test_a_users_day_made_by_another_writer_while_a_capture_ran_still_bounds_the_captures_id(store):
    # Another writer (a host, a COPY) makes the user's day with a low top and commits only after the
    # capture's statement began: the capture's snapshot does not see that day, its insert finds it made.
    store.record(_turn("u0", "key"))  # the pool's connection and the statement prepared first
    day = utcnow_iso()[:10]
    with psycopg.connect(store.url, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute("INSERT INTO user_days (user_id, day, top_id) VALUES ('u1', %s, 1)", (day,))
        got = _capture_behind(store, other, _turn("u1", "one", created_at=day + "T12:00:00.000Z"), "user_days")
    with store.connection() as conn:
        top = conn.execute("SELECT top_id FROM user_days WHERE user_id = 'u1' AND day = %s", (day,)).fetchone()[0]
    assert got and top >= got[0]


def test_a_users_day_a_remover_deleted_after_the_captures_snapshot_is_made_again(store):
    # A remover (an erasure's prune) holds the user's lane and deletes the user's day; the capture's
    # statement began before that commit, so its snapshot still shows the day, with a top above the
    # row's id: only the insert's conflict check sees the day gone, and makes it again.
    first = store.record(_turn("u1", "one"))
    day = store.get(first)["created_at"][:10]
    with psycopg.connect(store.url, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute("UPDATE ledger_chain_heads SET seq = seq WHERE lane = %s", (chain.lane_of("u1"),))
        other.execute("DELETE FROM user_days WHERE user_id = 'u1' AND day = %s", (day,))
        got = _capture_behind(store, other, _turn("u1", "two"), "ledger_chain_heads")
    with store.connection() as conn:
        top = conn.execute("SELECT top_id FROM user_days WHERE user_id = 'u1' AND day = %s", (day,)).fetchone()
    assert got and top == (got[0] + writes.DAY_AHEAD,)
    assert [r["utterance"] for r in store.user_history("u1")] == ["note two", "note one"]


def test_a_capture_on_a_connection_the_server_ended_fails_cleanly_and_the_next_is_prepared_anew(store):
    store.record(_turn("u1", "new"))  # a new user's key made in the statement: another statement than the next ones
    first = store.record(_turn("u1", "first", end_session=True, latency_ms=12.5))  # prepared on the pool's connection
    with psycopg.connect(store.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid()")
    with pytest.raises(StoreError, match="cannot be reached"):  # a lost connection, which the pool then discards
        store.record(_turn("u1", "lost"))
    second = store.record(_turn("u1", "second"))  # a new connection: the statement is prepared there first
    assert [r["utterance"] for r in store.user_history("u1")] == ["note second", "note first", "note new"]
    got = store.get(first)
    assert (got["end_session"], got["latency_ms"], got["card"]) == (True, 12.5, {"title": "Note", "content": "first"})
    assert second > first and store.verify_chain().ok


def test_a_failing_block_leaves_its_connection_back_in_the_pool_idle(store):
    # A block that began a transaction and failed: its work is rolled back before the connection
    # goes back, so the next block sees neither the half-done work nor an aborted transaction.
    with store.connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS checkout_probe (n integer)")
    with pytest.raises(ZeroDivisionError):
        with store.connection() as conn:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO checkout_probe VALUES (1)")
            raise ZeroDivisionError
    with store.connection() as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SELECT count(*) FROM checkout_probe").fetchone()[0] == 0


def test_a_lost_server_inside_a_block_is_a_store_error(store):
    with pytest.raises(StoreError, match="cannot be reached"):
        with store.connection():
            raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_turns_answered_while_the_server_is_read_only_are_spooled_not_failed_and_replayed_once(postgres_cluster, store):
    # After a failover the ledger's URL can reach a server that takes no writes (a demoted primary, a
    # read-only mode): the capture then fails with SQLSTATE 25006, an error of psycopg's that is not
    # an OperationalError. The turn is still answered and its row spooled, as for an unreachable server.
    from conftest import build_greeter, make_envelope

    from skills_sdk.server import create_app

    app = create_app([build_greeter()], store=store, test_config={"SKILLS_LEDGER_INTERVAL": 3600})
    client, guard = app.test_client(), app.extensions["skills_sdk"]["guard"]
    name = store.url.split("/")[3].split("?")[0]

    def ask() -> str:
        env = make_envelope("LaunchRequest")
        resp = client.post("/alexa/greeter", json=env)
        assert resp.status_code == 200 and "How are you" in resp.get_data(as_text=True)
        return env["request"]["requestId"]

    def read_only(on: bool) -> None:
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" {"SET default_transaction_read_only = on" if on else "RESET ALL"}')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        store.pool.check()  # the pool's sessions are new ones, read-only (or writable again) from their start

    sent = [ask()]
    read_only(True)
    try:
        with store.connection() as conn:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("CREATE TEMP TABLE t (x int)")  # the server takes no writes
        sent += [ask() for _ in range(3)]
        assert store.spool().pending() == 3 and guard.state == "spooling"
        assert "read-only" in (guard.check() and guard.cause or "")
    finally:
        read_only(False)
    assert guard.check() == "ok"
    assert store.spool().files() == []
    sent.append(ask())
    rows = {r["request_id"]: r for r in store.iter_transcripts()}
    assert sorted(rows) == sorted(sent)
    # A read-only server still answers reads: the users' choices were read, and kept.
    assert {rows[i]["capture_mode"] for i in sent} == {"redacted"}


def test_a_nul_in_a_clear_value_is_refused_never_stored_cut_at_it(store):
    """libpq sends text up to its first NUL: "VICTIM\\x00x" was stored as "VICTIM", and verify then failed."""
    store.record(_turn("amzn1.VICTIM", "hello"))
    for row in (_turn("amzn1.VICTIM\x00x", "pepperoni"), {**_turn("u2", "hi"), "session_id": "S\x00"}):
        with pytest.raises(psycopg.DataError, match="PostgreSQL text cannot hold NUL"):
            store.record(row)
    assert [r["user_id"] for r in store.user_history("amzn1.VICTIM")] == ["amzn1.VICTIM"]
    assert store.user_history("u2") == []
    report = store.verify_chain()
    assert report.ok, report.problem
