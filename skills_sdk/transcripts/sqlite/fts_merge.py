"""Merging the full-text tables' FTS5 segments, a bounded step at a time, outside the inserts that fill them."""

from __future__ import annotations

import datetime
import time

from .driver import Transaction, sqlite3
from .fts_sql import fts_table

__all__ = ["MERGE_PAGES", "merge_step", "merge", "utc_today"]

#: Pages one merge step writes (FTS5 'merge'): a millisecond or two of holding the write lock.
MERGE_PAGES = 32
#: Seconds between two steps of a past day's merge in this process (today's: every step). A step
#: per 100-row indexing slice merged a ledger's unmerged past days ten times as often as a step per
#: 1,000-row batch did, and held the lock ten times as often for it.
PAST_DAY_EVERY = 0.5

# time.monotonic() of this process's last past-day step; none yet is minus infinity, not 0.0, because
# monotonic time counts from boot: a machine up less than PAST_DAY_EVERY would wait out its first step.
_past_day_at = [float("-inf")]


def merge_step(conn: sqlite3.Connection) -> bool:
    """One merge step of today's tables and of the oldest past day's, in a transaction of its own; True if it wrote."""
    with Transaction(conn):
        return merge(conn)


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def merge(conn: sqlite3.Connection) -> bool:
    """One step of :func:`merge_step`'s work in the caller's transaction (a past day's at most every :data:`PAST_DAY_EVERY` s); True if it wrote."""
    today = _merge_today(conn)  # both: under steady captures today's always has work
    now = time.monotonic()
    if now - _past_day_at[0] < PAST_DAY_EVERY:
        return today
    _past_day_at[0] = now
    return _merge_past_day(conn) or today


def _merge_today(conn: sqlite3.Connection) -> bool:
    """Merge today's tables' segments where a level holds enough of them, one step of :data:`MERGE_PAGES`; True if it wrote.

    Done by FTS5 itself (automerge), a merge ran in the insert that filled a level: every few
    thousand rows one indexing slice took 10-30 ms instead of 0.5. In steps of a few dozen pages
    after each slice the holds stay under a few milliseconds and the merging keeps up.
    """
    today, wrote = utc_today().isoformat(), False
    for (bucket,) in conn.execute("SELECT bucket FROM fts_days WHERE day = ?", (today,)).fetchall():
        wrote = _merge_table(conn, fts_table(today, bucket), MERGE_PAGES) or wrote
    return wrote


def _merge_past_day(conn: sqlite3.Connection) -> bool:
    """Merge the oldest past day's tables not yet merged, one step of :data:`MERGE_PAGES`; True if it wrote.

    Rows are indexed a few hundred at a time, so a day's table ends up as many FTS5 segments, and
    a secure delete looks for each token of the row in every segment: deleting 1,000 rows from a
    10,000-row table made of 100-row batches measured 3-5 s, from the same table merged into one
    segment 0.7-1 s. Once a day is over its table only changes by erasure, purge and imports,
    so it is merged once, a step per indexing batch, and erasures of older rows stay cheap.
    """
    done = conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_merged_upto'").fetchone()
    done = done[0] if done else ""
    today = utc_today().isoformat()
    for (day,) in conn.execute("SELECT DISTINCT day FROM fts_days WHERE day > ? AND day < ? ORDER BY day",
                               (done, today)).fetchall():
        for (bucket,) in conn.execute("SELECT bucket FROM fts_days WHERE day = ? ORDER BY bucket", (day,)).fetchall():
            # A negative page count merges segments of every level, down to one segment.
            if _merge_table(conn, fts_table(day, bucket), -MERGE_PAGES):  # more may follow next time
                return True
        conn.execute("INSERT INTO privacy_meta (name, value) VALUES ('fts_merged_upto', ?) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (day,))
    return False


def _merge_table(conn: sqlite3.Connection, name: str, pages: int) -> bool:
    """Run FTS5's ``'merge'`` command on table ``name`` for ``pages`` pages; True if it wrote any."""
    before = conn.total_changes
    conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('merge', ?)", (pages,))
    return conn.total_changes - before > 1
