"""The WAL written out to its working size at start: captures write over it, a crash loses nothing, a full disk costs nothing."""

from __future__ import annotations

import os
import queue
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from skills_sdk.transcripts.sqlite.driver import sqlite3
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

RESERVE = 4 * 1024 * 1024  # 1,000-odd frames of 4 KB: more than the captures below write


def row(i: int) -> dict:
    return {"developer_id": "acme", "skill": "pizza", "user_id": f"u{i % 5}", "session_id": f"s{i % 3}",
            "request_id": f"r{i}", "speech": f"Answer {i}"}


def wal_size(db: str) -> int:
    return os.path.getsize(db + "-wal")


def wait_until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} after {timeout} s"
        time.sleep(0.01)


@pytest.fixture
def reserve(monkeypatch):
    monkeypatch.setenv("SKILLS_WAL_RESERVE", str(RESERVE))
    return RESERVE


def test_start_writes_the_wal_out_and_captures_write_over_it_without_growing_it(tmp_path, reserve):
    db = str(tmp_path / "t.db")
    store = SQLiteLedger(db)
    store.checkpoint_interval = 0.05  # its first tick (the write-out) soon
    store.record(row(0))
    assert wal_size(db) < reserve
    store.start()
    try:
        wait_until(lambda: wal_size(db) >= reserve, "the WAL was not written out")
        with open(db + "-wal", "rb") as f:
            f.seek(reserve - 4096)
            assert f.read() == bytes(4096), "the WAL's end is not written with zeros"
        for i in range(1, 60):  # some 8 frames each: 2 MB
            store.record(row(i))
        assert wal_size(db) == reserve  # the captures wrote over the zeros, none past the end
        assert store.count() == 60
    finally:
        store.stop()


def test_an_erasures_truncate_checkpoint_is_followed_by_the_wal_written_out_again(tmp_path, reserve):
    db = str(tmp_path / "t.db")
    store = SQLiteLedger(db)
    store.start()
    try:
        wait_until(lambda: wal_size(db) >= reserve, "the WAL was not written out")
        store.record(row(1))
        assert store.checkpoint("TRUNCATE")[0] == 0
        store.record(row(2))
        wait_until(lambda: wal_size(db) >= reserve, "the WAL was not written out after the TRUNCATE")
        assert store.count() == 2
    finally:
        store.stop()


CHILD = textwrap.dedent("""
    import os, sys, time
    from skills_sdk.transcripts.sqlite import checkpoints, connection
    from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger
    # No checkpoint at all: every row stays in the WAL, to be read back by recovery.
    checkpoints.INTERVAL = 3600
    connection.checkpoint_bounded = lambda ledger, conn: (0, 0, 0)
    db, reserve = sys.argv[1], int(sys.argv[2])
    store = SQLiteLedger(db)
    store.checkpoint_interval = 0.05  # its first tick (the write-out) soon
    def row(i):
        return {"developer_id": "acme", "skill": "pizza", "user_id": f"u{i % 5}", "session_id": "s",
                "request_id": f"r{i}", "speech": f"Answer {i}"}
    for i in range(60):  # 2 MB of frames in the WAL before it is written out: the zeros go after them
        print(store.record(row(i)), flush=True)
    store.start()
    while os.path.getsize(db + "-wal") < reserve:  # the background thread writes it out, no capture meanwhile
        time.sleep(0.01)
    i = 60
    while True:  # captures over the zeros, and past them
        print(store.record(row(i)), flush=True)
        i += 1
""")


def test_a_process_killed_mid_stream_after_the_wal_was_written_out_lost_no_row(tmp_path):
    db = str(tmp_path / "t.db")
    SQLiteLedger(db).close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, db, str(RESERVE)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "SKILLS_WAL_RESERVE": str(RESERVE)})
    printed: queue.Queue[str] = queue.Queue()  # each id once record() returned, read by a thread: never blocks the test
    reader = threading.Thread(target=lambda: [printed.put(line) for line in child.stdout or ()], daemon=True)
    reader.start()
    acknowledged: list[int] = []
    try:
        while len(acknowledged) < 300:  # 60 before the write-out, the rest after it
            try:
                acknowledged.append(int(printed.get(timeout=60)))
            except queue.Empty:
                pytest.fail(f"the capturing process stalled after {len(acknowledged)} rows ({child.poll()})")
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: a capture may be under way
        child.wait()
        reader.join(30)  # the rest of the pipe, to its end
        while not printed.empty():
            acknowledged.append(int(printed.get()))
    finally:
        child.kill()
        child.wait()
    assert wal_size(db) >= RESERVE
    with sqlite3.connect(db) as conn:  # recovery reads the WAL up to its last commit, then the zeros end it
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in conn.execute("SELECT id FROM transcripts ORDER BY id")]
    assert set(acknowledged) <= set(ids), f"{len(set(acknowledged) - set(ids))} acknowledged row(s) lost"
    assert ids == list(range(1, len(ids) + 1)) and len(ids) - len(acknowledged) <= 1  # and the one in flight
    assert SQLiteLedger(db).verify_chain().ok


def test_a_disk_without_room_for_the_wal_leaves_it_as_it_was_and_captures_go_on(tmp_path, monkeypatch):
    db = str(tmp_path / "t.db")
    store = SQLiteLedger(db)
    store.record(row(0))
    before = wal_size(db)
    # A file size limit makes the write-out fail past it (EFBIG; Python ignores SIGXFSZ) as a full disk would.
    monkeypatch.setenv("SKILLS_WAL_RESERVE", str(RESERVE))
    limit = before + 3 * 256 * 1024 + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        store.wal_reserve = RESERVE
        assert store.reserve_wal() is False
        assert wal_size(db) == before + 3 * 256 * 1024  # the slice that failed is given back, the others kept
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for i in range(1, 50):
        store.record(row(i))
    assert store.count() == 50
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_disk_with_too_little_free_space_is_not_written_to(small_fs):
    db = str(small_fs / "t.db")
    store = SQLiteLedger(db)
    store.record(row(0))
    before = wal_size(db)
    store.wal_reserve = 3 * 1024 * 1024  # on a 4 MB file system: less than twice the bytes to write are free
    assert store.reserve_wal() is False
    assert wal_size(db) == before
    store.record(row(1))
    assert store.count() == 2
    store.close()


def test_a_wal_reserve_that_is_not_a_number_of_bytes_is_refused_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLS_WAL_RESERVE", "64MB")
    with pytest.raises(ValueError, match="SKILLS_WAL_RESERVE must be a number of bytes .*'64MB'"):
        SQLiteLedger(str(tmp_path / "t.db"))
