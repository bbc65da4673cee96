"""``PostgresLedger``: the transcript ledger on PostgreSQL (psycopg 3, a connection pool), words sealed per user."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool

from ...errors import StoreError
from ..ledger import Ledger
from . import chain, probe, schema, warmkeys
from . import spool as spool_file
from .columns import SEALED_COLUMNS, STORED
from .copying import CopyingMixin
from .export import ExportMixin
from .keyring import Keyring
from .privacy import PrivacyMixin
from .reads import ReadsMixin
from .search import SearchMixin
from .sessions import SessionsMixin
from .state import StateMixin
from .writes import WritesMixin

if TYPE_CHECKING:
    from ..spool import Spool
    from ..sqlite.chain import ChainReport

__all__ = ["PostgresLedger", "SEALED_COLUMNS", "DEFAULT_KEY_FILE"]

log = logging.getLogger("skills_sdk.transcripts")

#: Where the key file is when neither ``key_file=`` nor ``SKILLS_LEDGER_KEY_FILE`` names one.
DEFAULT_KEY_FILE = os.path.join("var", "ledger.key")


class PostgresLedger(WritesMixin, ReadsMixin, ExportMixin, StateMixin, SearchMixin, PrivacyMixin, SessionsMixin, CopyingMixin,
                     Ledger):
    """The ledger on PostgreSQL: many skill servers on many hosts share one database.

    >>> ledger = open_ledger("postgresql://skills@db.internal/ledger")     # doctest: +SKIP
    >>> ledger.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})   # doctest: +SKIP
    1

    Every write commits before it returns (``synchronous_commit`` as the server has it: on by
    default). Opening migrates the schema (``migrate=False`` leaves it to ``skills ledger
    migrate``) and makes the day partitions ahead. What a user said and heard is sealed with
    AES-GCM under a data key per (developer, skill, user), kept wrapped under the key file's key
    (``key_file``, else ``$SKILLS_LEDGER_KEY_FILE``, else ``var/ledger.key``; every host needs the
    same file); see :mod:`.crypto` for why erasure then reaches the WAL and earlier backups.
    """

    #: Any error of the server's or of libpq's: a turn's row is spooled, never its answer failed. Not
    #: only the lost connection (StoreError): after a failover the URL can reach a server that takes
    #: no writes (SQLSTATE 25006, an InternalError), or a DEALLOCATE ALL can catch a statement, as the
    #: SQLite ledger spools on any sqlite3.Error.
    errors: tuple[type[BaseException], ...] = (psycopg.Error, StoreError, OSError)

    def __init__(self, url: str, *, key_file: str | None = None, spool_path: str | None = None,
                 min_size: int = 1, max_size: int = 8, migrate: bool = True, timeout: float = 10.0,
                 maintenance_interval: float = 3600.0, write_timeout: float = 2.0, scrub_delay: float = 1.0,
                 warm: bool = True) -> None:
        self.url = url
        self.timeout = timeout
        self.min_size, self.max_size = min_size, max_size
        self.spool_path = spool_path or os.environ.get("SKILLS_SPOOL") or os.path.join("var", "ledger.spool")
        self.maintenance_interval = maintenance_interval
        self.write_timeout = write_timeout
        #: How long a started ledger lets erasures gather before one key ratchet scrubs them all.
        self.scrub_delay = scrub_delay
        self._pool: tuple[int, ConnectionPool] | None = None
        self._pool_lock = threading.Lock()
        self._bound = threading.local()  # a connection being warmed, which this thread's reads then use
        self._warm = False  # set once the schema is there: new connections plan the hot reads first
        self._maintainer: tuple[int, threading.Event, threading.Thread, threading.Event] | None = None
        self._preloaded = False  # the keys of the users seen lately opened (once: a fork inherits them)
        # Named as the SQLite ledger names it: audit's helpers salt user-id hashes with it on either backend.
        self._privacy_secret: bytes | None = None
        self.keys = Keyring(self, key_file or os.environ.get("SKILLS_LEDGER_KEY_FILE") or DEFAULT_KEY_FILE)
        #: How many capture modes this process set: a turn's mode read with its state is used while unchanged.
        self.consent_changes = 0
        #: The migrations this opening applied (``skills ledger migrate`` reports them).
        self.applied: list[int] = []
        if migrate:
            self.applied = self.migrate()
        elif self.schema_version() != len(schema.MIGRATIONS):
            raise StoreError(f"The ledger schema at {_safe(url)} is at version {self.schema_version()}, this "
                             f"skills_sdk needs {len(schema.MIGRATIONS)}: run `skills ledger migrate --db URL`.")
        self.keys.bind()
        self.secret()
        self.make_partitions()
        self._warm = warm
        if warm:
            with contextlib.ExitStack() as held:  # the connections opened before the schema was there
                for conn in [held.enter_context(self.connection()) for _ in range(min_size)]:
                    self.warm(conn)

    # -- connections and lifecycle --------------------------------------------------------------
    @property
    def pool(self) -> ConnectionPool:
        """This process's connection pool (a forked worker makes its own: connections do not cross a fork)."""
        pid = os.getpid()
        current = self._pool
        if current is not None and current[0] == pid:
            return current[1]
        with self._pool_lock:
            if self._pool is None or self._pool[0] != pid:
                # Statements are prepared on their second use and planned once, generically: planning a
                # query over a hundred day partitions took 12 ms, running it 1.8 ms (a user's history).
                pool = ConnectionPool(self.url, min_size=self.min_size, max_size=self.max_size, open=False,
                                      timeout=self.timeout, kwargs={"autocommit": True, "prepare_threshold": 1},
                                      configure=self._configure, name="skills-ledger")
                try:
                    pool.open(wait=True, timeout=self.timeout)
                except Exception as exc:  # PoolTimeout: the server is down, or refuses us
                    pool.close()
                    raise StoreError(f"Cannot reach the PostgreSQL ledger at {_safe(self.url)} ({_why(self.url, exc)}); "
                                     "is the server up and the URL right?") from exc
                self._pool = (pid, pool)
            return self._pool[1]

    def connection(self, timeout: float | None = None) -> _Checkout:
        """A pooled autocommit connection (waiting ``timeout`` s at most for one); a lost server is a :class:`StoreError`."""
        return _Checkout(self, timeout)

    def start_background(self) -> None:
        """Start the maintenance thread (partitions ahead, owed re-keys and key ratchets, token migration); idempotent."""
        pid = os.getpid()
        if self._maintainer is None or self._maintainer[0] != pid:
            if not self._preloaded:  # a worker forked after the start holds the keys its parent opened
                self._preloaded = True
                self._open_recent_keys()
            stop, wake = threading.Event(), threading.Event()
            thread = threading.Thread(target=self._maintain, args=(stop, wake), name="skills-ledger-maintenance",
                                      daemon=True)
            self._maintainer = (pid, stop, thread, wake)
            wake.set()  # scrubs and a token migration a crash interrupted are resumed now, not at the first tick
            thread.start()

    def _open_recent_keys(self) -> None:
        """Before the first turn, not beside it: the keys of the users seen lately, so that after a
        restart their captures stay one statement each (0.2-0.3 s at 1M rows; see warmkeys.py)."""
        try:
            with self.connection(timeout=self.write_timeout) as conn:
                warmkeys.preload(self.keys, conn)
        except (StoreError, psycopg.Error) as exc:
            log.warning("the keys of the users seen lately were not opened (%s); their captures read them", exc)

    def stop_background(self) -> None:
        """Stop the maintenance thread and close this process's connections (they reopen on next use)."""
        running, self._maintainer = self._maintainer, None
        if running is not None and running[0] == os.getpid():
            running[1].set()
            running[3].set()
            running[2].join(timeout=10)
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None and pool[0] == os.getpid():
            pool[1].close()

    close = stop_background

    def scrub_soon(self) -> bool:
        """Ask this process's maintenance thread to ratchet the key file shortly; False when none runs here."""
        running = self._maintainer
        if running is None or running[0] != os.getpid() or not running[2].is_alive():
            return False
        running[3].set()
        return True

    def _maintain(self, stop: threading.Event, wake: threading.Event) -> None:
        due = time.monotonic() + self.maintenance_interval
        while not stop.is_set():
            woken = wake.wait(max(0.0, due - time.monotonic()))
            if stop.is_set():
                return
            try:
                if woken:
                    # Erasures arriving together share one ratchet (it re-wraps every key: seconds at a
                    # million keys), so an erasure answers in milliseconds and is scrubbed moments later.
                    wake.clear()
                    stop.wait(self.scrub_delay)
                else:
                    due = time.monotonic() + self.maintenance_interval
                    self.make_partitions()
                self.finish_scrubs()
                if not self.migrate_tokens(batches=50):
                    wake.set()  # more rows to migrate: the next part after scrub_delay (a stop is seen between)
            except Exception:  # an unreachable database is retried on the next tick
                log.exception("ledger maintenance failed; retrying in %.0f s", self.maintenance_interval)

    def schema_version(self) -> int:
        """The version of the ledger schema in the database."""
        with self.connection() as conn:
            return schema.schema_version(conn)

    def migrate(self) -> list[int]:
        """Bring the schema to this version's (``skills ledger migrate``); returns the migrations applied."""
        with self.connection() as conn:
            return schema.migrate(conn)

    def make_partitions(self, days: Sequence[str] | None = None) -> list[str]:
        """Make the day partitions for ``days`` (default: yesterday to a week ahead); returns those made."""
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.PARTITION_LOCK,))
            return schema.ensure_days(conn, list(days) if days is not None else schema.ahead())

    def ratchet(self) -> int:
        """Re-wrap every data key under the key file's next key and destroy the current one; the new epoch."""
        return self.keys.ratchet()

    def verify_chain(self) -> ChainReport:
        """Walk the tamper-evident chains (:mod:`.chain`): ``ok``, or the first row changed, deleted or inserted outside."""
        with self.connection() as conn:
            return chain.verify(conn, self.secret(), STORED)

    def secret(self) -> bytes:
        """This ledger's random secret (salts user-id hashes in receipts and audit rows, signs page cursors)."""
        if self._privacy_secret is None:
            with self.connection() as conn:
                self._privacy_secret = bytes.fromhex(conn.execute(
                    "SELECT value FROM ledger_meta WHERE name = 'secret'").fetchone()[0])
        return self._privacy_secret

    # -- the rest of the interface: health and the spool (search, erasure, keys, audit: the mixins) ---------
    def check_writable(self, *, timeout_ms: int = 250) -> str | None:
        """None when a row can be written now: the server answers within ``timeout_ms``, is a primary, and a
        capture's locks are free (none held past ``timeout_ms`` by a migration or a ``LOCK TABLE``: :mod:`.probe`)."""
        try:
            with self.pool.connection(timeout=timeout_ms / 1000) as conn:
                return probe.check_writable(conn, timeout_ms)
        except Exception as exc:  # a pool timeout, a refused connection, a statement timeout
            return f"the PostgreSQL ledger cannot be written: {exc}"

    def spool(self) -> Spool | None:
        """This host's spool file (``spool_path``, else ``$SKILLS_SPOOL``, else ``var/ledger.spool``)."""
        from ..spool import Spool

        return Spool(self.spool_path)

    def record_spooled(self, source: str, rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]],
                       refuse: Callable[[Mapping[str, Any], BaseException], None]) -> int:
        return spool_file.record_spooled(self, source, rows_from, refuse)

    def forget_spooled(self, source: str) -> None:
        spool_file.forget_spooled(self, source)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Every new pooled connection: its settings, then (once the schema is there) the hot reads planned."""
        _settings(conn)
        if self._warm:
            # Planning the hot reads takes the tables' locks: under a migration's it waited as long as
            # the lock was held, and the pool could open no connection meanwhile. Past write_timeout
            # it gives up, and the connection starts cold.
            conn.execute(f"SET lock_timeout = {max(1, int(self.write_timeout * 1000))}")
            try:
                self.warm(conn)
            finally:
                conn.execute("RESET lock_timeout")  # the role's or database's own, if an operator set one


class _Checkout:
    """The context :meth:`PostgresLedger.connection` returns: the pool's ``getconn`` and ``putconn``.

    A class, not a generator context, and not the pool's own ``connection()`` (which adds two generator
    layers and the connection's context, committing an autocommit connection's nothing): 4-5 µs of a
    capture's client CPU, measured in a loop. What a failing block left open is rolled back by the
    pool's ``putconn``, which also discards a broken connection.
    """

    __slots__ = ("ledger", "timeout", "pool", "conn")

    def __init__(self, ledger: PostgresLedger, timeout: float | None) -> None:
        self.ledger = ledger
        self.timeout = timeout
        self.pool: ConnectionPool | None = None

    def __enter__(self) -> psycopg.Connection[Any]:
        ledger = self.ledger
        bound = getattr(ledger._bound, "conn", None)
        if bound is not None:  # a new connection, warming up (see warm)
            return bound  # type: ignore[no-any-return]
        pool = ledger.pool
        try:
            self.conn = pool.getconn(timeout=self.timeout)
        except psycopg.OperationalError as exc:  # PoolTimeout: no connection within the timeout
            raise StoreError(f"The PostgreSQL ledger cannot be reached: {exc}".strip()) from exc
        self.pool = pool
        return self.conn

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if self.pool is None:  # the warming connection: its caller's own
            return
        self.pool.putconn(self.conn)  # rolls back a transaction left open; discards a broken connection
        if isinstance(exc, psycopg.OperationalError):
            raise StoreError(_cancelled(exc) or f"The PostgreSQL ledger cannot be reached: {exc}".strip()) from exc


def _settings(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection: prepared statements keep one generic plan (partitions pruned when it runs), no JIT.

    A generic plan is costed over every day partition, so at 10M rows a search window that reads a
    few index entries crossed ``jit_above_cost`` and compiled its expressions for every partition
    first: 0.8 s of JIT for a 1 ms statement.
    """
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("SET jit = off")


def _cancelled(exc: psycopg.OperationalError) -> str | None:
    """What to say when the server cancelled a statement (a timeout an operator set, or a cancel), else None.

    A ``statement_timeout`` or ``lock_timeout`` set on the role or the database reaches the ledger's
    connections too: what it cancelled was rolled back whole, and the server was reached.
    """
    said = exc.diag.message_primary or " ".join(str(exc).split())
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        setting = "lock_timeout"
    elif isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in said:
        setting = "statement_timeout"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        return (f"PostgreSQL cancelled the ledger's statement ({said}); what it was doing was rolled back. "
                "Run it again.")
    else:
        return None
    return (f"PostgreSQL cancelled the ledger's statement ({said}): the {setting} set for this role or database "
            "is shorter than this operation needs, and what it was doing was rolled back. Raise or lift it for the "
            f"ledger's role (ALTER ROLE ... SET {setting} = 0), or for one command by running it with "
            f"PGOPTIONS='-c {setting}=0' set")


def _safe(url: str) -> str:
    from ..ledger import _safe as mask

    return mask(url)


def _why(url: str, exc: Exception) -> str:
    """What the server said to one plain connection: the pool's timeout ("incomplete after 10.0 sec") hides it."""
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as direct:
        return " ".join(str(direct).split())
    return str(exc)
