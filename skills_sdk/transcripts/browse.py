"""Keyset-paged, filtered reads of one developer's transcripts, newest first, for the web console."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..errors import BadQuery
from .store import TranscriptStore, decode_row

__all__ = ["browse", "iter_browse", "FILTERS"]

#: The filters ``browse`` takes: column equality, time bounds, flags and a text search.
FILTERS = ("skill", "user_id", "session_id", "intent", "since", "until", "errors", "has_transaction", "q")
_TEXT = ("utterance", "speech", "reprompt", "card", "slots", "error")


def _where(developer_id: str, filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise BadQuery(sorted(unknown)[0], f"unknown filter; use one of {', '.join(FILTERS)}.")
    clauses, params = ["developer_id = ?"], [developer_id]
    for col in ("skill", "user_id", "session_id", "intent"):
        if filters.get(col):
            clauses.append(f"{col} = ?")
            params.append(filters[col])
    if filters.get("since"):
        clauses.append("created_at >= ?")
        params.append(filters["since"])
    if filters.get("until"):
        clauses.append("created_at < ?")
        params.append(filters["until"])
    if filters.get("errors"):
        clauses.append("status = 'error'")
    if filters.get("has_transaction"):
        clauses.append('"transaction" IS NOT NULL')
    q = filters.get("q")
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in _TEXT) + ")")
        params.extend([pattern] * len(_TEXT))
    return clauses, params


def browse(store: TranscriptStore, developer_id: str, filters: Mapping[str, Any] | None = None, *,
           before_id: int | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """One page of ``developer_id``'s transcripts matching ``filters``, newest first, and the next page's cursor.

    >>> rows, nxt = browse(store, "pronto-pizza-labs", {"skill": "pizza", "errors": True}, limit=50)
    >>> rows2, _ = browse(store, "pronto-pizza-labs", {"skill": "pizza", "errors": True}, before_id=nxt)  # doctest: +SKIP

    The page is a keyset page (``id < before_id ORDER BY id DESC LIMIT n``), so page 2,000 costs
    what page 1 does. ``q`` matches text in the utterance, speech, reprompt, card, slots or error
    (case-insensitive for ASCII). The cursor is None on the last page.
    """
    if limit < 1 or limit > 1000:
        raise BadQuery("limit", f"must be between 1 and 1000, got {limit}.")
    clauses, params = _where(developer_id, filters or {})
    if before_id is not None:
        clauses.append("id < ?")
        params.append(int(before_id))
    sql = f"SELECT * FROM transcripts WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?"
    cur = store.db.conn.execute(sql, [*params, limit + 1])
    names = [d[0] for d in cur.description]
    rows = [decode_row(dict(zip(names, r))) for r in cur.fetchall()]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def iter_browse(store: TranscriptStore, developer_id: str, filters: Mapping[str, Any] | None = None, *,
                batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every transcript ``browse`` would page through, newest first, read ``batch`` rows at a time.

    >>> sum(1 for _ in iter_browse(store, "pronto-pizza-labs", {"has_transaction": True}))   # doctest: +SKIP
    """
    cursor: int | None = None
    while True:
        rows, cursor = browse(store, developer_id, filters, before_id=cursor, limit=batch)
        yield from rows
        if cursor is None:
            return
