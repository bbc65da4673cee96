"""A commit's WAL frames leave the process in one write, before the commit returns and before any other connection can look for them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from skills_sdk.transcripts.sqlite.driver import open_uri, sqlite3, sync_files
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger


def row(i: int) -> dict:
    return {"developer_id": f"dev-{i % 7}", "skill": f"skill-{i % 13}", "user_id": f"user-{i % 101}",
            "session_id": f"s{i}", "request_id": f"r{i}", "speech": f"Answer {i} " + "x" * (i % 300)}


def write_calls() -> int:
    """This thread's write system calls so far (``syscw``)."""
    with open("/proc/thread-self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("syscw"))


@pytest.fixture
def syncs(vfs: str) -> str:
    from skills_sdk.transcripts.sqlite import _walvfs  # type: ignore[attr-defined]

    if not hasattr(_walvfs, "sync"):  # sync_files then declines: the held checkpoint syncs as before
        pytest.skip("this venv's _walvfs was built before sync(): run ./dev")
    return vfs


def test_the_ledger_opens_its_file_through_the_vfs(vfs, tmp_path):
    ledger = SQLiteLedger(str(tmp_path / "t.db"))
    try:
        ledger.record(row(0))
        assert open_uri(ledger.path).endswith("&vfs=" + vfs)
    finally:
        ledger.close()


def test_a_capture_writes_its_frames_with_one_system_call(vfs, tmp_path):
    ledger = SQLiteLedger(str(tmp_path / "t.db"))
    try:
        for i in range(20):
            ledger.record(row(i))
        before = write_calls()
        for i in range(20, 120):
            ledger.record(row(i))
        # SQLite's own writes: two a frame (its header, its page), some 20 a capture
        assert (write_calls() - before) / 100 <= 1.5
        assert ledger.count() == 120
        assert ledger.verify_chain().ok
    finally:
        ledger.close()


def test_a_transaction_longer_than_one_write_commits_whole(vfs, tmp_path):
    ledger = SQLiteLedger(str(tmp_path / "t.db"))
    try:
        # 2 MB of frames: written in pieces (the default VFS takes at most 128 KB a write), none lost
        ledger.record_many([dict(row(i), speech="y" * 4000) for i in range(500)])
        assert ledger.count() == 500
        assert ledger.verify_chain().ok
        assert ledger.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        ledger.close()


def test_another_connection_reads_each_commit_the_moment_it_returns(vfs, tmp_path):
    ledger = SQLiteLedger(str(tmp_path / "t.db"))
    other = sqlite3.connect(str(tmp_path / "t.db"), isolation_level=None)  # the default VFS, its own file handles
    try:
        for i in range(200):
            rid = ledger.record(row(i))
            # frames still in the writer's memory would read back as zeros here (a reader trusts the wal-index)
            assert other.execute("SELECT speech FROM transcripts WHERE id = ?", (rid,)).fetchone()[0].startswith(f"Answer {i} ")
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        other.close()
        ledger.close()


CHILD = """
import sys
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger
ledger = SQLiteLedger(sys.argv[1])
ledger.start_background()
i = 0
while True:
    rid = ledger.record({"developer_id": "d", "skill": "s", "user_id": f"u{i % 50}", "session_id": f"s{i}",
                         "request_id": f"r{i}", "speech": "x" * (i % 2000)})
    print(rid, flush=True)  # the reply: sent only once record() returned
    i += 1
"""


def test_a_process_killed_after_a_commit_returned_keeps_the_row(vfs, tmp_path):
    db = str(tmp_path / "t.db")
    SQLiteLedger(db).close()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, db], stdout=subprocess.PIPE, text=True)
    replied = []
    try:
        while len(replied) < 600:
            replied.append(int(proc.stdout.readline()))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    ledger = SQLiteLedger(db)
    try:
        kept = {r[0] for r in ledger.conn.execute("SELECT id FROM transcripts")}
        assert set(replied) <= kept
        assert ledger.verify_chain().ok
        assert ledger.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        ledger.close()


def test_frames_of_a_rolled_back_transaction_never_land_over_another_writers(vfs, tmp_path):
    db = str(tmp_path / "t.db")
    ledger = SQLiteLedger(db)  # makes the file, its schema and its WAL
    ledger.close()
    spiller = sqlite3.connect(open_uri(db), uri=True, isolation_level=None)
    other = sqlite3.connect(open_uri(db), uri=True, isolation_level=None)
    try:
        for conn in (spiller, other):
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        spiller.execute("PRAGMA cache_size = 10")  # a transaction of 400 KB spills pages into the WAL
        spiller.execute("CREATE TABLE IF NOT EXISTS filler (k INTEGER PRIMARY KEY, v BLOB)")
        spiller.execute("BEGIN IMMEDIATE")
        spiller.executemany("INSERT INTO filler (v) VALUES (?)", [(os.urandom(2000),) for _ in range(200)])
        spiller.execute("ROLLBACK")
        # the other connection now writes the frames the rolled-back ones occupied
        other.execute("BEGIN IMMEDIATE")
        other.executemany("INSERT INTO filler (v) VALUES (?)", [(bytes([7]) * 1000,) for _ in range(100)])
        other.execute("COMMIT")
        spiller.execute("INSERT INTO filler (v) VALUES (x'01')")  # the spiller's next write and commit
        fresh = sqlite3.connect(db, isolation_level=None)
        try:
            assert fresh.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert fresh.execute("SELECT count(*), sum(v = ?) FROM filler",
                                 (bytes([7]) * 1000,)).fetchone() == (101, 100)
        finally:
            fresh.close()
    finally:
        spiller.close()
        other.close()


def test_skills_wal_writes_each_gives_sqlite_its_own_writes(tmp_path):
    code = ("from skills_sdk.transcripts.sqlite.driver import open_uri, wal_vfs; "
            "print(wal_vfs(), open_uri('/tmp/x.db'))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, SKILLS_WAL_WRITES="each"),
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", "file:/tmp/x.db?mode=rw"]


SYNC_CHILD = r"""
import os, sys
from skills_sdk.transcripts.sqlite.driver import open_uri, sqlite3, sync_files
conn = sqlite3.connect(open_uri(sys.argv[1]), isolation_level=None, uri=True)  # as the checkpointer's
conn.execute("SELECT count(*) FROM transcripts").fetchone()  # its WAL open
try:
    os.stat("/sync-files-marker")  # where the strace below starts to look
except OSError:
    pass
print(sync_files(conn), flush=True)
conn.close()
"""


def test_the_checkpointer_syncs_the_database_and_its_wal_through_sqlites_descriptors(syncs, tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("no strace here to see the fsync calls")
    db = str(tmp_path / "t.db")
    ledger = SQLiteLedger(db)
    try:
        for i in range(10):
            ledger.record(row(i))
        out = subprocess.run([strace, "-f", "-y", "-e", "trace=fsync,fdatasync,openat,close,stat,newfstatat,write",
                              sys.executable, "-c", SYNC_CHILD, db], capture_output=True, text=True, timeout=60)
    finally:
        ledger.close()
    assert out.stdout.strip() == "True", out.stderr
    # what the child did between the marker and its answer
    during = out.stderr.split("/sync-files-marker", 1)[1].split("\n", 1)[1].split("True", 1)[0].splitlines()
    synced = {line.split("<", 1)[1].split(">", 1)[0] for line in during if "sync(" in line and "<" in line}
    assert {db, db + "-wal"} <= synced, during
    # through the descriptors SQLite had open: none of its files opened or closed for it
    assert not [line for line in during if line.startswith(("openat(", "close(")) and db in line], during


def test_syncing_keeps_the_locks_the_process_holds_on_the_file(syncs, tmp_path):
    db = str(tmp_path / "t.db")
    ledger = SQLiteLedger(db)
    ledger.record(row(0))
    conn = sqlite3.connect(open_uri(db), isolation_level=None, uri=True, check_same_thread=False)
    try:
        # A connection in WAL mode holds a shared lock on the database file while it is open: no
        # other process may take it out of WAL mode meanwhile. A descriptor of Python's own, closed
        # after an fsync, would have dropped that lock (POSIX locks belong to the process and file).
        assert conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 1
        assert sync_files(conn)
        change = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0)\n"
                  "try:\n    print(c.execute('PRAGMA journal_mode = DELETE').fetchone()[0])\n"
                  "except sqlite3.OperationalError as e:\n    print(e)")
        got = subprocess.run([sys.executable, "-c", change, db], capture_output=True, text=True, timeout=60).stdout
        assert "locked" in got, got
        assert ledger.record(row(1)) and ledger.count() == 2
    finally:
        conn.close()
        ledger.close()


def test_sync_files_declines_a_connection_of_sqlites_default_vfs(tmp_path):
    db = str(tmp_path / "t.db")
    SQLiteLedger(db).close()
    plain = sqlite3.connect(db)
    try:
        assert sync_files(plain) is False  # its checkpoint syncs the files as SQLite always did
        assert sync_files(None) is False  # type: ignore[arg-type]
    finally:
        plain.close()


def test_a_failed_sync_leaves_the_checkpoint_to_sqlites_own_fsync(syncs, tmp_path, monkeypatch):
    from skills_sdk.transcripts.sqlite import _walvfs

    def failing(conn):
        raise OSError("fsync of the ledger's files failed (SQLite error 1034)")

    db = str(tmp_path / "t.db")
    ledger = SQLiteLedger(db)
    conn = sqlite3.connect(open_uri(db), isolation_level=None, uri=True)
    try:
        monkeypatch.setattr(_walvfs, "sync", failing)
        # an OSError out of it would end the checkpointing thread, which expects SQLite's errors only
        assert sync_files(conn) is False
    finally:
        conn.close()
        ledger.close()
