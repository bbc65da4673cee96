"""``TranscriptStore``: the transcript ledger on SQLite through sqlite-utils, and per-user skill state."""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import itertools
import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlite_utils

from ..errors import StoreError
from ._sqlite import DB_ERRORS, FTS5_SECURE_DELETE, sqlite3
from .chain import CHAIN_DDL, chain_inserted
from .ledger import CAPTURE_MODES, DEFAULT_DB, Ledger, Page, Where
from .query import TranscriptFilter
from .query import where as _where_sql

if TYPE_CHECKING:
    from .chain import ChainReport
    from .keys import KeyInfo
    from .sessions import ConsoleSession
    from .spool import Spool

from .record import (
    COLUMNS,
    INSERT_COLUMNS,
    JSON_COLUMNS,
    JsonText,
    canonical_json,
    decode,
    encode_json,
    split_kinds,
    storage_values,
    utcnow_iso,
)

__all__ = ["TranscriptStore", "COLUMNS", "utcnow_iso", "DEFAULT_DB", "JsonText", "encode_json"]

log = logging.getLogger("skills_sdk.transcripts")

_STATE_SQL = (
    "INSERT INTO user_state (developer_id, skill, user_id, state, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (developer_id, skill, user_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
_INSERT_COLUMNS = list(INSERT_COLUMNS)
_INSERT_SQL = "INSERT INTO transcripts ({}) VALUES ({})".format(
    ", ".join(f'"{c}"' for c in _INSERT_COLUMNS), ", ".join("?" for _ in _INSERT_COLUMNS)
)
_values = storage_values
decode_row = decode
_canonical_json = canonical_json
_split_kinds = split_kinds


def open_uri(path: str) -> str:
    """The URI that opens the existing database file at ``path`` for writing, never creating one."""
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=rw"


class TranscriptStore(Ledger):
    """The transcript ledger: one row per skill response, tagged with developer and user.

    >>> store = TranscriptStore(":memory:")
    >>> store.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    1
    >>> [r["speech"] for r in store.user_history("u1")]
    ['Hi.']

    ``path`` is a file (created with its parent folder) or ``":memory:"``. Each thread gets its own
    connection; every write commits before it returns (WAL journal, ``synchronous`` NORMAL by
    default: a row survives a killed process; pass ``synchronous="FULL"`` to survive power loss too).
    ``secure_delete`` is on for every connection, so deleted text does not linger in free pages.
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
        self._memory_db: sqlite_utils.Database | None = None
        self._lock = threading.RLock()  # serialises the shared in-memory connection only
        self._write_lock = threading.Lock()  # serialises this process's capture writes
        self._flock: tuple[int, int] | None = None  # (pid, fd) of the cross-process write lock file
        self._checkpointer: tuple[int, threading.Event, threading.Thread] | None = None
        self._checkpoint_lock = threading.Lock()
        self.checkpoint_interval = 0.5
        self._created = False
        if not self.memory:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, mode=0o700, exist_ok=True)
            # Made here, owner-only whatever the umask, before SQLite opens it: SQLite gives the -wal
            # and -shm files it makes the database file's mode, so they are 0600 too.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        self.ensure_schema()
        # From now on a connection opens the existing file or fails: a file removed under a
        # running server is not silently replaced by an empty one.
        self._created = True

    # -- connections -------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's sqlite-utils Database (autocommit; use ``with store.transaction()`` to group)."""
        if self.memory:
            if self._memory_db is None:
                self._memory_db = sqlite_utils.Database(self._connect())
            return self._memory_db
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite_utils.Database(self._connect())
            self._local.db = db
            self._local.pid = os.getpid()
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
                # Checkpoints (the only fsyncs under synchronous=NORMAL) run on a background thread,
                # not inside the request that happened to cross the WAL threshold.
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._start_checkpointer()
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
        except DB_ERRORS as exc:
            raise StoreError(f"Cannot open transcript database {self.path!r}: {exc}.") from exc
        return conn

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> TranscriptStore:
        """Start the background indexer and checkpointer (a file ledger; idempotent, per process)."""
        if not self.memory:
            self._start_checkpointer()
        return self

    def stop(self) -> None:
        """Stop the background thread, wait for its last tick, and close this thread's connection."""
        with self._lock:
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
                    if conn.execute(_FTS_IDLE).fetchone()[0]:
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
        c = conn or self.db.conn
        # One checkpoint at a time in this process: an erasure's TRUNCATE that found the background
        # thread's PASSIVE one running slept in SQLite's busy handler (~450 ms) instead of waiting here.
        with self._checkpoint_lock:
            busy, pages, copied = c.execute(f"PRAGMA wal_checkpoint({mode.upper()})").fetchone()
        return int(busy), int(pages), int(copied)

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        db = self._memory_db if self.memory else getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            if self.memory:
                self._memory_db = None
            else:
                self._local.db = None

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

    def transaction(self) -> _Transaction:
        """``with store.transaction():`` groups writes into one immediate transaction."""
        return _Transaction(self.db.conn)

    # -- schema ---------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the tables and indexes if they are missing (safe to call from many processes)."""
        db = self.db
        with self.transaction():
            if not db["transcripts"].exists():
                # AUTOINCREMENT: an id is never handed out twice, even after the newest rows are
                # erased, so the full-text index needs no per-insert trigger to notice reuse (that
                # trigger was a fifth of the insert) and an old cursor never points at a new row.
                types = {int: "INTEGER", str: "TEXT", float: "REAL"}
                cols = ",\n   ".join(
                    '"id" INTEGER PRIMARY KEY AUTOINCREMENT' if c == "id" else
                    f'"{c}" {types[t]}' + (" NOT NULL" if c in ("created_at", "developer_id", "skill", "user_id") else "")
                    for c, t in COLUMNS.items())
                db.conn.execute(f'CREATE TABLE "transcripts" (\n   {cols}\n)')
            t = db["transcripts"]
            # The queries users run: a user's history, a developer's pages (newest first, keyset on id:
            # /v1 and the console), a developer's and a skill's timeline (time ranges, exports,
            # retention), a session's. Each index costs a page write per capture, so only these five.
            for cols in (["user_id", "id"], ["developer_id", "id"], ["developer_id", "created_at"],
                         ["skill", "created_at"], ["session_id"]):
                t.create_index(cols, if_not_exists=True)
            if not db["user_state"].exists():
                db["user_state"].create(
                    {"developer_id": str, "skill": str, "user_id": str, "state": str, "updated_at": str},
                    pk=("developer_id", "skill", "user_id"),
                )
            db["user_state"].create_index(["user_id"], if_not_exists=True)
            if not db["consent"].exists():
                db["consent"].create({"user_id": str, "mode": str, "updated_at": str}, pk="user_id")
            _privacy_schema(db.conn)
        for hook in _SCHEMA_HOOKS:
            hook(self)

    # -- writing ---------------------------------------------------------------------
    def record(self, row: Mapping[str, Any], *, state: str | None = None) -> int:
        """Write one transcript row and commit it; returns its id.

        Missing columns are stored as NULL; JSON columns (slots, card, directives, transaction)
        accept Python values or already-encoded strings. ``state`` (JSON) replaces the user's
        persistent attributes for the row's skill in the same commit.
        """
        values = _values(row)
        conn = self.db.conn
        # Writers in this process queue on a lock rather than on SQLite's busy handler, which
        # sleeps in whole milliseconds: a capture never waits longer than the write before it.
        with self.writing(), _Transaction(conn):
            if state is not None:
                conn.execute(_STATE_SQL, (row["developer_id"], row["skill"], row["user_id"], state, values[0]))
            rid = int(conn.execute(_INSERT_SQL, values).lastrowid or 0)
            chain_inserted(conn, self.secret(), rid, rid)  # tamper evidence, in the same commit
        return rid

    def record_many(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write many rows in one transaction (imports, spool replay); returns how many."""
        prepared = [_values(row) for row in rows]
        with self.transaction() as conn:
            first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM transcripts").fetchone()[0]
            conn.executemany(_INSERT_SQL, prepared)
            chain_inserted(conn, self.secret(), first, first + len(prepared) - 1)
        return len(prepared)

    # -- reading -------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [decode_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def get(self, transcript_id: int) -> dict[str, Any] | None:
        """One transcript by id, or None."""
        rows = self._rows("SELECT * FROM transcripts WHERE id = ?", (transcript_id,))
        return rows[0] if rows else None

    def user_history(self, user_id: str, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        """A user's transcripts across every skill, newest first."""
        if before_id is None:
            return self._rows("SELECT * FROM transcripts WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))
        return self._rows(
            "SELECT * FROM transcripts WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (user_id, before_id, limit),
        )

    def session_turns(self, session_id: str) -> list[dict[str, Any]]:
        """Every turn of one session, in order."""
        return self._rows("SELECT * FROM transcripts WHERE session_id = ? ORDER BY id", (session_id,))

    def count(self, where: Where = None, /, **fields: Any) -> int:
        """How many transcripts match, e.g. ``count(user_id="u1")``; an unknown field raises ValueError."""
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("count() does not search text; leave q out, or page through query() for matches.")
        clauses, params = _where_sql(f)
        sql = "SELECT count(*) FROM transcripts" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return int(self.db.conn.execute(sql, params).fetchone()[0])

    def iter_transcripts(self, where: Where = None, /, *, batch: int = 2000, **fields: Any
                         ) -> Iterator[dict[str, Any]]:
        """Every matching transcript, oldest first, read in batches (memory stays flat).

        Filtered by developer or skill alone, rows come in ``created_at`` order (ties by id), which
        the ledger's own rows share with id order; otherwise in id order.
        """
        names: list[str] = []
        for raw in self._walk("*", TranscriptFilter.of(where, **fields), batch, names):
            yield decode(dict(zip(names, raw[:-2], strict=True)))

    def iter_jsonl(self, where: Where = None, /, *, batch: int = 10_000, **fields: Any) -> Iterator[str]:
        """The rows ``iter_transcripts`` yields, each already encoded as one compact JSON line (no newline).

        >>> lines = store.iter_jsonl(developer_id="acme")   # doctest: +SKIP

        SQLite builds each object (``json_object``), so an export does no per-row Python work; the
        text equals ``json.dumps(row, ensure_ascii=False, separators=(",", ":"))`` of the decoded row.
        """
        for raw in self._walk(self._json_select(), TranscriptFilter.of(where, **fields), batch, []):
            yield raw[0]

    def _json_select(self) -> str:
        """``json_object(...)`` over every column, decoding as ``decode_row`` does."""
        conn = self.db.conn
        conn.create_function("skills_split_kinds", 1, _split_kinds, deterministic=True)
        conn.create_function("skills_json", 1, _canonical_json, deterministic=True)
        conn.create_function("skills_float", 1, repr, deterministic=True)
        parts = []
        for name, kind in conn.execute("SELECT name, upper(type) FROM pragma_table_info('transcripts') ORDER BY cid"):
            col = '"' + name.replace('"', '""') + '"'
            if name in JSON_COLUMNS:
                # The store writes canonical JSON (see JsonText), which json() keeps as it is. Text
                # that is not valid JSON (written around the store) is decoded as decode_row does.
                expr = (f"CASE WHEN {col} IS NULL THEN NULL WHEN json_valid({col}) THEN json({col}) "
                        f"ELSE json(skills_json({col})) END")
            elif kind in ("REAL", "FLOAT"):
                # SQLite prints 15 significant digits, Python the shortest text that round-trips; they
                # agree on a value with at most 3 decimals below 1e11, which is how the store writes
                # latency. Rows written before it rounded (ids up to exact_from) are checked, in
                # Python when they need more digits; round() costs a printf, so only for those.
                exact_from = int(conn.execute("SELECT coalesce((SELECT value FROM privacy_meta WHERE name = "
                                              "'exact_latency_from'), 0)").fetchone()[0])
                old = f"(id <= {exact_from} AND {col} != round({col}, 3))" if exact_from else "0"
                expr = (f"CASE WHEN typeof({col}) = 'real' AND (abs({col}) >= 1e11 OR {old}) "
                        f"THEN json(skills_float({col})) ELSE {col} END")
            elif name == "end_session":
                expr = f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN json('true') ELSE json('false') END"
            elif name == "redacted":
                expr = (f"CASE WHEN coalesce({col}, '') = '' THEN json('[]') WHEN instr({col}, ',') = 0 "
                        f"THEN json_array({col}) ELSE json(skills_split_kinds({col})) END")
            else:
                expr = col
            parts.append(f"'{name}', {expr}")
        return "json_object(" + ", ".join(parts) + ")"

    def _walk(self, select: str, f: TranscriptFilter, batch: int, names: list[str]) -> Iterator[tuple[Any, ...]]:
        """Raw result tuples of ``SELECT {select}`` over the matching rows, keyset-paged, oldest first.

        Each tuple ends with two keyset columns (created_at, id) after the selected ones.
        """
        if f.q is not None:
            raise ValueError("an export does not search text; leave q out, or page through query() for matches.")
        clauses, params = _where_sql(f)
        conn = self.db.conn
        # The keyset columns ride at the end of each result tuple.
        sel = f"{select}, created_at AS _k_at, id AS _k_id"
        if f.user_id is None and f.session_id is None and (f.developer_id is not None or f.skill is not None):
            # Walk the (developer_id | skill, created_at) index in its own order, keyset on
            # (created_at, id): "id > ? ORDER BY id" there sorts every row of the developer per batch.
            base = " AND ".join(clauses) or "1"
            order = f"ORDER BY created_at, id LIMIT {int(batch)}"
            cur = conn.execute(f"SELECT {sel} FROM transcripts WHERE {base} {order}", params)
            next_sql = f"SELECT {sel} FROM transcripts WHERE {base} AND (created_at, id) > (?, ?) {order}"
            key = lambda r: [*params, r[-2], r[-1]]  # noqa: E731
        else:
            cond = " AND ".join(clauses + ["id > ?"])
            next_sql = f"SELECT {sel} FROM transcripts WHERE {cond} ORDER BY id LIMIT {int(batch)}"
            cur = conn.execute(next_sql, [*params, 0])
            key = lambda r: [*params, r[-1]]  # noqa: E731
        names[:] = [d[0] for d in cur.description][:-2]
        while True:
            # Streamed, not fetched: memory stays flat whatever the batch, and each batch is one
            # short read (a long one would keep erasures from truncating the WAL).
            n, last = 0, None
            for last in cur:
                n += 1
                yield last
            if n < batch or last is None:
                return
            cur = conn.execute(next_sql, key(last))

    # -- consent ------------------------------------------------------------------
    def capture_mode(self, user_id: str) -> str:
        """What this user lets us record: ``full``, ``redacted`` (the default) or ``metadata``."""
        row = self.db.conn.execute("SELECT mode FROM consent WHERE user_id = ?", (user_id,)).fetchone()
        return row[0] if row else "redacted"

    def set_capture_mode(self, user_id: str, mode: str, *, actor: str | None = None) -> None:
        """Set what is recorded for ``user_id`` from now on (audited in the same commit when ``actor`` is given)."""
        if mode not in CAPTURE_MODES:
            raise ValueError(f"capture mode must be 'full', 'redacted' or 'metadata', got {mode!r}.")
        sql = ("INSERT INTO consent (user_id, mode, updated_at) VALUES (?, ?, ?) "
               "ON CONFLICT (user_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at")
        if actor is None:
            self.db.conn.execute(sql, (user_id, mode, utcnow_iso()))
            return
        from .audit import audit

        with self.transaction() as conn:
            conn.execute(sql, (user_id, mode, utcnow_iso()))
            audit(self, actor, "consent", {"user_id": user_id, "mode": mode}, 1, conn=conn)

    # -- per-user skill state ------------------------------------------------------
    def load_state(self, developer_id: str, skill: str, user_id: str) -> dict[str, Any]:
        """The persistent attributes of ``user_id`` in ``skill`` (empty dict if none)."""
        row = self.db.conn.execute(
            "SELECT state FROM user_state WHERE developer_id = ? AND skill = ? AND user_id = ?",
            (developer_id, skill, user_id),
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def save_state(self, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any]) -> None:
        """Replace the persistent attributes of ``user_id`` in ``skill``."""
        self.db.conn.execute(
            _STATE_SQL, (developer_id, skill, user_id, json.dumps(dict(state), separators=(",", ":")), utcnow_iso())
        )

    # -- the rest of the Ledger interface, over the modules that hold each concept ---------------
    def query(self, where: Where = None, /, *, developer_id: str | None = None, user_id: str | None = None,
              before_id: int | None = None, limit: int = 50) -> Page:
        from .search import search

        return search(self, TranscriptFilter.of(where), developer_id=developer_id, user_id=user_id,
                      before_id=before_id, limit=limit)

    def skill_stats(self, developer_id: str, skill: str, *, since: str, until: str | None = None) -> dict[str, Any]:
        from .stats import skill_stats

        return skill_stats(self, developer_id, skill, since=since, until=until)

    def erase_user(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                   actor: str = "cli", reason: str = "request", check: bool = True) -> dict[str, Any]:
        from .erasure import erase_user

        return erase_user(self, user_id, skill=skill, developer_id=developer_id, actor=actor, reason=reason,
                          check=check)

    def schedule_erasure(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                         due: datetime.datetime, reason: str = "skill_disabled") -> None:
        from .erasure import schedule_erasure

        schedule_erasure(self, user_id, skill=skill, developer_id=developer_id, due=due, reason=reason)

    def receipts(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        from .erasure import iter_receipts

        return iter_receipts(self, user_id=user_id)

    def purge(self, skills: Mapping[str, Any] | Iterable[Any] = (), *, default_days: int | None = None,
              now: datetime.datetime | str | None = None, actor: str = "purge",
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        from .retention import purge

        return purge(self, skills, default_days=default_days, now=now, actor=actor, progress=progress)

    def verify_chain(self) -> ChainReport:
        from .chain import verify

        return verify(self.db.conn, self.secret())

    def create_key(self, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
        from .keys import create_key

        return create_key(self, kind, subject, actor=actor)

    def verify_key(self, key: str) -> KeyInfo | None:
        from .keys import verify_key

        return verify_key(self, key)

    def revoke_key(self, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
        from .keys import revoke_key

        return revoke_key(self, key_or_id, actor=actor)

    def list_keys(self) -> list[KeyInfo]:
        from .keys import list_keys

        return list_keys(self)

    def load_session(self, sid: str) -> tuple[ConsoleSession | None, list[str]]:
        from .sessions import load_session

        return load_session(self, sid)

    def save_session(self, session: ConsoleSession, *, ttl: float) -> None:
        from .sessions import save_session

        save_session(self, session, ttl=ttl)

    def end_session(self, sid: str) -> None:
        from .sessions import end_session

        end_session(self, sid)

    def audit(self, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0, *,
              users: Mapping[str, int] | None = None) -> None:
        from .audit import audit

        audit(self, actor, action, filters, rows, users=users)

    def access_log(self, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        from .audit import access_log

        return access_log(self, user_id, limit=limit)

    def iter_audit(self, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        from .audit import iter_audit

        return iter_audit(self, limit=limit)

    def secret(self) -> bytes:
        return privacy_secret(self)

    def check_writable(self, *, timeout_ms: int = 250) -> str | None:
        from .health import check_writable

        return check_writable(self, timeout_ms=timeout_ms)

    def spool(self) -> Spool | None:
        """The spool beside the database file (``<db>.spool``); None for ``:memory:``."""
        if self.memory:
            return None
        from .spool import Spool

        return Spool.for_store(self)


class _Transaction:
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


# -- the privacy tables: full-text index, keys, audit, erasure receipts, scheduled erasures ----------
#: Text columns the full-text index covers. Only these two: each indexed column costs capture time.
FTS_COLUMNS = ("utterance", "speech")
_FTS_HAS_TEXT = "({0}.utterance IS NOT NULL OR {0}.speech IS NOT NULL)"
_FTS_UPTO = "(SELECT CAST(value AS INTEGER) FROM privacy_meta WHERE name = 'fts_upto')"
_FTS_FLOOR = "(SELECT value FROM privacy_meta WHERE name = 'fts_floor')"
#: The UTC day (``YYYY-MM-DD``) whose full-text partition holds a row; ``other`` for a created_at that is not ISO.
_FTS_DAY = ("(CASE WHEN {0}.created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
            "THEN substr({0}.created_at, 1, 10) ELSE 'other' END)")
_PRIVACY_DDL = (
    "CREATE TABLE IF NOT EXISTS privacy_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_upto', '0')",
    # Days before the floor had their partition dropped by a purge, which deleted all their rows.
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_floor', '')",
    # The full-text index is one external-content FTS5 table per developer and UTC day of
    # created_at (transcripts_fts_YYYYMMDD_N, listed in fts_parts): the text lives once, in
    # transcripts; each partition holds tokens. A purge that expires whole days drops their
    # partitions instead of deleting token by token (FTS5's secure delete costs 0.2-1.4 ms per row
    # and grows with the index), an erasure deletes from small indexes, so neither cost grows with
    # the ledger, and a developer's search never walks another developer's matches.
    # Rows are indexed in batches by index_pending() (every checkpoint tick, and before a search),
    # not by an insert trigger: a per-row FTS insert writes a new index segment on every commit,
    # which measured 2-3x the cost of the capture insert itself. Rows with id <= fts_upto are
    # indexed (if they have text).
    "CREATE TABLE IF NOT EXISTS fts_parts (seq INTEGER PRIMARY KEY, day TEXT NOT NULL, developer_id TEXT NOT NULL, "
    "UNIQUE (developer_id, day))",
    # A trigger cannot name a table chosen per row, so deletes and text changes of indexed rows
    # are queued here (with the old text: external-content FTS5 needs it to find the tokens) and
    # applied to their partition by apply_fts_changes() in the transaction that made them (erasure,
    # purge), or at the latest by the next index_pending(). Emptied with secure_delete on, as
    # every table is.
    "CREATE TABLE IF NOT EXISTS fts_changes (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL, day TEXT NOT NULL, "
    "developer_id TEXT NOT NULL, utterance TEXT, speech TEXT, had_text INTEGER NOT NULL, reindex INTEGER NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_queue_del AFTER DELETE ON transcripts WHEN "
    + _FTS_HAS_TEXT.format("old") + " AND old.id <= " + _FTS_UPTO + " AND " + _FTS_DAY.format("old") + " >= "
    + _FTS_FLOOR + " BEGIN INSERT INTO fts_changes (id, day, developer_id, utterance, speech, had_text, reindex) "
    "VALUES (old.id, " + _FTS_DAY.format("old") + ", old.developer_id, old.utterance, old.speech, 1, 0); END",
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_queue_upd AFTER UPDATE OF utterance, speech, created_at, "
    "developer_id "
    "ON transcripts WHEN old.id <= " + _FTS_UPTO + " AND " + _FTS_DAY.format("old") + " >= " + _FTS_FLOOR
    + " BEGIN INSERT INTO fts_changes (id, day, developer_id, utterance, speech, had_text, reindex) "
    "VALUES (old.id, " + _FTS_DAY.format("old") + ", old.developer_id, old.utterance, old.speech, "
    + _FTS_HAS_TEXT.format("old")
    + ", 1); END",
    # Only a hash of each key is kept: the key itself is shown once, when it is made.
    "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, "
    "kind TEXT NOT NULL CHECK (kind IN ('developer', 'user')), subject TEXT NOT NULL, "
    "created_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, filters TEXT, rows INTEGER NOT NULL DEFAULT 0)",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: its rows cannot be changed'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: its rows cannot be deleted'); END",
    # Whose rows each audited read returned, and how many: a user's access log. The user is named
    # by the salted hash receipts use, so an erasure leaves the log true and free of the id.
    "CREATE TABLE IF NOT EXISTS audit_access (audit_id INTEGER NOT NULL REFERENCES audit_log (id), "
    "user_hash TEXT NOT NULL, rows INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_access_user ON audit_access (user_hash, audit_id)",
    "CREATE TRIGGER IF NOT EXISTS audit_access_no_update BEFORE UPDATE ON audit_access BEGIN "
    "SELECT RAISE(ABORT, 'audit_access is append-only: its rows cannot be changed'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_access_no_delete BEFORE DELETE ON audit_access BEGIN "
    "SELECT RAISE(ABORT, 'audit_access is append-only: its rows cannot be deleted'); END",
    # Receipts hold counts and a salted hash of the user id: never the id, never any text.
    "CREATE TABLE IF NOT EXISTS erasure_receipts (id TEXT PRIMARY KEY, at TEXT NOT NULL, user_hash TEXT NOT NULL, "
    "scope TEXT NOT NULL, reason TEXT NOT NULL, rows INTEGER NOT NULL, per_skill TEXT NOT NULL, "
    "developers TEXT NOT NULL, state_rows INTEGER NOT NULL, scrubbed INTEGER NOT NULL)",
    # Console sign-ins: the browser's cookie holds a random id; the row holds its hash, names the
    # keys by id (never the key), and expires. Revoking a key deletes its sessions.
    "CREATE TABLE IF NOT EXISTS console_sessions (id TEXT PRIMARY KEY, developer_key_id TEXT, user_key_id TEXT, "
    "data TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pending_erasures (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    "developer_id TEXT, skill TEXT, due_at TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL)",
)


def _privacy_schema(conn: sqlite3.Connection) -> None:
    """Create the privacy tables and triggers (inside ensure_schema's transaction)."""
    for old in ("transcripts_fts_ai", "transcripts_fts_ad", "transcripts_fts_au",  # per-row index triggers
                "transcripts_fts_del", "transcripts_fts_upd"):  # the single index's triggers
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (old,)).fetchone():
            conn.execute(f"DROP TRIGGER {old}")
    for ddl in _PRIVACY_DDL:
        conn.execute(ddl)
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'transcripts'").fetchone()[0]
    if "AUTOINCREMENT" not in table_sql.upper():
        # A table from 0.1 can hand out the id of an erased newest row again; then the rows from
        # that id on must be indexed again.
        conn.execute(_FTS_REUSE_TRIGGER)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'transcripts_fts'").fetchone():
        # One index for the whole ledger (0.1): drop it (secure_delete zeroes its pages) and index
        # every row again, into partitions, from the background thread.
        conn.execute("DROP TABLE transcripts_fts")
        conn.execute("UPDATE privacy_meta SET value = '0' WHERE name = 'fts_upto'")
    conn.execute("INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('secret', ?)", (os.urandom(32).hex(),))
    for ddl in CHAIN_DDL:
        conn.execute(ddl)
    if not conn.execute("SELECT 1 FROM privacy_meta WHERE name = 'exact_latency_from'").fetchone():
        # Every row after this id holds latency to the microsecond (as _values writes it), so the
        # export prints it as SQLite does; found once, when a database from before is first opened.
        conn.execute("INSERT INTO privacy_meta (name, value) VALUES ('exact_latency_from', (SELECT CAST("
                     "coalesce(max(id), 0) AS TEXT) FROM transcripts WHERE typeof(latency_ms) = 'real' AND "
                     "latency_ms != round(latency_ms, 3)))")


_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


_FTS_REUSE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_reuse AFTER INSERT ON transcripts WHEN new.id <= "
    + _FTS_UPTO + " BEGIN UPDATE privacy_meta SET value = CAST(new.id - 1 AS TEXT) WHERE name = 'fts_upto'; END")


def fts_day(created_at: str | None) -> str:
    """The partition day of a row's ``created_at``, as the triggers compute it (``other`` if not ISO)."""
    return created_at[:10] if created_at and _DAY_RE.match(created_at) else "other"


def fts_table(day: str, seq: int) -> str:
    """A full-text partition's table: day ``2026-11-28``, partition 3 -> ``transcripts_fts_20261128_3``."""
    return f"transcripts_fts_{day.replace('-', '')}_{int(seq)}"


def fts_partitions(conn: sqlite3.Connection, developer_id: str | None = None) -> list[tuple[str, str, str]]:
    """``(day, developer_id, table)`` of every full-text partition (one developer's if given), newest day first."""
    sql = "SELECT day, developer_id, seq FROM fts_parts"
    args: tuple[Any, ...] = ()
    if developer_id is not None:
        sql, args = sql + " WHERE developer_id = ?", (developer_id,)
    rows = conn.execute(sql + " ORDER BY day = 'other', day DESC, seq", args).fetchall()
    return [(day, dev, fts_table(day, seq)) for day, dev, seq in rows]


def _ensure_partition(conn: sqlite3.Connection, day: str, developer_id: str) -> str:
    if day != "other" and not _DAY_RE.fullmatch(day):
        raise ValueError(f"not a partition day: {day!r}")  # the GLOB in _FTS_DAY lets only digits through
    found = conn.execute("SELECT seq FROM fts_parts WHERE developer_id = ? AND day = ?", (developer_id, day)).fetchone()
    if found:
        return fts_table(day, found[0])
    seq = conn.execute("INSERT INTO fts_parts (day, developer_id) VALUES (?, ?)", (day, developer_id)).lastrowid
    name = fts_table(day, seq)
    # columnsize=0: no per-row size table (only bm25 ranking needs it; pages are ordered by id),
    # so each row indexed or deleted writes one page less and the schema holds one table less.
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(utterance, speech, content='transcripts', "
                 "content_rowid='id', columnsize=0)")
    if FTS5_SECURE_DELETE:
        # Deletes then remove the tokens from the index itself, so leaving no trace needs no
        # rewrite of the whole index ('optimize'): the cost follows the rows deleted.
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('secure-delete', 1)")
    if day != "other":  # a row older than the purge floor (an import) makes its day indexed again
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value > ?", (day, day))
    return name


def apply_fts_changes(conn: sqlite3.Connection) -> int:
    """Apply queued deletes and text changes to the full-text partitions; returns how many were queued.

    Erasure and purge call it inside the transaction that deleted the rows, so no token of them
    outlives the commit; index_pending() applies whatever other writers queued.
    """
    queued = conn.execute("SELECT count(*) FROM fts_changes").fetchone()[0]
    if not queued:
        return 0
    parts = {(day, dev): name for day, dev, name in fts_partitions(conn)}
    # Only the first queued entry of a row holds what the index has; later ones were never indexed.
    queue = conn.execute("SELECT day, developer_id, id, utterance, speech FROM fts_changes WHERE had_text AND "
                         "seq IN (SELECT min(seq) FROM fts_changes GROUP BY id) ORDER BY day, developer_id, id")
    for (day, dev), group in itertools.groupby(queue.fetchall(), key=lambda r: (r[0], r[1])):
        name = parts.get((day, dev))
        if name is not None:
            conn.executemany(f"INSERT INTO {name} ({name}, rowid, utterance, speech) VALUES ('delete', ?, ?, ?)",
                             [r[2:] for r in group])
    reindex = [r[0] for r in conn.execute("SELECT DISTINCT id FROM fts_changes WHERE reindex")]
    conn.execute("DELETE FROM fts_changes")
    for lo in range(0, len(reindex), 500):
        ids = reindex[lo:lo + 500]
        _index_rows(conn, f"id IN ({','.join('?' * len(ids))})", ids)
    return queued


_ROW_DAY = _FTS_DAY.format("t")
_ROW_HAS_TEXT = _FTS_HAS_TEXT.format("t")


def _index_rows(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> int:
    """Add the rows of ``transcripts t`` matching ``where`` (and having text) to their partitions; returns how many."""
    n = 0
    for day, dev in conn.execute(f"SELECT DISTINCT {_ROW_DAY}, developer_id FROM transcripts t "
                                 f"WHERE {where} AND {_ROW_HAS_TEXT}", params).fetchall():
        name = _ensure_partition(conn, day, dev)
        n += conn.execute(f"INSERT INTO {name} (rowid, utterance, speech) SELECT id, utterance, speech FROM "
                          f"transcripts t WHERE {where} AND {_ROW_HAS_TEXT} AND {_ROW_DAY} = ? AND developer_id = ?",
                          [*params, day, dev]).rowcount
    return n


def drop_fts_days(conn: sqlite3.Connection, before: str) -> list[str]:
    """Drop every full-text partition of the days before ``before`` (``YYYY-MM-DD``); returns their tables.

    Only for a purge that deletes every row of those days, first, inside its transaction: the
    floor it raises keeps those rows' deletes from being queued for partitions that are gone.
    """
    gone = [name for day, _, name in fts_partitions(conn) if day != "other" and day < before]
    for name in gone:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute("DELETE FROM fts_parts WHERE day != 'other' AND day < ?", (before,))
    conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value < ?", (before, before))
    return gone


def index_pending(conn: sqlite3.Connection, *, limit: int | None = None) -> int:
    """Add the rows written since the last call to the full-text index, in one transaction; returns how many.

    ``limit`` caps how many ids one call covers, so the background thread holds the write lock
    only briefly and captures never queue behind a long indexing transaction.

    >>> index_pending(store.db.conn)      # doctest: +SKIP
    12

    Runs on the checkpoint thread every tick and before every full-text search, so capture never
    pays for indexing and a search sees the rows captured since the last tick (up to 20,000 of them).
    Queued deletes are applied first.
    """
    if conn.execute(_FTS_IDLE).fetchone()[0]:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        apply_fts_changes(conn)
        upto = conn.execute("SELECT " + _FTS_UPTO).fetchone()[0]
        top = conn.execute("SELECT coalesce(max(id), 0) FROM transcripts").fetchone()[0]
        if limit is not None:
            top = min(top, upto + limit)
        n = 0
        for lo in range(upto, top, 20_000):  # slices of ids: each holds a day or two
            n += _index_rows(conn, "id > ? AND id <= ?", (lo, min(lo + 20_000, top)))
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_upto'", (str(top),))
        if n:
            _prepare_next_day(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n


def _prepare_next_day(conn: sqlite3.Connection) -> None:
    """On a day that has rows, create tomorrow's partitions of today's developers, together, ahead of time.

    Creating a table makes every connection reload the schema before its next statement (about
    50 ms with 360 partitions): done here, once a day for all developers, instead of by the
    first capture of each developer after midnight.
    """
    today = datetime.datetime.now(datetime.UTC).date()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    for (dev,) in conn.execute("SELECT developer_id FROM fts_parts WHERE day = ? EXCEPT "
                               "SELECT developer_id FROM fts_parts WHERE day = ?",
                               (today.isoformat(), tomorrow)).fetchall():
        _ensure_partition(conn, tomorrow, dev)


#: True when every row is indexed and no change waits: the checkpoint thread's cheap test.
_FTS_IDLE = ("SELECT coalesce(max(id), 0) <= " + _FTS_UPTO + " AND NOT EXISTS (SELECT 1 FROM fts_changes) "
             "FROM transcripts")


def privacy_secret(store: TranscriptStore) -> bytes:
    """This database's random secret (salts user-id hashes in receipts, signs page cursors)."""
    secret = getattr(store, "_privacy_secret", None)
    if secret is None:
        row = store.db.conn.execute("SELECT value FROM privacy_meta WHERE name = 'secret'").fetchone()
        secret = store._privacy_secret = bytes.fromhex(row[0])
    return secret


#: Functions ``hook(store)`` run after the base schema exists (privacy tables, FTS, keys, audit).
_SCHEMA_HOOKS: list[Any] = []
