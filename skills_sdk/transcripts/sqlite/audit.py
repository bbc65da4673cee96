"""The audit trail on SQLite: the append-only ``audit_log`` table (triggers refuse updates and deletes)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..audit import check_action, safe_filters
from ..record import utcnow_iso
from .driver import sqlite3

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["audit", "iter_audit"]

_INSERT = "INSERT INTO audit_log (at, actor, action, filters, rows) VALUES (?, ?, ?, ?, ?)"


def audit(store: SQLiteLedger, actor: str, action: str, filters: Mapping[str, Any] | None = None,
          rows: int = 0, *, conn: sqlite3.Connection | None = None) -> None:
    """Append one audit row: who (a key id, or ``cli``), what, with which filters, how many rows.

    Pass ``conn`` to write inside an open transaction (an erasure and its audit row commit together).
    User ids in ``filters`` are stored as salted hashes and search text as a hash, so the log
    never keeps what an erasure removed.
    """
    check_action(action)
    (conn or store.db.conn).execute(_INSERT, (utcnow_iso(), actor, action, safe_filters(store, filters), int(rows)))


def iter_audit(store: SQLiteLedger, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Audit rows, newest first (``limit`` of them, or all).

    >>> [r["action"] for r in iter_audit(store, limit=2)]     # doctest: +SKIP
    ['erase', 'list']
    """
    sql = "SELECT id, at, actor, action, filters, rows FROM audit_log ORDER BY id DESC"
    params: tuple[Any, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (int(limit),)
    for rid, at, actor, action, filters, rows in store.db.conn.execute(sql, params).fetchall():
        yield {"id": rid, "at": at, "actor": actor, "action": action,
               "filters": json.loads(filters) if filters else None, "rows": rows}
