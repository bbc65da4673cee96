"""A forked worker captures on connections and locks of its own: the process id the ledger keeps follows the fork."""

from __future__ import annotations

import os
import subprocess
import sys

from skills_sdk.transcripts.sqlite import driver
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger


def _row(request_id: str) -> dict[str, str]:
    return {"developer_id": "d", "skill": "s", "user_id": "u", "request_id": request_id, "speech": "Hi."}


def test_a_forked_child_captures_on_its_own_connection_and_the_chain_verifies(tmp_path):
    store = SQLiteLedger(tmp_path / "t.db")
    store.record(_row("parent-1"))  # the parent's capture connection, lock file and queue exist before the fork
    parent_conn = store.capture_conn
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        ok = False
        try:
            ok = (driver.pid() == os.getpid() and store.capture_conn is not parent_conn
                  and store.record(_row("child-1")) > 0)
        finally:
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    said = os.read(read, 1)
    os.close(read)
    os.waitpid(child, 0)
    assert said == b"1", "the child used the parent's process id, connection or lock"
    assert driver.pid() == os.getpid()
    store.record(_row("parent-2"))
    assert [r["request_id"] for r in store._rows("SELECT * FROM transcripts ORDER BY id")] == [
        "parent-1", "child-1", "parent-2"]
    assert store.verify_chain().ok
    store.close()


FORKS = r"""
import os, sys, time
from skills_sdk.transcripts.sqlite import checkpoints, driver
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

checkpoints.INTERVAL = 0
path = sys.argv[1]
store = SQLiteLedger(path)
hung = 0
try:
    for i in range(150):
        store.record({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": f"parent-{i}", "speech": "Hi."})
        child = os.fork()  # the WAL changed: the shared thread checkpoints again meanwhile
        if child == 0:
            try:
                conn = driver.sqlite3.connect(path)
                conn.execute("SELECT count(*) FROM transcripts").fetchone()
                conn.close()
            finally:
                os._exit(0)
        for _ in range(1000):  # 10 s at most: a child that hangs never ends
            if os.waitpid(child, os.WNOHANG)[0]:
                break
            time.sleep(0.01)
        else:
            os.kill(child, 9)
            os.waitpid(child, 0)
            hung += 1
            break
finally:
    store.close()
print("hung" if hung else "ok")
"""


def test_a_fork_never_catches_the_shared_checkpointer_inside_sqlite(tmp_path):
    """A child forked while the process's checkpoint thread works opens SQLite and finishes (it once hung).

    The thread checkpoints without pause here, so a fork that did not wait for it would often
    copy one of SQLite's own mutexes held (its allocator's) into a child that then waits forever.
    In a process of its own: in the test run's process, a thread an earlier test left inside
    SQLite (another ledger's) hangs a forked child the same way, and no ledger can prevent that
    (CPython frees that thread's statements and connections in the child, under SQLite's mutexes).
    """
    out = subprocess.run([sys.executable, "-c", FORKS, str(tmp_path / "t.db")], capture_output=True, text=True,
                         timeout=600)
    assert out.stdout.strip() == "ok", "a forked child hung at its first SQLite call" + out.stderr[-2000:]
