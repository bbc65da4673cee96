"""Spool replay into SQLite: a spool file's rows and how far it got, committed in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..record import check_types, storage_values, utcnow_iso
from ..refused import ROW_REFUSALS
from ..spool import spooled_state
from .chain import seal_inserted
from .driver import sqlite3
from .userstate import merge_state

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["record_spooled", "forget_spooled"]

_PROGRESS_SQL = (
    "CREATE TABLE IF NOT EXISTS spool_replay (file TEXT PRIMARY KEY, offset INTEGER NOT NULL, updated_at TEXT)"
)
_SAVE_SQL = ("INSERT INTO spool_replay (file, offset, updated_at) VALUES (?, ?, ?) "
             "ON CONFLICT (file) DO UPDATE SET offset = excluded.offset, updated_at = excluded.updated_at")


#: A row's own faults: a constraint it breaks, a value that cannot be bound.
_REFUSED = (*ROW_REFUSALS, sqlite3.IntegrityError, sqlite3.InterfaceError)


def record_spooled(ledger: SQLiteLedger, source: str,
                   rows_from: Callable[[int], Iterable[tuple[int, Mapping[str, Any] | None]]],
                   refuse: Callable[[Mapping[str, Any], BaseException], None]) -> int:
    """Insert ``source``'s rows after the offset recorded for it, and the new offset, in one commit; how many.

    A row's turn's state change is merged over the user's stored state in the same commit.

    The write transaction is taken before the offset is read, so a second replayer of the same
    file waits, then reads the moved offset and inserts nothing twice. A row refused for what it
    holds goes to ``refuse`` before the commit; any other error (a full disk) rolls everything back.
    """
    from .inserts import INSERT_ID_SQL

    conn = ledger.conn
    conn.execute(_PROGRESS_SQL)
    inserted = 0
    with ledger.transaction():
        got = conn.execute("SELECT offset FROM spool_replay WHERE file = ?", (source,)).fetchone()
        start = end = got[0] if got else 0
        first = conn.execute(ledger.next_id_sql).fetchone()[0]
        for end, row in rows_from(start):  # noqa: B007 (end: where the file was read to, used after the loop)
            if row is None:
                continue
            owned = spooled_state(row)  # the turn's state change: saved even when its row is refused
            try:
                check_types(row)
                conn.execute(INSERT_ID_SQL, (first + inserted, *storage_values(row)))
                inserted += 1
            except _REFUSED as exc:  # kept aside, not lost, and not in the way of the rest
                refuse(row, exc)
            if owned is not None:
                merge_state(conn, *owned, row.get("created_at") or utcnow_iso())
        if inserted:
            seal_inserted(conn, ledger.secret(), first, first + inserted - 1)
        conn.execute(_SAVE_SQL, (source, end, utcnow_iso()))
    return inserted


def forget_spooled(ledger: SQLiteLedger, source: str) -> None:
    """Drop the progress of spool file ``source``, which replay has removed."""
    ledger.conn.execute(_PROGRESS_SQL)
    ledger.conn.execute("DELETE FROM spool_replay WHERE file = ?", (source,))
