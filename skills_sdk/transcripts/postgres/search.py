"""Scoped, keyset-paged reads and full-text search on the PostgreSQL ledger, with no word stored in clear."""

from __future__ import annotations

import datetime
import re
from typing import Any

from ...errors import BadQuery
from ..ledger import Page, Where
from ..query import TranscriptFilter
from ..query import scope_where as sqlite_where
from ..stats import transaction_totals
from . import crypto, schema
from .columns import SELECT as _SELECT

__all__ = ["SearchMixin", "search", "query_words", "skill_stats"]

_TERM = re.compile(r'"((?:[^"]|"")*)"')
#: Candidate rows one statement of a full-text page reads before it looks again (newest first).
_CANDIDATES = 200


def query_words(q: str) -> set[str]:
    """The words a search must find, from :func:`skills_sdk.transcripts.search.fts_query`'s quoted terms (or plain text)."""
    terms = [t.replace('""', '"') for t in _TERM.findall(q)] or [q]
    out: set[str] = set()
    for t in terms:
        out |= crypto.words(t)
    if not out:
        raise BadQuery("q", f"{q[:40]!r} has no words to search for.")
    return out


def _where(filters: TranscriptFilter, developer_id: str | None, user_id: str | None) -> tuple[list[str], list[Any]]:
    """The SQLite ledger's WHERE clauses (scope first), with psycopg's placeholders."""
    clauses, params = sqlite_where(filters, developer_id, user_id)
    return [c.replace("?", "%s") for c in clauses], params


def search(store: Any, filters: TranscriptFilter, *, developer_id: str | None = None,
           user_id: str | None = None, before_id: int | None = None, limit: int = 50) -> Page:
    """One page of the scope's transcripts, newest first, and the last id when there is a next page.

    The orders are the SQLite ledger's: by id; a developer's page with a time window by
    ``created_at`` then id; a full-text page (``q``) by UTC day, then id. ``filters`` come from
    :func:`skills_sdk.transcripts.search.parse_filters`.
    """

    clauses, params = _where(filters, developer_id, user_id)
    view, setting, value = (("developer_transcripts", "skills.developer_id", developer_id) if developer_id is not None
                            else ("user_transcripts", "skills.user_id", user_id))
    if filters.q is not None:
        with store.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
            return _text_page(store, conn, view, filters, clauses, params, developer_id, before_id, limit)
    with store.connection() as conn:
        by_time = developer_id is not None and (filters.since is not None or filters.until is not None)
        if before_id is not None:
            if by_time:
                at = f"coalesce((SELECT created_at FROM {view} WHERE id = %s), '')"
                clauses.append(f"t.created_at <= {at} AND (t.created_at, t.id) < ({at}, %s)")
                params.extend([before_id, before_id, before_id])
            else:
                clauses.append("t.id < %s")
                params.append(before_id)
        order = "t.created_at DESC, t.id DESC" if by_time else "t.id DESC"
        # Pipelined: BEGIN, the scope and the read go to the server together (one wait, not three).
        with conn.pipeline(), conn.transaction():
            conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
            raw = conn.execute(f"SELECT {_SELECT} FROM {view} t WHERE {' AND '.join(clauses)} ORDER BY {order} "
                               "LIMIT %s", [*params, limit + 1]).fetchall()
        return _page(store.decode(conn, raw), limit)


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def _next_day(day: str) -> str:
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()


def _uncovered(days: list[str]) -> tuple[str, list[str]]:
    """A condition on ``t.created_at`` true outside every partition's day (partition pruning keeps it to the default)."""
    if not days:
        return "true", []
    runs: list[list[str]] = []
    for d in days:
        if runs and _next_day(runs[-1][1]) == d:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    parts, args = ["t.created_at < %s"], [runs[0][0]]
    for (_, hi), (lo, _) in zip(runs, runs[1:], strict=False):
        parts.append("(t.created_at >= %s AND t.created_at < %s)")
        args += [_next_day(hi), lo]
    parts.append("t.created_at >= %s")
    args.append(_next_day(runs[-1][1]))
    return "(" + " OR ".join(parts) + ")", args


def _text_page(store: Any, conn: Any, view: str, filters: TranscriptFilter, clauses: list[str],
               params: list[Any], developer_id: str | None, before_id: int | None, limit: int
               ) -> tuple[list[dict[str, Any]], int | None]:
    """Walk the scope's days newest first; in each, the rows whose index buckets hold every word, newest
    first, unsealed and checked word by word (a bucket is shared by many words), until the page is full."""

    wanted = query_words(filters.q)
    where = list(clauses)
    args = list(params)
    if developer_id is not None:
        num, skey = store.keys.search_key(conn, developer_id)
        where.append("t.tokens @> %s::integer[]")
        args.append(crypto.token_buckets(skey, num, wanted))
    else:
        where.append("t.tokens IS NOT NULL")
    have = schema.partition_days(conn)
    days: list[str | None] = list(reversed(have))
    if filters.since is not None:
        days = [d for d in days if d is not None and d >= filters.since[:10]]
    if filters.until is not None:
        days = [d for d in days if d is not None and d <= filters.until[:10]]
    days.append(None)  # the default partition: rows whose day has no partition
    cursor_day = None
    if before_id is not None:
        row = conn.execute(f"SELECT created_at FROM {view} WHERE id = %s", (before_id,)).fetchone()
        if row is not None:
            cursor_day = row[0][:10]
            days = [d for d in days if d is None or d <= cursor_day]
    out: list[dict[str, Any]] = []
    for day in days:
        day_where, day_args = list(where), list(args)
        if day is not None:
            day_where.append("t.created_at >= %s AND t.created_at < %s")
            day_args += [day, _next_day(day)]
        else:  # the default partition's rows: the days no partition covers
            gaps, gap_args = _uncovered(have)
            day_where.append(gaps)
            day_args += gap_args
        if before_id is not None and (cursor_day is None or day == cursor_day):
            day_where.append("t.id < %s")
            day_args.append(before_id)
        below = None
        while True:
            extra = [] if below is None else ["t.id < %s"]
            batch = conn.execute(f"SELECT {_SELECT} FROM {view} t WHERE {' AND '.join(day_where + extra)} "
                                 "ORDER BY t.id DESC LIMIT %s",
                                 [*day_args, *([] if below is None else [below]), _CANDIDATES]).fetchall()
            for row in store.decode(conn, batch):
                said = crypto.words(row["utterance"]) | crypto.words(row["speech"])
                if wanted <= said:
                    out.append(row)
                    if len(out) > limit:
                        return _page(out, limit)
            if len(batch) < _CANDIDATES:
                break
            below = batch[-1][0]
    return _page(out, limit)


class SearchMixin:
    """Scoped pages, full-text search and dashboard figures: the reading part of :class:`~.store.PostgresLedger`."""

    def query(self, where: Where = None, /, *, developer_id: str | None = None, user_id: str | None = None,
              before_id: int | None = None, limit: int = 50) -> Page:
        """One page of the scope's transcripts, newest first (see :func:`search`)."""
        return search(self, TranscriptFilter.of(where), developer_id=developer_id, user_id=user_id,
                      before_id=before_id, limit=limit)

    def skill_stats(self, developer_id: str, skill: str, *, since: str, until: str | None = None) -> dict[str, Any]:
        """The dashboard figures of one of ``developer_id``'s skills (see :func:`skill_stats`)."""
        return skill_stats(self, developer_id, skill, since=since, until=until)


def skill_stats(store: Any, developer_id: str, skill: str, *, since: str, until: str | None = None
                ) -> dict[str, Any]:
    """The dashboard figures of one of ``developer_id``'s skills (see :func:`skills_sdk.transcripts.stats.skill_stats`).

    Read through the developer-scoped view; the percentiles are nearest-rank (``percentile_disc``).
    """
    where = "developer_id = %s AND skill = %s AND created_at >= %s" + (" AND created_at < %s" if until else "")
    params: list[Any] = [developer_id, skill, since] + ([until] if until else [])
    with store.connection() as conn, conn.transaction():
        conn.execute("SELECT set_config('skills.developer_id', %s, true)", (developer_id,))
        days = [{"day": d, "requests": int(n), "errors": int(e)} for d, n, e in conn.execute(
            "SELECT substr(created_at, 1, 10) AS day, count(*), count(*) FILTER (WHERE status = 'error') "
            f"FROM developer_transcripts WHERE {where} GROUP BY day ORDER BY day", params)]
        tags = [r[0] for r in conn.execute(f'SELECT "transaction" FROM developer_transcripts WHERE {where} '
                                            'AND "transaction" IS NOT NULL', params)]
        p50, p99 = conn.execute("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_disc(0.99) "
                                f"WITHIN GROUP (ORDER BY latency_ms) FROM developer_transcripts WHERE {where}",
                                params).fetchone()
    requests = sum(d["requests"] for d in days)
    errors = sum(d["errors"] for d in days)
    return {"developer_id": developer_id, "skill": skill, "since": since, "until": until, "requests": requests,
            "errors": errors, "error_rate": (errors / requests) if requests else 0.0, "days": days,
            "transactions": len(tags), "totals": transaction_totals(tags),
            "p50_ms": None if p50 is None else float(p50), "p99_ms": None if p99 is None else float(p99)}
