"""What moves with a PostgreSQL ledger besides its transcripts: capture modes, saved state, key hashes, scheduled erasures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..ledger import COPYABLE

__all__ = ["CopyingMixin"]

_READS = {
    "capture_mode": "SELECT user_id, mode, updated_at FROM consent ORDER BY user_id",
    "key": "SELECT id, key_hash, kind, subject, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
    "pending_erasure": "SELECT user_id, developer_id, skill, due_at, reason, created_at FROM pending_erasures ORDER BY id",
}
_WRITES = {
    "capture_mode": "INSERT INTO consent (user_id, mode, updated_at) VALUES (%(user_id)s, %(mode)s, %(updated_at)s) "
                    "ON CONFLICT (user_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at "
                    "WHERE excluded.updated_at > consent.updated_at",
    "key": "INSERT INTO api_keys (id, key_hash, kind, subject, created_at, revoked_at) VALUES (%(id)s, %(key_hash)s, "
           "%(kind)s, %(subject)s, %(created_at)s, %(revoked_at)s) ON CONFLICT DO NOTHING",
    "pending_erasure": "INSERT INTO pending_erasures (user_id, developer_id, skill, due_at, reason, created_at) VALUES "
                       "(%(user_id)s, %(developer_id)s, %(skill)s, %(due_at)s, %(reason)s, %(created_at)s)",
}


class CopyingMixin:
    """:meth:`Ledger.iter_copyable` and :meth:`Ledger.load_copied` for :class:`~.store.PostgresLedger`.

    Saved state is sealed under each user's data key: it is read through ``load_state`` (unsealed)
    and written through ``save_state`` (sealed under the target's key for that user).
    """

    def iter_copyable(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each kind in :data:`COPYABLE` order; a state is unsealed as it is read."""
        for kind in COPYABLE:
            if kind == "state":
                with self.connection() as conn:  # type: ignore[attr-defined]
                    owners = conn.execute("SELECT developer_id, skill, user_id FROM user_state "
                                          "ORDER BY developer_id, skill, user_id").fetchall()
                for dev, skill, user in owners:
                    state = self.load_state(dev, skill, user)  # type: ignore[attr-defined]
                    if state:
                        yield kind, {"developer_id": dev, "skill": skill, "user_id": user, "state": state}
                continue
            with self.connection() as conn:  # type: ignore[attr-defined]
                cur = conn.execute(_READS[kind])
                names = [d.name for d in cur.description]
                rows = cur.fetchall()
            for row in rows:
                yield kind, dict(zip(names, row, strict=True))

    def load_copied(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
        """Modes, keys and scheduled erasures in one transaction; each state sealed and saved on its own."""
        taken = dict.fromkeys(COPYABLE, 0)
        states: list[Mapping[str, Any]] = []
        with self.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
            for kind, fields in items:
                if kind == "state":
                    states.append(fields)
                    continue
                if kind not in _WRITES:
                    raise ValueError(f"cannot copy {kind!r}: a ledger copies {', '.join(COPYABLE)}.")
                conn.execute(_WRITES[kind], dict(fields))
                taken[kind] += 1
        for fields in states:
            self.save_state(fields["developer_id"], fields["skill"], fields["user_id"],  # type: ignore[attr-defined]
                            fields["state"])
            taken["state"] += 1
        return taken
