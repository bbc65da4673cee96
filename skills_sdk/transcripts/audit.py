"""The audit trail: what it records (one word per kind of access) and how filters are kept without personal data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ACTIONS", "safe_filters", "audit", "iter_audit", "user_hash"]

#: What the log records, one word per kind of access.
ACTIONS = ("list", "get", "export", "user_list", "erase", "purge", "skill_disabled", "key_create", "key_revoke",
           "consent", "import")


def check_action(action: str) -> None:
    """Raise ValueError naming the known actions when ``action`` is not one of them."""
    if action not in ACTIONS:
        raise ValueError(f"audit action must be one of {', '.join(ACTIONS)}, got {action!r}.")


def safe_filters(ledger: Ledger, filters: Mapping[str, Any] | None) -> str | None:
    """The filters as JSON, with user ids and search text replaced by hashes (erasure must not leave them here)."""
    if not filters:
        return None
    out: dict[str, Any] = {}
    for k, v in filters.items():
        if v is None:
            continue
        if k in ("user_id", "user") and isinstance(v, str):
            v = ledger.user_hash(v)
        elif k == "q" and isinstance(v, str):
            v = "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16]
        out[k] = v
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str)


# The functional forms, for scripts: each is the ledger's method of the same name.
def audit(ledger: Ledger, actor: str, action: str, filters: Mapping[str, Any] | None = None, rows: int = 0) -> None:
    """:meth:`Ledger.audit`: append one audit row.

    >>> audit(ledger, "key_1a2b", "list", {"skill": "pizza"}, rows=12)
    """
    ledger.audit(actor, action, filters, rows)


def iter_audit(ledger: Ledger, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """:meth:`Ledger.iter_audit`: audit rows, newest first."""
    return ledger.iter_audit(limit=limit)


def user_hash(ledger: Ledger, user_id: str) -> str:
    """:meth:`Ledger.user_hash`: a salted hash of ``user_id`` for records that must not hold the id."""
    return ledger.user_hash(user_id)
