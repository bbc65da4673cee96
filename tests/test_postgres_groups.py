"""Search groups on a real PostgreSQL: after an erasure no remaining key maps the erased user's old tokens to a word."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from _postgres import search_pages
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts.postgres import PostgresLedger, crypto, groups
from skills_sdk.transcripts.postgres.keyring import _search_label, group_label


@pytest.fixture
def store(postgres_url, tmp_path):
    s = PostgresLedger(postgres_url, key_file=str(tmp_path / "ledger.key"), spool_path=str(tmp_path / "spool"))
    yield s
    s.stop()


def _users_in_group(grp: int, n: int, other: bool = False) -> list[str]:
    """``n`` user ids in search group ``grp`` (or, with ``other``, outside it)."""
    out = []
    while len(out) < n:
        user = "amzn1.ask.account." + uuid.uuid4().hex[:10]
        if (crypto.group_of(user) == grp) != other:
            out.append(user)
    return out


def _turn(user: str, words: str) -> dict:
    return {"developer_id": "dev-a", "skill": "notes", "user_id": user, "intent": "NoteIntent",
            "utterance": f"note {words}", "speech": "Noted."}


def _marker() -> str:
    return "marker" + uuid.uuid4().hex[:12]


def _readable(url: str, key_file: str, words: list[str]) -> dict[int, str]:
    """Every token that any key remaining in the ledger (opened with the key file as it is now) gives ``words``."""
    kf = crypto.KeyFile.open(key_file, create=False)
    out: dict[int, str] = {}
    with psycopg.connect(url) as conn:
        for dev, grp, epoch, wrapped in conn.execute("SELECT developer_id, grp, epoch, wrapped FROM search_groups"):
            key = crypto.unwrap(kf.key_at(epoch), bytes(wrapped), group_label(dev, grp))
            out.update({t: w for w in words for t in crypto.group_tokens(key, [w])})
        for dev, num, epoch, wrapped in conn.execute("SELECT developer_id, num, epoch, wrapped FROM search_keys"):
            key = crypto.unwrap(kf.key_at(epoch), bytes(wrapped), _search_label(dev))
            out.update({t: w for w in words for t in crypto.token_buckets(key, num, [w])})
    return out


def _stored_tokens(url: str, user: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {t for (ts,) in conn.execute("SELECT tokens FROM transcripts WHERE user_id = %s", (user,)) for t in ts}


def _found(store: PostgresLedger, words: list[str]) -> dict[str, list[int]]:
    return {w: [r["id"] for r in search_pages(store, w, developer_id="dev-a", limit=3)] for w in words}


def test_no_remaining_key_maps_an_erased_users_earlier_tokens_to_their_words(store):
    alice, bob = _users_in_group(3, 2)
    carol = _users_in_group(3, 1, other=True)[0]
    a_words, b_word, c_word = [_marker(), _marker()], _marker(), _marker()
    erased = [store.record(_turn(alice, f"{w} pizza")) for w in a_words]
    for _ in range(3):
        store.record(_turn(bob, f"{b_word} pizza"))
    store.record(_turn(carol, f"{c_word} pizza"))
    # The rows as stored before the erasure (what a base backup or an old WAL segment holds).
    alice_then, bob_then = _stored_tokens(store.url, alice), _stored_tokens(store.url, bob)
    key_file = store.keys.key_file_path
    # The check can fail: before the erasure a remaining key maps alice's tokens to her words.
    assert {w for t, w in _readable(store.url, key_file, a_words).items() if t in alice_then} == set(a_words)
    before = _found(store, [b_word, c_word, "pizza"])
    with psycopg.connect(store.url) as conn:
        (old_key,) = conn.execute("SELECT id FROM search_groups WHERE grp = 3 AND NOT retired").fetchone()

    receipt = store.erase_user(alice, ratchet=True)

    assert receipt["scrubbed"] is True and receipt["transcripts"] == 2
    assert [r["scrubbed"] for r in store.receipts(user_id=alice)] == [True]
    readable = _readable(store.url, key_file, [*a_words, b_word, "pizza"])
    assert not readable.keys() & alice_then  # no remaining key reads any of alice's old tokens
    assert not readable.keys() & bob_then  # nor bob's tokens of before his group's re-key
    with psycopg.connect(store.url) as conn:
        assert conn.execute("SELECT count(*) FROM search_groups WHERE id = %s", (old_key,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM search_rekeys").fetchone()[0] == 0
    # Search finds what it found before, but alice's rows.
    assert _found(store, [b_word, c_word, "pizza"]) == {w: [i for i in ids if i not in erased]
                                                        for w, ids in before.items()}
    assert len(before[b_word]) == 3 and len(before[c_word]) == 1 and len(before["pizza"]) == 6
    assert store.verify_chain().ok


def test_a_rekey_a_crash_interrupted_is_resumed_when_a_server_starts(store, postgres_url, tmp_path, monkeypatch):
    monkeypatch.setattr(groups, "BATCH", 1)
    alice, bob = _users_in_group(5, 2)
    word = _marker()
    store.record(_turn(alice, word))
    ids = [store.record(_turn(bob, word)) for _ in range(4)]
    receipt = store.erase_user(alice, ratchet=False)
    assert receipt["scrubbed"] is False

    class Crash(Exception):
        pass

    def crash_after_two(n: int, seen=[0]) -> None:  # noqa: B006 (counts across calls)
        seen[0] += n
        if seen[0] >= 2:
            raise Crash

    with pytest.raises(Crash):
        groups.rekey(store, progress=crash_after_two)
    with psycopg.connect(postgres_url) as conn:
        (done,) = conn.execute("SELECT done_below FROM search_rekeys").fetchone()
        assert done == ids[1]  # two batches committed, with their progress
        assert conn.execute("SELECT count(*) FROM search_groups WHERE retired").fetchone()[0] == 1
    assert [r["scrubbed"] for r in store.receipts()] == [False]
    assert [r["id"] for r in search_pages(store, word, developer_id="dev-a")] == ids[::-1]  # both keys probed

    server = PostgresLedger(postgres_url, key_file=store.keys.key_file_path, spool_path=str(tmp_path / "s2"),
                            scrub_delay=0.0)
    try:
        server.start_background()
        deadline = time.monotonic() + 60
        while not server.receipts()[0]["scrubbed"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.receipts()[0]["scrubbed"] is True
    finally:
        server.stop()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM search_rekeys").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM search_groups WHERE retired").fetchone()[0] == 0
    assert [r["id"] for r in search_pages(store, word, developer_id="dev-a")] == ids[::-1]
    assert store.verify_chain().ok


def test_a_host_holding_a_retired_group_key_writes_under_the_groups_new_one(store, postgres_url, tmp_path):
    other = PostgresLedger(postgres_url, key_file=store.keys.key_file_path, spool_path=str(tmp_path / "s2"))
    try:
        alice, bob = _users_in_group(1, 2)
        word = _marker()
        store.record(_turn(bob, word))  # this host now holds the group's key
        other.record(_turn(alice, "hello"))
        other.erase_user(alice, ratchet=False)  # the other host retires it
        late = store.record(_turn(bob, word))  # refused under the retired key, written under the new one
        with psycopg.connect(postgres_url) as conn:
            (live,) = conn.execute("SELECT id FROM search_groups WHERE grp = 1 AND NOT retired").fetchone()
            (tokens,) = conn.execute("SELECT tokens FROM transcripts WHERE id = %s", (late,)).fetchone()
        assert tokens == crypto.group_tokens(store.keys.group_key(None, "dev-a", 1)[1], ["note", "noted", word])
        assert store.keys.group_key(None, "dev-a", 1)[0] == live
        assert other.finish_scrubs() is True
        assert len(search_pages(store, word, developer_id="dev-a")) == 2
        assert store.verify_chain().ok
    finally:
        other.stop()


def test_migrate_moves_rows_from_per_developer_buckets_to_group_tokens_resumably(store, postgres_url, monkeypatch):
    words = [_marker() for _ in range(5)]
    ids = [store.record({**_turn(f"u{i}", w), "developer_id": f"dev-{'ab'[i % 2]}"}) for i, w in enumerate(words)]
    # The ledger as the version before search groups left it: one search key per developer, buckets.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch'").fetchone()[0])
        legacy = {}
        for dev in ("dev-a", "dev-b"):
            key = crypto.new_key()
            (num,) = conn.execute("INSERT INTO search_keys (developer_id, epoch, wrapped) VALUES (%s, %s, %s) "
                                  "RETURNING num", (dev, epoch, crypto.wrap(store.keys.kek(epoch), key,
                                                                            _search_label(dev)))).fetchone()
            legacy[dev] = (key, num)
        for rid, w in zip(ids, words, strict=True):
            dev = conn.execute("SELECT developer_id FROM transcripts WHERE id = %s", (rid,)).fetchone()[0]
            conn.execute("UPDATE transcripts SET tokens = %s WHERE id = %s",
                         (crypto.token_buckets(legacy[dev][0], legacy[dev][1], ["note", w]), rid))
        gone = [r[0] for r in conn.execute("DELETE FROM search_groups RETURNING id")]
        conn.execute("INSERT INTO ledger_meta (name, value) VALUES ('legacy_tokens_end', %s)", (str(max(ids)),))
    store.keys.forget_groups(gone)
    found = {w: [r["id"] for r in search_pages(store, w, developer_id=f"dev-{'ab'[i % 2]}")]
             for i, w in enumerate(words)}
    assert found == {w: [rid] for w, rid in zip(words, ids, strict=True)}  # the old buckets are read

    monkeypatch.setattr(groups, "BATCH", 2)
    assert store.migrate_tokens(batches=1) is False  # stopped midway: both kinds of token are probed
    assert {w: [r["id"] for r in search_pages(store, w, developer_id=f"dev-{'ab'[i % 2]}")]
            for i, w in enumerate(words)} == found
    done = CliRunner().invoke(main, ["ledger", "migrate", "--db", postgres_url],
                              env={"SKILLS_LEDGER_KEY_FILE": store.keys.key_file_path}, catch_exceptions=False)
    assert done.exit_code == 0 and "Re-tokenised 3 row(s)" in done.output, done.output
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM search_keys").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ledger_meta WHERE name LIKE 'legacy%'").fetchone()[0] == 0
        new_epoch = int(conn.execute("SELECT value FROM ledger_meta WHERE name = 'kek_epoch'").fetchone()[0])
    assert new_epoch == epoch + 1  # the old search keys' wrapped copies open under no key left
    assert {w: [r["id"] for r in search_pages(store, w, developer_id=f"dev-{'ab'[i % 2]}")]
            for i, w in enumerate(words)} == found
    assert store.verify_chain().ok


def test_an_erasure_retires_its_group_in_every_developer_and_drops_the_jobs_no_live_key_needs(store, postgres_url):
    (alice,) = _users_in_group(6, 1)
    devs = [f"dev-{c}" for c in "pqrst"]
    for dev in devs:
        store.record({**_turn(alice, "hello"), "developer_id": dev})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        keys = dict(conn.execute("SELECT developer_id, id FROM search_groups WHERE grp = 6 AND NOT retired"))
        assert sorted(keys) == devs
        # dev-r's key was retired by another erasure already (its re-key covers this one): no job for it is kept.
        conn.execute("UPDATE search_groups SET retired = true WHERE id = %s", (keys["dev-r"],))
    store.erase_user(alice, ratchet=False)
    with psycopg.connect(postgres_url) as conn:
        jobs = dict(conn.execute("SELECT developer_id, key_id FROM search_rekeys WHERE grp = 6"))
        retired = {r[0] for r in conn.execute("SELECT id FROM search_groups WHERE grp = 6 AND retired")}
    assert jobs == {d: keys[d] for d in devs if d != "dev-r"}  # each job names the key it re-keys from
    assert retired == set(keys.values())
    assert all(store.keys._groups.get((d, 6)) is None for d in devs if d != "dev-r")  # and forgot the keys it retired
    assert store.finish_scrubs() is True


def test_a_started_ledgers_purge_leaves_what_erasures_owe_to_its_maintenance_thread(store):
    # Re-keying an erased user's search group re-tokenises the whole group (minutes for a big
    # developer at 10M rows): a purge in a server answers once its days are gone, as an erasure does.
    store.scrub_delay = 0.5
    alice, bob = _users_in_group(3, 2)
    for user in (alice, bob):
        store.record(_turn(user, _marker()))
    store.start()
    receipt = store.erase_user(alice)
    with psycopg.connect(store.url) as conn:  # the re-key the erasure queued, not done yet
        assert conn.execute("SELECT count(*) FROM search_rekeys").fetchone()[0] == 1

    report = store.purge({}, default_days=30)

    assert report["scrubbed"] is False and not receipt["scrubbed"]
    deadline = time.monotonic() + 15
    while not store.receipts(user_id=alice)[0]["scrubbed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.receipts(user_id=alice)[0]["scrubbed"]
    with psycopg.connect(store.url) as conn:
        assert conn.execute("SELECT count(*) FROM search_rekeys").fetchone()[0] == 0
    assert store.purge({}, default_days=30)["scrubbed"] is True  # nothing owed: nothing handed over


def test_a_purge_without_a_maintenance_thread_scrubs_what_erasures_owe_itself(store):
    alice = _users_in_group(3, 1)[0]
    store.record(_turn(alice, _marker()))
    store.erase_user(alice, ratchet=False)
    assert [r["scrubbed"] for r in store.receipts(user_id=alice)] == [False]

    assert store.purge({}, default_days=30)["scrubbed"] is True  # the CLI's case: no thread to hand it to
    assert [r["scrubbed"] for r in store.receipts(user_id=alice)] == [True]
