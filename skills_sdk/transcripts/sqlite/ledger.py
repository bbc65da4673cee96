"""``SQLiteLedger``: the :class:`~skills_sdk.transcripts.ledger.Ledger` on one SQLite file, through sqlite-utils."""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import BadQuery, StoreError
from ..ledger import CAPTURE_MODES, DEFAULT_CAPTURE_MODE, DEFAULT_DB, Ledger, Page, Where
from ..query import MAX_LIMIT, TranscriptFilter
from ..record import decode, storage_values, utcnow_iso

# Erasure, retention, keys, console sessions and copying are imported by the methods that use
# them: a process that only answers turns never loads them (tests/test_cold_start.py).
from . import queries
from . import spool as spool_file
from .audit import access_log, audit, iter_audit
from .chain import ChainReport, insert_digest, seal_inserted
from .chain import verify as verify_chain
from .connection import Connection
from .driver import DB_ERRORS, is_busy
from .fts import index_pending
from .group_commit import GroupCommit, Pending
from .health import check_writable
from .inserts import INSERT_ID_SQL, INSERT_SQL, insert_by_shape, save_progress
from .schema import ensure_schema, privacy_secret
from .search import text_page
from .stats import skill_stats
from .userstate import loaded, write_state

if TYPE_CHECKING:
    from ..keys import KeyInfo
    from ..sessions import ConsoleSession
    from ..spool import Spool

__all__ = ["SQLiteLedger", "INSERT_SQL"]

_CONSENT_SQL = ("INSERT INTO consent (user_id, mode, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at")
_PROGRESS = "progress:"  # record_many's progress marks, beside the other settings in privacy_meta


class SQLiteLedger(Connection, Ledger):
    """The transcript ledger in one SQLite file (the embedded default): one row per skill response.

    >>> ledger = SQLiteLedger(":memory:")
    >>> ledger.record({"developer_id": "acme", "skill": "pizza", "user_id": "u1", "speech": "Hi."})
    1
    >>> [r["speech"] for r in ledger.user_history("u1")]
    ['Hi.']

    ``path`` is a file (created with its parent folder) or ``":memory:"``. Every write commits
    before it returns (WAL journal, ``synchronous`` NORMAL by default: a row survives a killed
    process; pass ``synchronous="FULL"`` to survive power loss too). The modules beside this one
    hold each concept: ``connection`` (connections, locks, the background thread), ``schema``,
    ``fts`` (the full-text index), ``queries`` (reads), ``erasure``, ``retention``, ``keys``,
    ``audit``, ``stats``, ``health``.
    """

    errors = (*DB_ERRORS, StoreError, OSError)

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, synchronous: str = "NORMAL",
                 busy_timeout_ms: int = 10_000, capture_timeout_ms: int = 1_000) -> None:
        super().__init__(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms,
                         capture_timeout_ms=capture_timeout_ms)
        self.url = self.path
        # Set: the background thread's first tick finishes any scrub an erasure left owing (a
        # crash between an erasure's commit and its scrub); then set by each erasure.
        self._scrub_due = threading.Event()
        self._scrub_due.set()
        #: The queue of this process's captures (group_commit): ``group_commit.commits`` counts their transactions.
        self.group_commit = GroupCommit()
        #: How many capture modes this process set: a turn's mode read with its state is used while unchanged.
        self.consent_changes = 0
        ensure_schema(self)
        self.created()

    def ensure_schema(self) -> None:
        """Create the tables and indexes if they are missing (safe to call from many processes)."""
        ensure_schema(self)

    # -- writing -------------------------------------------------------------------------------------
    def record(self, row: Mapping[str, Any], *, state: str | None = None) -> int:
        values = storage_values(row)
        insert, params = insert_by_shape(values, self.next_id_sql)
        conn = self.capture_conn
        secret = self.secret()
        digest = insert_digest(conn, secret, values)  # its tamper evidence, made before the write lock
        # The captures of this process's threads that overlap commit together (group_commit);
        # alone, a capture commits its own row. A capture waits capture_timeout_ms at most for
        # the write lock (its connection's busy timeout too): past that the row is better spooled
        # than the user's reply held.
        upsert = None if state is None else (row["developer_id"], row["skill"], row["user_id"], state, values[0])
        group = self.group_commit
        if not group.lead_alone():
            rid = group.submit(self, Pending(upsert, insert, params, digest), self.capture_timeout_ms)
            self.last_capture = time.monotonic()
            return rid
        try:
            # Writers in this process queue on a lock rather than on SQLite's busy handler, which
            # sleeps in whole milliseconds: a capture never waits longer than the write before it.
            # What `with self.writing(...), Transaction(conn):` does, spelled out: the two context
            # managers cost a lone capture 3 us.
            fd = self.take_write_lock(self.capture_timeout_ms)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if upsert is not None:
                        write_state(conn, *upsert)
                    # The row's seal, made in its INSERT from its id, replaced a chain entry (a head
                    # read, an INSERT and a WAL frame) per row.
                    rid = int(conn.execute(insert, (digest, *params)).lastrowid or 0)
                    if digest is None:
                        seal_inserted(conn, secret, rid, rid)
                except BaseException:
                    if conn.in_transaction:  # not already rolled back by SQLite (a full disk): see Transaction
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")  # outside the try, as in Transaction: a ROLLBACK after it would hide its error
            finally:
                self.release_write_lock(fd)
            group.commits += 1
        finally:
            group.end_lead()
        self.last_capture = time.monotonic()  # the background indexer waits for a quiet moment
        return rid

    def record_many(self, rows: Sequence[Mapping[str, Any]], *, progress: tuple[str, int] | None = None) -> int:
        prepared = [storage_values(row) for row in rows]
        with self.writing(), self.transaction() as conn:  # queued with the server's captures
            first = conn.execute(self.next_id_sql).fetchone()[0]
            conn.executemany(INSERT_ID_SQL, [(first + i, *values) for i, values in enumerate(prepared)])
            seal_inserted(conn, self.secret(), first, first + len(prepared) - 1)
            if progress is not None:
                save_progress(conn, _PROGRESS + progress[0], progress[1])
        return len(prepared)

    def progress(self, name: str) -> int | None:
        got = self.conn.execute("SELECT value FROM privacy_meta WHERE name = ?", (_PROGRESS + name,)).fetchone()
        return None if got is None else int(got[0])

    def forget_progress(self, name: str) -> None:
        with self.writing(), self.transaction() as conn:
            conn.execute("DELETE FROM privacy_meta WHERE name = ?", (_PROGRESS + name,))

    def verify_chain(self) -> ChainReport:
        return verify_chain(self.db.conn, self.secret())

    def index_pending(self) -> int:
        """Add every row written so far to the full-text index now (the background thread would, within a tick)."""
        with self.writing():
            return index_pending(self.conn)

    # -- reading -------------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The decoded rows of a ``SELECT * FROM transcripts ...`` (tests and benches of this backend)."""
        return queries.rows(self.conn, sql, params)

    def get(self, transcript_id: int) -> dict[str, Any] | None:
        found = queries.rows(self.conn, f"SELECT * FROM transcripts WHERE id = ? AND {queries.LIVE}", (transcript_id,))
        return found[0] if found else None

    def user_history(self, user_id: str, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        before = "" if before_id is None else " AND id < ?"  # a purge's hidden rows: below queries.LIVE's mark
        return queries.rows(self.conn, f"SELECT * FROM transcripts WHERE user_id = ?{before} AND {queries.LIVE} "
                                       "ORDER BY id DESC LIMIT ?", (user_id, *([] if before_id is None else [before_id]), limit))

    def session_turns(self, session_id: str) -> list[dict[str, Any]]:
        return queries.rows(self.conn, f"SELECT * FROM transcripts WHERE session_id = ? AND {queries.LIVE} ORDER BY id",
                            (session_id,))

    def count(self, where: Where = None, /, **fields: Any) -> int:
        return queries.count(self.conn, TranscriptFilter.of(where, **fields))

    def iter_transcripts(self, where: Where = None, /, *, batch: int = 2000, **fields: Any
                         ) -> Iterator[dict[str, Any]]:
        """Every matching transcript, oldest first, read in batches (memory stays flat).

        Filtered by developer or skill alone, rows come in ``created_at`` order (ties by id), which
        the ledger's own rows share with id order; otherwise in id order.
        """
        names: list[str] = []
        for raw in queries.walk(self.conn, "*", TranscriptFilter.of(where, **fields), batch, names):
            yield decode(queries.unsealed(dict(zip(names, raw[:-2], strict=True))))

    def iter_jsonl(self, where: Where = None, /, *, batch: int = 10_000, **fields: Any) -> Iterator[str]:
        """The rows ``iter_transcripts`` yields, each already encoded as one compact JSON line (no newline).

        The text is SQLite's ``json_object`` of the stored row (:func:`.queries.json_select`), made
        without a Python object a row (see :mod:`.export`); it equals
        ``json.dumps(row, ensure_ascii=False, separators=(",", ":"))`` of the decoded row.
        """
        for text, _ in self.export_jsonl(where, batch=batch, **fields):
            yield from text[:-1].split("\n")  # a JSON line holds no newline: its own are escaped

    def export_jsonl(self, where: Where = None, /, *, users: Counter[str] | None = None, batch: int = 1000,
                     **fields: Any) -> Iterator[tuple[str, int]]:
        from .export import chunks

        return chunks(self.conn, TranscriptFilter.of(where, **fields), batch, Counter() if users is None else users)

    def query(self, where: Where = None, /, *, developer_id: str | None = None, user_id: str | None = None,
              before_id: int | None = None, limit: int = 50) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise BadQuery("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}.")
        f = TranscriptFilter.of(where)
        if f.q is not None:
            return text_page(self, f, developer_id, user_id, before_id, limit)
        return queries.page(self.conn, f, developer_id=developer_id, user_id=user_id, before_id=before_id,
                            limit=limit)

    def skill_stats(self, developer_id: str, skill: str, *, since: str, until: str | None = None) -> dict[str, Any]:
        return skill_stats(self, developer_id, skill, since=since, until=until)

    # -- consent and per-user state ------------------------------------------------------------------
    def capture_mode(self, user_id: str) -> str:
        # On the connection captures write with: read on another one, each lookup after a capture
        # re-read what that write made stale in its page cache (42 us against 17 us, measured).
        row = self.capture_conn.execute("SELECT mode FROM consent WHERE user_id = ?", (user_id,)).fetchone()
        return row[0] if row else DEFAULT_CAPTURE_MODE

    def set_capture_mode(self, user_id: str, mode: str, *, actor: str | None = None) -> None:
        if mode not in CAPTURE_MODES:
            raise ValueError(f"capture mode must be 'full', 'redacted' or 'metadata', got {mode!r}.")
        if actor is None:
            self.conn.execute(_CONSENT_SQL, (user_id, mode, utcnow_iso()))
        else:
            with self.transaction() as conn:
                conn.execute(_CONSENT_SQL, (user_id, mode, utcnow_iso()))
                audit(self, actor, "consent", {"user_id": user_id, "mode": mode}, 1, conn=conn)
        self.consent_changes += 1  # after the commit (see Turn.consent_read)

    def load_state(self, developer_id: str, skill: str, user_id: str) -> dict[str, Any]:
        row = self.capture_conn.execute(  # a turn's read, beside its capture (see capture_mode)
            "SELECT state FROM user_state WHERE developer_id = ? AND skill = ? AND user_id = ?",
            (developer_id, skill, user_id),
        ).fetchone()
        return loaded(row[0] if row else None)

    def load_state_and_mode(self, developer_id: str, skill: str, user_id: str) -> tuple[dict[str, Any], str]:
        """``load_state`` and ``capture_mode`` in one statement: a turn that reads its state opens one read transaction."""
        state, mode = self.capture_conn.execute(
            "SELECT (SELECT state FROM user_state WHERE developer_id = ? AND skill = ? AND user_id = ?), "
            "(SELECT mode FROM consent WHERE user_id = ?)", (developer_id, skill, user_id, user_id)).fetchone()
        return loaded(state), mode or DEFAULT_CAPTURE_MODE

    def save_state(self, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any] | str) -> None:
        text = state if isinstance(state, str) else json.dumps(dict(state), separators=(",", ":"))
        with self.transaction() as conn:
            write_state(conn, developer_id, skill, user_id, text, utcnow_iso())

    def iter_copyable(self) -> Iterator[tuple[str, dict[str, Any]]]:
        from . import copying

        return copying.iter_copyable(self)

    def load_copied(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
        from . import copying

        return copying.load_copied(self, items)

    # -- erasure and retention -----------------------------------------------------------------------
    def erase_user(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                   actor: str = "cli", reason: str = "request", check: bool = True,
                   scrub: bool | None = None) -> dict[str, Any]:
        """Erase the user's rows at once and scrub them after (see :func:`.erasure.erase_user`); the receipt."""
        from . import erasure

        return erasure.erase_user(self, user_id, skill=skill, developer_id=developer_id, actor=actor, reason=reason,
                                  check=check, scrub=scrub)

    def finish_scrubs(self) -> bool:
        """Scrub what erasures still owe (full-text entries, the write-ahead log); True when none owes."""
        from . import erasure

        return erasure.finish_scrubs(self)

    def scrub_soon(self) -> bool:
        """Ask this process's background thread to scrub owed erasures at its next tick; False when none runs here."""
        running = self._checkpointer
        if running is None or running[0] != os.getpid() or not running[2].is_alive():
            return False
        self._scrub_due.set()
        return True

    def _after_indexing(self, conn: Any) -> None:
        from . import removal

        removal.tick(self, conn, self._scrub_due)  # erasures' owed scrubs, a purge's second step

    def remove_purged(self) -> bool:
        """Delete now the rows a purge hid (its second step, else the background thread's); True once scrubbed."""
        from . import erasure, removal

        removal.remove_hidden(self)
        return erasure.finish_scrubs(self, wal=True)

    def schedule_erasure(self, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                         due: datetime.datetime, reason: str = "skill_disabled") -> None:
        from . import erasure

        erasure.schedule_erasure(self, user_id, skill=skill, developer_id=developer_id, due=due, reason=reason)

    def receipts(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        from . import erasure

        return erasure.iter_receipts(self, user_id=user_id)

    def purge(self, skills: Mapping[str, Any] | Iterable[Any] = (), *, default_days: int | None = None,
              now: datetime.datetime | str | None = None, actor: str = "purge",
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        from ..refused import purge_refused
        from ..retention import moment, policies
        from . import retention

        moment_, table = moment(now), dict(skills) if isinstance(skills, Mapping) else policies(skills)
        report = retention.purge(self, table, default_days=default_days, now=moment_, actor=actor, progress=progress)
        report["refused_expired"] = purge_refused(self, table, default_days=default_days, now=moment_)
        return report

    # -- keys, audit, health -------------------------------------------------------------------------
    def create_key(self, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
        from . import keys

        return keys.create_key(self, kind, subject, actor=actor)

    def verify_key(self, key: str) -> KeyInfo | None:
        from . import keys

        return keys.verify_key(self, key)

    def revoke_key(self, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
        from . import keys

        return keys.revoke_key(self, key_or_id, actor=actor)

    def list_keys(self) -> list[KeyInfo]:
        from . import keys

        return keys.list_keys(self)

    def load_session(self, sid: str) -> tuple[ConsoleSession | None, list[str]]:
        from . import sessions

        return sessions.load_session(self, sid)

    def save_session(self, session: ConsoleSession, *, ttl: float) -> None:
        from . import sessions

        sessions.save_session(self, session, ttl=ttl)

    def end_session(self, sid: str) -> None:
        from . import sessions

        sessions.end_session(self, sid)

    def audit(self, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0, *,
              users: Mapping[str, int] | None = None) -> None:
        audit(self, actor, action, filters, rows, users=users)

    def access_log(self, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        return access_log(self, user_id, limit=limit)

    def iter_audit(self, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return iter_audit(self, limit=limit)

    def secret(self) -> bytes:
        return privacy_secret(self)

    def check_writable(self, *, timeout_ms: int = 250) -> str | None:
        return check_writable(self, timeout_ms=timeout_ms)

    def is_busy(self, exc: BaseException) -> bool:
        return is_busy(exc)

    def local_file(self) -> str | None:
        return None if self.memory else self.path

    def record_spooled(self, source: str, rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]],
                       refuse: Callable[[Mapping[str, Any], BaseException], None]) -> int:
        return spool_file.record_spooled(self, source, rows_from, refuse)

    def forget_spooled(self, source: str) -> None:
        spool_file.forget_spooled(self, source)

    def spool(self) -> Spool | None:
        """The spool beside the database file (``<db>.spool``); None for ``:memory:``."""
        if self.memory:
            return None
        from ..spool import Spool

        return Spool.for_store(self)
