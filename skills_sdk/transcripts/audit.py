"""The audit trail: an append-only log of every read, export, erasure, purge, key change and consent change."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._sqlite import sqlite3
from .store import TranscriptStore, privacy_secret, utcnow_iso

__all__ = ["audit", "iter_audit", "user_hash", "search_hash", "access_log", "tally", "tally_jsonl", "ACTIONS"]

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


def search_hash(store: TranscriptStore, text: str) -> str:
    """A keyed hash of search text (HMAC-SHA256 under this database's secret), as the audit log keeps it.

    >>> search_hash(store, "415 555 0100")      # doctest: +SKIP
    'q:8e07d1…'

    Keyed like user ids: a plain hash of a searched phone number could be reversed by trying them all.
    """
    return "q:" + hmac.new(privacy_secret(store), b"q:" + text.encode(), hashlib.sha256).hexdigest()[:32]


def tally(rows: Iterable[Mapping[str, Any]], users: Counter[str]) -> Iterator[Mapping[str, Any]]:
    """Yield ``rows`` unchanged, counting each row's user in ``users`` (for an export's audit row).

    >>> users = Counter(); list(tally([{"user_id": "u1"}], users)); users     # doctest: +SKIP
    Counter({'u1': 1})
    """
    for row in rows:
        user = row.get("user_id")
        if user:
            users[user] += 1
        yield row


#: A JSON line's user_id (the export's lines are compact JSON objects); the alternatives cannot overlap: linear.
_JSON_USER = re.compile(r'"user_id":"((?:[^"\\]|\\.)*)"')


def tally_jsonl(lines: Iterable[str], users: Counter[str]) -> Iterator[str]:
    """Yield JSON ``lines`` (one transcript each) unchanged, counting each line's user in ``users``."""
    for line in lines:
        m = _JSON_USER.search(line)
        if m is not None:
            raw = m.group(1)
            users[json.loads(f'"{raw}"') if "\\" in raw else raw] += 1
        yield line


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
            v = search_hash(store, v)
        out[k] = v
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str)


def audit(store: TranscriptStore, actor: str, action: str, filters: Mapping[str, Any] | None = None,
          rows: int = 0, *, conn: sqlite3.Connection | None = None, users: Mapping[str, int] | None = None) -> None:
    """Append one audit row: who (a key id, or ``cli``), what, with which filters, how many rows.

    >>> audit(store, "key_1a2b", "list", {"skill": "pizza"}, rows=12)

    Pass ``conn`` to write inside an open transaction (an erasure and its audit row commit together).
    User ids in ``filters`` are stored as salted hashes and search text as a keyed hash, so the log
    never keeps what an erasure removed. ``users`` (user id: rows returned) feeds each user's
    :func:`access_log`, under the same salted hash.
    """
    if action not in ACTIONS:
        raise ValueError(f"audit action must be one of {', '.join(ACTIONS)}, got {action!r}.")
    values = (utcnow_iso(), actor, action, _safe_filters(store, filters), int(rows))
    seen = [(user_hash(store, u), int(n)) for u, n in (users or {}).items() if u and n]
    if not seen:
        (conn or store.db.conn).execute(_INSERT, values)
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


#: How each audited read is named to the user whose rows it returned.
_READS = {"list": "read a page of transcripts", "get": "read a transcript or conversation",
          "export": "exported transcripts", "user_list": "read a page of transcripts"}


def access_log(store: TranscriptStore, user_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every audited read, search and export that returned any of ``user_id``'s rows, newest first.

    >>> access_log(store, "amzn1.ask.account.A")[0]     # doctest: +SKIP
    {'at': '2026-12-01T…Z', 'action': 'export', 'what': 'exported transcripts', 'rows': 8,
     'by': 'developer', 'developer_id': 'pronto-pizza-labs', 'searched': True}

    ``by`` is ``developer`` (with ``developer_id``) or ``operator`` (the command line); the user's
    own reads with their token are left out. ``searched`` says whether a search found the rows;
    the search text itself is never kept, so it cannot be shown.
    """
    return [access_entry(at, action, filters, rows, kind, subject)
            for at, actor, action, filters, rows, kind, subject in store.db.conn.execute(
                "SELECT a.at, a.actor, a.action, a.filters, x.rows, k.kind, k.subject FROM audit_access x "
                "JOIN audit_log a ON a.id = x.audit_id LEFT JOIN api_keys k ON k.id = a.actor "
                "WHERE x.user_hash = ? AND (k.kind IS NULL OR k.kind != 'user') ORDER BY x.audit_id DESC LIMIT ?",
                (user_hash(store, user_id), int(limit)))]


def access_entry(at: str, action: str, filters: str | None, rows: int, kind: str | None,
                 subject: str | None) -> dict[str, Any]:
    """One access-log entry as the user sees it, from an audit row joined to its key (any backend)."""
    entry: dict[str, Any] = {"at": at, "action": action, "what": _READS.get(action, action), "rows": rows}
    if kind == "developer":
        entry.update(by="developer", developer_id=subject)
    else:
        entry["by"] = "operator"
    entry["searched"] = bool(filters) and '"q":' in filters
    return entry


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
