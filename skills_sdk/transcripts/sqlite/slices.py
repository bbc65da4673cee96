"""The background thread's work in slices that give way to captures: the full-text index filled, the WAL written out."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from .fts import CHANGE_SLICE, FTS_IDLE, FTS_UPTO, index_pending, merge_step
from .walfile import reserve_slice, settle, working_size

if TYPE_CHECKING:
    from .driver import sqlite3
    from .filelock import FileLock

__all__ = ["Slices"]


class Slices:
    """What :class:`~.connection.Connection`'s background thread does under the write lock, a slice at a time.

    Each slice holds the write lock for a short while, and the thread lets the captures that wait
    for it go first: a capture waits for one slice at most.
    """

    memory: bool
    path: str
    wal_reserve: int | None
    last_capture: float
    index_idle: float
    index_slice: int
    index_pause: float
    index_backlog: int
    _waiting: deque[None]
    _top_seen = 0  # the newest row id at the last look (_index_when_due)
    _file_lock: FileLock

    if TYPE_CHECKING:
        @property
        def conn(self) -> sqlite3.Connection: ...

        def writing(self, *, timeout_ms: int | None = None, yielding: bool = False) -> contextlib.AbstractContextManager[None]: ...

    def _index_when_due(self, conn: sqlite3.Connection, stop: threading.Event) -> None:
        """Index what waits when it costs captures least: while idle, else once past the backlog bound; in slices.

        Every slice holds the write lock, and a capture that arrives meanwhile waits for it (for
        longer than the slice's CPU when the machine is busy: the indexing thread is descheduled
        while it holds the lock). So while captures keep coming, rows are left to wait until
        ``index_backlog`` of them do, a slice or two at a time (series of ten, a backlog of 1,000
        every half second, ran during half a gunicorn worker's slowest requests), in slices of
        ``index_slice`` rows that give way to captures. Once the process has been
        idle for ``index_idle`` seconds, what waits is indexed the same way. A search indexes what
        waits before it reads, so it never misses a row either way. Each slice's merge step (FTS5
        merges its segments only when told, a few dozen pages at a time) is a hold of its own.

        Captures are seen coming by the rows they add, whichever process made them: the maintenance
        process makes none, and indexed at every tick whatever few rows had come (a slice and a
        merge step: two holds, 20 a second): a slice's fixed cost is nearly half a 100-row one's
        (0.2 of 0.48 ms of CPU).
        """
        waiting, changes, top = conn.execute(f"SELECT coalesce(max(id), 0) - {FTS_UPTO}, EXISTS (SELECT 1 FROM "
                                             "fts_changes), coalesce(max(id), 0) FROM transcripts").fetchone()
        if top > self._top_seen:
            if self._top_seen:  # not the first look: rows came since the last
                self.last_capture = max(self.last_capture, time.monotonic())
            self._top_seen = top
        busy = time.monotonic() - self.last_capture < self.index_idle
        if busy and waiting < self.index_backlog and not changes:  # queued deletes are not left for later
            return
        self._index_in_slices(conn, stop, busy=busy)

    def _give_way(self) -> None:
        """Let the writers that wait for the write lock go first, this process's and the others' (for 50 ms at most).

        In the maintenance process (server/maintenance.py) no capture of its own ever waits: the
        workers' captures do, and are seen through the lock file (:meth:`.FileLock.others_waiting`).
        """
        deadline = time.monotonic() + 0.05
        while (self._waiting or self._file_lock.others_waiting()) and time.monotonic() < deadline:
            time.sleep(0.0002)

    def _index_in_slices(self, conn: sqlite3.Connection, stop: threading.Event, *, busy: bool) -> None:
        """Index what waits in short slices that give way to captures, each followed by a merge step.

        A slice, and its merge step, start only when no writer waits for the write lock, of this
        process or of another (for 50 ms at most, so indexing keeps up under steady load): in the
        maintenance process 14-18% of these holds began while a worker's capture waited, 2-5% since
        it looks at the other processes too. And the thread pauses between slices: a
        lock released and at once taken again by the same thread is never seen free by a waiting
        capture in this process (it needs the GIL first) nor in another (its ``flock`` wakes late).
        Measured: without the pause, a capture that arrived during a backlog waited for the whole
        backlog, slice after slice. While ``busy`` it indexes the whole slices of the backlog it found and returns;
        idle, it stops as soon as captures come again.
        """
        upto, newest = conn.execute(f"SELECT {FTS_UPTO}, coalesce(max(id), 0) FROM transcripts").fetchone()
        if busy and newest - upto > self.index_slice:  # whole slices: the rest waits for the next look
            newest = upto + (newest - upto) // self.index_slice * self.index_slice
        while not stop.is_set():
            self._give_way()
            with self.writing(yielding=True):
                indexed = index_pending(conn, limit=self.index_slice, merge=False, changes=CHANGE_SLICE)
            if indexed:  # the segments FTS5 merges only when told (a step per slice keeps up)
                self._give_way()
                with self.writing(yielding=True):
                    merge_step(conn)
            if conn.execute(FTS_IDLE).fetchone()[0]:
                break
            if busy and conn.execute("SELECT " + FTS_UPTO).fetchone()[0] >= newest:
                break  # the backlog found is indexed: what came meanwhile waits for the bound again
            if not busy and time.monotonic() - self.last_capture < self.index_idle:
                break  # captures again: the rest waits for the next idle moment or the backlog bound
            time.sleep(self.index_pause)

    def reserve_wal(self, *, conn: sqlite3.Connection | None = None, stop: threading.Event | None = None) -> bool:
        """Write the ``-wal`` file out to its working size, so captures write over its blocks instead of growing it.

        The started ledger's background thread calls it on its first tick. Why, and what SQLite
        makes of the zeros: :mod:`.walfile`. A slice at a time under both write locks, giving way to
        captures between slices. True when the file has its working size, False when the disk had no
        room (captures go on; the WAL grows as they come).
        """
        if self.memory:
            return True
        conn = conn or self.conn
        if self.wal_reserve is None:
            self.wal_reserve = working_size(conn.execute("PRAGMA page_size").fetchone()[0])
        first = True
        while stop is None or not stop.is_set():
            self._give_way()
            with self.writing(yielding=True):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    done = reserve_slice(self.path, self.wal_reserve, check_room=first)
                finally:
                    conn.execute("ROLLBACK")
            if done is not None:
                if done and not first:  # written out: flushed now, not by a checkpoint's fsync that waits for it
                    settle(self.path)
                return done
            first = False
        return False

