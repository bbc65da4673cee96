"""``PostgresLedger``: the transcript ledger on PostgreSQL (psycopg 3, a connection pool), words sealed per user."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool

from ...errors import StoreError
from ..ledger import Ledger
from ..record import INSERT_COLUMNS, storage_values, utcnow_iso
from . import chain, crypto, keyring, schema
from . import sealed as sealed_words
from . import spool as spool_file
from .columns import CLEAR_COLUMNS, COPY_COLUMNS, COPY_TYPES, SEALED_COLUMNS, SELECT, STORED, STORED_USER
from .copying import CopyingMixin
from .export import ExportMixin
from .keyring import Keyring
from .privacy import PrivacyMixin
from .reads import ReadsMixin
from .search import SearchMixin
from .sessions import SessionsMixin
from .state import StateMixin

if TYPE_CHECKING:
    from ..spool import Spool
    from ..sqlite.chain import ChainReport

__all__ = ["PostgresLedger", "SEALED_COLUMNS", "DEFAULT_KEY_FILE"]

log = logging.getLogger("skills_sdk.transcripts")

#: Where the key file is when neither ``key_file=`` nor ``SKILLS_LEDGER_KEY_FILE`` names one.
DEFAULT_KEY_FILE = os.path.join("var", "ledger.key")
_POS = {c: i for i, c in enumerate(INSERT_COLUMNS)}
_SELECT = SELECT
_CLEAR_NAMES = tuple(f"c{i}" for i in range(len(CLEAR_COLUMNS)))
_CLEAR_PARAMS = ", ".join(f"%({n})s" for n in _CLEAR_NAMES)
# A row and its chain entry, in one statement. With words: the user's data key is share-locked by
# the insert, so an erasure that deletes it waits for this commit (then deletes this row too), and
# a key already erased inserts nothing. So is the search group's key the tokens were made with: an
# erasure retiring it waits for this commit (the group's re-key then finds this row), and a key
# retired already inserts nothing (the capture retries with the group's new key).
_ROW = ("INSERT INTO transcripts (" + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS) + ", key_id, sealed, tokens) SELECT "
        + _CLEAR_PARAMS + ", k.id, %(sealed)s, %(tokens)s::integer[] FROM k, g WHERE g.n = 1 OR %(group_id)s::bigint IS NULL "
        "RETURNING id")
_KEY = "k AS (SELECT id FROM user_keys WHERE id = %(key_id)s FOR KEY SHARE), "
# Read before the row is inserted, so it also tells the insert trigger, for this statement's
# transaction, that the statement keeps its user's day itself (schema.USER_DAYS_KEPT, ``ud`` below).
_GROUP = (f"g AS (SELECT count(*) AS n, set_config('{schema.USER_DAYS_KEPT}', 'kept', true) FROM (SELECT 1 FROM "
          "search_groups WHERE id = %(group_id)s AND NOT retired FOR SHARE) s), ")
# The user's day (see userdays.py), from the chain entry's CTE so that the lane is locked before the
# day, the order every remover takes them in.
_DAY = (", ud AS (INSERT INTO user_days (user_id, day, top_id) SELECT %(c3)s, left(%(c0)s, 10), h.id FROM h "
        "ON CONFLICT (user_id, day) DO UPDATE SET top_id = excluded.top_id WHERE user_days.top_id < excluded.top_id)")
# A stateful turn's state, written by the same statement when (and only when) its row is: one
# round trip, where BEGIN, the row, the state and COMMIT were four.
_STATE = (", st AS (INSERT INTO user_state (developer_id, skill, user_id, key_id, sealed, updated_at) "
          "SELECT %(c1)s, %(c2)s, %(c3)s, %(key_id)s, %(state)s, %(c0)s FROM h ON CONFLICT (developer_id, skill, "
          "user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at)")
# With a new user's key made by the statement (keyring.MAKE): the row's id, or the user's existing key.
_MADE_OR_OLD = "SELECT id, NULL::integer, NULL::bytea FROM c UNION ALL SELECT id, epoch, wrapped FROM old"
#: The capture's statement by (makes the user's key, writes the turn's state).
_CAPTURE = {(made, state): chain.insert_sql(_ROW, (keyring.MAKE if made else _KEY) + _GROUP,
                                            after=_DAY + (_STATE if state else ""),
                                            returning=_MADE_OR_OLD if made else "SELECT id FROM c")
            for made in (False, True) for state in (False, True)}
_INSERT_PLAIN = chain.insert_sql("INSERT INTO transcripts (" + ", ".join(f'"{c}"' for c in CLEAR_COLUMNS)
                                 + ") VALUES (" + _CLEAR_PARAMS + ") RETURNING id")
_COPY_COLUMNS, _COPY_TYPES, _USER = COPY_COLUMNS, COPY_TYPES, STORED_USER
_END = CLEAR_COLUMNS.index("end_session")
#: Attempts of a capture whose user's key an erasure destroys meanwhile (each makes a new key).
_KEY_RETRIES = 8
_PARTITION_LOCK = 0x534B5054


class PostgresLedger(ReadsMixin, ExportMixin, StateMixin, SearchMixin, PrivacyMixin, SessionsMixin, CopyingMixin, Ledger):
    """The ledger on PostgreSQL: many skill servers on many hosts share one database.

    >>> ledger = open_ledger("postgresql://skills@db.internal/ledger")     # doctest: +SKIP
    >>> ledger.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    1

    Every write commits before it returns (``synchronous_commit`` as the server has it: on by
    default). Opening migrates the schema (``migrate=False`` leaves it to ``skills ledger
    migrate``) and makes the day partitions ahead. What a user said and heard is sealed with
    AES-GCM under a data key per (developer, skill, user), kept wrapped under the key file's key
    (``key_file``, else ``$SKILLS_LEDGER_KEY_FILE``, else ``var/ledger.key``; every host needs the
    same file); see :mod:`.crypto` for why erasure then reaches the WAL and earlier backups.
    """

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
                    raise StoreError(f"Cannot reach the PostgreSQL ledger at {_safe(self.url)} ({exc}); is the "
                                     "server up and the URL right?") from exc
                self._pool = (pid, pool)
            return self._pool[1]

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection (waiting ``timeout`` s at most for one); a lost server is a :class:`StoreError`."""
        bound = getattr(self._bound, "conn", None)
        if bound is not None:  # a new connection, warming up (see warm)
            yield bound
            return
        try:
            with self.pool.connection(timeout=timeout) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreError(f"The PostgreSQL ledger cannot be reached: {exc}".strip()) from exc

    def start_background(self) -> None:
        """Start the maintenance thread (partitions ahead, owed re-keys and key ratchets, token migration); idempotent."""
        pid = os.getpid()
        if self._maintainer is None or self._maintainer[0] != pid:
            stop, wake = threading.Event(), threading.Event()
            thread = threading.Thread(target=self._maintain, args=(stop, wake), name="skills-ledger-maintenance",
                                      daemon=True)
            self._maintainer = (pid, stop, thread, wake)
            wake.set()  # scrubs and a token migration a crash interrupted are resumed now, not at the first tick
            thread.start()

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
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
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

    # -- writing ---------------------------------------------------------------------------
    def _prepare(self, conn: Any, row: Mapping[str, Any], *, fresh: bool = False
                 ) -> tuple[list[Any], int | None, bytes | None, list[int] | None, int | None]:
        """The clear values, key id, sealed words, search tokens and the id of their group key, of one row."""
        clear, words = _split(row)
        if not words:
            return clear, None, None, None, None
        key_id, key = self.keys.user_key(conn, clear[1], clear[2], clear[3], fresh=fresh)
        return clear, key_id, *self._seal(conn, clear, words, key_id, key, fresh=fresh)

    def _seal(self, conn: Any, clear: list[Any], words: dict[str, Any], key_id: int, key: bytes, *, fresh: bool = False
              ) -> tuple[bytes, list[int] | None, int | None]:
        """A row's words sealed under its user's key, their search tokens and the id of the tokens' group key."""
        sealed = crypto.seal(key, sealed_words.plaintext(words), str(key_id).encode())
        terms = crypto.words(words.get("utterance")) | crypto.words(words.get("speech"))
        if not terms:
            return sealed, None, None
        group_id, group_key = self.keys.group_key(conn, clear[1], crypto.group_of(clear[3]), fresh=fresh)
        return sealed, crypto.group_tokens(group_key, terms), group_id

    def record(self, row: Mapping[str, Any], *, state: str | None = None) -> int:
        """Write one transcript row (and, given ``state`` JSON, the user's skill state) and commit; returns its id.

        One statement, so one round trip: the row, its chain entry, the state, and a new user's data
        key (:meth:`.Keyring.offer`) commit together. Waits ``write_timeout`` seconds at most for a
        connection (as do the capture path's reads, :meth:`capture_mode` and :meth:`load_state`):
        with the server gone, capture spools the row instead of holding the user's answer.
        """
        secret = self.secret()
        clear, words = _split(row)
        with self.connection(timeout=self.write_timeout) as conn:
            if not words:
                return self._record_plain(conn, clear, state, secret)
            owner = (clear[1], clear[2], clear[3])
            fresh = False
            for _ in range(_KEY_RETRIES):
                made: dict[str, Any] | None = None
                if fresh:
                    key_id, key = self.keys.user_key(conn, *owner, fresh=True)
                else:
                    key_id, key, made = self.keys.offer(conn, *owner)
                sealed, tokens, group_id = self._seal(conn, clear, words, key_id, key, fresh=fresh)
                params: dict[str, Any] = dict(zip(_CLEAR_NAMES, clear, strict=True))
                params.update(chain_lane=chain.lane_of(clear[_USER]), chain_day=clear[0][:10], chain_at=utcnow_iso(),
                              chain_digest=chain.digest(secret, (*clear, key_id, sealed, tokens)),
                              key_id=key_id, sealed=sealed, tokens=_array(tokens), group_id=group_id)
                if made is not None:
                    params.update(made)
                if state is not None:
                    params["state"] = crypto.seal(key, state.encode(), f"state:{key_id}".encode())
                got = conn.execute(_CAPTURE[made is not None, state is not None], params).fetchone()
                if got is not None and (made is None or got[1] is None):
                    if made is not None:
                        self.keys.made(owner, key_id, key)
                    return int(got[0])
                if got is not None:  # the user had a key (from before this process, or another host's): use it
                    self.keys.unused(key_id)
                    self.keys.existing(owner, got[0], got[1], got[2])
                    continue
                # Nothing written: the key was erased meanwhile on some host (a new key), or its group
                # re-keyed, or (a key offered) the epoch moved or another host is making the same key.
                self.keys.forget([key_id])
                self.keys.forget_groups([group_id] if group_id is not None else [])
                fresh = True
        raise StoreError(f"The user's data key was erased {_KEY_RETRIES} times while this row was being written; "
                         "not recorded (the capture spools it).")

    def _record_plain(self, conn: Any, clear: list[Any], state: str | None, secret: bytes) -> int:
        """A row without words (no key to share-lock) and its chain entry; its state in the same transaction."""
        params: dict[str, Any] = dict(zip(_CLEAR_NAMES, clear, strict=True))
        params.update(chain_lane=chain.lane_of(clear[_USER]), chain_day=clear[0][:10], chain_at=utcnow_iso(),
                      chain_digest=chain.digest(secret, (*clear, None, None, None)))
        # One statement, so without state it commits on its own (autocommit): one round trip, not three.
        with conn.transaction() if state is not None else contextlib.nullcontext():
            got = conn.execute(_INSERT_PLAIN, params).fetchone()
            if state is not None:
                self._save_state(conn, clear[1], clear[2], clear[3], state, clear[0])
        return int(got[0])

    def record_many(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write many rows with one ``COPY`` in one transaction (imports, spool replay); returns how many."""
        with self.connection() as conn:
            prepared = self.prepare_many(conn, rows)
            with conn.transaction():
                self.copy_in(conn, prepared)
        return len(prepared)

    def prepare_many(self, conn: Any, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Rows made ready for :meth:`copy_in` (sealed, keyed, tokenised), before its transaction."""
        owners = {(r.get("developer_id"), r.get("skill"), r.get("user_id")) for r in rows
                  if any(r.get(c) is not None for c in SEALED_COLUMNS)}
        self.keys.load_many(conn, {o for o in owners if all(isinstance(v, str) and v for v in o)})
        return [self._prepare(conn, r) for r in rows]

    def copy_in(self, conn: Any, prepared: Sequence[tuple[Any, ...]]) -> None:
        """``COPY`` prepared rows into the ledger inside the caller's transaction, their days' partitions first."""
        days = {c[0][:10] for c, *_ in prepared if _is_day(c[0][:10])}
        if days - set(schema.partition_days(conn)):
            # Another host may be making the same day's partition for its own import: one at a time
            # (the second then finds it made), not a "relation already exists" for the second.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
            schema.ensure_days(conn, days)
        # Keys erased since they were cached would take rows under a destroyed key (COPY takes no
        # share lock per row): lock them all first, and refuse the batch if one is gone.
        # So are the search group keys of their tokens (a group retired meanwhile re-keys without these rows).
        ids = sorted({p[1] for p in prepared if p[1] is not None})
        groups = sorted({p[4] for p in prepared if p[4] is not None})
        if ids:
            alive = conn.execute("SELECT count(*) FROM (SELECT id FROM user_keys WHERE id = ANY(%s) FOR KEY SHARE) k",
                                 (ids,)).fetchone()[0]
            live = conn.execute("SELECT count(*) FROM (SELECT id FROM search_groups WHERE id = ANY(%s) AND NOT retired "
                                "FOR SHARE) g", (groups,)).fetchone()[0]
            if alive != len(ids) or live != len(groups):
                self.keys.forget(ids)
                self.keys.forget_groups(groups)
                raise StoreError("A user in this batch was erased while it was being written; nothing was written. "
                                 "Write the batch again: its erased user gets a new key.")
        chain.lock_lanes(conn, {c[_USER] for c, *_ in prepared})  # before the COPY's trigger locks their users' days
        # The ids are taken first, so that each row's chain entry can name it (COPY returns nothing).
        ids = [r[0] for r in conn.execute("SELECT nextval('transcripts_id_seq') FROM generate_series(1, %s)",
                                          (len(prepared),)).fetchall()]
        with conn.cursor().copy("COPY transcripts (id, " + STORED + ") FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["bigint", *_COPY_TYPES])
            for rid, (clear, key_id, sealed, tokens, _) in zip(ids, prepared, strict=True):
                cp.write_row((rid, *clear, key_id, sealed, tokens))
        secret = self.secret()
        chain.append(conn, ((chain.lane_of(clear[_USER]), rid, clear[0][:10], "insert",
                             chain.digest(secret, (*clear, key_id, sealed, tokens)))
                            for rid, (clear, key_id, sealed, tokens, _) in zip(ids, prepared, strict=True)))

    # -- the rest of the interface: health and the spool (search, erasure, keys, audit: the mixins) ---------
    def check_writable(self, *, timeout_ms: int = 250) -> str | None:
        """None when a row can be written now: the server answers within ``timeout_ms`` and is not a read-only replica."""
        try:
            with self.pool.connection(timeout=timeout_ms / 1000) as conn, conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                if conn.execute("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                                ).fetchone()[0]:
                    return "the PostgreSQL server is a read-only replica; point --db at the primary"
        except Exception as exc:  # a pool timeout, a refused connection, a statement timeout
            return f"the PostgreSQL ledger cannot be written: {exc}"
        return None

    def spool(self) -> Spool | None:
        """This host's spool file (``spool_path``, else ``$SKILLS_SPOOL``, else ``var/ledger.spool``)."""
        from ..spool import Spool

        return Spool(self.spool_path)

    def record_spooled(self, source: str, rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]]
                       ) -> int:
        return spool_file.record_spooled(self, source, rows_from)

    def forget_spooled(self, source: str) -> None:
        spool_file.forget_spooled(self, source)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Every new pooled connection: its settings, then (once the schema is there) the hot reads planned."""
        _settings(conn)
        if self._warm:
            self.warm(conn)


def _split(row: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A row's clear values (:data:`CLEAR_COLUMNS` order) and its non-empty words, as stored."""
    values = storage_values(row)
    clear = [values[_POS[c]] for c in CLEAR_COLUMNS]
    if clear[_END] is not None:
        clear[_END] = bool(clear[_END])
    return clear, {c: values[_POS[c]] for c in SEALED_COLUMNS if values[_POS[c]] is not None}


def _array(numbers: list[int] | None) -> str | None:
    """An integer array as PostgreSQL's literal: psycopg dumps a list element by element in Python (a tenth of a capture's CPU)."""
    return None if numbers is None else "{" + ",".join(map(str, numbers)) + "}"


def _settings(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection: prepared statements keep one generic plan (partitions pruned when it runs), no JIT.

    A generic plan is costed over every day partition, so at 10M rows a search window that reads a
    few index entries crossed ``jit_above_cost`` and compiled its expressions for every partition
    first: 0.8 s of JIT for a 1 ms statement.
    """
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("SET jit = off")


def _is_day(text: str) -> bool:
    try:
        schema.partition_name(text)
        return True
    except ValueError:
        return False


def _safe(url: str) -> str:
    from ..ledger import _safe as mask

    return mask(url)
