"""Spool replay into PostgreSQL: a spool file's rows and how far it got, committed in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import psycopg

from ..record import check_types, utcnow_iso
from ..refused import ROW_REFUSALS
from ..spool import spooled_state

if TYPE_CHECKING:
    from .store import PostgresLedger

__all__ = ["record_spooled", "forget_spooled"]

log = logging.getLogger("skills_sdk.transcripts")


#: A row's own faults: a value the server cannot take (a NUL in text), a constraint it breaks.
_REFUSED = (*ROW_REFUSALS, psycopg.DataError, psycopg.IntegrityError)


def record_spooled(ledger: PostgresLedger, source: str,
                   rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]],
                   refuse: Callable[[Mapping[str, Any], BaseException], None]) -> int:
    """Insert ``source``'s rows after the offset recorded for it, and the new offset, in one commit; how many.

    Spool files have unique names, so many hosts replay into one database without meeting; the
    table ``spool_replay`` holds, per file, the byte offset whose rows are in the ledger. A row's
    turn's state change is merged over the user's stored state in the same commit.
    """
    with ledger.connection() as conn:
        got = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s', (source,)).fetchone()
        start = end = got[0] if got else 0
        rows = []
        for end, row in rows_from(start):  # noqa: B007 (end: where the file was read to, used after the loop)
            if row is not None:
                rows.append(row)
        rows = _not_erased_since(ledger, conn, rows)
        # Each turn's state change, in the order of the turns: saved even when its row is refused.
        changes = [(owned, row.get("created_at") or utcnow_iso()) for row in rows
                   if (owned := spooled_state(row)) is not None]
        good = []
        for row in rows:  # sealed and keyed before the transaction, as record_many does
            try:
                check_types(row)
                good.append(ledger.prepare_many(conn, [row])[0])
            except _REFUSED as exc:  # kept aside, not lost, and not in the way of the rest
                refuse(row, exc)
        with conn.transaction():
            # The offset row is locked first: a second replayer of the same file waits here, then
            # finds the offset moved and inserts nothing twice.
            conn.execute('INSERT INTO spool_replay (file, "offset", updated_at) VALUES (%s, 0, %s) '
                         "ON CONFLICT (file) DO NOTHING", (source, utcnow_iso()))
            now = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s FOR UPDATE', (source,)).fetchone()[0]
            if now != start:
                return 0
            ledger.copy_in(conn, good)
            for (dev, skill, user, change), at in changes:
                ledger.merge_state(conn, dev, skill, user, change, at)
            conn.execute('UPDATE spool_replay SET "offset" = %s, updated_at = %s WHERE file = %s',
                         (end, utcnow_iso(), source))
    return len(good)


def _not_erased_since(ledger: PostgresLedger, conn: Any, rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``rows`` without those an erasure recorded after their capture covers.

    Another host may erase a user while this host holds their turns in its spool (it could not
    reach the database): that erasure blanks only its own host's spool. Its receipt, keyed by the
    salted user hash, is what every host can see, so a row captured at or before a receipt of its
    user, in that receipt's scope (every skill, one skill or one developer), is dropped here
    instead of coming back after the user was told it was gone.
    """
    hashes = {ledger.user_hash(row["user_id"]): row["user_id"] for row in rows if row.get("user_id")}
    if not hashes:
        return rows
    erased: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for user_hash, at, scope in conn.execute("SELECT user_hash, at, scope FROM erasure_receipts "
                                             "WHERE user_hash = ANY(%s)", (list(hashes),)).fetchall():
        erased.setdefault(hashes[user_hash], []).append((at, json.loads(scope)))
    if not erased:
        return rows

    def covered(row: Mapping[str, Any]) -> bool:
        return any(row.get("created_at", "") <= at
                   and scope.get("skill") in (None, row.get("skill"))
                   and scope.get("developer_id") in (None, row.get("developer_id"))
                   for at, scope in erased.get(row.get("user_id", ""), ()))

    kept = [row for row in rows if not covered(row)]
    if len(kept) != len(rows):
        # Not "%d spooled row(s)": the log's redactor reads "3 spooled row" as a street address.
        log.warning("spooled rows of users erased since their capture were dropped, not replayed: %d",
                    len(rows) - len(kept))
    return kept


def forget_spooled(ledger: PostgresLedger, source: str) -> None:
    """Drop the progress of spool file ``source``, which replay has removed."""
    with ledger.connection() as conn:
        conn.execute("DELETE FROM spool_replay WHERE file = %s", (source,))
