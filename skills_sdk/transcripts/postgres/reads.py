"""Reading the PostgreSQL ledger: rows unsealed with their users' keys, a user's history, a session, counts, the export walk."""

from __future__ import annotations

import json
import json.scanner
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import StoreError
from ..ledger import Where
from ..query import TranscriptFilter
from ..query import where as where_sql
from ..record import COLUMNS
from . import sealed as sealed_words
from . import userdays
from .columns import CLEAR_COLUMNS, COPY_TYPES, SELECT, keyed

__all__ = ["ReadsMixin", "scoped_read"]

log = logging.getLogger("skills_sdk.transcripts")

_DEV, _SKILL, _USER = (1 + CLEAR_COLUMNS.index(c) for c in ("developer_id", "skill", "user_id"))
_NAMES = ("id", *CLEAR_COLUMNS)
#: A row with every column, in the API's order, before its values are put in.
_BLANK = dict.fromkeys(COLUMNS)
_LOADS = json.JSONDecoder().decode
#: The scanner under json's ``decode``, called directly: format-2 words are one compact object, so the
#: decoder's two whitespace matches and its Python frames (more than half of a 1.0 µs parse) have nothing to do.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def _open(aead: tuple[AESGCM, bytes], sealed: bytes) -> bytes:
    """A row's sealed words opened with its key's ``(AESGCM, associated data)`` (as :func:`.crypto.unseal` opens them).

    One ``AESGCM`` per key, not per row: making one cost as much as the decryption it serves.
    """
    try:
        return aead[0].decrypt(sealed[:12], sealed[12:], aead[1])
    except InvalidTag:
        raise StoreError("A transcript's sealed text does not open under its user's key.") from None


def scoped_read(conn: Any, setting: str, value: str, sql: str, params: Sequence[Any], order: str, *,
                nested: bool = False) -> list[tuple[Any, ...]]:
    """``sql``'s rows in ``order`` (of its columns, as ``r.id DESC``), read under ``setting`` (the views' filter).

    One statement in its own implicit transaction: the scope is set by a subquery that the read
    joins laterally, so the read runs after it, and the scope ends with the statement (a pipelined
    BEGIN, scope, read and COMMIT cost 0.5-0.9 ms more). Were the read ever to run first, its view
    would raise or find nothing: never another scope's rows. That happens to a ``nested`` read, a
    subquery of ``sql`` reading a view too (the server may run it as the plan starts, to prune
    partitions): such a read goes in a pipelined transaction.
    """
    if nested:
        with conn.pipeline():
            conn.execute("BEGIN")
            conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
            cur = conn.execute(sql, params)
            conn.execute("COMMIT")
        return cur.fetchall()
    return conn.execute(f"SELECT r.* FROM (SELECT set_config(%s, %s, true)) s(scope) CROSS JOIN LATERAL "
                        f"(SELECT * FROM ({sql}) q WHERE s.scope IS NOT NULL OFFSET 0) r ORDER BY {order}",
                        (setting, value, *params)).fetchall()


def _words(text: bytes) -> dict[str, Any]:
    """The opened words as :func:`.sealed.words` gives them, format 2 parsed by the scanner alone."""
    s = text.decode()
    if s.startswith(sealed_words.V2):
        try:
            got, end = _SCAN(s, 0)
        except StopIteration:  # not JSON: sealed.words says so
            end = -1
        if end == len(s):
            del got["v"]
            return got  # type: ignore[no-any-return]
    return sealed_words.words(text)


class ReadsMixin:
    """``get``, ``user_history``, ``session_turns``, ``count``, ``iter_transcripts`` of :class:`~.store.PostgresLedger`."""

    def decode(self: Any, conn: Any, raw: Sequence[Sequence[Any]], *, with_keys: bool = False) -> list[dict[str, Any]]:
        """Rows as ``SELECT {SELECT}`` returns them (``with_keys``: as :func:`.columns.keyed` gives them), unsealed and decoded like the SQLite ledger's."""
        if with_keys:  # each row brought its data key as stored: no second statement for keys not in memory
            keys = self.keys.keys_given({r[-4]: (r[_DEV], r[_SKILL], r[_USER], r[-2], r[-1]) for r in raw
                                         if r[-1] is not None})
        else:
            keys = self.keys.keys_for(conn, {r[-2] for r in raw if r[-2] is not None})
        at = -4 if with_keys else -2  # where key_id and sealed are
        out, loads = [], _LOADS
        opened: dict[int, tuple[AESGCM, bytes]] = {}
        for r in raw:
            row = _BLANK.copy()
            row.update(zip(_NAMES, r, strict=False))  # the id and the clear columns (key_id and sealed left out)
            if (end := row["end_session"]) is not None:
                row["end_session"] = bool(end)
            if isinstance(txn := row["transaction"], str):
                try:
                    row["transaction"] = loads(txn)
                except ValueError:
                    pass
            red = row["redacted"]
            row["redacted"] = [k for k in red.split(",") if k] if red else []
            key_id, sealed = r[at], r[at + 1]
            if sealed is not None:
                aead = opened.get(key_id)
                if aead is None and (key := keys.get(key_id)) is not None:
                    aead = opened[key_id] = (AESGCM(key), str(key_id).encode())
                if aead is not None:
                    row.update(_words(_open(aead, bytes(sealed))))
            out.append(row)
        return out

    def _rows(self: Any, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.decode(conn, conn.execute(sql, params).fetchall())

    def get(self: Any, transcript_id: int) -> dict[str, Any] | None:
        """One transcript by id, or None."""
        with self.connection() as conn:
            rows = self._rows(conn, f"SELECT {SELECT} FROM transcripts WHERE id = %s", (transcript_id,))
        return rows[0] if rows else None

    def warm(self: Any, conn: Any) -> None:
        """Plan the hot reads on ``conn`` before a request waits for them (the pool calls this for each new connection).

        A connection's first read of the partitioned table loads every partition's description,
        and each statement is planned over every day twice (once as it comes, once prepared, on
        its second use): 50-120 ms for a user's history, 10-30 ms for a developer's page, paid by
        the first requests on each new connection (the pool replaces them hourly). Reads for
        nobody ("" is no one's id) run each shape twice, so that requests find them prepared.
        """
        self._bound.conn = conn
        try:
            for _ in range(2):
                self.warm_reads()
        except Exception:  # a failed warm-up only leaves the connection as it was: cold
            log.debug("warming a ledger connection failed", exc_info=True)
        finally:
            self._bound.conn = None

    def warm_reads(self: Any) -> None:
        """Run the hot reads' statements once, for no one: a user's history, a developer's page of a time window.

        The history's own statements are planned when it reads a day: one user's (any) is read
        below id 0, which returns nothing.
        """
        self.user_history("")
        with self.connection() as conn:
            conn.execute("SELECT count(*) FROM user_history_rows(coalesce((SELECT user_id FROM user_days LIMIT 1), ''), "
                         "0, 1)").fetchall()
        self.query({"since": "1970-01-01T00:00:00.000Z", "until": "1970-01-01T06:00:00.000Z"}, developer_id="")

    def user_history(self: Any, user_id: str, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        """A user's transcripts across every skill, newest first (read through the user-scoped view)."""
        with self.connection() as conn:  # the days the user has rows in, newest first (see userdays.py)
            raw = conn.execute(keyed(userdays.HISTORY.format(columns=SELECT, limit=int(limit)), "r.id DESC"),
                               (user_id, before_id or 2**63 - 1, limit)).fetchall()
            return self.decode(conn, raw, with_keys=True)

    def session_turns(self: Any, session_id: str) -> list[dict[str, Any]]:
        """Every turn of one session, in order."""
        with self.connection() as conn:
            return self._rows(conn, f"SELECT {SELECT} FROM transcripts WHERE session_id = %s ORDER BY id",
                              (session_id,))

    def count(self: Any, where: Where = None, /, **fields: Any) -> int:
        """How many transcripts match, e.g. ``count(user_id="u1")``; an unknown field raises ValueError."""
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("count() does not search text; leave q out, or page through query() for matches.")
        clauses, params = where_sql(f, placeholder="%s")
        with self.connection() as conn:
            return int(conn.execute("SELECT count(*) FROM transcripts" + (" WHERE " + " AND ".join(clauses) if clauses
                                                                          else ""), params).fetchone()[0])

    def iter_transcripts(self: Any, where: Where = None, /, *, batch: int = 2000, **fields: Any
                         ) -> Iterator[dict[str, Any]]:
        """Every matching transcript, oldest first (``created_at``, then id), streamed by ``COPY ... TO STDOUT``.

        One read transaction, one statement: the day partitions are read in order, no sort. A
        developer's export reads through the developer-scoped view.
        """
        f = TranscriptFilter.of(where, **fields)
        if f.q is not None:
            raise ValueError("iter_transcripts() does not search text; use iter_query() with q.")
        clauses, params = where_sql(f, placeholder="%s")
        source = "developer_transcripts" if f.developer_id is not None else "transcripts"
        sql = f"COPY (SELECT {SELECT} FROM {source}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        # Data keys are read on a second connection: the first is busy streaming the COPY.
        with self.connection() as conn, self.connection() as keys_conn, conn.transaction():
            if f.developer_id is not None:
                conn.execute("SELECT set_config('skills.developer_id', %s, true)", (f.developer_id,))
            with conn.cursor().copy(sql + " ORDER BY created_at, id) TO STDOUT (FORMAT BINARY)", params) as cp:
                cp.set_types(["bigint", *COPY_TYPES[:-1]])
                chunk: list[tuple[Any, ...]] = []
                for raw in cp.rows():
                    chunk.append(raw)
                    if len(chunk) >= batch:
                        yield from self.decode(keys_conn, chunk)
                        chunk = []
                if chunk:
                    yield from self.decode(keys_conn, chunk)
