"""A purge in two steps on SQLite: expired days hidden from every read at once, their rows deleted after in slices."""

from __future__ import annotations

import subprocess
import sys
import time

from _privacy_kit import marker, occurrences
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.retention import Policy, purge
from skills_sdk.transcripts.sqlite.fts import index_pending
from skills_sdk.transcripts.sqlite.removal import hidden_left

USER = "amzn1.ask.account.TWO"
OLD, RECENT, NOW = "2026-01-01T10:00:00.000Z", "2026-11-20T10:00:00.000Z", "2026-12-01T00:00:00Z"


def rows(n, text, *, when=OLD, skill="notes", session="s-old"):
    return [{"developer_id": "d", "skill": skill, "user_id": USER, "created_at": when, "session_id": session,
             "utterance": f"{text} {i}", "speech": f"{text} {i}"} for i in range(n)]


def file_ids(store):
    return [r[0] for r in store.conn.execute("SELECT id FROM transcripts ORDER BY id")]


def verify(path):
    return CliRunner().invoke(main, ["transcripts", "verify", "--db", str(path)])


def test_a_purge_hides_expired_days_from_every_read_at_once_and_their_removal_follows(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    old = marker()
    store.record_many(rows(6, old))
    new = store.record({"developer_id": "d", "skill": "notes", "user_id": USER, "created_at": RECENT,
                        "session_id": "s-new", "utterance": "new", "speech": "new"})
    index_pending(store.conn)

    report = purge(store, {}, default_days=30, now=NOW)

    assert report["deleted"] == 6 and report["pending"] == 6 and report["per_skill"] == {"notes": 6}
    # Every read: none returns a hidden row, though the rows are still in the file.
    assert file_ids(store) == [1, 2, 3, 4, 5, 6, new]
    assert store.get(1) is None and store.get(new)["speech"] == "new"
    assert [r["id"] for r in store.user_history(USER)] == [new]
    assert [r["id"] for r in store.user_history(USER, before_id=new)] == []
    assert store.count() == 1 and store.count(user_id=USER) == 1
    assert [r["id"] for r in store.iter_transcripts()] == [new]
    assert [r["id"] for r in store.iter_transcripts(developer_id="d")] == [new]
    assert len(list(store.iter_jsonl())) == 1
    assert [r["id"] for r in store.query(developer_id="d")[0]] == [new]
    assert [r["id"] for r in store.query({"since": "2025-01-01T00:00:00Z"}, developer_id="d")[0]] == [new]
    assert store.query({"q": old}, developer_id="d")[0] == [] and store.query({"q": old}, user_id=USER)[0] == []
    assert store.session_turns("s-old") == []
    assert store.skill_stats("d", "notes", since="2025-01-01T00:00:00Z")["requests"] == 1
    purges = [a for a in store.iter_audit() if a["action"] == "purge"]
    assert [(a["rows"], a["filters"]["pending"]) for a in purges] == [(6, 6)]
    assert verify(path).exit_code == 0
    assert occurrences(path, old) > 0  # what docs/privacy.md says stays in the file until the removal

    assert store.remove_purged() is True

    assert file_ids(store) == [new] and not hidden_left(store.conn)
    store.close()
    assert occurrences(path, old) == 0
    result = verify(path)
    assert result.exit_code == 0 and "6 erased or purged rows left tombstones" in result.output, result.output


def test_a_kept_row_stops_the_mark_and_the_expired_rows_above_it_go_at_once(tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    store.record_many(rows(3, "first"))                                                   # ids 1-3
    store.record_many(rows(1, "kept", skill="vault", when="2026-01-02T10:00:00.000Z"))    # id 4
    store.record_many(rows(2, "imported"))                                                # ids 5-6, an import
    store.record_many(rows(1, "new", when=RECENT))                                        # id 7

    report = purge(store, {"notes": Policy(30), "vault": Policy(None)}, now=NOW)

    assert report["deleted"] == 5 and report["pending"] == 3
    assert file_ids(store) == [1, 2, 3, 4, 7]
    assert [r["id"] for r in store.iter_transcripts()] == [4, 7]
    assert purge(store, {"notes": Policy(30), "vault": Policy(None)}, now=NOW, wait=True)["deleted"] == 0
    assert file_ids(store) == [4, 7]


def test_the_background_thread_deletes_what_a_purge_hid(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    old = marker()
    store.record_many(rows(1200, old))  # more than two slices
    store.record_many(rows(1, "new", when=RECENT))
    store.start_background()

    assert purge(store, {}, default_days=30, now=NOW)["pending"] == 1200
    deadline = time.monotonic() + 60  # a bound on a hang, not a measure: a tick removes ~thousands
    # The rows go, then the log is emptied (a tick whose truncate a reader blocked is followed by another).
    while (hidden_left(store.conn) or occurrences(path, old)) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not hidden_left(store.conn) and len(file_ids(store)) == 1
    assert occurrences(path, old) == 0
    store.close()
    result = verify(path)
    assert result.exit_code == 0 and "1200 erased or purged rows" in result.output, result.output


_KILLED_MID_REMOVAL = """
import os, signal, sys
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import removal

removal.WAIT_ROWS = 5
store = TranscriptStore(sys.argv[1])
tombstones = []

def kill_in_the_third_slice(sql):
    # SIGKILL inside the third slice's transaction: its rows deleted, its tombstone being written
    if sql.startswith("INSERT INTO ledger_chain"):
        tombstones.append(sql)
        if len(tombstones) == 3:
            os.kill(os.getpid(), signal.SIGKILL)

store.conn.set_trace_callback(kill_in_the_third_slice)
store.remove_purged()
"""


def test_a_removal_killed_mid_slice_leaves_a_sound_ledger_and_the_next_one_finishes(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    old = marker()
    store.record_many(rows(40, old))
    store.record_many(rows(1, "new", when=RECENT))
    assert purge(store, {}, default_days=30, now=NOW)["pending"] == 40
    store.close()

    child = subprocess.run([sys.executable, "-c", _KILLED_MID_REMOVAL, str(path)], capture_output=True, text=True)

    assert child.returncode == -9, child.stderr
    store = TranscriptStore(path)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(file_ids(store)) == 31   # two slices of five committed, the third rolled back
    assert store.count() == 1           # and the rest still hidden
    assert verify(path).exit_code == 0
    assert store.remove_purged() is True
    assert len(file_ids(store)) == 1
    store.close()
    assert occurrences(path, old) == 0
    result = verify(path)
    assert result.exit_code == 0 and "40 erased or purged rows" in result.output, result.output


def test_the_cli_purge_waits_for_the_removal_unless_told_not_to(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    store.record_many(rows(4, "old"))
    store.record_many(rows(1, "new", when=RECENT))
    store.close()
    args = ["transcripts", "purge", "--db", str(path), "--retention-days", "30", "--now", NOW]

    later = CliRunner().invoke(main, [*args, "--no-wait"])
    assert later.exit_code == 0 and '"pending": 4' in later.output, later.output
    store = TranscriptStore(path)
    assert len(file_ids(store)) == 5 and store.count() == 1
    store.close()

    now = CliRunner().invoke(main, args)
    assert now.exit_code == 0 and '"pending": 0' in now.output, now.output
    store = TranscriptStore(path)
    assert len(file_ids(store)) == 1
    store.close()


def test_rows_hidden_before_they_were_indexed_are_never_indexed(tmp_path):
    path = tmp_path / "t.db"
    store = TranscriptStore(path)
    old = marker()
    store.record_many(rows(3, old))  # not indexed yet: the indexer would come after the purge
    store.record_many(rows(1, "new", when=RECENT))

    assert purge(store, {}, default_days=30, now=NOW)["pending"] == 3
    index_pending(store.conn)

    tables = [n for (n,) in store.conn.execute("SELECT name FROM sqlite_master WHERE name GLOB 'transcripts_fts_2026*' "
                                               "AND type = 'table' AND sql LIKE 'CREATE VIRTUAL%'")]
    assert tables == ["transcripts_fts_20261120_b0"]  # the kept day's only: the purged day's is not made again
    assert store.remove_purged() is True
    store.close()
    assert occurrences(path, old) == 0
