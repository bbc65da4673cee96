"""What the web console reads and changes, over the transcript ledger's own functions (no SQL here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from ..errors import BadQuery
from ..transcripts.capture import CAPTURE_MODES
from ..transcripts.ledger import Ledger
from ..transcripts.query import ERROR_STATUSES

__all__ = ["AuthError", "QueryError", "Page", "CAPTURE_MODES", "CAPTURE_MODE_LABELS", "verify_developer_key",
           "verify_user_token", "query", "iter_query", "session_rows", "developer_skills", "user_rows",
           "iter_user_rows", "user_totals", "count_user_rows", "capture_mode", "set_capture_mode", "erase_user",
           "Identity", "audit", "audited", "access_log"]

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


@dataclass(frozen=True)
class Identity:
    """Who a key or token signed in: its key id (for the audit log) and the developer or user id it opens."""

    key_id: str
    subject: str


def _verify(store: Ledger, key: str, kind: str) -> Identity:
    from ..transcripts.keys import PREFIXES

    other = "user" if kind == "developer" else "developer"
    if key.startswith(PREFIXES[other]):
        where = "My data" if other == "user" else "the developer console"
        raise AuthError(f"that is a {other} key ({PREFIXES[other]}…); sign in to {where} with it instead.")
    info = store.verify_key(key)
    if info is None or info.kind != kind:
        raise AuthError(f"no live {kind} key matches it: it is mistyped, incomplete, or was revoked. "
                        f"{kind.capitalize()} keys start with {PREFIXES[kind]}.")
    return Identity(info.id, info.subject)


def verify_developer_key(store: Ledger, key: str) -> Identity:
    """The developer a developer API key belongs to; raises AuthError for an unknown, revoked or user key.

    >>> verify_developer_key(store, key).subject      # doctest: +SKIP
    'pronto-pizza-labs'
    """
    return _verify(store, key, "developer")


def verify_user_token(store: Ledger, token: str) -> Identity:
    """The user a user token belongs to; raises AuthError for an unknown, revoked or developer key."""
    return _verify(store, token, "user")


def audit(store: Ledger, who: Identity, action: str, filters: Mapping[str, Any] | None = None,
          rows: Iterable[Mapping[str, Any]] | int = 0) -> None:
    """Log a console read or change in the ledger's audit trail, under the key that made it.

    ``rows`` are the rows the read returned (counted per user for their access logs), or a count.
    """
    if isinstance(rows, int):
        store.audit(who.key_id, action, filters, rows)
        return
    users = Counter(r["user_id"] for r in rows)
    store.audit(who.key_id, action, filters, sum(users.values()), users=users)


def audited(store: Ledger, who: Identity, action: str, filters: Mapping[str, Any],
            rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield ``rows`` (a download), then audit how many were sent and whose, also when the download stopped early."""
    from ..transcripts.audit import tally

    users: Counter[str] = Counter()
    try:
        yield from tally(rows, users)  # type: ignore[misc]
    finally:
        store.audit(who.key_id, action, filters, sum(users.values()), users=users)


def access_log(store: Ledger, user_id: str) -> list[dict[str, Any]]:
    """Who read, searched or exported the user's rows: the audit log's entries for them, newest first."""
    return store.access_log(user_id)


# -- the developer's transcripts ----------------------------------------------------------------------

#: The most rows read to fill one page when a filter (errors) is applied after the search.
MAX_SCAN = 5000


def _search_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    from ..transcripts.search import fts_query

    out = {k: v for k, v in filters.items() if k != "errors" and v not in (None, "")}
    if "q" in out:
        out["q"] = fts_query(out["q"])
    return out


def query(store: Ledger, developer_id: str, filters: Mapping[str, Any], *, cursor: str | None = None,
          limit: int = 50) -> Page:
    """One keyset page of the developer's transcripts matching ``filters``, newest first.

    ``errors`` (status error) is applied to the ledger search's pages, reading at most
    :data:`MAX_SCAN` rows per page, so a rare error never makes a page read the whole table.
    """
    from ..transcripts.search import decode_cursor, encode_cursor

    scope = "console:" + developer_id
    try:
        before = decode_cursor(store, scope, cursor) if cursor else None
        wanted = _search_filters(filters)
        if not filters.get("errors"):
            rows, last = store.query(wanted, developer_id=developer_id, before_id=before, limit=limit)
        else:
            rows, last = _errors_page(store, wanted, developer_id, before, limit)
    except BadQuery as exc:
        raise QueryError(f"The {exc.param} filter {exc.message}") from exc
    return Page(rows, encode_cursor(store, scope, last) if last is not None else None)


def _errors_page(store: Ledger, wanted: Mapping[str, Any], developer_id: str, before: int | None,
                 limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` error rows older than ``before``, and where to go on from (None: nothing older)."""
    rows: list[dict[str, Any]] = []
    pos, scanned = before, 0
    while len(rows) < limit and scanned < MAX_SCAN:
        batch, nxt = store.query(wanted, developer_id=developer_id, before_id=pos, limit=500)
        scanned += len(batch)
        for r in batch:
            pos = r["id"]
            if r.get("status") in ERROR_STATUSES:
                rows.append(r)
                if len(rows) == limit:
                    break
        if nxt is None and (not batch or pos == batch[-1]["id"]):
            return rows, None
    return rows, pos


def iter_query(store: Ledger, developer_id: str, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every transcript of the developer matching ``filters``, newest first, read in batches."""
    wanted = _search_filters(filters)
    rows = store.iter_query(wanted, developer_id=developer_id, batch=500)
    if filters.get("errors"):
        return (r for r in rows if r.get("status") in ERROR_STATUSES)  # as the page lists them
    return rows


def session_rows(store: Ledger, developer_id: str, session_id: str) -> list[dict[str, Any]]:
    """The turns of one session that belong to ``developer_id`` (another developer's are never returned)."""
    return [r for r in store.session_turns(session_id) if r.get("developer_id") == developer_id]


def developer_skills(app: Flask, store: Ledger, developer_id: str) -> list[str]:
    """The names of the hosted skills that ``developer_id`` owns."""
    host = app.extensions["skills_sdk"]["host"]
    return sorted(name for name, s in host.skills.items() if s.developer_id == developer_id)


# -- one user's data ------------------------------------------------------------------------------------


def user_rows(store: Ledger, user_id: str, *, limit: int, before_id: int | None = None
              ) -> list[dict[str, Any]]:
    """A page of the user's transcripts across every skill and developer, newest first."""
    return store.user_history(user_id, limit=limit, before_id=before_id)


def iter_user_rows(store: Ledger, user_id: str) -> Iterator[dict[str, Any]]:
    """Every transcript of the user, oldest first."""
    return store.iter_transcripts(user_id=user_id)


def user_totals(store: Ledger, user_id: str) -> dict[str, int]:
    """How many transcripts are recorded about the user."""
    return {"total": store.count(user_id=user_id)}


def count_user_rows(store: Ledger, user_id: str, *, skill: str | None = None,
                    developer_id: str | None = None) -> int:
    """How many of the user's transcripts an erasure with the same arguments would remove."""
    where: dict[str, Any] = {"user_id": user_id}
    if skill:
        where["skill"] = skill
    if developer_id:
        where["developer_id"] = developer_id
    return store.count(**where)


def capture_mode(store: Ledger, user_id: str) -> str:
    """What is recorded about the user from now on."""
    return store.capture_mode(user_id)


def set_capture_mode(store: Ledger, who: Identity, mode: str) -> None:
    """Change what is recorded about the signed-in user from now on; the change and its audit row commit together."""
    store.set_capture_mode(who.subject, mode, actor=who.key_id)


def erase_user(store: Ledger, who: Identity, *, skill: str | None = None,
               developer_id: str | None = None) -> dict[str, Any]:
    """Erase the user's transcripts (all, or one skill's) and return the erasure receipt.

    A receipt marked ``scrubbed: False`` (the rows are gone; their full-text entries and the
    write-ahead log are still to be scrubbed, which the ledger's background thread does within
    moments) is returned as it is, and the page shows its manifest.
    """
    from ..errors import ErasureIncomplete

    try:
        return dict(store.erase_user(who.subject, skill=skill, developer_id=developer_id, actor=who.key_id))
    except ErasureIncomplete as exc:
        return dict(exc.receipt)
