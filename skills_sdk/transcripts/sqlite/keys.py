"""API keys on SQLite: made, checked, revoked and listed in the ``api_keys`` table (only hashes are stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import NotFound
from ..keys import KeyInfo, looks_like_key, new_key
from ..keys import key_hash as _hash
from ..record import utcnow_iso
from .audit import audit

if TYPE_CHECKING:
    from .ledger import SQLiteLedger as TranscriptStore

__all__ = ["create_key", "verify_key", "revoke_key", "list_keys"]

def create_key(store: TranscriptStore, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
    """Make a new key for ``subject`` and return it with its record; only its hash is stored.

    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> info, key = create_key(store, "developer", "pronto-pizza-labs")
    >>> key.startswith("sk_dev_"), info.kind
    (True, 'developer')

    ``kind`` is ``developer`` (reads that developer's transcripts) or ``user`` (reads and erases
    that user's data across every skill). Show ``key`` to its owner once: it cannot be recovered.
    """
    key_id, key = new_key(kind, subject)
    info = KeyInfo(key_id, kind, subject, utcnow_iso())
    with store.transaction() as conn:
        conn.execute("INSERT INTO api_keys (id, key_hash, kind, subject, created_at) VALUES (?, ?, ?, ?, ?)",
                     (info.id, _hash(key), kind, subject, info.created_at))
        audit(store, actor, "key_create", {"key": info.id, "kind": kind,
                                           ("developer_id" if kind == "developer" else "user_id"): subject},
              1, conn=conn)
    return info, key


def verify_key(store: TranscriptStore, key: str) -> KeyInfo | None:
    """The live key record for ``key``, or None when it is unknown, revoked or malformed.

    >>> from skills_sdk.transcripts import open_ledger
    >>> verify_key(open_ledger(":memory:"), "sk_dev_wrong") is None
    True
    """
    if not looks_like_key(key):
        return None
    row = store.conn.execute(
        "SELECT id, kind, subject, created_at, revoked_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        (_hash(key),),
    ).fetchone()
    return KeyInfo(*row) if row else None


def revoke_key(store: TranscriptStore, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
    """Revoke a key, named by its id (``key_…``) or by the key itself; it stops working at once.

    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> info, key = create_key(store, "developer", "pronto-pizza-labs")
    >>> revoke_key(store, info.id).revoked_at is not None
    True

    Raises :class:`NotFound` when no such key exists. Revoking a revoked key changes nothing.
    """
    conn = store.conn
    row = conn.execute("SELECT id FROM api_keys WHERE id = ? OR key_hash = ?", (key_or_id, _hash(key_or_id))).fetchone()
    if row is None:
        raise NotFound(f"No key {key_or_id[:12]!r}… here; `skills keys list` shows the ids.")
    with store.transaction() as c:
        changed = c.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            (utcnow_iso(), row[0])).rowcount
        # A console signed in with the key ends with it (the console also re-checks on every request).
        c.execute("DELETE FROM console_sessions WHERE developer_key_id = ? OR user_key_id = ?", (row[0], row[0]))
        audit(store, actor, "key_revoke", {"key": row[0]}, changed, conn=c)
    return next(k for k in list_keys(store) if k.id == row[0])


def list_keys(store: TranscriptStore) -> list[KeyInfo]:
    """Every key ever made, oldest first (the keys themselves are never stored, only their ids)."""
    rows: list[Any] = store.conn.execute(
        "SELECT id, kind, subject, created_at, revoked_at FROM api_keys ORDER BY created_at, id").fetchall()
    return [KeyInfo(*r) for r in rows]
