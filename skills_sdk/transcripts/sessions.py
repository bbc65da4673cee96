"""Console sessions kept in the SQLite ledger: the browser holds a random id, the row names the key by its id."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from typing import TYPE_CHECKING

from .record import to_iso, utcnow_iso

if TYPE_CHECKING:
    from .store import TranscriptStore

__all__ = ["ConsoleSession", "new_session_id", "load_session", "save_session", "end_session", "DEFAULT_TTL", "SLOTS"]

#: How long a console sign-in lasts, in seconds, unless the app config says otherwise.
DEFAULT_TTL = 8 * 3600
#: The two sign-ins a console session can hold: the developer console's and "My data"'s.
SLOTS = ("developer", "user")


@dataclass
class ConsoleSession:
    """What the ledger knows about one browser session: the key ids signed in, and short-lived page data.

    ``identities`` maps a slot (``developer`` or ``user``) to ``(key_id, subject)`` of a live key;
    ``data`` holds what pages carry from one request to the next (flashed messages).
    """

    sid: str
    identities: dict[str, tuple[str, str]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    expires_at: str | None = None


def new_session_id() -> str:
    """A fresh session id: 256 random bits, the only thing the browser's cookie carries."""
    return secrets.token_urlsafe(32)


def _row_id(sid: str) -> str:
    # The table holds a hash of the id, so whoever reads the database cannot present it as a cookie.
    return hashlib.sha256(sid.encode()).hexdigest()


def _expiry(ttl: float) -> str:
    return to_iso(datetime.now(UTC) + timedelta(seconds=ttl))


def load_session(store: TranscriptStore, sid: str) -> tuple[ConsoleSession | None, list[str]]:
    """The live session ``sid`` names, and the slots that were dropped because their key was revoked.

    An unknown, expired or ended id gives ``(None, [])``; a session whose every key was revoked
    is deleted and gives ``(None, slots)``.
    """
    if not sid or len(sid) > 100:
        return None, []
    row = store.db.conn.execute(
        "SELECT s.developer_key_id, d.subject, s.user_key_id, u.subject, s.data, s.expires_at "
        "FROM console_sessions s "
        "LEFT JOIN api_keys d ON d.id = s.developer_key_id AND d.revoked_at IS NULL AND d.kind = 'developer' "
        "LEFT JOIN api_keys u ON u.id = s.user_key_id AND u.revoked_at IS NULL AND u.kind = 'user' "
        "WHERE s.id = ? AND s.expires_at > ?", (_row_id(sid), utcnow_iso())).fetchone()
    if row is None:
        return None, []
    session, dropped = session_from_row(sid, row)
    if session is None:
        end_session(store, sid)
    return session, dropped


def session_from_row(sid: str, row: tuple[Any, ...]) -> tuple[ConsoleSession | None, list[str]]:
    """The session a stored row describes (any backend), and the slots whose key was revoked; None when
    every key it held was revoked (the caller deletes the row)."""
    dev_key, dev, user_key, user, data, expires_at = row
    session = ConsoleSession(sid, data=json.loads(data) if data else {}, expires_at=expires_at)
    dropped = []
    for slot, key_id, subject in (("developer", dev_key, dev), ("user", user_key, user)):
        if key_id is not None and subject is None:
            dropped.append(slot)
        elif key_id is not None:
            session.identities[slot] = (key_id, subject)
    if dropped and not session.identities:
        return None, dropped
    return session, dropped


def save_session(store: TranscriptStore, session: ConsoleSession, *, ttl: float = DEFAULT_TTL) -> None:
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
        session.expires_at = _expiry(ttl)
    with store.transaction() as conn:
        # Expired rows go as new ones come, so the table holds live sessions only.
        conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (utcnow_iso(),))
        conn.execute(
            "INSERT INTO console_sessions (id, developer_key_id, user_key_id, data, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET developer_key_id = excluded.developer_key_id, "
            "user_key_id = excluded.user_key_id, data = excluded.data",
            (_row_id(session.sid), dev, user, json.dumps(session.data, separators=(",", ":")) if session.data else None,
             utcnow_iso(), session.expires_at))


def end_session(store: TranscriptStore, sid: str) -> None:
    """Delete session ``sid``: its cookie opens nothing any more."""
    store.db.conn.execute("DELETE FROM console_sessions WHERE id = ?", (_row_id(sid),))
