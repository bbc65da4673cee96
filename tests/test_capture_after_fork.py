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
