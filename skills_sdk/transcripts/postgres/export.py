"""The JSON-lines export on PostgreSQL: each day a binary COPY, its rows made into lines in C, each user's key opened once, words spliced, not re-encoded."""

from __future__ import annotations

import contextlib
import datetime
import selectors
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import pq, sql

from ..ledger import Where
from ..query import TranscriptFilter
from ..query import where as where_sql
from ..record import split_kinds
from . import jsonl, schema
from . import sealed as sealed_words

__all__ = ["ExportMixin", "segments"]

# What a line needs, in its key order but for the words (sealed, spliced in after "intent" and
# before "capture_mode"'s neighbours by sealed.fragments).
_COLUMNS = ("id", "created_at", "developer_id", "skill", "user_id", "session_id", "request_id", "request_type",
            "intent", "end_session", "transaction", "locale", "latency_ms", "status", "redacted", "capture_mode",
            "key_id", "sealed")
_SELECT = ", ".join(f't."{c}"' for c in _COLUMNS)
#: Rows per batch; the keys a batch needs are looked up together (one query, on a second connection).
_CHUNK = 5000
#: Memory for one day's sort (one day at a time): a day of 111,111 rows (10M rows over 90 days) sorts in
#: about 75 MB in memory; past this a day's sort spills to a temporary file (64MB did at 10M rows).
_WORK_MEM = "128MB"
#: Rows formatted between two reads of what the server sent meanwhile (a socket buffer holds a few hundred).
_POLL = 128


def segments(days: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """``created_at`` ranges ``[lo, hi)`` covering every text, in order: each partition's day, and the gaps between.

    >>> segments(["2026-11-28", "2026-11-29", "2026-12-01"])
    [(None, '2026-11-28'), ('2026-11-28', '2026-11-29'), ('2026-11-29', '2026-11-30'), ('2026-11-30', '2026-12-01'), ('2026-12-01', '2026-12-02'), ('2026-12-02', None)]

    A gap's rows are in the default partition (days without one).
    """
    out: list[tuple[str | None, str | None]] = []
    lo: str | None = None
    for day in days:
        if lo is None or lo < day:
            out.append((lo, day))
        lo = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
        out.append((day, lo))
    out.append((lo, None))
    return out


class ExportMixin:
    """``iter_jsonl`` of :class:`~.store.PostgresLedger`: the export's lines, equal to the SQLite ledger's."""

    def iter_jsonl(self: Any, where: Where = None, /, *, batch: int = 10_000, **fields: Any) -> Iterator[str]:
        """Every matching transcript, oldest first (``created_at``, then id), as one compact JSON line each.

        The server sends the stored values (no JSON built there: its JSON functions cost more per
        row than this loop); each line is put together from the clear columns (a skill's, intent's or
        locale's JSON text made once), and the unsealed words spliced in as they are (see
        :mod:`.sealed`). The day partitions are read in order, each sorted alone by a binary ``COPY``
        of its own (see :class:`_CopyDays`), the next day's sorted meanwhile on a second connection
        that shares the first one's snapshot, and each line made from the bytes as sent.
        """
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("iter_jsonl() does not search text; use iter_query() with q.")
        clauses, params = where_sql(f, placeholder="%s")
        source = "developer_transcripts" if f.developer_id is not None else "transcripts"
        with self.connection() as conn, self.connection() as keys_conn, conn.transaction(), \
                contextlib.ExitStack() as ahead:
            # Each day is read by a statement of its own, its sort freed at its end: a statement of every day's
            # sorted branch kept each finished day's sort until its end (8 MB of memory a day at 1M rows; at 10M a
            # 63 MB temporary file a day, 5.7 GB for everyone's export). One snapshot covers every day.
            _begin(conn, f)
            mogrify = psycopg.ClientCursor(conn).mogrify
            days = []
            for lo, hi in segments(schema.partition_days(conn)):
                bounds = [*(["t.created_at >= %s"] if lo else []), *(["t.created_at < %s"] if hi else [])]
                days.append(mogrify(f"COPY (SELECT {_SELECT} FROM {source} t WHERE "
                                    + " AND ".join([*clauses, *bounds] or ["true"]) + " ORDER BY t.created_at, t.id) "
                                    "TO STDOUT (FORMAT BINARY)", [*params, *([lo] if lo else []), *([hi] if hi else [])]))
            conns = [conn]
            if len(days) > 1 and self.max_size >= 3 and not _index_order(f):
                # The next day's statement runs on a second connection in the same snapshot, so that its scan and
                # sort (all of it done before its first row) run while this day's rows are formatted, not after.
                # (A developer's days come in index order, their first rows at once: a new pooled connection,
                # warmed for the hot reads, would cost more than it saves. A pool of two has no third one.)
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                conns.append(ahead.enter_context(self.connection()))
                ahead.enter_context(conns[1].transaction())
                _begin(conns[1], f, snapshot)
            batches = _CopyDays(conns, days)
            try:
                yield from lines(batches, lambda ids: self.keys.keys_for(keys_conn, ids, cache=False), batches.poll)
            finally:
                batches.close()  # a connection answers nothing else while a COPY is unread


def _begin(conn: Any, f: TranscriptFilter, snapshot: str | None = None) -> None:
    """Set up an export's transaction on ``conn``: its own snapshot taken with the table locked, or ``snapshot``, another's."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if snapshot is None:
        # Every partition locked before the snapshot is taken (by the first query below, not by LOCK): a day
        # dropped by a purge meanwhile would otherwise vanish from an export that began before it. The lock
        # is held until the export ends, for the connection that shares the snapshot too.
        conn.execute("LOCK TABLE transcripts IN ACCESS SHARE MODE")
    else:
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    if f.developer_id is not None:
        conn.execute("SELECT set_config('skills.developer_id', %s, true)", (f.developer_id,))
    # A day read by one process: parallel workers would take the core this one formats on.
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    conn.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
    if _index_order(f):
        conn.execute("SET LOCAL enable_sort = off")
    if conn.info.encoding != "utf-8":  # the lines are made from the text as sent (see _jsonl.c)
        conn.execute("SET LOCAL client_encoding = 'UTF8'")


def _index_order(f: TranscriptFilter) -> bool:
    """Whether each day's (developer_id, created_at, id) index gives the rows in the export's order.

    Sorting a day's wide rows instead cost 3-4x the index's visits to the table (compared by a key
    whose first 8 bytes, all a day's rows share, cannot shortcut a comparison).
    """
    return f.developer_id is not None and f.user_id is None and f.session_id is None


def lines(batches: Iterable[list[bytes]], keys_for: Callable[[set[int]], dict[int, bytes]],
          poll: Callable[[], None] = lambda: None) -> Iterator[str]:
    """Export lines from batches of rows of ``_COLUMNS`` as a binary ``COPY`` sends them; ``keys_for`` gives the data keys of a set of key ids.

    Keys are looked up once per batch for the ids not seen before (an erased key is left out:
    its rows, if any are still there, export without words). ``poll`` is called every
    :data:`_POLL` rows (see :class:`_CopyDays`); the lines are made by :func:`.jsonl.formatter`.
    """
    # (AESGCM objects, not their bound decrypt: a bound method is a container the cyclic GC tracks, and an
    # export of everyone holds some 100,000 of them, each full collection walked them all)
    opened: dict[int, tuple[AESGCM, bytes] | None] = {}
    kinds = jsonl.Encoded(split_kinds, {None: "[]"})
    format_rows, fragments, unopened = jsonl.formatter(), sealed_words.fragments, jsonl.key_finder()
    for chunk in batches:
        wanted = unopened(chunk, opened)
        if wanted:
            found = keys_for(wanted)
            for kid in wanted:
                key = found.get(kid)
                opened[kid] = None if key is None else (AESGCM(key), str(kid).encode())
        kinds.reset()
        for start in range(0, len(chunk), _POLL):
            poll()
            yield from format_rows(chunk[start:start + _POLL], opened, kinds, fragments)


class _CopyDays:
    """Batches of the days' rows as their ``COPY`` statements send them, one day after the other (one message a row).

    A day's ``COPY (SELECT ... ORDER BY ...)`` scans and sorts its day before its first row, and
    ends with its sort. Given two connections in one snapshot, the days alternate between them and
    the next day's statement is sent as soon as its connection is free: the server sorts day k+1
    while this process formats day k, and at most two days' sorts are held. The server sends while
    this process formats, on the other core, until the socket's buffer is full (a batch is some
    twenty of them): so :meth:`poll`, called every :data:`_POLL` rows, takes what has arrived
    without waiting. It takes the whole messages out of libpq's buffer too: left there, each read
    moved every byte still unread to the buffer's start (170 µs a read, at 5,000 rows held). The
    rows stay the bytes the server sent (no Python object a column): :mod:`.jsonl` makes each line
    from them.
    """

    def __init__(self, conns: Sequence[Any], statements: Sequence[str]) -> None:
        self.conns, self.statements = list(conns), list(statements)
        self.conn = self.conns[0]  # the connection whose day is being read
        self.rows: list[bytes] = []
        self.copying = False  # the day being read still sending
        self.sent: list[Any] = []  # connections with a statement sent whose end is not read yet
        # Not select.select(), which refuses a descriptor past 1024 (a busy server process has them).
        self.ready: dict[int, selectors.BaseSelector] = {}
        for conn in self.conns:
            self.ready[id(conn)] = selector = selectors.DefaultSelector()
            selector.register(conn.pgconn.socket, selectors.EVENT_READ)

    def __iter__(self) -> Iterator[list[bytes]]:
        statements, conns = self.statements, self.conns
        for i in range(min(len(conns), len(statements))):
            self._send(conns[i], statements[i])
        for i in range(len(statements)):
            self.conn = conn = conns[i % len(conns)]
            self._results(conn, pq.ExecStatus.COPY_OUT)
            self.copying = True
            while self.copying:
                self._take()
                if len(self.rows) >= _CHUNK:
                    batch, self.rows = self.rows, []
                    yield batch
                elif self.copying:
                    self._wait(conn)
            self._results(conn, pq.ExecStatus.COMMAND_OK)
            if i + len(conns) < len(statements):
                self._send(conn, statements[i + len(conns)])
        if self.rows:
            yield self.rows

    def poll(self) -> None:
        """Take whatever the server has sent so far, without waiting."""
        if self.copying:
            self.conn.pgconn.consume_input()  # a lost connection raises psycopg.OperationalError
            self._take()

    def close(self) -> None:
        """End the statements still running (an export stopped early), so that each connection is usable: cancelled, then drained."""
        try:
            self._abandon_all()
        finally:
            for selector in self.ready.values():
                selector.close()

    def _abandon_all(self) -> None:
        if self.sent:
            conn = self.sent.pop(0)
            try:
                self._abandon(conn)
            finally:  # the other connection's too, whether or not this one's ended cleanly
                self._abandon_all()

    def _send(self, conn: Any, statement: str) -> None:
        conn.pgconn.send_query(statement.encode())
        self.sent.append(conn)

    def _abandon(self, conn: Any) -> None:
        """End ``conn``'s statement: read what it sent if it is over, else cancel it and read (and drop) what it still sends.

        A statement already over is not cancelled: a cancel that reached its connection idle could land
        on the next statement there instead.
        """
        self.copying = False
        if not self._drain(conn, wait=False):
            conn.cancel()  # its error (cancelled) ends its transaction, which is rolled back
            self._drain(conn, wait=True)

    def _drain(self, conn: Any, *, wait: bool) -> bool:
        """Read and drop what ``conn``'s statement sends, to its end; False if that needs a wait and ``wait`` is False."""
        pgconn = conn.pgconn
        while True:
            pgconn.consume_input()  # a lost connection raises psycopg.OperationalError
            if pgconn.is_busy():
                if not wait:
                    return False
                self._wait(conn)
                continue
            res = pgconn.get_result()
            if res is None:
                return True
            while res.status == pq.ExecStatus.COPY_OUT:  # rows sent before the end (or the cancel): dropped
                n, _ = pgconn.get_copy_data(1)
                if n < 0:
                    break
                if n == 0:
                    if not wait:
                        return False
                    self._wait(conn)

    def _take(self) -> bool:
        """Move the whole messages libpq holds into :attr:`rows`; whether the ``COPY`` is still sending."""
        get, rows = self.conn.pgconn.get_copy_data, self.rows
        while True:
            n, data = get(1)  # without waiting: 0 when libpq holds no whole message, -1 at the end
            if n > 0:  # (copied out of psycopg's memoryview, which the cyclic GC tracks: kept, 5,000 of them
                rows.append(bytes(data))  # set off a collection every 350 rows, 13% of the export's CPU)
            else:
                self.copying = n == 0
                return self.copying

    def _wait(self, conn: Any) -> None:
        self.ready[id(conn)].select()
        conn.pgconn.consume_input()

    def _results(self, conn: Any, expected: pq.ExecStatus) -> None:
        """Wait for ``conn``'s results up to a COPY's start or to the statement's end; a server's error is raised at the end."""
        pgconn, error = conn.pgconn, None
        while True:
            while pgconn.is_busy():
                self._wait(conn)
            res = pgconn.get_result()
            if res is None:
                break
            if res.status == expected == pq.ExecStatus.COPY_OUT:
                return
            if res.status != expected and error is None:
                error = psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
        self.sent.remove(conn)  # its statement ended: nothing to cancel
        if error is not None:
            raise error
