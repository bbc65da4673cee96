"""WAL checkpoints off the writers' path: for ledgers no background thread of their own serves, one thread per process.

SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1,000 pages):
measured on a 1M-row ledger, one capture in a hundred paid 15-50 ms for it (copying a thousand
scattered pages into the database file and two ``fsync``), three quarters of the capture's mean.
So no connection of a file ledger checkpoints by itself (``wal_autocheckpoint = 0``): a started
ledger's own thread checkpoints (:meth:`~.connection.Connection.start_background`), and every
other one (a CLI command, a script, a test) is served here, by a daemon thread shared by every
ledger of the process, which checkpoints a WAL that changed since its last tick, from the
ledger's first use once made (not while its constructor makes the schema: a server starts the
ledger's own thread right after, and this one would only stand by) until :meth:`~.connection.Connection.close` (which waits for a checkpoint
under way and closes the thread's connection itself: once a ledger is closed, nothing of it acts
on the file, which another SQLite library in the same process may then open safely).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from ..._logs import LazyLogger
from ...errors import StoreError
from .driver import DB_ERRORS, open_uri, sqlite3, sync_files

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["serve", "forget", "WAL_BOUND_FRAMES", "checkpoint_bounded"]

log = LazyLogger("skills_sdk.transcripts")

#: How many frames (64 MB of 4 KB pages) the WAL may hold before a checkpoint holds writers off
#: long enough for it to start over (see :func:`checkpoint_bounded`). Beyond its size it bounds
#: a commit's cost: a frame written past the end of the file cost 13.4 us here, one written over
#: a page of it already in the OS cache 7.9 us, some 55 us per capture of ten frames. Each time
#: it is reached every writer waits for two ``fsync`` s (5-10 ms on a quiet disk, up to 100 ms on
#: a busy one): at 4,096 frames that was every 600 captures (seven frames each), under HTTP load
#: several times a second and a cause of the p99; at 16,384 it is every 2,300.
WAL_BOUND_FRAMES = 16384

_lock = threading.Lock()  # guards the set of ledgers served and the thread's start
_working = threading.Lock()  # held while the thread checkpoints a ledger (and by forget())
_ledgers: weakref.WeakSet[Connection] = weakref.WeakSet()
_conns: weakref.WeakKeyDictionary[Connection, sqlite3.Connection] = weakref.WeakKeyDictionary()
_thread: tuple[int, threading.Thread] | None = None  # (pid, thread) of the shared checkpointer
#: How often the shared thread looks at each WAL (a stat; a checkpoint only when it changed).
INTERVAL = 0.1
#: How long a checkpoint waits for writers to finish before it holds them off; past it, the WAL
#: starts over at a later checkpoint instead.
HOLD_WAIT_MS = 250


def checkpoint_bounded(ledger: Connection, conn: sqlite3.Connection) -> tuple[int, int, int]:
    """A PASSIVE checkpoint on ``conn``; once the WAL holds :data:`WAL_BOUND_FRAMES` frames, one that lets it start over.

    SQLite writes the WAL from its start again only when a write begins after a checkpoint copied
    every frame, which writers that keep coming never allow: a checkpoint copies the frames
    committed before it began while they add more. So past the bound, a second unlocked pass
    copies what came during the first, and a last one runs with writers held off: it has the
    few frames of that moment to copy and its two ``fsync`` s, once per bound.

    Those two were most of the hold (48-200 ms at 10M rows): SQLite syncs the database file only
    after a pass that copied every frame, so the held pass's ``fsync`` wrote out every page the
    unlocked passes had copied, thousands of scattered ones. They are synced first, unlocked
    (:func:`~.driver.sync_files`), then a third unlocked pass copies what came meanwhile and its
    pages are synced too: the held pass syncs only the frames and pages of its own last moment.
    """
    busy, frames, copied = ledger.checkpoint(conn=conn)
    if frames >= WAL_BOUND_FRAMES:
        ledger.checkpoint(conn=conn)
        if sync_files(conn):
            ledger.checkpoint(conn=conn)
            sync_files(conn)
        try:
            with ledger.writing(timeout_ms=HOLD_WAIT_MS):
                held = time.perf_counter()
                try:
                    busy, frames, copied = ledger.checkpoint(conn=conn)
                finally:  # counted for the benchmarks: each hold is a wait for whichever capture came meanwhile
                    ledger.wal_holds += 1
                    ledger.wal_hold_s += time.perf_counter() - held
        except StoreError:  # a long write (an import, an erasure) holds the lock: not this time
            pass
    return busy, frames, copied


def _before_fork() -> None:
    """Fork only while the shared thread is outside SQLite (it calls SQLite only holding ``_working``).

    A fork that caught it inside SQLite, holding one of SQLite's own mutexes (its allocator's,
    taken on every allocation), left the child to wait forever at its first SQLite call: a
    worker forked by a gunicorn master that had opened the ledger, or a test's child, hung.
    """
    _working.acquire()


def _after_fork_in_parent() -> None:
    _working.release()


def _after_fork() -> None:
    """A forked child starts its own thread; the locks are made anew (the child's copy of ``_working`` is held)."""
    global _lock, _working
    _lock, _working = threading.Lock(), threading.Lock()
    _conns.clear()  # the parent's connections are not the child's to use


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork)


def serve(ledger: Connection) -> None:
    """Checkpoint ``ledger``'s WAL from this process's shared thread while the ledger has no thread of its own.

    Not under ``SKILLS_BACKGROUND=elsewhere`` (a gunicorn worker): the maintenance process checkpoints
    the file, and a thread here would wake ten times a second to skip the ledger once it is started.
    """
    global _thread
    if os.environ.get("SKILLS_BACKGROUND") == "elsewhere":
        return
    with _lock:
        _ledgers.add(ledger)
        if _thread is not None and _thread[0] == os.getpid():
            return
        t = threading.Thread(target=_loop, name="skills-checkpoints", daemon=True)
        _thread = (os.getpid(), t)
        t.start()


def forget(ledger: Connection) -> None:
    """Stop checkpointing ``ledger`` (its connections are closing): wait for a checkpoint under way, close the thread's connection."""
    with _lock:
        _ledgers.discard(ledger)
    with _working:
        conn = _conns.pop(ledger, None)
        if conn is not None:
            conn.close()


def _loop() -> None:
    seen: weakref.WeakKeyDictionary[Connection, tuple[int, int]] = weakref.WeakKeyDictionary()
    while True:  # a daemon: it ends with the process
        time.sleep(INTERVAL)
        with _lock:
            ledgers = list(_ledgers)
        for ledger in ledgers:
            if ledger.background_running:  # its own thread checkpoints it
                continue
            try:
                st = os.stat(ledger.path + "-wal")
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            if seen.get(ledger) == stamp:
                continue
            seen[ledger] = stamp
            with _working:
                if ledger in _ledgers:  # not forgotten meanwhile
                    _checkpoint(ledger)
        del ledgers


def _checkpoint(ledger: Connection) -> None:
    """Checkpoint ``ledger`` on the thread's own connection to it (kept: opened once, closed by :func:`forget`)."""
    try:
        conn = _conns.get(ledger)
        if conn is None:
            conn = sqlite3.connect(open_uri(ledger.path), timeout=1.0, isolation_level=None,
                                   check_same_thread=False, uri=True)
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            _conns[ledger] = conn
        checkpoint_bounded(ledger, conn)
    except DB_ERRORS as exc:  # gone, unreadable or busy: tried again when its WAL next changes
        log.debug("background checkpoint of %s skipped: %s", ledger.path, exc)
