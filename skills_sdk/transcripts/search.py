"""Filtered, full-text, keyset-paged reads for the transcript API, always scoped to one developer or one user."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import BadQuery
from .query import API_FILTERS, TranscriptFilter, fts_query, where
from .store import TranscriptStore, decode_row, fts_day, fts_partitions, index_pending, privacy_secret

__all__ = ["search", "iter_search", "parse_filters", "fts_query", "encode_cursor", "decode_cursor", "FILTERS",
           "MAX_LIMIT"]

#: The filters the API takes (besides ``limit`` and ``cursor``).
FILTERS = API_FILTERS
#: The largest page.
MAX_LIMIT = 500
#: Most rows a search indexes before it runs (the background thread indexes the rest).
SEARCH_INDEX_LIMIT = 20_000
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def parse_filters(args: Mapping[str, str], *, allowed: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    """Check query-string filters and turn them into typed values; raises :class:`BadQuery` naming the parameter.

    >>> parse_filters({"skill": "pizza", "has_transaction": "true", "since": "2026-11-01"})
    {'skill': 'pizza', 'since': '2026-11-01T00:00:00.000Z', 'has_transaction': True}

    The parsing is :meth:`TranscriptFilter.from_args`; this gives its fields as a dict.
    """
    return TranscriptFilter.from_args(args, allowed=allowed).as_dict()


def _sign(store: TranscriptStore, scope: str, last_id: int) -> str:
    return hmac.new(privacy_secret(store), f"{scope}:{last_id}".encode(), hashlib.sha256).hexdigest()[:16]


def encode_cursor(store: TranscriptStore, scope: str, last_id: int) -> str:
    """An opaque page cursor: the last id seen, signed for this scope (a developer, or a user)."""
    raw = f"{last_id}.{_sign(store, scope, last_id)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(store: TranscriptStore, scope: str, cursor: str) -> int:
    """The last id a cursor stands for; raises :class:`BadQuery` (``cursor``) for anything this server did not make."""
    bad = BadQuery("cursor", "is not a cursor this API returned for this key; start again from the first page.")
    if not _CURSOR_RE.match(cursor):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    head, _, sig = raw.partition(".")
    if not head.isdigit() or len(head) > 18 or not hmac.compare_digest(sig, _sign(store, scope, int(head))):
        raise bad
    return int(head)


def _where(f: TranscriptFilter, developer_id: str | None, user_id: str | None) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    # The scope comes from the caller's key, never from the request; it is always the first clause.
    if developer_id is not None:
        clauses.append("t.developer_id = ?")
        params.append(developer_id)
    if user_id is not None:
        clauses.append("t.user_id = ?")
        params.append(user_id)
    if not clauses:
        raise ValueError("search needs a developer_id or a user_id scope.")
    more, more_params = where(f, alias="t")
    return clauses + more, params + more_params


def search(store: TranscriptStore, filters: TranscriptFilter | Mapping[str, Any], *, developer_id: str | None = None,
           user_id: str | None = None, before_id: int | None = None, limit: int = 50
           ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of transcripts in the scope (a developer's, or a user's), newest first, and the last id for the next page.

    Newest first means by id, except a developer's page with a time window (``since``/``until``),
    which is ordered by ``created_at`` (then id), and a full-text page (``q``), ordered by the UTC
    day of ``created_at`` (the index's partitions), then id; for captured rows the orders agree.

    >>> rows, last = search(store, parse_filters({"q": "pepperoni"}), developer_id="pronto-pizza-labs", limit=20)

    ``filters`` come from :func:`parse_filters`. ``last`` is None on the last page.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}.")
    filters = TranscriptFilter.of(filters)
    clauses, params = _where(filters, developer_id, user_id)
    if filters.q is not None:
        return _text_search(store, filters, clauses, params, developer_id, before_id, limit)
    # A time window walks the (scope, created_at) index newest first and stops at the page; ordering
    # it by id made SQLite read and sort every row of the window (245 ms for one day at 10M rows).
    by_time = developer_id is not None and (filters.since is not None or filters.until is not None)
    if before_id is not None:
        if by_time:
            # The cursor stays the last id; its row's created_at gives the keyset position.
            # A row erased between two pages ends the listing (its time is then unknown).
            at = "coalesce((SELECT created_at FROM transcripts WHERE id = ?), '')"
            clauses.append(f"t.created_at <= {at} AND (t.created_at, t.id) < ({at}, ?)")
            params.extend([before_id, before_id, before_id])
        else:
            clauses.append("t.id < ?")
            params.append(before_id)
    if by_time:
        sql = (f"SELECT t.* FROM transcripts t WHERE {' AND '.join(clauses)} "
               "ORDER BY t.created_at DESC, t.id DESC LIMIT ?")
    else:
        sql = f"SELECT t.* FROM transcripts t WHERE {' AND '.join(clauses)} ORDER BY t.id DESC LIMIT ?"
    cur = store.db.conn.execute(sql, [*params, limit + 1])
    return _page([d[0] for d in cur.description], cur.fetchall(), limit)


def _page(names: list[str], raw: list[tuple[Any, ...]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Decoded rows of a page fetched with one row extra, and the last id when there is a next page."""
    rows = [decode_row(dict(zip(names, r, strict=False))) for r in raw]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def _text_search(store: TranscriptStore, filters: TranscriptFilter, clauses: list[str], params: list[Any],
                 developer_id: str | None, before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A full-text page: the scope's partitions, newest day first, each walked newest first, until the page is full."""
    conn = store.db.conn
    # Rows captured since the last checkpoint tick are searchable too. Bounded: after an upgrade
    # re-indexes a big ledger, a search does not wait for all of it (the background thread does it).
    index_pending(conn, limit=SEARCH_INDEX_LIMIT)
    if conn.in_transaction or store.memory:  # a ":memory:" store has one shared connection and no other writer
        return _text_page(conn, filters, clauses, params, developer_id, before_id, limit)
    # One read transaction: the partitions listed are the partitions queried, even if a purge in
    # another connection drops some of them meanwhile.
    conn.execute("BEGIN")
    try:
        return _text_page(conn, filters, clauses, params, developer_id, before_id, limit)
    finally:
        conn.execute("COMMIT")


def _text_page(conn: Any, filters: TranscriptFilter, clauses: list[str], params: list[Any],
               developer_id: str | None, before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    by_day: dict[str, list[str]] = {}
    for day, _, name in fts_partitions(conn, developer_id):  # a developer's own partitions only
        by_day.setdefault(day, []).append(name)
    days = list(by_day)
    if filters.since is not None:
        days = [d for d in days if d == "other" or d >= filters.since[:10]]
    if filters.until is not None:
        days = [d for d in days if d == "other" or d <= filters.until[:10]]
    cursor_day = None
    if before_id is not None:
        row = conn.execute("SELECT created_at FROM transcripts WHERE id = ?", (before_id,)).fetchone()
        if row is not None:
            cursor_day = fts_day(row[0])
            days = (days[days.index(cursor_day):] if cursor_day in days
                    else [d for d in days if d < cursor_day or d == "other"])
    where = " AND ".join(clauses)
    out: list[tuple[Any, ...]] = []
    names: list[str] = []
    for day in days:
        extra, args = "", [filters.q, *params]
        if before_id is not None and (cursor_day is None or day == cursor_day):
            # In the cursor's own day, the rows after it; with the cursor row gone, ids below it.
            extra, args = " AND t.id < ?", [*args, before_id]
        found: list[tuple[Any, ...]] = []
        for name in by_day[day]:  # one per developer; a user's search merges them by id
            # Walk the matches newest first (FTS5 yields rowids in order) and stop at the page: an
            # "id IN (matches)" filter made SQLite read and sort every row of the developer instead.
            # CROSS JOIN fixes that order: SQLite 3.51 otherwise drives from the developer index.
            cur = conn.execute(f"SELECT t.* FROM {name} CROSS JOIN transcripts t ON t.id = {name}.rowid "
                               f"WHERE {name} MATCH ? AND {where}{extra} ORDER BY {name}.rowid DESC LIMIT ?",
                               [*args, limit + 1 - len(out)])
            names = [d[0] for d in cur.description]
            found.extend(cur.fetchall())
        if len(by_day[day]) > 1:
            found.sort(key=lambda r: r[0], reverse=True)  # id is the first column
        out.extend(found[:limit + 1 - len(out)])
        if len(out) > limit:
            break
    return _page(names, out, limit)


def iter_search(store: TranscriptStore, filters: TranscriptFilter | Mapping[str, Any], *, developer_id: str | None = None,
                user_id: str | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every transcript :func:`search` would page through, newest first, ``batch`` rows at a time (memory stays flat)."""
    before: int | None = None
    while True:
        rows, before = search(store, filters, developer_id=developer_id, user_id=user_id, before_id=before,
                              limit=batch)
        yield from rows
        if before is None:
            return
