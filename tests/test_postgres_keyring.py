"""The PostgreSQL keyring's cache of opened data keys: the least recently used go first, not the oldest opened."""

from __future__ import annotations

from skills_sdk.transcripts.postgres import PostgresLedger, keyring


def test_a_user_who_keeps_talking_keeps_their_key_while_new_users_pass_and_an_idle_one_loses_it(
        postgres_ledger_url, tmp_path, monkeypatch):
    monkeypatch.setattr(keyring, "_CACHE_SIZE", 4)
    led = PostgresLedger(postgres_ledger_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"))
    try:
        with led.connection() as conn:
            steady, idle = ("d", "s", "steady"), ("d", "s", "idle")
            steady_key = led.keys.user_key(conn, *steady)
            led.keys.user_key(conn, *idle)
            for n in range(12):  # three times the cache's size in new users; the steady one talks between them
                led.keys.user_key(conn, "d", "s", f"new{n}")
                assert led.keys.offer(conn, *steady) == (*steady_key, None)  # held: nothing to make or read
                assert led.keys.keys_for(conn, {steady_key[0]}) == {steady_key[0]: steady_key[1]}
            assert led.keys.offer(conn, *idle)[2] is not None  # not held: the capture would have to read or make it
    finally:
        led.stop()
