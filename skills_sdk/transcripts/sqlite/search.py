"""Full-text search over the day tables: a developer's token and the words, newest first, a page at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fts import (
    SEARCH_INDEX_LIMIT,
    developer_token,
    fts_day,
    fts_partitions,
    index_pending,
    legacy_partitions,
)

if TYPE_CHECKING:
    from ..query import TranscriptFilter
    from .connection import Connection

__all__ = ["text_page"]


def text_page(store: Connection, filters: TranscriptFilter, developer_id: str | None, user_id: str | None,
              before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A full-text page: the scope's tables, newest day first, each walked newest first, until the page is full."""
    from ..query import scope_where

    clauses, params = scope_where(filters, developer_id, user_id)
    conn = store.conn
    # Rows captured since the last checkpoint tick are searchable too. Bounded: after an upgrade
    # re-indexes a big ledger, a search does not wait for all of it (the background thread does it).
    index_pending(conn, limit=SEARCH_INDEX_LIMIT)
    if conn.in_transaction or store.memory:  # a ":memory:" store has one shared connection and no other writer
        return _text_page(conn, filters, clauses, params, developer_id, before_id, limit)
    # One read transaction: the tables listed are the tables queried, even if a purge in another
    # connection drops some of them meanwhile.
    conn.execute("BEGIN")
    try:
        return _text_page(conn, filters, clauses, params, developer_id, before_id, limit)
    finally:
        conn.execute("COMMIT")


def _text_page(conn: Any, filters: TranscriptFilter, clauses: list[str], params: list[Any],
               developer_id: str | None, before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    # (table, legacy) per day: the developer's bucket (every bucket for a user's search), and an
    # older ledger's per-developer tables until they are moved.
    by_day: dict[str, list[tuple[str, bool]]] = {}
    for day, _, name in fts_partitions(conn, developer_id):
        by_day.setdefault(day, []).append((name, False))
    for day, _, name, _ in legacy_partitions(conn, developer_id):
        by_day.setdefault(day, []).append((name, True))
    days = sorted(by_day, key=lambda d: (d != "other", d), reverse=True)  # newest first, "other" last
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
    # The words are searched in the text columns only; the developer's token, in its own column,
    # is a second MATCH that FTS5 intersects with them (skipping through both doclists), so a
    # search never walks other developers' matches.
    text = "{utterance speech} : (" + filters.q + ")"
    dev = f'developer : "{developer_token(developer_id)}"' if developer_id is not None else None
    out: list[tuple[Any, ...]] = []
    names: list[str] = []
    for day in days:
        extra, args = "", list(params)
        if before_id is not None and (cursor_day is None or day == cursor_day):
            # In the cursor's own day, the rows after it; with the cursor row gone, ids below it.
            extra, args = " AND t.id < ?", [*args, before_id]
        found: list[tuple[Any, ...]] = []
        for name, legacy in by_day[day]:  # a user's search merges the day's tables by id
            match, margs = f"{name} MATCH ?", [text]
            if dev is not None and not legacy:
                match, margs = match + f" AND {name} MATCH ?", [dev, text]
            # Walk the matches newest first (FTS5 yields rowids in order) and stop at the page: an
            # "id IN (matches)" filter made SQLite read and sort every row of the developer instead.
            # CROSS JOIN fixes that order: SQLite 3.51 otherwise drives from the developer index.
            cur = conn.execute(f"SELECT t.* FROM {name} CROSS JOIN transcripts t ON t.id = {name}.rowid "
                               f"WHERE {match} AND {where}{extra} ORDER BY {name}.rowid DESC LIMIT ?",
                               [*margs, *args, limit + 1 - len(out)])
            names = [d[0] for d in cur.description]
            found.extend(cur.fetchall())
        if len(by_day[day]) > 1:
            found.sort(key=lambda r: r[0], reverse=True)  # id is the first column
        out.extend(found[:limit + 1 - len(out)])
        if len(out) > limit:
            break
    from .queries import decoded_page

    return decoded_page(names, out, limit)
