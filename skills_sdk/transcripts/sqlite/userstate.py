"""Per-user skill state in SQLite: a turn's changes stored over what another turn of the user stored meanwhile."""

from __future__ import annotations

import json
from typing import Any

from ...context import LoadedState, StateChange

__all__ = ["STATE_SQL", "write_state", "merge_state", "loaded"]

#: The state stored whole (a plain JSON text: an import, a copy, a caller that loaded nothing).
STATE_SQL = (
    "INSERT INTO user_state (developer_id, skill, user_id, state, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (developer_id, skill, user_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
#: The same, only over the version the turn loaded (its text, or no row): else nothing is written.
_OVER_LOADED = STATE_SQL + " WHERE user_state.state IS ?"
_CURRENT = "SELECT state FROM user_state WHERE developer_id = ? AND skill = ? AND user_id = ?"
_DUMPS = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def write_state(conn: Any, developer_id: str, skill: str, user_id: str, state: str, at: str) -> None:
    """Store a turn's ``state`` (JSON) in the caller's write transaction.

    A :class:`~skills_sdk.context.StateChange` goes over the version its turn loaded in one
    statement; when another turn of the user stored one in between, its changes are merged, key by
    key, over what is stored now (read in this transaction, so no third turn slips between).
    Plain text is stored whole.
    """
    if not isinstance(state, StateChange):
        conn.execute(STATE_SQL, (developer_id, skill, user_id, str(state), at))
    elif not conn.execute(_OVER_LOADED, (developer_id, skill, user_id, str(state), at, state.token)).rowcount:
        merge_state(conn, developer_id, skill, user_id, state, at)


def merge_state(conn: Any, developer_id: str, skill: str, user_id: str, change: StateChange, at: str) -> None:
    """Store ``change`` merged, key by key, over the state stored now, in the caller's write transaction."""
    got = conn.execute(_CURRENT, (developer_id, skill, user_id)).fetchone()
    merged = change.merged(json.loads(got[0]) if got and got[0] else {})
    conn.execute(STATE_SQL, (developer_id, skill, user_id, _DUMPS(merged), at))


def loaded(text: str | None) -> LoadedState:
    """The state stored as ``text`` (None: none), with the text as its version for :func:`write_state`."""
    return LoadedState(json.loads(text) if text is not None else {}, text)
