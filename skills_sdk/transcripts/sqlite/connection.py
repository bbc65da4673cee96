"""SQLite connections and locking: one connection per thread, the write lock, transactions, the background thread."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..._logs import LazyLogger
from ...errors import StoreError
from ..ledger import DEFAULT_DB
from . import checkpoints
from .checkpoints import checkpoint_bounded
from .dbfile import make_ledger_file
from .driver import DB_ERRORS, Transaction, configured_io, open_uri, pid, sqlite3
from .filelock import FileLock
from .seal import define_seal
from .slices import Slices
from .walfile import configured_reserve

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["Connection", "Transaction", "open_uri"]

log = LazyLogger("skills_sdk.transcripts")

#: The capture connection's page cache (KiB): what a capture reads of the six B-trees it writes
#: stays cached at 10M rows and 1,000 developers (SQLite's default is 2 MB; see :attr:`Connection.capture_conn`).
CAPTURE_CACHE_KIB = 16384


def _make_var_folder(path: str) -> None:
    """Make the ledger's folder if it is a missing ``var/`` (where the defaults put it); refuse any other missing folder.

    A typo in a folder of ``--db`` or ``SKILLS_DB`` would otherwise become a new, empty ledger in
    folders made for it, while the real one sits elsewhere.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(parent):
        return
    blocker = next((p for p in _ancestors(parent) if os.path.lexists(p) and not os.path.isdir(p)), None)
    if blocker is not None:  # mkdir -p cannot help: a file stands where a folder would go
        raise StoreError(f"The transcript database {path!r} cannot be made: {blocker} is a file, not a folder. "
                         "Give a --db (or SKILLS_DB) path under a folder.")
    if os.path.basename(parent) != "var" or not os.path.isdir(os.path.dirname(parent)):
        import shlex  # only for this message: a capturing process's start-up does not load it

        raise StoreError(f"No folder {parent} for the transcript database {path!r}. Create it "
                         f"(mkdir -p {shlex.quote(parent)}) or give the path of an existing one.")
    os.makedirs(parent, mode=0o700, exist_ok=True)


def _ancestors(folder: str) -> list[str]:
    """``folder`` and the folders above it, nearest first."""
    out = [folder]
    while (up := os.path.dirname(out[-1])) != out[-1]:
        out.append(up)
    return out


class Connection(Slices):
    """One SQLite database file (or ``":memory:"``) as this process uses it: connections, locks, background work.

    Each thread gets its own connection; every connection has ``secure_delete`` on, so deleted
    text does not linger in free pages. A file database runs in WAL mode with ``synchronous``
    NORMAL by default (a row survives a killed process; ``FULL`` survives power loss too); its
    checkpoints, and the batches that fill the full-text index, run on one background thread
    between :meth:`start` and :meth:`stop` (checkpoints on the process's shared one otherwise:
    never inside a writer's commit).

    ``busy_timeout_ms`` is how long work waits for a lock another writer holds; a capture waits
    ``capture_timeout_ms`` at most (1 s by default, well inside Alexa's 8 s for the whole turn),
    after which the guard spools its row instead of holding the user's reply.
    """

    #: The statement that gives the next row's id (set by ensure_schema; the id goes into the row's seal).
    next_id_sql: str

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, synchronous: str = "NORMAL",
                 busy_timeout_ms: int = 10_000, capture_timeout_ms: int = 1_000) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}.")
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.capture_timeout_ms = min(capture_timeout_ms, busy_timeout_ms)
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_db_wrapper: sqlite_utils.Database | None = None
        self._lock = threading.RLock()  # serialises the shared in-memory connection only
        self._write_lock = threading.Lock()  # serialises this process's capture writes
        # One entry per writer of this process waiting for the write lock (appends and pops are
        # atomic): the background indexer does not start a slice while a capture waits.
        self._waiting: deque[None] = deque()
        self._file_lock = FileLock(self.path + "-lock")  # every process's writers, one at a time
        self._checkpointer: tuple[int, threading.Event, threading.Thread] | None = None
        self._checkpoint_lock = threading.Lock()
        self._started = False  # between start() and stop(): the background thread runs
        self._reserve_due = threading.Event()  # set at start and by a TRUNCATE checkpoint: write the WAL out
        #: The ``-wal`` file's working size in bytes (:meth:`reserve_wal`; None: worked out at first use).
        self.wal_reserve: int | None = configured_reserve()
        configured_io()  # a value it does not know stops the ledger here, not at its first capture
        self._created = False
        self.checkpoint_interval = 0.5
        #: When the background thread indexes (it looks ``index_ticks`` times per checkpoint interval):
        #: after ``index_idle`` s without a capture in this process (in slices of ``index_slice`` rows,
        #: ``index_pause`` s apart), or, while captures keep coming, once ``index_backlog`` rows wait.
        self.index_idle, self.index_slice, self.index_pause, self.index_backlog, self.index_ticks = 0.05, 100, 0.001, 100, 5
        #: time.monotonic() of this process's last capture; never yet is -inf, not 0.0: the clock counts
        #: from the machine's boot, so 0.0 is "a moment ago" on a machine up for less than ``index_idle``.
        self.last_capture = float("-inf")
        #: The capture connection's page cache in KiB, filled only as pages are read (:attr:`capture_conn`).
        self.capture_cache_kib = CAPTURE_CACHE_KIB
        #: How many times a checkpoint held writers off so the WAL could start over, and for how long in all (s).
        self.wal_holds, self.wal_hold_s = 0, 0.0
        if not self.memory:
            _make_var_folder(self.path)
            # Made here, owner-only whatever the umask, before SQLite opens it: SQLite gives the -wal
            # and -shm files it makes the database file's mode, so they are 0600 too.
            make_ledger_file(self.path)

    def created(self) -> None:
        """The schema exists: from now on a connection opens the existing file or fails, so a file removed
        under a running server is not silently replaced by an empty one.

        The connection that made the schema stays this thread's, handed to a checkpointer at its first
        use (:attr:`conn`): a server starts the ledger's own thread before that, and the process's
        shared one, started for it here, only stood by (its start waited for the new thread, 0.2-3 ms).
        """
        self._created = True
        if not self.memory and getattr(self._local, "conn", None) is not None:
            self._local.pid = -pid()  # not this process's pid: the next use of conn takes the slow path once

    # -- connections -------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``with store.transaction()`` to group)."""
        if self.memory:
            if self._memory_conn is None:
                self._memory_conn = self._connect()
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != pid():
            if conn is not None and self._local.pid == -pid():  # the schema's connection (created), first used now
                self._local.pid = pid()
                if not self._started:
                    checkpoints.serve(self)
                return conn
            conn = self._connect()
            self._local.conn = conn
            self._local.db = None
            self._local.pid = pid()
        return conn

    @property
    def capture_conn(self) -> sqlite3.Connection:
        """This thread's connection for captures: its busy timeout is ``capture_timeout_ms``, not the long one.

        A second connection, not a ``PRAGMA busy_timeout`` switched around each capture: two
        pragmas cost about as much as the chain entry of the row. Its page cache is
        ``capture_cache_kib``: a capture walks six B-trees from the root, and at 10M rows the inner
        pages of the user and skill indexes alone outgrow SQLite's default 2 MB, so every capture
        read pages back (from the OS, or the disk once the file outgrows the OS's cache).
        """
        if self.memory:
            return self.conn
        conn = getattr(self._local, "capture", None)
        if conn is None or getattr(self._local, "capture_pid", None) != pid():
            conn = self._connect(self.capture_timeout_ms)
            conn.execute(f"PRAGMA cache_size = -{int(self.capture_cache_kib)}")
            self._local.capture = conn
            self._local.capture_pid = pid()
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

    def _connect(self, busy_timeout_ms: int | None = None) -> sqlite3.Connection:
        wait = self.busy_timeout_ms if busy_timeout_ms is None else busy_timeout_ms
        try:
            conn = sqlite3.connect(
                self.path if self.memory or not self._created else open_uri(self.path),
                timeout=wait / 1000, isolation_level=None, check_same_thread=False, uri=True,
                # A text search prepares a statement per day table it reads (two for the newest):
                # with 90 days of retention the default cache of 128 evicted them on every search,
                # and re-preparing cost about a tenth of its CPU (mean 2.1 -> 1.85 ms, p99 7-9.5 ->
                # 5.6-6.3 ms at 1M rows and 1,000 developers). A cached statement is a few KB.
                cached_statements=1024,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(wait)}")
            define_seal(conn)  # a capture's INSERT seals its row
            if not self.memory:
                conn.execute("PRAGMA journal_mode = WAL")
                # Checkpoints (the only fsyncs under synchronous=NORMAL) run on a background thread,
                # never inside the commit that crossed SQLite's threshold (15-50 ms at 1M rows): the
                # ledger's own once started (a forked worker starts its own here), else the
                # process's shared one (a CLI command, a script, a test).
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                if self._started:
                    self._start_checkpointer()
                elif self._created:  # else the constructor's: served from its first use (created)
                    checkpoints.serve(self)
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
        except DB_ERRORS as exc:
            raise StoreError(f"Cannot open transcript database {self.path!r}: {exc}.") from exc
        return conn

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def background_running(self) -> bool:
        """True between :meth:`start_background` and :meth:`stop_background`: this ledger's own thread indexes and checkpoints."""
        return self._started

    def start_background(self) -> None:
        """Start the background indexer and checkpointer (a file database; idempotent; per process after a fork; no thread under SKILLS_BACKGROUND=elsewhere: server/maintenance.py)."""
        if not self.memory:
            self._started = True
            self._reserve_due.set()
            self._start_checkpointer()

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
            if self._checkpointer is not None and self._checkpointer[0] == os.getpid() or os.environ.get("SKILLS_BACKGROUND") == "elsewhere":
                return
            stop = threading.Event()
            t = threading.Thread(target=self._checkpoint_loop, args=(stop,), name="skills-checkpoint", daemon=True)
            self._checkpointer = (os.getpid(), stop, t)
            t.start()

    def _checkpoint_loop(self, stop: threading.Event) -> None:
        conn = None
        tick = 0
        # The WAL is written out on the first checkpoint tick: a process that lives less writes no 84 MB it never uses.
        while not stop.wait(self.checkpoint_interval / self.index_ticks):
            tick += 1
            try:
                if conn is None:
                    # Set up as every connection of the ledger is: before, SQLite's default FULL made
                    # each indexing slice and merge step fsync the WAL while holding the write lock
                    # (50-550 ms on a busy disk, for 0.3-1 ms of CPU), and every capture waited.
                    conn = self._connect(1000)
                if tick % self.index_ticks == 0 and self._reserve_due.is_set():
                    self.reserve_wal(conn=conn, stop=stop)
                    self._reserve_due.clear()  # not when it failed with an error: tried again next tick
                self._index_when_due(conn, stop)
                if tick % self.index_ticks:  # the rest once per checkpoint interval
                    continue
                self._after_indexing(conn)
                # PASSIVE: copies what no reader needs, never waits for writers or readers, and
                # takes no write lock, so captures go on while it writes and syncs.
                checkpoint_bounded(self, conn)
            except (StoreError, *DB_ERRORS) as exc:  # a busy or missing database is tried again on the next tick
                log.debug("background checkpoint skipped: %s", exc)
        if conn is not None:
            conn.close()

    def _after_indexing(self, conn: sqlite3.Connection) -> None:
        """What a subclass adds to every background tick, after indexing (the ledger: erasures' owed scrubs)."""

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
        if mode.upper() == "TRUNCATE":
            self._reserve_due.set()  # the WAL is empty now: the background thread writes it out again
        return int(busy), int(pages), int(copied)

    def close(self) -> None:
        """Close this thread's connections (others close when their threads end) and end the shared thread's checkpoints."""
        if not self.memory:
            checkpoints.forget(self)
        conn = self._memory_conn if self.memory else getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            if self.memory:
                self._memory_conn = self._memory_db_wrapper = None
            else:
                self._local.conn = self._local.db = None
        capture = None if self.memory else getattr(self._local, "capture", None)
        if capture is not None:
            capture.close()
            self._local.capture = None

    @contextlib.contextmanager
    def writing(self, *, timeout_ms: int | None = None, yielding: bool = False) -> Iterator[None]:
        """Hold the store's write lock: this process's threads, then every process (``<db>-lock``).

        Writers queue here, woken the moment the previous write ends, instead of in SQLite's busy
        handler, which polls in sleeps of whole milliseconds: under several gunicorn workers that
        polling left a sixth of the CPU idle and put 80 ms on the p99. The lock file holds nothing.

        ``timeout_ms`` bounds the wait (a capture's); past it :class:`StoreError` says the database
        is locked. ``yielding`` is the background indexer's: it is not counted as a waiting writer.
        """
        fd = self.take_write_lock(timeout_ms, yielding=yielding)
        try:
            yield
        finally:
            self.release_write_lock(fd)

    def take_write_lock(self, timeout_ms: int | None = None, *, yielding: bool = False) -> int:
        """:meth:`writing` without the context manager (a capture's: its generator cost 2 us); give the result to :meth:`release_write_lock`."""
        if self.memory:  # one shared connection: its lock is enough
            self._lock.acquire()
            return -1
        if not yielding:
            self._waiting.append(None)
        try:
            got = self._write_lock.acquire(timeout=-1 if timeout_ms is None else timeout_ms / 1000)
        finally:
            if not yielding:
                self._waiting.pop()
        if not got:
            raise StoreError(f"Transcript database is locked: another writer in this process held the write lock "
                             f"of {self.path} for more than {timeout_ms} ms.")
        try:
            return self._file_lock.acquire(timeout_ms)
        except BaseException:
            self._write_lock.release()
            raise

    def release_write_lock(self, fd: int) -> None:
        """Let go of the write lock :meth:`take_write_lock` took (``fd`` is what it returned)."""
        if self.memory:
            self._lock.release()
            return
        try:
            self._file_lock.release(fd)
        finally:
            self._write_lock.release()

    def transaction(self) -> Transaction:
        """``with store.transaction():`` groups writes into one immediate transaction."""
        return Transaction(self.conn)

