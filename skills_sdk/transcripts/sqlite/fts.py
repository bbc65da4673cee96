"""The full-text index: FTS5 tables per UTC day (a fixed number of developer buckets each), filled in batches.

A developer's rows carry a token of their developer id in an indexed column, so a search stays
inside one developer's rows by the index itself. The number of tables follows days, never
developers. Ledgers made with one table per developer and day are moved to this layout by
:func:`index_pending`, one old table at a time.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from typing import Any

from . import fts_merge
from .driver import FTS5_SECURE_DELETE, Transaction, sqlite3
from .fts_merge import merge_step
from .fts_sql import (
    _DAY_RE,
    _LEGACY,
    FTS_COLUMNS,
    FTS_DAY,
    FTS_DEV_TOKEN,
    FTS_FLOOR,
    FTS_HAS_TEXT,
    FTS_SOURCE_VIEW,
    FTS_UPTO,
    _legacy_table,
    developer_token,
    fts_bucket,
    fts_day,
    fts_table,
)
from .queries import PURGED_BELOW

#: Most rows a search indexes before it runs (the background thread indexes the rest).
SEARCH_INDEX_LIMIT = 20_000
#: Full-text tables per UTC day for a new ledger; a developer's bucket is a hash of its id. The
#: count a ledger was made with is kept in it (``privacy_meta.fts_buckets``) and never changes.
FTS_BUCKETS = 1
#: Rows whose queued full-text changes one background slice applies (a secure delete: 0.2-1.4 ms each).
CHANGE_SLICE = 10
#: How long one step of the move from per-developer tables holds the write lock, at most (it
#: always moves at least one old table).
MIGRATE_SECONDS = 0.2

__all__ = ["FTS_COLUMNS", "FTS_BUCKETS", "fts_day", "fts_table", "fts_bucket", "developer_token",
           "fts_partitions", "fts_tables", "legacy_partitions", "apply_fts_changes", "drop_fts_days", "index_pending",
           "merge_step", "FTS_DAY", "FTS_DEV_TOKEN", "FTS_FLOOR", "FTS_HAS_TEXT", "FTS_SOURCE_VIEW", "FTS_UPTO"]

def _buckets(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM privacy_meta WHERE name = 'fts_buckets'").fetchone()
    return int(row[0]) if row else FTS_BUCKETS


def _legacy_upto(conn: sqlite3.Connection) -> int | None:
    return conn.execute("SELECT " + _LEGACY).fetchone()[0]


def fts_partitions(conn: sqlite3.Connection, developer_id: str | None = None) -> list[tuple[str, int, str]]:
    """``(day, bucket, table)`` of every full-text table (the one holding ``developer_id``'s rows if given), newest day first."""
    sql = "SELECT day, bucket FROM fts_days"
    args: tuple[Any, ...] = ()
    if developer_id is not None:
        sql, args = sql + " WHERE bucket = ?", (fts_bucket(developer_id, _buckets(conn)),)
    rows = conn.execute(sql + " ORDER BY day = 'other', day DESC, bucket", args).fetchall()
    return [(day, bucket, fts_table(day, bucket)) for day, bucket in rows]


def legacy_partitions(conn: sqlite3.Connection, developer_id: str | None = None) -> list[tuple[str, str, str, int]]:
    """``(day, developer_id, table, seq)`` of the per-developer tables an older ledger still has, newest day first."""
    if _legacy_upto(conn) is None:
        return []
    sql = "SELECT day, developer_id, seq FROM fts_parts"
    args: tuple[Any, ...] = ()
    if developer_id is not None:
        sql, args = sql + " WHERE developer_id = ?", (developer_id,)
    rows = conn.execute(sql + " ORDER BY day = 'other', day DESC, seq", args).fetchall()
    return [(day, dev, _legacy_table(day, seq), seq) for day, dev, seq in rows]


def fts_tables(conn: sqlite3.Connection) -> list[str]:
    """Every full-text table, an older ledger's per-developer ones included."""
    return [name for _, _, name in fts_partitions(conn)] + [p[2] for p in legacy_partitions(conn)]


def ensure_partition(conn: sqlite3.Connection, day: str, bucket: int) -> str:
    if day != "other" and not _DAY_RE.fullmatch(day):
        raise ValueError(f"not a partition day: {day!r}")  # the GLOB in FTS_DAY lets only digits through
    name = fts_table(day, bucket)
    if conn.execute("SELECT 1 FROM fts_days WHERE day = ? AND bucket = ?", (day, bucket)).fetchone():
        return name
    conn.execute("INSERT INTO fts_days (day, bucket) VALUES (?, ?)", (day, bucket))
    # columnsize=0: no per-row size table (only bm25 ranking needs it; pages are ordered by id),
    # so each row indexed or deleted writes one page less and the schema holds one table less.
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(developer, utterance, speech, "
                 "content='transcripts_fts_source', content_rowid='id', columnsize=0)")
    if FTS5_SECURE_DELETE:
        # Deletes then remove the tokens from the index itself, so leaving no trace needs no
        # rewrite of the whole index ('optimize'): the cost follows the rows deleted.
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('secure-delete', 1)")
    # FTS5 merges segments inside the insert that filled a level (automerge): 10-30 ms, now and
    # then, in one indexing slice. Off: merge_step() does that work in steps of MERGE_PAGES.
    conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('automerge', 0)")
    if day != "other":  # a row older than the purge floor (an import) makes its day indexed again
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value > ?", (day, day))
    return name


class _Placement:
    """Which table holds (or gets) a row: its day's bucket, or an older ledger's per-developer table not yet moved."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.buckets = _buckets(conn)
        self.legacy_upto = _legacy_upto(conn)
        self.legacy = ({(day, dev): name for day, dev, name, _ in legacy_partitions(conn)}
                       if self.legacy_upto is not None else {})
        self.days = {(day, bucket) for day, bucket, _ in fts_partitions(conn)}
        self.names: dict[tuple[str, str], str] = {}  # (day, developer) -> its table, once known to exist

    def old(self, rid: int, day: str, dev: str) -> str | None:
        """The per-developer table holding the row, while it is not moved yet (rows up to the old watermark only)."""
        if self.legacy and rid <= self.legacy_upto:  # type: ignore[operator]
            return self.legacy.get((day, dev))
        return None

    def new(self, day: str, dev: str, *, create: bool) -> str | None:
        name = self.names.get((day, dev))  # a batch's rows share a few days and developers: hashed and named once
        if name is not None:
            return name
        bucket = fts_bucket(dev, self.buckets)
        if (day, bucket) in self.days:
            name = fts_table(day, bucket)
        elif not create:
            return None
        else:
            self.days.add((day, bucket))
            name = ensure_partition(self.conn, day, bucket)
        self.names[(day, dev)] = name
        return name


def _insert(conn: sqlite3.Connection, groups: dict[tuple[str, bool], list[tuple[Any, ...]]], *,
            delete: bool = False) -> None:
    """Index (or with ``delete``, remove) ``(id, developer_id, utterance, speech)`` rows, grouped by ``(table, legacy)``."""
    for (name, legacy), rows in groups.items():
        head, mark = (f"{name}, ", "'delete', ") if delete else ("", "")
        if legacy:
            conn.executemany(f"INSERT INTO {name} ({head}rowid, utterance, speech) VALUES ({mark}?, ?, ?)",
                             [(r[0], r[2], r[3]) for r in rows])
        else:
            conn.executemany(f"INSERT INTO {name} ({head}rowid, developer, utterance, speech) "
                             f"VALUES ({mark}?, ?, ?, ?)", [(r[0], developer_token(r[1]), r[2], r[3]) for r in rows])


def apply_fts_changes(conn: sqlite3.Connection, *, rows: int | None = None) -> int:
    """Apply queued deletes and text changes to the full-text tables; returns how many were queued.

    Erasure and purge call it inside the transaction that deleted the rows, so no token of them
    outlives the commit; index_pending() applies whatever other writers queued. ``rows`` applies
    only the changes of that many rows (the lowest ids), for the background thread's short holds:
    a secure delete costs 0.2-1.4 ms a row.
    """
    upto = conn.execute("SELECT max(id) FROM (SELECT DISTINCT id FROM fts_changes ORDER BY id LIMIT ?)",
                        (-1 if rows is None else rows,)).fetchone()[0]
    if upto is None:
        return 0
    queued = conn.execute("SELECT count(*) FROM fts_changes WHERE id <= ?", (upto,)).fetchone()[0]
    place = _Placement(conn)
    groups: dict[tuple[str, bool], list[tuple[Any, ...]]] = {}
    # Only the first queued entry of a row holds what the index has; later ones were never indexed.
    for day, dev, rid, utterance, speech in conn.execute(
            "SELECT day, developer_id, id, utterance, speech FROM fts_changes WHERE had_text AND id <= ? AND "
            "seq IN (SELECT min(seq) FROM fts_changes WHERE id <= ? GROUP BY id) ORDER BY id", (upto, upto)).fetchall():
        old = place.old(rid, day, dev)
        name = old or place.new(day, dev, create=False)
        if name is not None:  # a day dropped by a purge has no table left to delete from
            groups.setdefault((name, old is not None), []).append((rid, dev, utterance, speech))
    _insert(conn, groups, delete=True)
    reindex = [r[0] for r in conn.execute("SELECT DISTINCT id FROM fts_changes WHERE reindex AND id <= ?", (upto,))]
    conn.execute("DELETE FROM fts_changes WHERE id <= ?", (upto,))
    for lo in range(0, len(reindex), 500):
        ids = reindex[lo:lo + 500]
        _index_rows(conn, f"id IN ({','.join('?' * len(ids))})", ids, place)
    return queued


_ROW_DAY = FTS_DAY.format("t")
# A row a purge hid is never indexed: its day's tables were dropped, and indexing it would make them again.
_ROW_HAS_TEXT = FTS_HAS_TEXT.format("t") + " AND t.id >= " + PURGED_BELOW


def _index_rows(conn: sqlite3.Connection, where: str, params: Sequence[Any], place: _Placement | None = None) -> int:
    """Add the rows of ``transcripts t`` matching ``where`` (and having text) to their tables; returns how many."""
    place = place or _Placement(conn)
    groups: dict[tuple[str, bool], list[tuple[Any, ...]]] = {}
    n = 0
    for rid, day, dev, utterance, speech in conn.execute(
            f"SELECT id, {_ROW_DAY}, developer_id, utterance, speech FROM transcripts t "
            f"WHERE {where} AND {_ROW_HAS_TEXT}", params):
        old = place.old(rid, day, dev)  # a row of a day not moved yet joins its old table (id reuse, text change)
        name = old or place.new(day, dev, create=True)
        groups.setdefault((name, old is not None), []).append((rid, dev, utterance, speech))  # type: ignore[arg-type]
        n += 1
    _insert(conn, groups)
    return n


def drop_fts_days(conn: sqlite3.Connection, before: str) -> list[str]:
    """Drop every full-text table of the days before ``before`` (``YYYY-MM-DD``); returns their names.

    Only for a purge that deletes every row of those days, first, inside its transaction: the
    floor it raises keeps those rows' deletes from being queued for tables that are gone.
    """
    gone = [name for day, _, name in fts_partitions(conn) if day != "other" and day < before]
    old = [(name, seq) for day, _, name, seq in legacy_partitions(conn) if day != "other" and day < before]
    for name in gone + [name for name, _ in old]:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute("DELETE FROM fts_days WHERE day != 'other' AND day < ?", (before,))
    if old:
        conn.executemany("DELETE FROM fts_parts WHERE seq = ?", [(seq,) for _, seq in old])
        _finish_move(conn)
    conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_floor' AND value < ?", (before, before))
    return gone + [name for name, _ in old]


def _move_legacy(conn: sqlite3.Connection, budget: float) -> int:
    """Move an older ledger's per-developer tables into the day tables, one whole table at a time; returns rows moved.

    Each old table's rows (those of its developer and day up to both watermarks, with text: what
    it holds, queued changes having been applied first) are indexed into their day's bucket, then
    the old table is dropped, in the caller's transaction: a row is in exactly one table at every
    commit, so a step cut short by a crash or another process leaves nothing half-moved.
    """
    upto = _legacy_upto(conn)
    if upto is None:
        return 0
    upto = min(upto, conn.execute("SELECT " + FTS_UPTO).fetchone()[0])
    place = _Placement(conn)
    started, moved = time.perf_counter(), 0
    for day, dev, name, seq in reversed(legacy_partitions(conn)):  # oldest first: the next purge may drop them
        if moved and time.perf_counter() - started > budget:
            break
        where = "t.developer_id = ? AND t.id <= ? AND " + _ROW_DAY + " = ?"
        params: list[Any] = [dev, upto, day]
        if day != "other":  # the (developer_id, created_at) index finds the day
            where += " AND t.created_at GLOB ?"
            params.append(day + "*")
        del place.legacy[(day, dev)]  # its rows now go to the day's bucket
        moved += _index_rows(conn, where, params, place) or 1
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute("DELETE FROM fts_parts WHERE seq = ?", (seq,))
    _finish_move(conn)
    return moved


def _finish_move(conn: sqlite3.Connection) -> None:
    if not conn.execute("SELECT 1 FROM fts_parts LIMIT 1").fetchone():
        conn.execute("DROP TABLE fts_parts")
        conn.execute("DELETE FROM privacy_meta WHERE name = 'fts_legacy_upto'")


def index_pending(conn: sqlite3.Connection, *, limit: int | None = None, merge: bool = True,
                  deletes: bool = True, changes: int | None = None) -> int:
    """Add the rows written since the last call to the full-text index, in one transaction; returns how many.

    ``limit`` caps how many ids one call covers, so the background thread holds the write lock
    only briefly and captures never queue behind a long indexing transaction.

    >>> index_pending(store.conn)      # doctest: +SKIP
    12

    Runs on the checkpoint thread every tick and before every full-text search, so capture never
    pays for indexing and a search sees the rows captured since the last tick (up to 20,000 of them).
    Queued changes are applied first; with ``deletes=False`` (a search's call) only when a queued
    text change needs its row indexed again: a deleted row's entries match nothing a search
    returns (it reads the rows themselves), so their removal is left to the background thread and
    to erasure's scrub. ``changes`` applies those of that many rows at most (the background
    thread's slices: :data:`CHANGE_SLICE`), all of them while per-developer tables remain. On a
    ledger that still has such tables, each call also moves some of them (about
    :data:`MIGRATE_SECONDS` worth) into the day tables. With ``merge`` (the default)
    a call that indexed rows also runs one step of :func:`merge_step`'s work in the same
    transaction; the background thread runs it apart, as a shorter hold of the lock.
    """
    if conn.execute(FTS_IDLE if deletes else _NOTHING_TO_SEARCH).fetchone()[0]:
        return 0
    with Transaction(conn):
        upto, top, buckets, legacy, changed = conn.execute(_WATERMARKS).fetchone()
        if changed and (deletes or conn.execute("SELECT EXISTS (SELECT 1 FROM fts_changes WHERE reindex)").fetchone()[0]):
            apply_fts_changes(conn, rows=changes if legacy is None else None)  # a move needs them all applied
        n = _move_legacy(conn, MIGRATE_SECONDS) if legacy is not None else 0
        if limit is not None:
            top = min(top, upto + limit)
        indexed = 0
        for lo in range(upto, top, 20_000):  # slices of ids: each holds a day or two
            hi = min(lo + 20_000, top)
            if int(buckets or FTS_BUCKETS) == 1 and (legacy is None or lo >= legacy):
                indexed += _index_range(conn, lo, hi)
            else:
                indexed += _index_rows(conn, "id > ? AND id <= ?", (lo, hi))
        conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'fts_upto'", (str(top),))
        if indexed:
            _prepare_next_day(conn)
            if merge:
                fts_merge.merge(conn)
    return n + indexed


def _index_range(conn: sqlite3.Connection, lo: int, hi: int) -> int:
    """Index the rows ``lo < id <= hi`` of a one-bucket ledger: one ``INSERT ... SELECT`` per day; returns how many.

    SQLite runs each statement to its end without coming back to Python, so the thread holding
    the write lock needs the interpreter's lock only between statements. Row by row (fetching
    the rows, then ``executemany``), it needed it twice a row: a busy request thread in the
    same process keeps it up to the interpreter's switch interval (5 ms) each time, and a
    2,000-row batch measured 50-500 ms of holding the write lock for 8-20 ms of work.
    """
    indexed = 0
    for (day,) in conn.execute(f"SELECT DISTINCT {_ROW_DAY} FROM transcripts t WHERE t.id > ? AND t.id <= ? "
                               f"AND {_ROW_HAS_TEXT}", (lo, hi)).fetchall():
        name = ensure_partition(conn, day, 0)
        indexed += conn.execute(f"INSERT INTO {name} (rowid, developer, utterance, speech) SELECT t.id, "
                                f"{FTS_DEV_TOKEN.format('t')}, t.utterance, t.speech FROM transcripts t "
                                f"WHERE t.id > ? AND t.id <= ? AND {_ROW_HAS_TEXT} AND {_ROW_DAY} = ?",
                                (lo, hi, day)).rowcount
    return indexed


def _prepare_next_day(conn: sqlite3.Connection) -> None:
    """On a day that has rows, create tomorrow's tables (today's buckets), together, ahead of time.

    Creating a table makes every connection reload the schema before its next statement: done
    here, once a day, instead of by the first capture after midnight.
    """
    today = fts_merge.utc_today()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    for (bucket,) in conn.execute("SELECT bucket FROM fts_days WHERE day = ? EXCEPT "
                                  "SELECT bucket FROM fts_days WHERE day = ?",
                                  (today.isoformat(), tomorrow)).fetchall():
        ensure_partition(conn, tomorrow, bucket)


#: True when every row is indexed, no change waits and no per-developer table is left to move:
#: the checkpoint thread's cheap test.
FTS_IDLE = ("SELECT coalesce(max(id), 0) <= " + FTS_UPTO + " AND NOT EXISTS (SELECT 1 FROM fts_changes) "
            "AND " + _LEGACY + " IS NULL FROM transcripts")
#: FTS_IDLE for a search: queued deletes alone leave nothing it would miss.
_NOTHING_TO_SEARCH = ("SELECT coalesce(max(id), 0) <= " + FTS_UPTO + " AND NOT EXISTS (SELECT 1 FROM fts_changes "
                      "WHERE reindex) AND " + _LEGACY + " IS NULL FROM transcripts")
#: What index_pending reads first, in one statement: indexed up to, newest id, buckets, old watermark, and
#: whether a change waits (none, mostly: looking for them cost an indexing slice 30 us of its hold).
_WATERMARKS = ("SELECT " + FTS_UPTO + ", (SELECT coalesce(max(id), 0) FROM transcripts), (SELECT value FROM "
               "privacy_meta WHERE name = 'fts_buckets'), " + _LEGACY + ", EXISTS (SELECT 1 FROM fts_changes)")
