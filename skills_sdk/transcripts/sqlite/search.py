"""Full-text search over the day tables: a developer's token and the words, newest first, a page at a time."""

from __future__ import annotations

import json
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

#: Matched ids checked against the scope's filters per read, newest first.
_ROWS_PER_READ = 500


def text_page(store: Connection, filters: TranscriptFilter, developer_id: str | None, user_id: str | None,
              before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A full-text page: the scope's tables, newest day first, each walked newest first, until the page is full."""
    from ..query import scope_where
    from .queries import LIVE_T

    clauses, params = scope_where(filters, developer_id, user_id)
    clauses.append(LIVE_T)  # rows a purge hid (their days' tables are dropped: a row of "other" would show)
    conn = store.conn
    # Rows captured since the last checkpoint tick are searchable too. Bounded: after an upgrade
    # re-indexes a big ledger, a search does not wait for all of it (the background thread does it).
    # Queued deletes are left to the background thread and erasure's scrub (the pages below read
    # the rows themselves, so a deleted row's entries find nothing): applying an erasure's
    # thousand deletes cost the first search after it ~300 ms.
    index_pending(conn, limit=SEARCH_INDEX_LIMIT, deletes=False)
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
    # is ANDed with them (FTS5 skips through both doclists), so a search never walks other
    # developers' matches.
    text = "{utterance speech} : (" + filters.q + ")"
    dev = f'developer : "{developer_token(developer_id)}"' if developer_id is not None else None
    # The newest day is walked newest first, joined with the rows, up to the page: a big developer
    # fills its page there. Every older day's matches are read in FTS5's own order (ascending
    # rowid), ids only, then the newest of them fetched with the scope's filters: ascending, FTS5
    # seeks each word's doclist by its index to the developer's few rowids, where newest first it
    # reads the whole doclist of every word in every day's table, which a small developer
    # searching a common word paid for all 90 days. A day's matches are at most the developer's
    # rows that day.
    rows_sql = (f"SELECT t.* FROM transcripts t WHERE t.id IN (SELECT value FROM json_each(?)) AND {where} "
                "ORDER BY t.id DESC LIMIT ?")
    out: list[tuple[Any, ...]] = []
    names: list[str] = []
    for i, day in enumerate(days):
        ids: list[int] = []
        found: list[tuple[Any, ...]] = []
        for name, legacy in by_day[day]:  # a user's search merges the day's tables by id
            match = f"{dev} AND {text}" if dev is not None and not legacy else text
            rowid, args = "", [match]
            if before_id is not None and (cursor_day is None or day == cursor_day):
                # In the cursor's own day, the rows after it; with the cursor row gone, ids below it.
                rowid, args = f" AND {name}.rowid < ?", [*args, before_id]
            if i == 0:
                # CROSS JOIN fixes the order: SQLite 3.51 otherwise drives from the developer index.
                cur = conn.execute(f"SELECT t.* FROM {name} CROSS JOIN transcripts t ON t.id = {name}.rowid "
                                   f"WHERE {name} MATCH ?{rowid} AND {where} ORDER BY {name}.rowid DESC LIMIT ?",
                                   [*args, *params, limit + 1])
                names = [d[0] for d in cur.description]
                found.extend(cur.fetchall())
            else:
                ids.extend(r[0] for r in conn.execute(f"SELECT rowid FROM {name} WHERE {name} MATCH ?{rowid}", args))
        ids.sort(reverse=True)
        for lo in range(0, len(ids), _ROWS_PER_READ):
            wanted = limit + 1 - len(out) - len(found)
            cur = conn.execute(rows_sql, [json.dumps(ids[lo:lo + _ROWS_PER_READ]), *params, wanted])
            names = [d[0] for d in cur.description]
            got = cur.fetchall()
            found.extend(got)
            if len(got) == wanted:
                break
        if len(by_day[day]) > 1:
            found.sort(key=lambda r: r[0], reverse=True)  # id is the first column
        out.extend(found[:limit + 1 - len(out)])
        if len(out) > limit:
            break
    from .queries import decoded_page

    return decoded_page(names, out, limit)
