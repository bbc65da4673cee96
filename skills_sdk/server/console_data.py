"""What the web console reads and changes, over the transcript ledger's own functions (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from flask import Flask

from ..errors import BadQuery, SkillsError
from ..transcripts.browse import browse, iter_browse
from ..transcripts.capture import CAPTURE_MODES
from ..transcripts.store import TranscriptStore

__all__ = ["AuthError", "QueryError", "Page", "CAPTURE_MODES", "CAPTURE_MODE_LABELS", "verify_developer_key",
           "verify_user_token", "query", "iter_query", "session_rows", "developer_skills", "user_rows",
           "iter_user_rows", "user_totals", "count_user_rows", "capture_mode", "set_capture_mode", "erase_user"]

#: How each capture mode reads on the page.
CAPTURE_MODE_LABELS = {"full": "everything said, as said",
                       "redacted": "what was said, with card numbers, phones, e-mails and addresses replaced",
                       "metadata": "no words at all, only which skill, when and which intent"}


class AuthError(Exception):
    """A key or token was refused; the message says why in words a person can act on."""


class QueryError(Exception):
    """A filter or cursor could not be used; the message names it."""


@dataclass
class Page:
    """One page of rows, newest first, and the cursor of the next (older) page, if any."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


# -- keys --------------------------------------------------------------------------------------------


def verify_developer_key(store: TranscriptStore, key: str) -> str:
    """The developer id a developer API key belongs to; raises AuthError for an unknown or revoked key."""
    from . import console_auth

    return console_auth.verify_developer_key(store, key)


def verify_user_token(store: TranscriptStore, token: str) -> str:
    """The user id a user token belongs to; raises AuthError for an unknown or revoked token."""
    from . import console_auth

    return console_auth.verify_user_token(store, token)


# -- the developer's transcripts ----------------------------------------------------------------------


def query(store: TranscriptStore, developer_id: str, filters: Mapping[str, Any], *, cursor: str | None = None,
          limit: int = 50) -> Page:
    """One keyset page of the developer's transcripts matching ``filters``, newest first."""
    try:
        before = int(cursor) if cursor else None
    except ValueError:
        raise QueryError(f"The page cursor {cursor[:40]!r} is not one this console made; start from the first page.")
    try:
        rows, nxt = browse(store, developer_id, filters, before_id=before, limit=limit)
    except BadQuery as exc:
        raise QueryError(str(exc)) from exc
    return Page(rows, str(nxt) if nxt is not None else None)


def iter_query(store: TranscriptStore, developer_id: str, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every transcript of the developer matching ``filters``, newest first, read in batches."""
    return iter_browse(store, developer_id, filters)


def session_rows(store: TranscriptStore, developer_id: str, session_id: str) -> list[dict[str, Any]]:
    """The turns of one session that belong to ``developer_id`` (another developer's are never returned)."""
    return [r for r in store.session_turns(session_id) if r.get("developer_id") == developer_id]


def developer_skills(app: Flask, store: TranscriptStore, developer_id: str) -> list[str]:
    """The names of the hosted skills that ``developer_id`` owns."""
    host = app.extensions["skills_sdk"]["host"]
    return sorted(name for name, s in host.skills.items() if s.developer_id == developer_id)


# -- one user's data ------------------------------------------------------------------------------------


def user_rows(store: TranscriptStore, user_id: str, *, limit: int, before_id: int | None = None
              ) -> list[dict[str, Any]]:
    """A page of the user's transcripts across every skill and developer, newest first."""
    return store.user_history(user_id, limit=limit, before_id=before_id)


def iter_user_rows(store: TranscriptStore, user_id: str) -> Iterator[dict[str, Any]]:
    """Every transcript of the user, oldest first."""
    return store.iter_transcripts(user_id=user_id)


def user_totals(store: TranscriptStore, user_id: str) -> dict[str, int]:
    """How many transcripts are recorded about the user."""
    return {"total": store.count(user_id=user_id)}


def count_user_rows(store: TranscriptStore, user_id: str, *, skill: str | None = None,
                    developer_id: str | None = None) -> int:
    """How many of the user's transcripts an erasure with the same arguments would remove."""
    where: dict[str, Any] = {"user_id": user_id}
    if skill:
        where["skill"] = skill
    if developer_id:
        where["developer_id"] = developer_id
    return store.count(**where)


def capture_mode(store: TranscriptStore, user_id: str) -> str:
    """What is recorded about the user from now on."""
    return store.capture_mode(user_id)


def set_capture_mode(store: TranscriptStore, user_id: str, mode: str) -> None:
    """Change what is recorded about the user from now on."""
    store.set_capture_mode(user_id, mode)


def erase_user(store: TranscriptStore, user_id: str, *, skill: str | None = None,
               developer_id: str | None = None) -> dict[str, Any]:
    """Erase the user's transcripts (all, or one skill's) and return the erasure receipt."""
    try:
        from ..transcripts.erasure import erase_user as _erase  # type: ignore[import-not-found]
    except ImportError as exc:
        raise SkillsError("Erasure is not available in this build of skills_sdk.") from exc
    kwargs: dict[str, Any] = {}
    if skill:
        kwargs["skill"] = skill
    if developer_id:
        kwargs["developer_id"] = developer_id
    return dict(_erase(store, user_id, **kwargs))
