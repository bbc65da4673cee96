"""A forked worker captures on connections and locks of its own: the process id the ledger keeps follows the fork."""

from __future__ import annotations

import os

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


def test_a_fork_never_catches_the_shared_checkpointer_inside_sqlite(tmp_path, monkeypatch):
    """A child forked while the process's checkpoint thread works opens SQLite and finishes (it once hung).

    The thread checkpoints without pause here, so a fork that did not wait for it would often
    copy one of SQLite's own mutexes held (its allocator's) into a child that then waits forever.
    """
    from skills_sdk.transcripts.sqlite import checkpoints

    monkeypatch.setattr(checkpoints, "INTERVAL", 0)
    store = SQLiteLedger(tmp_path / "t.db")
    hung = 0
    try:
        for i in range(150):
            store.record(_row(f"parent-{i}"))  # the WAL changed: the shared thread checkpoints again
            child = os.fork()
            if child == 0:  # pragma: no cover - the child exits with its verdict
                try:
                    conn = driver.sqlite3.connect(str(tmp_path / "t.db"))
                    conn.execute("SELECT count(*) FROM transcripts").fetchone()
                    conn.close()
                finally:
                    os._exit(0)
            for _ in range(1000):  # 10 s at most: a child that hangs never ends
                if os.waitpid(child, os.WNOHANG)[0]:
                    break
                __import__("time").sleep(0.01)
            else:
                os.kill(child, 9)
                os.waitpid(child, 0)
                hung += 1
                break
    finally:
        store.close()
    assert hung == 0, "a forked child hung at its first SQLite call"
