"""The JSON-lines export on PostgreSQL: a server-side cursor read a batch ahead, each user's key opened once, lines spliced, not re-encoded."""

from __future__ import annotations

import datetime
import selectors
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import pq
from psycopg.adapt import Transformer

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
#: Rows per fetch; the keys a batch needs are looked up together (one query, on a second connection).
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
        :mod:`.sealed`). One statement reads the day partitions in order, each sorted alone, through
        a server-side cursor read one batch ahead (see :class:`_Prefetch`).
        """
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("iter_jsonl() does not search text; use iter_query() with q.")
        clauses, params = where_sql(f, placeholder="%s")
        source = "developer_transcripts" if f.developer_id is not None else "transcripts"
        with self.connection() as conn, self.connection() as keys_conn, conn.transaction():
            # Each day is read by a cursor of its own, closed once read: a statement of every day's sorted
            # branch kept each finished day's sort until its end (8 MB of memory a day at 1M rows; at 10M a
            # 63 MB temporary file a day, 5.7 GB for everyone's export). One snapshot covers every day.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if f.developer_id is not None:
                conn.execute("SELECT set_config('skills.developer_id', %s, true)", (f.developer_id,))
            # A day read by one process: parallel workers would take the core this one formats on.
            conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            conn.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
            if f.developer_id is not None and f.user_id is None and f.session_id is None:
                # Each day's (developer_id, created_at, id) index gives the rows in the export's order.
                # Sorting a day's wide rows instead cost 3-4x the index's visits to the table (compared
                # by a key whose first 8 bytes, all a day's rows share, cannot shortcut a comparison).
                conn.execute("SET LOCAL enable_sort = off")
            names = []
            with conn.pipeline():  # every day's cursor declared (and planned, its partition locked) in one round trip
                for lo, hi in segments(schema.partition_days(conn)):
                    bounds = [*(["t.created_at >= %s"] if lo else []), *(["t.created_at < %s"] if hi else [])]
                    names.append(f"skills_export_{len(names)}")
                    conn.execute(f'DECLARE "{names[-1]}" BINARY NO SCROLL CURSOR FOR SELECT {_SELECT} FROM {source} t '
                                 "WHERE " + " AND ".join([*clauses, *bounds] or ["true"]) + " ORDER BY t.created_at, t.id",
                                 [*params, *([lo] if lo else []), *([hi] if hi else [])])
            batches = _Prefetch(conn, names)
            try:
                yield from lines(batches, lambda ids: self.keys.keys_for(keys_conn, ids, cache=False), batches.poll)
            finally:
                batches.close()  # the connection answers nothing else while a FETCH is unread


def lines(batches: Iterable[list[tuple[Any, ...]]], keys_for: Callable[[set[int]], dict[int, bytes]],
          poll: Callable[[], None] = lambda: None) -> Iterator[str]:
    """Export lines from batches of rows of ``_COLUMNS``; ``keys_for`` gives the data keys of a set of key ids.

    Keys are looked up once per batch for the ids not seen before (an erased key is left out:
    its rows, if any are still there, export without words). ``poll`` is called every
    :data:`_POLL` rows (see :class:`_Prefetch`); the lines are made by :func:`.jsonl.formatter`.
    """
    # (AESGCM objects, not their bound decrypt: a bound method is a container the cyclic GC tracks, and an
    # export of everyone holds some 100,000 of them, each full collection walked them all)
    opened: dict[int, tuple[AESGCM, bytes] | None] = {}
    kinds = jsonl.Encoded(split_kinds, {None: "[]"})
    format_rows, fragments = jsonl.formatter(), sealed_words.fragments
    for chunk in batches:
        wanted = {r[16] for r in chunk if r[16] is not None and r[16] not in opened}
        if wanted:
            found = keys_for(wanted)
            for kid in wanted:
                key = found.get(kid)
                opened[kid] = None if key is None else (AESGCM(key), str(kid).encode())
        kinds.reset()
        for start in range(0, len(chunk), _POLL):
            poll()
            yield from format_rows(chunk[start:start + _POLL], opened, kinds, fragments)


class _Prefetch:
    """Batches of the day cursors' rows, in turn, each ``FETCH`` sent before the batch before it is formatted.

    The server makes the next batch while this process formats the current one, on the other core.
    But a batch (about 3 MB) is some twenty socket buffers, and the server stops at a full one: so
    :meth:`poll`, called every :data:`_POLL` rows, moves what has arrived into libpq's buffer
    without waiting. A reading thread did this before, but it needed the GIL after every socket
    buffer, which the formatting held (see docs/performance.md). A batch short of :data:`_CHUNK`
    rows ends its day: the next request closes that cursor (freeing its sort) and fetches the next day's.
    """

    def __init__(self, conn: Any, names: Sequence[str]) -> None:
        self.conn, self.pgconn = conn, conn.pgconn
        self.names = list(names)
        self.rows = Transformer(conn)
        self.pending = False
        # Not select.select(), which refuses a descriptor past 1024 (a busy server process has them).
        self.ready = selectors.DefaultSelector()
        self.ready.register(self.pgconn.socket, selectors.EVENT_READ)

    def __iter__(self) -> Iterator[list[tuple[Any, ...]]]:
        day = 0
        if not self.names:
            return
        self._send(self._fetch(day))
        while True:
            rows = self._result()
            if len(rows) >= _CHUNK:
                self._send(self._fetch(day))
            elif day + 1 < len(self.names):  # (simple protocol: the cursors are BINARY, so the rows come binary)
                day += 1
                self._send(f'CLOSE "{self.names[day - 1]}"; '.encode() + self._fetch(day))
            if rows:
                yield rows
            if not self.pending:
                return

    def poll(self) -> None:
        """Read whatever the server has sent so far, without waiting (libpq keeps it until the result is taken)."""
        if self.pending:
            self.pgconn.consume_input()  # a lost connection raises psycopg.OperationalError

    def close(self) -> None:
        """Take the result of a ``FETCH`` still on its way (an export stopped early), so the connection is usable."""
        try:
            if self.pending:
                self._result()
        finally:
            self.ready.close()

    def _fetch(self, day: int) -> bytes:
        return f'FETCH FORWARD {_CHUNK} FROM "{self.names[day]}"'.encode()

    def _send(self, query: bytes) -> None:
        self.pgconn.send_query(query)
        self.pending = True

    def _result(self) -> list[tuple[Any, ...]]:
        pgconn, results = self.pgconn, []
        while True:  # every result of the request (a CLOSE's, a FETCH's), then libpq's end of it (None)
            while pgconn.is_busy():
                self.ready.select()
                pgconn.consume_input()
            res = pgconn.get_result()
            if res is None:
                break
            results.append(res)
        self.pending = False
        for res in results:
            if res.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                raise psycopg.errors.error_from_result(res, encoding=self.conn.info.encoding)
        res = results[-1]
        self.rows.set_pgresult(res)
        return self.rows.load_rows(0, res.ntuples, tuple)
