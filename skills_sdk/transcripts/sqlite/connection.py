"""SQLite connections and locking: one connection per thread, the write lock, transactions, the background checkpointer."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...errors import StoreError
from ..ledger import DEFAULT_DB
from .driver import DB_ERRORS, sqlite3
from .fts import FTS_IDLE, index_pending

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["Connection", "Transaction", "open_uri"]

log = logging.getLogger("skills_sdk.transcripts")


def open_uri(path: str) -> str:
    """The URI that opens the existing database file at ``path`` for writing, never creating one."""
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=rw"


class Connection:
    """One SQLite database file (or ``":memory:"``) as this process uses it: connections, locks, background work.

    Each thread gets its own connection; every connection has ``secure_delete`` on, so deleted
    text does not linger in free pages. A file database runs in WAL mode with ``synchronous``
    NORMAL by default (a row survives a killed process; ``FULL`` survives power loss too); its
    checkpoints, and the batches that fill the full-text index, run on one background thread
    between :meth:`start` and :meth:`stop`.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, synchronous: str = "NORMAL",
                 busy_timeout_ms: int = 10_000) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}.")
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_db_wrapper: sqlite_utils.Database | None = None
        self._lock = threading.RLock()  # serialises the shared in-memory connection only
        self._write_lock = threading.Lock()  # serialises this process's capture writes
        self._flock: tuple[int, int] | None = None  # (pid, fd) of the cross-process write lock file
        self._checkpointer: tuple[int, threading.Event, threading.Thread] | None = None
        self._checkpoint_lock = threading.Lock()
        self._started = False  # between start() and stop(): the background thread runs
        self._created = False
        self.checkpoint_interval = 0.5
        if not self.memory:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, mode=0o700, exist_ok=True)
            # Made here, owner-only whatever the umask, before SQLite opens it: SQLite gives the -wal
            # and -shm files it makes the database file's mode, so they are 0600 too.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))

    def created(self) -> None:
        """The schema exists: from now on a connection opens the existing file or fails, so a file removed
        under a running server is not silently replaced by an empty one."""
        self._created = True

    # -- connections -------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``with store.transaction()`` to group)."""
        if self.memory:
            if self._memory_conn is None:
                self._memory_conn = self._connect()
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.db = None
            self._local.pid = os.getpid()
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection as a sqlite-utils ``Database`` (for schema work and ad-hoc queries).

        sqlite-utils is imported on first use: importing it, and the plugin scan its ``Database``
        runs, was a third of a worker's start-up, and no query on the request path needs it.
        """
        import sqlite_utils

        conn = self.conn
        db = self._memory_db_wrapper if self.memory else getattr(self._local, "db", None)
        if db is None or db.conn is not conn:
            db = sqlite_utils.Database(conn)
            if self.memory:
                self._memory_db_wrapper = db
            else:
                self._local.db = db
        return db

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path if self.memory or not self._created else open_uri(self.path),
                timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False, uri=True,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if not self.memory:
                conn.execute("PRAGMA journal_mode = WAL")
                if self._started:
                    # Checkpoints (the only fsyncs under synchronous=NORMAL) run on the background
                    # thread, not inside the request that happened to cross the WAL threshold. A
                    # forked worker starts its own thread here. Unstarted (a CLI command, a test),
                    # SQLite checkpoints by itself.
                    conn.execute("PRAGMA wal_autocheckpoint = 0")
                    self._start_checkpointer()
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
        except DB_ERRORS as exc:
            raise StoreError(f"Cannot open transcript database {self.path!r}: {exc}.") from exc
        return conn

    # -- lifecycle -------------------------------------------------------------------------
    def start_background(self) -> None:
        """Start the background indexer and checkpointer (a file database; idempotent; per process after a fork)."""
        if not self.memory:
            self._started = True
            self._start_checkpointer()
            conn = getattr(self._local, "conn", None)
            if conn is not None and getattr(self._local, "pid", None) == os.getpid():
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # this thread's open connection too

    def stop_background(self) -> None:
        """Stop the background thread, wait for its last tick, and close this thread's connection."""
        with self._lock:
            self._started = False
            running, self._checkpointer = self._checkpointer, None
        if running is not None and running[0] == os.getpid():
            running[1].set()
            running[2].join(timeout=10)
        self.close()

    def _start_checkpointer(self) -> None:
        with self._lock:
            if self._checkpointer is not None and self._checkpointer[0] == os.getpid():
                return
            stop = threading.Event()
            t = threading.Thread(target=self._checkpoint_loop, args=(stop,), name="skills-checkpoint", daemon=True)
            self._checkpointer = (os.getpid(), stop, t)
            t.start()

    def _checkpoint_loop(self, stop: threading.Event) -> None:
        conn = None
        while not stop.wait(self.checkpoint_interval):
            try:
                if conn is None:
                    conn = sqlite3.connect(open_uri(self.path), timeout=1.0, isolation_level=None,
                                           check_same_thread=False, uri=True)
                    conn.execute("PRAGMA busy_timeout = 1000")
                    conn.execute("PRAGMA secure_delete = ON")
                while True:  # in short slices: a capture waits for one slice at most
                    with self.writing():
                        index_pending(conn, limit=100)
                    if conn.execute(FTS_IDLE).fetchone()[0]:
                        break
                self.checkpoint(conn=conn)
            except DB_ERRORS as exc:  # a busy database is retried on the next tick
                log.debug("background checkpoint skipped: %s", exc)
        if conn is not None:
            conn.close()

    def checkpoint(self, mode: str = "PASSIVE", *, conn: sqlite3.Connection | None = None) -> tuple[int, int, int]:
        """Copy WAL pages into the database file; returns SQLite's ``(busy, wal_pages, copied)``.

        ``TRUNCATE`` also empties the ``-wal`` file, which erasure needs; it reports ``busy=1`` when
        another connection's read transaction kept it from finishing.
        """
        if mode.upper() not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"checkpoint mode must be PASSIVE, FULL, RESTART or TRUNCATE, got {mode!r}.")
        c = conn or self.conn
        # One checkpoint at a time in this process: an erasure's TRUNCATE that found the background
        # thread's PASSIVE one running slept in SQLite's busy handler (~450 ms) instead of waiting here.
        with self._checkpoint_lock:
            busy, pages, copied = c.execute(f"PRAGMA wal_checkpoint({mode.upper()})").fetchone()
        return int(busy), int(pages), int(copied)

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = self._memory_conn if self.memory else getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            if self.memory:
                self._memory_conn = self._memory_db_wrapper = None
            else:
                self._local.conn = self._local.db = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock: this process's threads, then every process (``<db>-lock``).

        Writers queue here, woken the moment the previous write ends, instead of in SQLite's busy
        handler, which polls in sleeps of whole milliseconds: under several gunicorn workers that
        polling left a sixth of the CPU idle and put 80 ms on the p99. The lock file holds nothing.
        """
        if self.memory:  # one shared connection: its lock is enough
            with self._lock:
                yield
            return
        with self._write_lock:
            fd = self._lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock_fd(self) -> int:
        pid = os.getpid()
        if self._flock is None or self._flock[0] != pid:  # a forked worker needs its own open file
            fd = os.open(self.path + "-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._flock = (pid, fd)
        return self._flock[1]

    def transaction(self) -> Transaction:
        """``with store.transaction():`` groups writes into one immediate transaction."""
        return Transaction(self.conn)



class Transaction:
    """``with Transaction(conn) as conn:`` is one immediate transaction, committed or rolled back."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")

