"""Reads of the SQLite ledger: rows by id, user and session, counts, keyset walks for export, the API's pages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..query import TranscriptFilter, scope_where, where
from ..record import JSON_COLUMNS, canonical_json, decode, split_kinds
from .driver import sqlite3

__all__ = ["rows", "unsealed", "count", "walk", "batch_statement", "export_columns", "exact_latency_from", "json_select", "page", "scope_where", "decoded_page", "by_user_first", "LIVE",
           "LIVE_T", "PURGED_BELOW"]

#: The smallest id a read may return: a purge's first step hides every row below it at once (they
#: are all expired), and the background thread then deletes them in slices (see retention.py).
#: A scalar subquery, so each statement reads the mark of its own snapshot, read once per statement;
#: each row the statement's index yields is then tested against it (its rowid is in every index entry).
PURGED_BELOW = "coalesce((SELECT CAST(value AS INTEGER) FROM privacy_meta WHERE name = 'purged_below'), 0)"
#: The test every read of ``transcripts`` adds, and its form for reads on ``transcripts t``. The unary
#: ``+`` keeps it from choosing an index: as a range on id it turned an export's walk of the
#: (developer_id, created_at) index into a walk of (developer_id, id) and a sort.
LIVE = "+id >= " + PURGED_BELOW
LIVE_T = "+t.id >= " + PURGED_BELOW


def rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    """The decoded rows of ``SELECT * FROM transcripts ...``."""
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [decode(unsealed(dict(zip(names, r, strict=True)))) for r in cur.fetchall()]


def unsealed(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` without its ``seal`` (the ledger's tamper evidence, not a transcript field), in place."""
    row.pop("seal", None)
    return row


def count(conn: sqlite3.Connection, f: TranscriptFilter) -> int:
    """How many transcripts ``f`` selects (full text aside)."""
    if f.q is not None:
        raise ValueError("count() does not search text; leave q out, or page through query() for matches.")
    clauses, params = where(f)
    clauses = [*by_user_first(clauses), LIVE]
    sql = "SELECT count(*) FROM transcripts" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return int(conn.execute(sql, params).fetchone()[0])


def walk(conn: sqlite3.Connection, select: str, f: TranscriptFilter, batch: int, names: list[str]) -> Iterator[tuple[Any, ...]]:
    """Raw result tuples of ``SELECT {select}`` over the matching rows, keyset-paged, oldest first.

    Each tuple ends with two keyset columns (created_at, id) after the selected ones.
    """
    cur = conn.execute(*batch_statement(f, select, batch))
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
        cur = conn.execute(*batch_statement(f, select, batch, (last[-2], last[-1])))


def batch_statement(f: TranscriptFilter, select: str, batch: int, after: tuple[str, int] | None = None
                    ) -> tuple[str, list[Any]]:
    """One batch of :func:`walk`: ``SELECT {select}, created_at, id`` of the next rows after the keyset ``after``."""
    if f.q is not None:
        raise ValueError("an export does not search text; leave q out, or page through query() for matches.")
    clauses, params = where(f)
    clauses = [*by_user_first(clauses), LIVE]
    # The keyset columns ride at the end of each result tuple.
    sel = f"{select}, created_at AS _k_at, id AS _k_id"
    if f.user_id is None and f.session_id is None and (f.developer_id is not None or f.skill is not None):
        # Walk the (developer_id | skill, created_at) index in its own order, keyset on
        # (created_at, id): "id > ? ORDER BY id" there sorts every row of the developer per batch.
        if after is not None:
            clauses.append("(created_at, id) > (?, ?)")
            params.extend(after)
        order = "created_at, id"
    else:
        clauses.append("id > ?")
        params.append(0 if after is None else after[1])
        order = "id"
    return f"SELECT {sel} FROM transcripts WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT {int(batch)}", params


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


#: How :func:`json_select` writes each column (see :func:`export_columns`).
PLAIN, JSON_TEXT, REAL, BOOL, KINDS = range(5)


def export_columns(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Every column an export line holds, in the table's order, with how it is written (PLAIN, JSON_TEXT, ...)."""
    kinds = {"end_session": BOOL, "redacted": KINDS}
    return [(name, JSON_TEXT if name in JSON_COLUMNS else REAL if kind in ("REAL", "FLOAT") else kinds.get(name, PLAIN))
            for name, kind in conn.execute("SELECT name, upper(type) FROM pragma_table_info('transcripts') "
                                           "WHERE name != 'seal' ORDER BY cid")]


def exact_latency_from(conn: sqlite3.Connection) -> int:
    """The last id whose latency may have more than 3 decimals (written before the store rounded it)."""
    return int(conn.execute("SELECT coalesce((SELECT value FROM privacy_meta WHERE name = "
                            "'exact_latency_from'), 0)").fetchone()[0])


def json_select(conn: sqlite3.Connection) -> str:
    """``json_object(...)`` over every column, decoding as ``decode`` does."""
    conn.create_function("skillssplit_kinds", 1, split_kinds, deterministic=True)
    conn.create_function("skills_json", 1, canonical_json, deterministic=True)
    conn.create_function("skills_float", 1, repr, deterministic=True)
    parts = []
    for name, kind in export_columns(conn):
        col = '"' + name.replace('"', '""') + '"'
        if kind == JSON_TEXT:
            # The store writes canonical JSON (see JsonText), which json() keeps as it is. Text
            # that is not valid JSON (written around the store) is decoded as decode does.
            expr = (f"CASE WHEN {col} IS NULL THEN NULL WHEN json_valid({col}) THEN json({col}) "
                    f"ELSE json(skills_json({col})) END")
        elif kind == REAL:
            # SQLite prints 15 significant digits, Python the shortest text that round-trips; they
            # agree on a value with at most 3 decimals below 1e11, which is how the store writes
            # latency. Rows written before it rounded (ids up to exact_from) are checked, in
            # Python when they need more digits; round() costs a printf, so only for those.
            exact_from = exact_latency_from(conn)
            old = f"(id <= {exact_from} AND {col} != round({col}, 3))" if exact_from else "0"
            expr = (f"CASE WHEN typeof({col}) = 'real' AND (abs({col}) >= 1e11 OR {old}) "
                    f"THEN json(skills_float({col})) ELSE {col} END")
        elif kind == BOOL:
            expr = f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN json('true') ELSE json('false') END"
        elif kind == KINDS:
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
    clauses = [*by_user_first(clauses), LIVE_T]
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
    cur = conn.execute(sql, [*params, limit + 1])
    return decoded_page([d[0] for d in cur.description], cur.fetchall(), limit)


def decoded_page(names: list[str], raw: list[tuple[Any, ...]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Decoded rows of a page fetched with one row extra, and the last id when there is a next page."""
    out = [decode(unsealed(dict(zip(names, r, strict=False)))) for r in raw]
    if len(out) > limit:
        out = out[:limit]
        return out, out[-1]["id"]
    return out, None
