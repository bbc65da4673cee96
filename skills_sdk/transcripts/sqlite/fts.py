"""The full-text index: FTS5 partitions per developer and UTC day, filled in batches, searched newest first."""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .driver import FTS5_SECURE_DELETE, sqlite3

if TYPE_CHECKING:
    from ..query import TranscriptFilter
    from .connection import Connection

#: Most rows a search indexes before it runs (the background thread indexes the rest).
SEARCH_INDEX_LIMIT = 20_000

__all__ = ["text_page", "FTS_COLUMNS", "fts_day", "fts_table", "fts_partitions", "apply_fts_changes", "drop_fts_days",
           "index_pending"]

_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


#: Text columns the full-text index covers. Only these two: each indexed column costs capture time.
FTS_COLUMNS = ("utterance", "speech")
FTS_HAS_TEXT = "({0}.utterance IS NOT NULL OR {0}.speech IS NOT NULL)"
FTS_UPTO = "(SELECT CAST(value AS INTEGER) FROM privacy_meta WHERE name = 'fts_upto')"
FTS_FLOOR = "(SELECT value FROM privacy_meta WHERE name = 'fts_floor')"
#: The UTC day (``YYYY-MM-DD``) whose full-text partition holds a row; ``other`` for a created_at that is not ISO.
FTS_DAY = ("(CASE WHEN {0}.created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
            "THEN substr({0}.created_at, 1, 10) ELSE 'other' END)")

def fts_day(created_at: str | None) -> str:
    """The partition day of a row's ``created_at``, as the triggers compute it (``other`` if not ISO)."""
    return created_at[:10] if created_at and _DAY_RE.match(created_at) else "other"


def fts_table(day: str, seq: int) -> str:
    """A full-text partition's table: day ``2026-11-28``, partition 3 -> ``transcripts_fts_20261128_3``."""
    return f"transcripts_fts_{day.replace('-', '')}_{int(seq)}"


def fts_partitions(conn: sqlite3.Connection, developer_id: str | None = None) -> list[tuple[str, str, str]]:
    """``(day, developer_id, table)`` of every full-text partition (one developer's if given), newest day first."""
    sql = "SELECT day, developer_id, seq FROM fts_parts"
    args: tuple[Any, ...] = ()
    if developer_id is not None:
        sql, args = sql + " WHERE developer_id = ?", (developer_id,)
    rows = conn.execute(sql + " ORDER BY day = 'other', day DESC, seq", args).fetchall()
    return [(day, dev, fts_table(day, seq)) for day, dev, seq in rows]


def ensure_partition(conn: sqlite3.Connection, day: str, developer_id: str) -> str:
    if day != "other" and not _DAY_RE.fullmatch(day):
        raise ValueError(f"not a partition day: {day!r}")  # the GLOB in FTS_DAY lets only digits through
    found = conn.execute("SELECT seq FROM fts_parts WHERE developer_id = ? AND day = ?", (developer_id, day)).fetchone()
    if found:
        return fts_table(day, found[0])
    seq = conn.execute("INSERT INTO fts_parts (day, developer_id) VALUES (?, ?)", (day, developer_id)).lastrowid
    name = fts_table(day, seq)
    # columnsize=0: no per-row size table (only bm25 ranking needs it; pages are ordered by id),
    # so each row indexed or deleted writes one page less and the schema holds one table less.
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(utterance, speech, content='transcripts', "
                 "content_rowid='id', columnsize=0)")
    if FTS5_SECURE_DELETE:
        # Deletes then remove the tokens from the index itself, so leaving no trace needs no
        # rewrite of the whole index ('optimize'): the cost follows the rows deleted.
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('secure-delete', 1)")
    if day != "other":  # a row older than the purge floor (an import) makes its day indexed again
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value > ?", (day, day))
    return name


def apply_fts_changes(conn: sqlite3.Connection) -> int:
    """Apply queued deletes and text changes to the full-text partitions; returns how many were queued.

    Erasure and purge call it inside the transaction that deleted the rows, so no token of them
    outlives the commit; index_pending() applies whatever other writers queued.
    """
    queued = conn.execute("SELECT count(*) FROM fts_changes").fetchone()[0]
    if not queued:
        return 0
    parts = {(day, dev): name for day, dev, name in fts_partitions(conn)}
    # Only the first queued entry of a row holds what the index has; later ones were never indexed.
    queue = conn.execute("SELECT day, developer_id, id, utterance, speech FROM fts_changes WHERE had_text AND "
                         "seq IN (SELECT min(seq) FROM fts_changes GROUP BY id) ORDER BY day, developer_id, id")
    for (day, dev), group in itertools.groupby(queue.fetchall(), key=lambda r: (r[0], r[1])):
        name = parts.get((day, dev))
        if name is not None:
            conn.executemany(f"INSERT INTO {name} ({name}, rowid, utterance, speech) VALUES ('delete', ?, ?, ?)",
                             [r[2:] for r in group])
    reindex = [r[0] for r in conn.execute("SELECT DISTINCT id FROM fts_changes WHERE reindex")]
    conn.execute("DELETE FROM fts_changes")
    for lo in range(0, len(reindex), 500):
        ids = reindex[lo:lo + 500]
        _index_rows(conn, f"id IN ({','.join('?' * len(ids))})", ids)
    return queued


_ROW_DAY = FTS_DAY.format("t")
_ROW_HAS_TEXT = FTS_HAS_TEXT.format("t")


def _index_rows(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> int:
    """Add the rows of ``transcripts t`` matching ``where`` (and having text) to their partitions; returns how many."""
    n = 0
    for day, dev in conn.execute(f"SELECT DISTINCT {_ROW_DAY}, developer_id FROM transcripts t "
                                 f"WHERE {where} AND {_ROW_HAS_TEXT}", params).fetchall():
        name = ensure_partition(conn, day, dev)
        n += conn.execute(f"INSERT INTO {name} (rowid, utterance, speech) SELECT id, utterance, speech FROM "
                          f"transcripts t WHERE {where} AND {_ROW_HAS_TEXT} AND {_ROW_DAY} = ? AND developer_id = ?",
                          [*params, day, dev]).rowcount
    return n


def drop_fts_days(conn: sqlite3.Connection, before: str) -> list[str]:
    """Drop every full-text partition of the days before ``before`` (``YYYY-MM-DD``); returns their tables.

    Only for a purge that deletes every row of those days, first, inside its transaction: the
    floor it raises keeps those rows' deletes from being queued for partitions that are gone.
    """
    gone = [name for day, _, name in fts_partitions(conn) if day != "other" and day < before]
    for name in gone:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute("DELETE FROM fts_parts WHERE day != 'other' AND day < ?", (before,))
    conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value < ?", (before, before))
    return gone


def index_pending(conn: sqlite3.Connection, *, limit: int | None = None) -> int:
    """Add the rows written since the last call to the full-text index, in one transaction; returns how many.

    ``limit`` caps how many ids one call covers, so the background thread holds the write lock
    only briefly and captures never queue behind a long indexing transaction.

    >>> index_pending(store.conn)      # doctest: +SKIP
    12

    Runs on the checkpoint thread every tick and before every full-text search, so capture never
    pays for indexing and a search sees the rows captured since the last tick (up to 20,000 of them).
    Queued deletes are applied first.
    """
    if conn.execute(FTS_IDLE).fetchone()[0]:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        apply_fts_changes(conn)
        upto = conn.execute("SELECT " + FTS_UPTO).fetchone()[0]
        top = conn.execute("SELECT coalesce(max(id), 0) FROM transcripts").fetchone()[0]
        if limit is not None:
            top = min(top, upto + limit)
        n = 0
        for lo in range(upto, top, 20_000):  # slices of ids: each holds a day or two
            n += _index_rows(conn, "id > ? AND id <= ?", (lo, min(lo + 20_000, top)))
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_upto'", (str(top),))
        if n:
            _prepare_next_day(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n


def _prepare_next_day(conn: sqlite3.Connection) -> None:
    """On a day that has rows, create tomorrow's partitions of today's developers, together, ahead of time.

    Creating a table makes every connection reload the schema before its next statement (about
    50 ms with 360 partitions): done here, once a day for all developers, instead of by the
    first capture of each developer after midnight.
    """
    today = datetime.datetime.now(datetime.UTC).date()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    for (dev,) in conn.execute("SELECT developer_id FROM fts_parts WHERE day = ? EXCEPT "
                               "SELECT developer_id FROM fts_parts WHERE day = ?",
                               (today.isoformat(), tomorrow)).fetchall():
        ensure_partition(conn, tomorrow, dev)


#: True when every row is indexed and no change waits: the checkpoint thread's cheap test.
FTS_IDLE = ("SELECT coalesce(max(id), 0) <= " + FTS_UPTO + " AND NOT EXISTS (SELECT 1 FROM fts_changes) "
             "FROM transcripts")


# -- searching the partitions --------------------------------------------------------------------
def text_page(store: Connection, filters: TranscriptFilter, developer_id: str | None, user_id: str | None,
              before_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A full-text page: the scope's partitions, newest day first, each walked newest first, until the page is full."""
    from ..query import scope_where

    clauses, params = scope_where(filters, developer_id, user_id)
    conn = store.conn
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
    from .queries import decoded_page

    return decoded_page(names, out, limit)
