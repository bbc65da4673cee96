"""Consent (capture modes) and per-user skill state in the PostgreSQL ledger; state is sealed under the user's key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...context import LoadedState, StateChange
from ..ledger import CAPTURE_MODES, DEFAULT_CAPTURE_MODE
from ..record import utcnow_iso
from . import crypto
from .deadline import bounded

__all__ = ["StateMixin"]

# A turn's state and its user's capture mode in one round trip: always one row, the state's
# columns NULL when there is none. The key comes along wrapped (the cache is asked first), so a
# user whose key is not in memory costs no second statement either; an erased key leaves it NULL.
_STATE_AND_MODE = (
    "SELECT s.key_id, s.sealed, k.epoch, k.wrapped, (SELECT mode FROM consent WHERE user_id = %(u)s) "
    "FROM (SELECT 1) one LEFT JOIN user_state s ON s.developer_id = %(d)s AND s.skill = %(s)s "
    "AND s.user_id = %(u)s LEFT JOIN user_keys k ON k.id = s.key_id")
#: The stored state, upserted; with ``_OVER_LOADED`` only over the version a turn loaded (its sealed
#: bytes, each write's own: a fresh nonce), else nothing is written and nothing returned.
_UPSERT = ("INSERT INTO user_state (developer_id, skill, user_id, key_id, sealed, updated_at) "
           "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (developer_id, skill, user_id) DO UPDATE SET "
           "key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at")
_OVER_LOADED = _UPSERT + " WHERE user_state.sealed IS NOT DISTINCT FROM %s RETURNING 1"
_STORED = ("SELECT s.key_id, s.sealed, k.epoch, k.wrapped FROM user_state s LEFT JOIN user_keys k ON k.id = s.key_id "
           "WHERE s.developer_id = %s AND s.skill = %s AND s.user_id = %s")
_CURRENT = _STORED + " FOR UPDATE OF s"


class StateMixin:
    """``capture_mode`` / ``set_capture_mode`` / ``load_state`` / ``save_state`` of :class:`~.store.PostgresLedger`."""

    def capture_mode(self: Any, user_id: str) -> str:
        """What this user lets us record: ``full``, ``redacted`` (the default) or ``metadata``."""
        with self.connection(timeout=self.write_timeout) as conn:
            row = conn.execute("SELECT mode FROM consent WHERE user_id = %s", (user_id,)).fetchone()
        return row[0] if row else DEFAULT_CAPTURE_MODE

    def set_capture_mode(self: Any, user_id: str, mode: str, *, actor: str | None = None) -> None:
        """Set what is recorded for ``user_id`` from now on (audited in the same commit when ``actor`` is given)."""
        if mode not in CAPTURE_MODES:
            raise ValueError(f"capture mode must be 'full', 'redacted' or 'metadata', got {mode!r}.")
        with self.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO consent (user_id, mode, updated_at) VALUES (%s, %s, %s) ON CONFLICT (user_id) "
                         "DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
                         (user_id, mode, utcnow_iso()))
            if actor is not None:
                self.audit(actor, "consent", {"user_id": user_id, "mode": mode}, 1, conn=conn)
        self.consent_changes += 1  # after the commit (see Turn.consent_read)

    def load_state(self: Any, developer_id: str, skill: str, user_id: str) -> dict[str, Any]:
        """The persistent attributes of ``user_id`` in ``skill`` (empty dict if none)."""
        return self.load_state_and_mode(developer_id, skill, user_id)[0]

    def load_state_and_mode(self: Any, developer_id: str, skill: str, user_id: str) -> tuple[dict[str, Any], str]:
        """``load_state`` and ``capture_mode`` in one statement: a turn that reads its state makes one round trip."""
        with self.connection(timeout=self.write_timeout) as conn, bounded(
                conn, self.write_timeout, "Reading the user's state",
                "the turn fails rather than answer Alexa after its 8 seconds"):
            key_id, sealed, epoch, wrapped, mode = conn.execute(
                _STATE_AND_MODE, {"d": developer_id, "s": skill, "u": user_id}).fetchone()
        if key_id is None or wrapped is None:
            return LoadedState({}, bytes(sealed) if sealed is not None else None), mode or DEFAULT_CAPTURE_MODE
        return self._unsealed(developer_id, skill, user_id, key_id, sealed, epoch, wrapped), mode or DEFAULT_CAPTURE_MODE

    def _unsealed(self: Any, dev: str, skill: str, user: str, key_id: int, sealed: Any, epoch: Any, wrapped: Any
                  ) -> LoadedState:
        """A stored state opened, with its sealed bytes as the version a turn loaded."""
        key = self.keys.keys_given({key_id: (dev, skill, user, epoch, wrapped)})[key_id]
        return LoadedState(json.loads(crypto.unseal(key, bytes(sealed), f"state:{key_id}".encode())), bytes(sealed))

    def save_state(self: Any, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any] | str) -> None:
        """Replace the persistent attributes of ``user_id`` in ``skill`` (a turn's change: over what it loaded)."""
        text = state if isinstance(state, str) else json.dumps(dict(state), separators=(",", ":"))
        with self.connection() as conn, conn.transaction():
            self._save_state(conn, developer_id, skill, user_id, text, utcnow_iso())

    def _save_state(self: Any, conn: Any, dev: str, skill: str, user: str, state: str, at: str) -> None:
        """Store ``state`` in the caller's transaction: a turn's change over the version it loaded, else merged."""
        key_id, key = self.keys.user_key(conn, dev, skill, user)
        sealed = crypto.seal(key, state.encode(), f"state:{key_id}".encode())
        if not isinstance(state, StateChange):
            conn.execute(_UPSERT, (dev, skill, user, key_id, sealed, at))
        elif conn.execute(_OVER_LOADED, (dev, skill, user, key_id, sealed, at, state.token)).fetchone() is None:
            self.merge_state(conn, dev, skill, user, state, at)

    def merge_state(self: Any, conn: Any, dev: str, skill: str, user: str, change: Any, at: str) -> None:
        """Store a turn's change over the state another turn stored since it loaded, in the caller's transaction.

        The stored state is locked, opened and merged key by key (:meth:`StateChange.merged`), so a
        third turn waits rather than slips in between.
        """
        merged = self._merged(conn, dev, skill, user, change, _CURRENT)[1]
        key_id, key = self.keys.user_key(conn, dev, skill, user)
        conn.execute(_UPSERT, (dev, skill, user, key_id, crypto.seal(key, merged.encode(), f"state:{key_id}".encode()),
                               at))

    def merged_over_stored(self: Any, conn: Any, dev: str, skill: str, user: str, change: Any) -> tuple[bytes | None, str]:
        """The state stored now (its sealed bytes, None for none) and ``change`` merged over it, as JSON; nothing locked.

        For a capture that writes the merge only over that version (its statement fails whole when
        the state moved again: writes.py), so it need not lock the state before its row's lane.
        """
        return self._merged(conn, dev, skill, user, change, _STORED)

    def _merged(self: Any, conn: Any, dev: str, skill: str, user: str, change: Any, sql: str) -> tuple[bytes | None, str]:
        got = conn.execute(sql, (dev, skill, user)).fetchone()
        current = {} if got is None or got[3] is None else self._unsealed(dev, skill, user, *got)
        return (None if got is None else bytes(got[1]),
                json.dumps(change.merged(current), separators=(",", ":"), sort_keys=True))
