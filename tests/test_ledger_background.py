"""When the SQLite ledger's background thread indexes: in quiet moments, or in one batch past a backlog bound."""

from __future__ import annotations

import time

import pytest

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite.fts import FTS_UPTO


def row(i: int) -> dict:
    return {"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 3}", "speech": f"note number {i}"}


def indexed_upto(store: TranscriptStore) -> int:
    return store.conn.execute("SELECT " + FTS_UPTO).fetchone()[0]


def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def store(tmp_path):
    s = TranscriptStore(tmp_path / "t.db")
    s.checkpoint_interval = 0.02
    yield s
    s.stop()


def test_rows_wait_while_captures_keep_coming_and_are_indexed_in_the_next_quiet_moment(store):
    store.index_backlog = 10_000
    ids = [store.record(row(i)) for i in range(30)]
    store.last_capture = time.monotonic() + 3600  # captures keep coming, as far as the thread can tell
    store.start()
    time.sleep(0.3)  # fifteen ticks
    assert indexed_upto(store) == 0
    store.last_capture = 0.0  # quiet
    assert wait_for(lambda: indexed_upto(store) == ids[-1])


def test_captures_that_never_pause_are_indexed_once_the_backlog_bound_is_reached(store):
    store.index_backlog = 25
    store.index_idle = 3600  # never quiet: only the bound can start the indexing
    store.start()
    i = 0
    deadline = time.monotonic() + 10
    while indexed_upto(store) < 25 and time.monotonic() < deadline:
        store.record(row(i))
        i += 1
    assert indexed_upto(store) >= 25
    rows, _ = store.query({"q": "number"}, developer_id="dev", limit=5)
    assert len(rows) == 5  # and the rows are found
