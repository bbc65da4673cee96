"""The SQLite ledger's background work: indexing in quiet moments or in one batch past a backlog bound; checkpoints never in a commit."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest

from skills_sdk.errors import StoreError
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import checkpoints
from skills_sdk.transcripts.sqlite.connection import Connection
from skills_sdk.transcripts.sqlite.fts import FTS_UPTO


def row(i: int) -> dict:
    return {"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 3}", "speech": f"note number {i}"}


def long_row(i: int) -> dict:
    return {"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 7}", "speech": f"note number {i} " * 20}


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
    ticks = []
    index_when_due = store._index_when_due
    store._index_when_due = lambda *args: (ticks.append(1), index_when_due(*args))[1]
    store.start()
    assert wait_for(lambda: len(ticks) >= 15)  # fifteen chances to index, each declined
    assert indexed_upto(store) == 0
    store.last_capture = float("-inf")  # quiet: no capture ever
    assert wait_for(lambda: indexed_upto(store) == ids[-1])


def test_rows_another_process_keeps_adding_wait_as_its_own_captures_would_and_are_indexed_once_they_stop(tmp_path):
    # The maintenance process captures nothing: the rows the workers add tell it that captures come.
    store, worker = TranscriptStore(tmp_path / "t.db"), TranscriptStore(tmp_path / "t.db")
    # index_idle longer than the machine has been up: "never captured" must not read as "a moment ago".
    store.index_backlog, store.index_idle = 10_000, time.monotonic() + 3600
    stop = threading.Event()
    try:
        worker.record(row(0))
        store._index_when_due(store.conn, stop)  # its first look: nothing says captures come
        assert indexed_upto(store) == 1
        ids = [worker.record(row(i)) for i in range(1, 30)]
        store._index_when_due(store.conn, stop)  # rows came since the last look, fewer than the bound
        assert indexed_upto(store) == 1
        store.last_capture = float("-inf")  # index_idle went by, and no row came since that look
        store._index_when_due(store.conn, stop)
        assert indexed_upto(store) == ids[-1]
    finally:
        worker.stop()
        store.stop()


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


def test_a_backlog_is_indexed_between_checkpoints_not_left_for_the_next_one(tmp_path, monkeypatch):
    # Under load the thread looks for a backlog index_ticks times per checkpoint interval, so it indexes
    # a slice or two at a time; a look only at each checkpoint let ten slices' worth gather into a burst.
    from skills_sdk.transcripts.sqlite import connection

    checkpointed = []
    real = connection.checkpoint_bounded
    store = TranscriptStore(tmp_path / "t.db")

    def checkpoint_bounded(ledger, conn):  # another ledger's thread (an earlier test's) checkpoints as before
        return checkpointed.append(ledger) if ledger is store else real(ledger, conn)

    monkeypatch.setattr(connection, "checkpoint_bounded", checkpoint_bounded)
    store.checkpoint_interval, store.index_ticks = 3600.0, 3600 * 50  # a look every 20 ms, a checkpoint hourly
    store.index_backlog, store.index_idle = 10, 3600  # never quiet: only the backlog starts the indexing
    try:
        ids = [store.record(row(i)) for i in range(12)]
        store.start()
        assert wait_for(lambda: indexed_upto(store) == ids[-1])
        assert not checkpointed
    finally:
        store.stop()


def test_a_backlog_found_under_load_is_indexed_in_slices_no_longer_than_index_slice(store, monkeypatch):
    from skills_sdk.transcripts.sqlite import slices

    covered = []  # ids each indexing transaction covered
    real = slices.index_pending
    ours = os.path.realpath(store.path)

    def index_pending(conn, **kw):
        # Only this store's calls: a background thread of another ledger in this process (an earlier
        # test's) calls the patched function too, and its slice would be read off this store's watermark.
        if os.path.realpath(conn.execute("PRAGMA database_list").fetchone()[2]) != ours:
            return real(conn, **kw)
        before = indexed_upto(store)
        n = real(conn, **kw)
        covered.append(indexed_upto(store) - before)
        return n

    monkeypatch.setattr(slices, "index_pending", index_pending)
    store.index_backlog, store.index_slice = 25, 10
    store.index_idle = 3600  # never quiet: only the bound starts the indexing
    ids = [store.record(row(i)) for i in range(60)]
    store.start()
    assert wait_for(lambda: indexed_upto(store) >= 25)
    store.stop()
    assert max(covered) == 10 and sum(covered) == indexed_upto(store) <= ids[-1]


def test_an_erasures_full_text_deletes_are_applied_by_the_background_a_few_rows_per_hold(tmp_path, monkeypatch):
    from skills_sdk.transcripts.erasure import erase_user
    from skills_sdk.transcripts.sqlite import erasure, fts

    store = TranscriptStore(tmp_path / "t.db")
    store.checkpoint_interval = 0.02
    ids = [store.record({**row(i), "user_id": "alice", "speech": f"secret{i} words"}) for i in range(35)]
    store.record(row(99))
    store.index_pending()
    calls = []
    for module in (fts, erasure):
        real = module.apply_fts_changes
        monkeypatch.setattr(module, "apply_fts_changes",
                            lambda conn, rows=None, real=real: calls.append(rows) or real(conn, rows=rows))
    store.start()
    receipt = erase_user(store, "alice")  # a started ledger leaves the scrub to its thread
    assert not receipt["scrubbed"]
    assert wait_for(lambda: store.receipts(user_id="alice")[0]["scrubbed"])
    store.stop()
    applied = [rows for rows in calls if rows is not None]
    assert set(applied) == {fts.CHANGE_SLICE} and len(applied) >= len(ids) // fts.CHANGE_SLICE
    assert store.conn.execute("SELECT count(*) FROM fts_changes").fetchone()[0] == 0
    assert store.query({"q": "words"}, developer_id="dev", limit=50)[0] == []
    store.close()


def wal_generation(path) -> bytes:
    """The WAL header's checkpoint sequence and salts: they change each time SQLite writes the WAL from its start again."""
    with open(str(path) + "-wal", "rb") as f:
        return f.read(24)[12:24]


def test_a_capture_never_checkpoints_in_its_commit(tmp_path, monkeypatch):
    # Without the background thread, nothing checkpoints: SQLite's automatic checkpoint (every
    # 1,000 pages, inside the commit that crosses it) would have started the WAL over several times.
    monkeypatch.setattr(checkpoints, "serve", lambda ledger: None)
    db = tmp_path / "t.db"
    store = TranscriptStore(db)
    store.record(long_row(0))
    first = wal_generation(db)
    for i in range(1, 400):
        store.record(long_row(i))
    busy, frames, copied = store.checkpoint()
    assert frames > 1000 and wal_generation(db) == first
    assert store.capture_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    store.close()


def test_an_unstarted_ledger_is_checkpointed_by_the_shared_thread(tmp_path):
    db = tmp_path / "t.db"
    store = TranscriptStore(db)
    before = os.path.getsize(db)
    for i in range(200):
        store.record(long_row(i))
    assert not store.background_running
    # The rows reach the database file itself without any call here that checkpoints.
    assert wait_for(lambda: os.path.getsize(db) > before)
    assert store.count() == 200
    store.close()


def test_an_unstarted_ledger_written_on_the_connection_that_made_its_schema_is_served_from_that_use(tmp_path):
    # The constructor's connection is handed to the shared thread at its first use, not when it is
    # made: a server starts the ledger's own thread first, and the shared one need never start.
    db = tmp_path / "t.db"
    store = TranscriptStore(db)
    assert store not in checkpoints._ledgers
    before = os.path.getsize(db)
    store.record_many([long_row(i) for i in range(200)])  # this thread's connection: the constructor's
    assert store in checkpoints._ledgers
    assert wait_for(lambda: os.path.getsize(db) > before)
    store.close()


@pytest.mark.parametrize("background, served", [("elsewhere", False), ("thread", True)])
def test_a_workers_ledger_is_left_to_the_maintenance_process(tmp_path, monkeypatch, background, served):
    # A gunicorn worker's ledger (SKILLS_BACKGROUND=elsewhere) is checkpointed by the maintenance
    # process: the shared thread neither serves it nor wakes for it; otherwise it serves it until started.
    monkeypatch.setenv("SKILLS_BACKGROUND", background)
    store = TranscriptStore(tmp_path / "t.db")
    store.record(long_row(0))
    assert (store in checkpoints._ledgers) is served
    store.close()


def test_a_started_ledger_is_left_to_its_own_thread(tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr(checkpoints, "_checkpoint", lambda ledger: served.append(ledger))
    store = TranscriptStore(tmp_path / "t.db").start()
    store.record(long_row(0))
    store.save_state("dev", "notes", "u0", {"n": 1})  # the connection that made the schema, first used now
    time.sleep(3 * checkpoints.INTERVAL)
    assert store not in served and store not in checkpoints._ledgers
    store.stop()


@pytest.mark.parametrize("synchronous, level", [("NORMAL", 1), ("FULL", 2)])
def test_the_background_threads_commits_sync_as_the_ledgers_do(tmp_path, monkeypatch, synchronous, level):
    # SQLite's own default is FULL: left to it, every indexing slice and merge step synced the WAL
    # to disk while it held the write lock, and captures waited for the disk.
    opened = []
    connect = Connection._connect

    def noted(self, *args, **kwargs):
        conn = connect(self, *args, **kwargs)
        opened.append((threading.current_thread().name, conn.execute("PRAGMA synchronous").fetchone()[0]))
        return conn

    monkeypatch.setattr(Connection, "_connect", noted)
    store = TranscriptStore(tmp_path / "t.db", synchronous=synchronous)
    store.checkpoint_interval = 0.02
    store.start()
    rid = store.record(row(0))
    assert wait_for(lambda: indexed_upto(store) == rid)  # indexed by the background thread
    store.stop()
    assert ("skills-checkpoint", level) in opened
    assert {lvl for _, lvl in opened} == {level}


class Scripted:
    """A ledger whose checkpoints report scripted ``(busy, frames, copied)`` and which notes when writers were held off."""

    def __init__(self, results, *, locked_out=False):
        self.results, self.calls, self.held, self.locked_out = list(results), [], False, locked_out
        self.wal_holds, self.wal_hold_s = 0, 0.0

    def checkpoint(self, mode="PASSIVE", *, conn=None):
        self.calls.append(self.held)
        return self.results.pop(0)

    @contextlib.contextmanager
    def writing(self, *, timeout_ms=None):
        if self.locked_out:
            raise StoreError("Transcript database is locked.")
        self.held = True
        yield
        self.held = False


def test_a_wal_past_its_bound_is_finished_with_writers_held_off(monkeypatch):
    monkeypatch.setattr(checkpoints, "WAL_BOUND_FRAMES", 100)
    small = Scripted([(0, 50, 50)])
    assert checkpoints.checkpoint_bounded(small, None) == (0, 50, 50)
    assert small.calls == [False]  # under the bound: one pass, writers never held
    big = Scripted([(0, 150, 150), (0, 160, 160), (0, 161, 161)])
    assert checkpoints.checkpoint_bounded(big, None) == (0, 161, 161)
    assert big.calls == [False, False, True]  # two passes beside the writers, the last one without them
    assert big.wal_holds == 1 and small.wal_holds == 0  # counted for the benchmarks
    # A long write (an import) holds the lock past the wait: the WAL starts over another time, nothing fails.
    held = Scripted([(0, 150, 150), (0, 160, 160)], locked_out=True)
    assert checkpoints.checkpoint_bounded(held, None) == (0, 150, 150) and held.calls == [False, False]
    assert held.wal_holds == 0


def test_the_pages_copied_beside_the_writers_are_synced_before_writers_are_held_off(monkeypatch):
    # SQLite syncs the database file only after a pass that copied every frame: the held pass's
    # fsync wrote out every page the unlocked passes had copied (48-200 ms at 10M rows), with every
    # writer waiting. They are synced beside the writers first; a third pass copies what came, synced too.
    monkeypatch.setattr(checkpoints, "WAL_BOUND_FRAMES", 100)
    big = Scripted([(0, 150, 150), (0, 160, 160), (0, 162, 162), (0, 163, 163)])
    monkeypatch.setattr(checkpoints, "sync_files", lambda conn: big.calls.append(("sync", big.held)) or True)
    assert checkpoints.checkpoint_bounded(big, None) == (0, 163, 163)
    assert big.calls == [False, False, ("sync", False), False, ("sync", False), True]
    # Where it cannot sync (SQLite's own VFS), the passes are as before.
    plain = Scripted([(0, 150, 150), (0, 160, 160), (0, 161, 161)])
    monkeypatch.setattr(checkpoints, "sync_files", lambda conn: False)
    assert checkpoints.checkpoint_bounded(plain, None) == (0, 161, 161) and plain.calls == [False, False, True]
