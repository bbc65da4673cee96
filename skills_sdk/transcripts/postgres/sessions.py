"""Console sessions in the PostgreSQL ledger, so a sign-in on one host holds on every host."""

from __future__ import annotations

import json
from typing import Any

from ..record import utcnow_iso
from ..sessions import DEFAULT_TTL, ConsoleSession, _expiry, _row_id, session_from_row

__all__ = ["SessionsMixin"]


class SessionsMixin:
    """``load_session`` / ``save_session`` / ``end_session`` of :class:`~.store.PostgresLedger` (mixed into it)."""

    def load_session(self: Any, sid: str) -> tuple[ConsoleSession | None, list[str]]:
        """The live session ``sid`` names, and the slots dropped because their key was revoked."""
        if not sid or len(sid) > 100:
            return None, []
        with self.connection() as conn:
            row = conn.execute(
                "SELECT s.developer_key_id, d.subject, s.user_key_id, u.subject, s.data, s.expires_at "
                "FROM console_sessions s "
                "LEFT JOIN api_keys d ON d.id = s.developer_key_id AND d.revoked_at IS NULL AND d.kind = 'developer' "
                "LEFT JOIN api_keys u ON u.id = s.user_key_id AND u.revoked_at IS NULL AND u.kind = 'user' "
                "WHERE s.id = %s AND s.expires_at > %s", (_row_id(sid), utcnow_iso())).fetchone()
        if row is None:
            return None, []
        session, dropped = session_from_row(sid, row)
        if session is None:
            self.end_session(sid)
        return session, dropped

    def save_session(self: Any, session: ConsoleSession, *, ttl: float = DEFAULT_TTL) -> None:
        """Write ``session``; one with nothing to keep (no sign-in, no message) is deleted instead."""
        dev = session.identities.get("developer", (None, None))[0]
        user = session.identities.get("user", (None, None))[0]
        if dev is None and user is None and not session.data:
            self.end_session(session.sid)
            return
        if session.expires_at is None:
            session.expires_at = _expiry(ttl)
        with self.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM console_sessions WHERE expires_at <= %s", (utcnow_iso(),))
            conn.execute(
                "INSERT INTO console_sessions (id, developer_key_id, user_key_id, data, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "developer_key_id = excluded.developer_key_id, user_key_id = excluded.user_key_id, data = excluded.data",
                (_row_id(session.sid), dev, user,
                 json.dumps(session.data, separators=(",", ":")) if session.data else None, utcnow_iso(),
                 session.expires_at))

    def end_session(self: Any, sid: str) -> None:
        """Delete session ``sid``: its cookie opens nothing any more."""
        with self.connection() as conn:
            conn.execute("DELETE FROM console_sessions WHERE id = %s", (_row_id(sid),))
