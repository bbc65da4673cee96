"""Bulk writes on the PostgreSQL ledger from many hosts at once: imports of the same new day, search tokens."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

import pytest

from skills_sdk.transcripts.postgres import PostgresLedger, crypto


@pytest.fixture
def store(postgres_url, tmp_path):
    led = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"))
    yield led
    led.stop()


def _rows(user: str, n: int) -> list[dict]:
    return [{"developer_id": "dev-a", "skill": "notes", "user_id": user, "utterance": f"note {k} from {user}",
             "created_at": f"2027-03-01T10:{k:02d}:00.000Z"} for k in range(n)]


def test_two_hosts_importing_rows_of_a_day_without_a_partition_at_once_both_write(store, tmp_path):
    other = PostgresLedger(store.url, key_file=store.keys.key_file_path, spool_path=str(tmp_path / "spool2"))
    failed: list[BaseException] = []

    def second_host() -> None:
        try:
            other.record_many(_rows("u2", 5))
        except BaseException as exc:  # reported by the test below
            failed.append(exc)

    try:
        with store.connection() as conn, store.connection() as watch:
            prepared = store.prepare_many(conn, _rows("u1", 5))
            with conn.transaction():
                store.copy_in(conn, prepared)  # the day's partition is made, not yet committed
                thread = threading.Thread(target=second_host)
                thread.start()
                deadline = time.monotonic() + 30
                # The second import waits for this one (a lock), whatever it waits on; then this commits.
                while not watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()").fetchone()[0]:
                    assert thread.is_alive() and time.monotonic() < deadline, failed
                    time.sleep(0.01)
            thread.join(30)
        assert not failed, failed
        assert store.count(user_id="u1") == 5 and store.count(user_id="u2") == 5
        assert store.verify_chain().ok
    finally:
        other.stop()


def test_search_buckets_are_the_keyed_hash_of_each_word():
    key = bytes(range(32))
    long_key = bytes(range(80))  # longer than SHA-256's block: hashed first, as HMAC does
    for k in (key, long_key):
        want = sorted({3 * crypto.BUCKETS + int.from_bytes(hmac.new(k, w.encode(), hashlib.sha256).digest()[:4], "big")
                       % crypto.BUCKETS for w in ("pizza", "ünï", "x" * 300)})
        assert crypto.token_buckets(k, 3, ["pizza", "ünï", "x" * 300, "pizza"]) == want


def test_group_tokens_remembered_are_the_keyed_hash_and_a_retired_group_forgets_them(store):
    key = bytes(range(32))
    words = ["pizza", "ünï", "x" * 300, "large"]
    want = sorted({int.from_bytes(hmac.new(key, w.encode(), hashlib.sha256).digest()[:4], "big", signed=True)
                   for w in words})
    assert crypto.group_tokens(key, words, remember=False) == want
    assert crypto.group_tokens(key, words) == want  # hashed, and remembered
    assert crypto.group_tokens(key, words + ["pizza"]) == want  # from memory
    store.record({"developer_id": "d", "skill": "s", "user_id": "u1", "utterance": "a secret word"})
    assert any(w == "secret" for _, w in crypto._TOKENS)
    store.erase_user("u1", ratchet=False)  # retires the user's group key: no token of theirs stays in memory
    assert not any(w == "secret" for _, w in crypto._TOKENS)
