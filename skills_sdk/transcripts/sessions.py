"""Console sessions in the ledger: the browser holds a random id, the ledger a hash of it and the key ids signed in."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .record import to_iso

__all__ = ["ConsoleSession", "new_session_id", "session_row_id", "session_expiry", "session_from_row", "DEFAULT_TTL",
           "SLOTS"]

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


def session_row_id(sid: str) -> str:
    """What a ledger stores for session ``sid``: its SHA-256, hex."""
    # The table holds a hash of the id, so whoever reads the database cannot present it as a cookie.
    return hashlib.sha256(sid.encode()).hexdigest()


def session_expiry(ttl: float) -> str:
    """When a session made now with ``ttl`` seconds to live expires, in the ledger's time format."""
    return to_iso(datetime.now(UTC) + timedelta(seconds=ttl))


def session_from_row(sid: str, row: tuple[Any, ...]) -> tuple[ConsoleSession | None, list[str]]:
    """The session a stored row describes (any backend), and the slots whose key was revoked; None when
    every key it held was revoked (the caller deletes the row).

    ``row`` is ``(developer key id, its live subject, user key id, its live subject, data, expires_at)``,
    a subject None when that key was revoked.
    """
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


# The names a backend written before the split imports.
_row_id = session_row_id
_expiry = session_expiry
