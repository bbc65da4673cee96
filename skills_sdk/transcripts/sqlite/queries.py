"""Reads of the SQLite ledger: rows by id, user and session, counts, keyset walks for export, the API's pages."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from ..query import TranscriptFilter, scope_where, where
from ..record import JSON_COLUMNS, canonical_json, decode, split_kinds
from .driver import sqlite3

__all__ = ["rows", "count", "walk", "json_select", "page", "scope_where", "decoded_page", "by_user_first", "day_key",
           "DAY_INDEXES", "day_keyed", "days", "by_day", "newest_ids", "user_history", "session_turns"]


def day_key(alias: str = "") -> str:
    """The UTC day (``YYYY-MM-DD``) a row's user and session index entries are filed under; ``other`` if not ISO.

    The full-text partitions' day (``FTS_DAY``), spelled once: a query must use the index's very
    expression for SQLite to use the index.
    """
    col = f"{alias}.created_at" if alias else "created_at"
    return (f"(CASE WHEN {col} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
            f"THEN substr({col}, 1, 10) ELSE 'other' END)")


#: The two indexes whose entries of one row are scattered through the whole index when keyed by
#: user or session alone: led by the row's day, a day's entries sit together, so a purge of a day
#: rewrites that day's slice of them (about 1/90 of their pages at 90 days' retention) instead of
#: nearly every leaf, and a capture inserts into today's slice only. Reads that name a user or a
#: session probe them day by day (:func:`days`).
DAY_INDEXES = {"idx_transcripts_day_user_id_id": f"{day_key()}, user_id, id",
               "idx_transcripts_day_session_id": f"{day_key()}, session_id"}
#: Their predecessors, keyed by user or session alone (ledgers made before, until migrated).
FLAT_INDEXES = {"idx_transcripts_user_id_id": "user_id, id", "idx_transcripts_session_id": "session_id"}
#: Calendar days probed one by one at most; a wider span (rows years apart) lists the days the index holds.
_SPAN = 800
_DISTINCT_DAYS = (f"WITH RECURSIVE d(x) AS (SELECT max({day_key()}) FROM transcripts UNION ALL SELECT (SELECT "
                  f"max({day_key()}) FROM transcripts WHERE {day_key()} < d.x) FROM d WHERE d.x IS NOT NULL) "
                  "SELECT x FROM d WHERE x IS NOT NULL")


def day_keyed(conn: sqlite3.Connection) -> bool:
    """Whether this ledger's user and session indexes are led by the day (it was made or migrated so)."""
    # PRAGMA index_info reads the parsed schema (no table scan), and sees a migration by another process.
    return conn.execute("PRAGMA index_info(idx_transcripts_day_user_id_id)").fetchone() is not None


def days(conn: sqlite3.Connection) -> list[str]:
    """The days that can hold rows, newest first, ``other`` last.

    Every calendar day from the newest ISO day with rows down to the oldest (two index probes; a
    day without rows costs a query on it one seek), so the list needs no table of its own for
    captures to keep up to date.
    """
    day = day_key()
    top, bottom, other = conn.execute(
        f"SELECT (SELECT max({day}) FROM transcripts WHERE {day} < 'a'), (SELECT min({day}) FROM transcripts), "
        f"EXISTS (SELECT 1 FROM transcripts WHERE {day} = 'other')").fetchone()
    out: list[str] = []
    if top is not None and bottom is not None and bottom != "other":
        try:
            first, last = date.fromisoformat(top), date.fromisoformat(bottom)
        except ValueError:  # a created_at shaped like a day but not one (written around the store)
            first = last = None
        if first is not None and last is not None and (first - last).days <= _SPAN:
            out = [(first - timedelta(days=i)).isoformat() for i in range((first - last).days + 1)]
        else:
            out = [d for (d,) in conn.execute(_DISTINCT_DAYS) if d != "other"]
    if other:
        out.append("other")
    return out


def by_day(clauses: list[str], conn: sqlite3.Connection, alias: str = "") -> tuple[list[str], list[Any]]:
    """``clauses`` led by "the row's day is one of the ledger's days" when they name a user or a session and the
    ledger's indexes are led by the day (else unchanged); the parameters to put before theirs."""
    named = any("user_id = ?" in c or "session_id = ?" in c for c in clauses)
    if not named or not day_keyed(conn):
        return clauses, []
    return [f"{day_key(alias)} IN (SELECT value FROM json_each(?))", *clauses], [json.dumps(days(conn))]


def rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    """The decoded rows of ``SELECT * FROM transcripts ...``."""
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [decode(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def count(conn: sqlite3.Connection, f: TranscriptFilter) -> int:
    """How many transcripts ``f`` selects (full text aside)."""
    if f.q is not None:
        raise ValueError("count() does not search text; leave q out, or page through query() for matches.")
    clauses, params = where(f)
    clauses, first = by_day(by_user_first(clauses), conn)
    sql = "SELECT count(*) FROM transcripts" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return int(conn.execute(sql, [*first, *params]).fetchone()[0])


def walk(conn: sqlite3.Connection, select: str, f: TranscriptFilter, batch: int, names: list[str]) -> Iterator[tuple[Any, ...]]:
    """Raw result tuples of ``SELECT {select}`` over the matching rows, keyset-paged, oldest first.

    Each tuple ends with two keyset columns (created_at, id) after the selected ones.
    """
    if f.q is not None:
        raise ValueError("an export does not search text; leave q out, or page through query() for matches.")
    clauses, params = where(f)
    clauses, first = by_day(by_user_first(clauses), conn)
    params = [*first, *params]
    # The keyset columns ride at the end of each result tuple.
    sel = f"{select}, created_at AS _k_at, id AS _k_id"
    if f.user_id is None and f.session_id is None and (f.developer_id is not None or f.skill is not None):
        # Walk the (developer_id | skill, created_at) index in its own order, keyset on
        # (created_at, id): "id > ? ORDER BY id" there sorts every row of the developer per batch.
        base = " AND ".join(clauses) or "1"
        order = f"ORDER BY created_at, id LIMIT {int(batch)}"
        cur = conn.execute(f"SELECT {sel} FROM transcripts WHERE {base} {order}", params)
        next_sql = f"SELECT {sel} FROM transcripts WHERE {base} AND (created_at, id) > (?, ?) {order}"
        key = lambda r: [*params, r[-2], r[-1]]  # noqa: E731
    else:
        cond = " AND ".join(clauses + ["id > ?"])
        next_sql = f"SELECT {sel} FROM transcripts WHERE {cond} ORDER BY id LIMIT {int(batch)}"
        cur = conn.execute(next_sql, [*params, 0])
        key = lambda r: [*params, r[-1]]  # noqa: E731
    names[:] = [d[0] for d in cur.description][:-2]
    while True:
        # Streamed, not fetched: memory stays flat whatever the batch, and each batch is one
        # short read (a long one would keep erasures from truncating the WAL).
        n, last = 0, None
        for last in cur:
            n += 1
            yield last
        if n < batch or last is None:
            return
        cur = conn.execute(next_sql, key(last))


def by_user_first(clauses: list[str]) -> list[str]:
    """``clauses``, with the developer and skill tests barred from choosing an index when a user is named.

    ``+developer_id = ?`` tests the same, but no index of that column may serve it. Without
    statistics SQLite served ``developer_id = ? AND user_id = ?`` from the developer's index and
    read every row of the developer to find one user's few: a page for a 6-row user of a
    453,121-row developer took 13-15 s, and 0.1-0.2 ms through the user's index.
    """
    if not any(c.endswith("user_id = ?") for c in clauses):
        return clauses
    return ["+" + c if c.endswith(("developer_id = ?", "skill = ?")) and not c.startswith("+") else c
            for c in clauses]


def json_select(conn: sqlite3.Connection) -> str:
    """``json_object(...)`` over every column, decoding as ``decode`` does."""
    conn.create_function("skillssplit_kinds", 1, split_kinds, deterministic=True)
    conn.create_function("skills_json", 1, canonical_json, deterministic=True)
    conn.create_function("skills_float", 1, repr, deterministic=True)
    parts = []
    for name, kind in conn.execute("SELECT name, upper(type) FROM pragma_table_info('transcripts') ORDER BY cid"):
        col = '"' + name.replace('"', '""') + '"'
        if name in JSON_COLUMNS:
            # The store writes canonical JSON (see JsonText), which json() keeps as it is. Text
            # that is not valid JSON (written around the store) is decoded as decode does.
            expr = (f"CASE WHEN {col} IS NULL THEN NULL WHEN json_valid({col}) THEN json({col}) "
                    f"ELSE json(skills_json({col})) END")
        elif kind in ("REAL", "FLOAT"):
            # SQLite prints 15 significant digits, Python the shortest text that round-trips; they
            # agree on a value with at most 3 decimals below 1e11, which is how the store writes
            # latency. Rows written before it rounded (ids up to exact_from) are checked, in
            # Python when they need more digits; round() costs a printf, so only for those.
            exact_from = int(conn.execute("SELECT coalesce((SELECT value FROM privacy_meta WHERE name = "
                                          "'exact_latency_from'), 0)").fetchone()[0])
            old = f"(id <= {exact_from} AND {col} != round({col}, 3))" if exact_from else "0"
            expr = (f"CASE WHEN typeof({col}) = 'real' AND (abs({col}) >= 1e11 OR {old}) "
                    f"THEN json(skills_float({col})) ELSE {col} END")
        elif name == "end_session":
            expr = f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN json('true') ELSE json('false') END"
        elif name == "redacted":
            expr = (f"CASE WHEN coalesce({col}, '') = '' THEN json('[]') WHEN instr({col}, ',') = 0 "
                    f"THEN json_array({col}) ELSE json(skillssplit_kinds({col})) END")
        else:
            expr = col
        parts.append(f"'{name}', {expr}")
    return "json_object(" + ", ".join(parts) + ")"


def page(conn: sqlite3.Connection, filters: TranscriptFilter, *, developer_id: str | None = None,
         user_id: str | None = None, before_id: int | None = None, limit: int = 50
         ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the scope's transcripts (a developer's, or a user's), newest first, and the last id for the next page.

    Newest first means by id, except a developer's page with a time window (``since``/``until``),
    which is ordered by ``created_at`` (then id); for captured rows the orders agree. A full-text
    filter (``q``) is :func:`skills_sdk.transcripts.sqlite.search.text_page`'s.
    """
    clauses, params = scope_where(filters, developer_id, user_id)
    clauses = by_user_first(clauses)
    # A time window walks the (scope, created_at) index newest first and stops at the page; ordering
    # it by id made SQLite read and sort every row of the window (245 ms for one day at 10M rows).
    by_time = developer_id is not None and (filters.since is not None or filters.until is not None)
    if not by_time and user_id is not None and day_keyed(conn):
        # A user's page walks the days newest first and stops at the page (see newest_ids).
        found = _by_ids(conn, newest_ids(conn, clauses, params, limit + 1, before_id, alias="t"))
        if len(found) > limit:
            return found[:limit], found[limit - 1]["id"]
        return found, None
    clauses, first = by_day(clauses, conn, alias="t")
    params = [*first, *params]
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
    cur = conn.execute(sql, [*params, limit + 1])
    return decoded_page([d[0] for d in cur.description], cur.fetchall(), limit)


def decoded_page(names: list[str], raw: list[tuple[Any, ...]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Decoded rows of a page fetched with one row extra, and the last id when there is a next page."""
    out = [decode(dict(zip(names, r, strict=False))) for r in raw]
    if len(out) > limit:
        out = out[:limit]
        return out, out[-1]["id"]
    return out, None


def newest_ids(conn: sqlite3.Connection, clauses: list[str], params: Sequence[Any], limit: int,
               before_id: int | None = None, alias: str = "") -> list[int]:
    """The ids of the newest ``limit`` rows ``clauses`` select (they name a user, on a day-keyed ledger): by day, newest first, then by id.

    The days are walked newest first, one day, then two, four ...: a user with many rows fills
    the page from the newest day (that day's slice of the index read in id order, stopping at the
    page), a user with few rows costs one seek per day in at most ⌈log2(days)⌉ + 1 statements
    (7 at 90 days, 10 at 365). For rows the ledger captured, day order is id order. A cursor
    (``before_id``) continues in its row's day below its id, then the older days whole; if its
    row is gone, every day below its id.
    """
    a = f"{alias}." if alias else ""
    day = day_key(alias)
    table = f"transcripts {alias}" if alias else "transcripts"
    where = " AND ".join(clauses)
    walk = days(conn)
    out: list[int] = []
    if before_id is not None:
        row = conn.execute(f"SELECT {day_key()} FROM transcripts WHERE id = ?", (before_id,)).fetchone()
        if row is None:
            where += f" AND {a}id < {int(before_id)}"
        else:
            walk = walk[walk.index(row[0]) + 1:] if row[0] in walk else [d for d in walk if d < row[0]]
            out = [r[0] for r in conn.execute(
                f"SELECT {a}id FROM {table} WHERE {day} = ? AND {where} AND {a}id < ? ORDER BY {a}id DESC LIMIT ?",
                [row[0], *params, before_id, limit])]
    one = f"SELECT {a}id FROM {table} WHERE {day} = ? AND {where} ORDER BY {a}id DESC LIMIT ?"
    many = (f"SELECT {a}id FROM {table} WHERE {day} IN (SELECT value FROM json_each(?)) AND {where} "
            f"ORDER BY {day} DESC, {a}id DESC LIMIT ?")
    i, span = 0, 1
    while len(out) < limit and i < len(walk):
        part = walk[i:i + span]
        if span == 1:
            out.extend(r[0] for r in conn.execute(one, [part[0], *params, limit - len(out)]))
        else:
            out.extend(r[0] for r in conn.execute(many, [json.dumps(part), *params, limit - len(out)]))
        i, span = i + span, span * 2
    return out


def _by_ids(conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """The decoded rows of ``ids``, in that order."""
    found = {r["id"]: r for r in rows(conn, "SELECT * FROM transcripts WHERE id IN (SELECT value FROM json_each(?))",
                                     (json.dumps(ids),))}
    return [found[i] for i in ids if i in found]


def user_history(conn: sqlite3.Connection, user_id: str, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    """A user's newest ``limit`` transcripts (below ``before_id``'s place when given), newest first."""
    if day_keyed(conn):
        return _by_ids(conn, newest_ids(conn, ["user_id = ?"], [user_id], limit, before_id))
    if before_id is None:
        return rows(conn, "SELECT * FROM transcripts WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))
    return rows(conn, "SELECT * FROM transcripts WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (user_id, before_id, limit))


def session_turns(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """Every turn of a session, in id order: one seek per day on a day-keyed ledger."""
    clauses, params = by_day(["session_id = ?"], conn)
    return rows(conn, f"SELECT * FROM transcripts WHERE {' AND '.join(clauses)} ORDER BY id", [*params, session_id])
