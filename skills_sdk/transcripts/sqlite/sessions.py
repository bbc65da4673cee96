"""Console sessions on SQLite: the ``console_sessions`` table, joined with ``api_keys`` so a revoked key ends them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..record import utcnow_iso
from ..sessions import DEFAULT_TTL, ConsoleSession, session_expiry, session_from_row, session_row_id

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["load_session", "save_session", "end_session"]


def load_session(store: SQLiteLedger, sid: str) -> tuple[ConsoleSession | None, list[str]]:
    """The live session ``sid`` names, and the slots that were dropped because their key was revoked.

    An unknown, expired or ended id gives ``(None, [])``; a session whose every key was revoked
    is deleted and gives ``(None, slots)``.
    """
    if not sid or len(sid) > 100:
        return None, []
    row = store.conn.execute(
        "SELECT s.developer_key_id, d.subject, s.user_key_id, u.subject, s.data, s.expires_at "
        "FROM console_sessions s "
        "LEFT JOIN api_keys d ON d.id = s.developer_key_id AND d.revoked_at IS NULL AND d.kind = 'developer' "
        "LEFT JOIN api_keys u ON u.id = s.user_key_id AND u.revoked_at IS NULL AND u.kind = 'user' "
        "WHERE s.id = ? AND s.expires_at > ?", (session_row_id(sid), utcnow_iso())).fetchone()
    if row is None:
        return None, []
    session, dropped = session_from_row(sid, row)
    if session is None:
        end_session(store, sid)
    return session, dropped


def save_session(store: SQLiteLedger, session: ConsoleSession, *, ttl: float = DEFAULT_TTL) -> None:
    """Write ``session`` (a new one lives ``ttl`` seconds; a saved one keeps its expiry).

    A session with nothing to keep (no sign-in, no message) is deleted instead: a visitor who only
    reads the sign-in page leaves no row.
    """
    dev = session.identities.get("developer", (None, None))[0]
    user = session.identities.get("user", (None, None))[0]
    if dev is None and user is None and not session.data:
        end_session(store, session.sid)
        return
    if session.expires_at is None:
        session.expires_at = session_expiry(ttl)
    with store.transaction() as conn:
        # Expired rows go as new ones come, so the table holds live sessions only.
        conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (utcnow_iso(),))
        conn.execute(
            "INSERT INTO console_sessions (id, developer_key_id, user_key_id, data, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET developer_key_id = excluded.developer_key_id, "
            "user_key_id = excluded.user_key_id, data = excluded.data",
            (session_row_id(session.sid), dev, user, json.dumps(session.data, separators=(",", ":")) if session.data else None,
             utcnow_iso(), session.expires_at))


def end_session(store: SQLiteLedger, sid: str) -> None:
    """Delete session ``sid``: its cookie opens nothing any more."""
    store.conn.execute("DELETE FROM console_sessions WHERE id = ?", (session_row_id(sid),))
