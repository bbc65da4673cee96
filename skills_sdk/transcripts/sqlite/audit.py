"""The audit trail on SQLite: the append-only ``audit_log`` table (triggers refuse updates and deletes)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..audit import access_entry, check_action, safe_filters
from ..record import utcnow_iso
from .driver import sqlite3

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["audit", "iter_audit", "access_log"]

_INSERT = "INSERT INTO audit_log (at, actor, action, filters, rows) VALUES (?, ?, ?, ?, ?)"


def audit(store: SQLiteLedger, actor: str, action: str, filters: Mapping[str, Any] | None = None,
          rows: int = 0, *, conn: sqlite3.Connection | None = None, users: Mapping[str, int] | None = None) -> None:
    """Append one audit row: who (a key id, or ``cli``), what, with which filters, how many rows.

    Pass ``conn`` to write inside an open transaction (an erasure and its audit row commit together).
    User ids in ``filters`` are stored as salted hashes and search text as a keyed hash, so the log
    never keeps what an erasure removed. ``users`` (user id: rows returned) feeds each user's
    :func:`access_log`, under the same salted hash.
    """
    check_action(action)
    values = (utcnow_iso(), actor, action, safe_filters(store, filters), int(rows))
    seen = [(store.user_hash(u), int(n)) for u, n in (users or {}).items() if u and n]
    if not seen:
        (conn or store.conn).execute(_INSERT, values)
        return
    if conn is None:
        with store.transaction() as c:
            _write(c, values, seen)
    else:
        _write(conn, values, seen)


def _write(conn: sqlite3.Connection, values: tuple[Any, ...], seen: list[tuple[str, int]]) -> None:
    audit_id = conn.execute(_INSERT, values).lastrowid
    conn.executemany("INSERT INTO audit_access (audit_id, user_hash, rows) VALUES (?, ?, ?)",
                     [(audit_id, h, n) for h, n in seen])


def access_log(store: SQLiteLedger, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every audited read, search and export that returned any of ``user_id``'s rows, newest first.

    >>> access_log(store, "amzn1.ask.account.A")[0]     # doctest: +SKIP
    {'at': '2026-12-01T…Z', 'action': 'export', 'what': 'exported transcripts', 'rows': 8,
     'by': 'developer', 'developer_id': 'pronto-pizza-labs', 'searched': True}

    ``by`` is ``developer`` (with ``developer_id``) or ``operator`` (the command line); the user's
    own reads with their token are left out. ``searched`` says whether a search found the rows;
    the search text itself is never kept, so it cannot be shown.
    """
    return [access_entry(at, action, filters, rows, kind, subject)
            for at, _actor, action, filters, rows, kind, subject in store.conn.execute(
                "SELECT a.at, a.actor, a.action, a.filters, x.rows, k.kind, k.subject FROM audit_access x "
                "JOIN audit_log a ON a.id = x.audit_id LEFT JOIN api_keys k ON k.id = a.actor "
                "WHERE x.user_hash = ? AND (k.kind IS NULL OR k.kind != 'user') ORDER BY x.audit_id DESC LIMIT ?",
                (store.user_hash(user_id), int(limit)))]


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
    for rid, at, actor, action, filters, rows in store.conn.execute(sql, params).fetchall():
        yield {"id": rid, "at": at, "actor": actor, "action": action,
               "filters": json.loads(filters) if filters else None, "rows": rows}
