"""The audit trail: an append-only log of every read, export, erasure, purge, key change and consent change."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any

from ._sqlite import sqlite3
from .store import TranscriptStore, privacy_secret, utcnow_iso

__all__ = ["audit", "iter_audit", "user_hash", "ACTIONS"]

#: What the log records, one word per kind of access.
ACTIONS = ("list", "get", "export", "user_list", "erase", "purge", "skill_disabled", "key_create", "key_revoke",
           "consent", "import")
_INSERT = "INSERT INTO audit_log (at, actor, action, filters, rows) VALUES (?, ?, ?, ?, ?)"


def user_hash(store: TranscriptStore, user_id: str) -> str:
    """A salted hash of ``user_id`` (HMAC-SHA256 under this database's secret), for records that must not hold the id.

    >>> user_hash(store, "amzn1.ask.account.A")      # doctest: +SKIP
    'u:3f9c0a…'

    The same id gives the same hash within one database, so a user who knows their id can find
    their receipts; the id cannot be read back from the hash.
    """
    return "u:" + hmac.new(privacy_secret(store), user_id.encode(), hashlib.sha256).hexdigest()[:32]


def _safe_filters(store: TranscriptStore, filters: Mapping[str, Any] | None) -> str | None:
    """The filters as JSON, with user ids and search text replaced by hashes (erasure must not leave them here)."""
    if not filters:
        return None
    out: dict[str, Any] = {}
    for k, v in filters.items():
        if v is None:
            continue
        if k in ("user_id", "user") and isinstance(v, str):
            v = user_hash(store, v)
        elif k == "q" and isinstance(v, str):
            v = "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16]
        out[k] = v
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str)


def audit(store: TranscriptStore, actor: str, action: str, filters: Mapping[str, Any] | None = None,
          rows: int = 0, *, conn: sqlite3.Connection | None = None) -> None:
    """Append one audit row: who (a key id, or ``cli``), what, with which filters, how many rows.

    >>> audit(store, "key_1a2b", "list", {"skill": "pizza"}, rows=12)

    Pass ``conn`` to write inside an open transaction (an erasure and its audit row commit together).
    User ids in ``filters`` are stored as salted hashes and search text as a hash, so the log
    never keeps what an erasure removed.
    """
    if action not in ACTIONS:
        raise ValueError(f"audit action must be one of {', '.join(ACTIONS)}, got {action!r}.")
    (conn or store.db.conn).execute(_INSERT, (utcnow_iso(), actor, action, _safe_filters(store, filters), int(rows)))


def iter_audit(store: TranscriptStore, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
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
