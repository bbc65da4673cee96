"""What moves with a SQLite ledger besides its transcripts: capture modes, saved state, key hashes, scheduled erasures."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..ledger import COPYABLE

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["iter_copyable", "load_copied"]

_READS = {
    "capture_mode": "SELECT user_id, mode, updated_at FROM consent ORDER BY user_id",
    "state": "SELECT developer_id, skill, user_id, state FROM user_state ORDER BY developer_id, skill, user_id",
    "key": "SELECT id, key_hash, kind, subject, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
    "pending_erasure": "SELECT user_id, developer_id, skill, due_at, reason, created_at FROM pending_erasures ORDER BY id",
}
_WRITES = {
    "capture_mode": "INSERT INTO consent (user_id, mode, updated_at) VALUES (:user_id, :mode, :updated_at) "
                    "ON CONFLICT (user_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at "
                    "WHERE excluded.updated_at > consent.updated_at",
    "state": "INSERT INTO user_state (developer_id, skill, user_id, state, updated_at) VALUES (:developer_id, :skill, "
             ":user_id, :state, :updated_at) ON CONFLICT (developer_id, skill, user_id) DO UPDATE SET "
             "state = excluded.state, updated_at = excluded.updated_at",
    "key": "INSERT INTO api_keys (id, key_hash, kind, subject, created_at, revoked_at) VALUES (:id, :key_hash, :kind, "
           ":subject, :created_at, :revoked_at) ON CONFLICT DO NOTHING",
    "pending_erasure": "INSERT INTO pending_erasures (user_id, developer_id, skill, due_at, reason, created_at) VALUES "
                       "(:user_id, :developer_id, :skill, :due_at, :reason, :created_at)",
}


def iter_copyable(store: SQLiteLedger) -> Iterator[tuple[str, dict[str, Any]]]:
    """:meth:`Ledger.iter_copyable` on SQLite: each kind in :data:`COPYABLE` order, read in one snapshot each."""
    for kind in COPYABLE:
        cur = store.conn.execute(_READS[kind])
        names = [d[0] for d in cur.description]
        for row in cur.fetchall():
            fields = dict(zip(names, row, strict=True))
            if kind == "state":
                fields["state"] = json.loads(fields["state"])
            yield kind, fields


def load_copied(store: SQLiteLedger, items: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
    """:meth:`Ledger.load_copied` on SQLite: one transaction; an unknown kind raises ValueError naming it."""
    from ..record import utcnow_iso

    taken = dict.fromkeys(COPYABLE, 0)
    with store.transaction() as conn:
        for kind, fields in items:
            if kind not in _WRITES:
                raise ValueError(f"cannot copy {kind!r}: a ledger copies {', '.join(COPYABLE)}.")
            values = dict(fields)
            if kind == "state":
                values["state"] = json.dumps(dict(values["state"]), separators=(",", ":"))
                values["updated_at"] = utcnow_iso()
            conn.execute(_WRITES[kind], values)
            taken[kind] += 1
    return taken
