"""API keys: developer keys that read one developer's transcripts, user tokens that reach one user's data."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["KeyInfo", "PREFIXES", "new_key", "key_hash", "create_key", "verify_key", "revoke_key", "list_keys"]

#: How a key starts, by kind: a leaked key in a log says at a glance what it opens.
PREFIXES = {"developer": "sk_dev_", "user": "sk_user_"}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key: its id, kind (developer or user), subject (developer id or user id), and dates."""

    id: str
    kind: str
    subject: str
    created_at: str
    revoked_at: str | None = None


def key_hash(key: str) -> str:
    """What a ledger stores of ``key``: its SHA-256, hex."""
    # A plain SHA-256 is right here: keys carry 192 random bits, so there is nothing to brute-force
    # and a slow password hash (bcrypt, scrypt) would only add latency to every API request.
    return hashlib.sha256(key.encode()).hexdigest()


_hash = key_hash  # the name a backend written before the split imports


def new_key(kind: str, subject: str) -> tuple[str, str]:
    """A fresh ``(key id, key)`` of ``kind`` for ``subject``; ValueError names a wrong kind or an empty subject."""
    if kind not in PREFIXES:
        raise ValueError(f"key kind must be 'developer' or 'user', got {kind!r}.")
    if not subject or not subject.strip():
        raise ValueError(f"a {kind} key needs the {kind} id it belongs to; got {subject!r}.")
    if not subject.isprintable() or subject != subject.strip():  # a newline in an id forged lines of `keys list`
        raise ValueError(f"a {kind} id is printable text without spaces around it; got {subject!r}.")
    return "key_" + secrets.token_hex(6), PREFIXES[kind] + secrets.token_urlsafe(24)  # 32 url-safe characters


def looks_like_key(key: str) -> bool:
    """True when ``key`` has a key's form (a prefix, a sane length): anything else is refused unread."""
    return bool(key) and key.startswith(tuple(PREFIXES.values())) and len(key) <= 200


# The functional forms, for scripts: each is the ledger's method of the same name.
def create_key(ledger: Ledger, kind: str, subject: str, *, actor: str = "cli") -> tuple[KeyInfo, str]:
    """:meth:`Ledger.create_key`."""
    return ledger.create_key(kind, subject, actor=actor)


def verify_key(ledger: Ledger, key: str) -> KeyInfo | None:
    """:meth:`Ledger.verify_key`."""
    return ledger.verify_key(key)


def revoke_key(ledger: Ledger, key_or_id: str, *, actor: str = "cli") -> KeyInfo:
    """:meth:`Ledger.revoke_key`."""
    return ledger.revoke_key(key_or_id, actor=actor)


def list_keys(ledger: Ledger) -> list[KeyInfo]:
    """:meth:`Ledger.list_keys`."""
    return ledger.list_keys()
