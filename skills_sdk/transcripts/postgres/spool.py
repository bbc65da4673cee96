"""Spool replay into PostgreSQL: a spool file's rows and how far it got, committed in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..record import utcnow_iso

if TYPE_CHECKING:
    from .store import PostgresLedger

__all__ = ["record_spooled", "forget_spooled"]

log = logging.getLogger("skills_sdk.transcripts")


def record_spooled(ledger: PostgresLedger, source: str,
                   rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]]) -> int:
    """Insert ``source``'s rows after the offset recorded for it, and the new offset, in one commit; how many.

    Spool files have unique names, so many hosts replay into one database without meeting; the
    table ``spool_replay`` holds, per file, the byte offset whose rows are in the ledger.
    """
    with ledger.connection() as conn:
        got = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s', (source,)).fetchone()
        start = end = got[0] if got else 0
        rows = []
        for end, row in rows_from(start):
            if row is not None:
                rows.append(row)
        good = []
        for row in rows:  # sealed and keyed before the transaction, as record_many does
            try:
                good.append(ledger.prepare_many(conn, [row])[0])
            except Exception as exc:  # a row the ledger refuses must not block the rest
                log.error("spooled row for request %s skipped: %s", row.get("request_id"), exc)
        with conn.transaction():
            # The offset row is locked first: a second replayer of the same file waits here, then
            # finds the offset moved and inserts nothing twice.
            conn.execute('INSERT INTO spool_replay (file, "offset", updated_at) VALUES (%s, 0, %s) '
                         "ON CONFLICT (file) DO NOTHING", (source, utcnow_iso()))
            now = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s FOR UPDATE', (source,)).fetchone()[0]
            if now != start:
                return 0
            ledger.copy_in(conn, good)
            conn.execute('UPDATE spool_replay SET "offset" = %s, updated_at = %s WHERE file = %s',
                         (end, utcnow_iso(), source))
    return len(good)


def forget_spooled(ledger: PostgresLedger, source: str) -> None:
    """Drop the progress of spool file ``source``, which replay has removed."""
    with ledger.connection() as conn:
        conn.execute("DELETE FROM spool_replay WHERE file = %s", (source,))
