"""Scoped, keyset-paged reads and full-text search on the PostgreSQL ledger, with no word stored in clear."""

from __future__ import annotations

import contextlib
import datetime
import re
from typing import Any

from ...errors import BadQuery
from ..ledger import Page, Where
from ..query import ERROR_STATUSES_SQL, TranscriptFilter
from ..query import scope_where as sqlite_where
from ..stats import transaction_totals
from . import crypto
from .columns import SELECT as _SELECT
from .columns import keyed
from .reads import scoped_read

__all__ = ["SearchMixin", "search", "query_words", "skill_stats"]

_TERM = re.compile(r'"((?:[^"]|"")*)"')
#: Candidates a full-text statement reads beyond the page (a bucket shared with another word lets a row through).
_SLACK = 16
#: The most candidates one full-text statement reads.
_MOST = 32768
#: The days each window of a full-text search reaches back (then one more for everything older).
_SPANS = (1, 2, 4, 8, 16, 32, 64)


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
        if developer_id is not None:  # its own view (see schema._V4), which applies the developer scope itself
            view, clauses, params = "developer_search", clauses[1:], params[1:]
        with store.connection() as conn, conn.transaction():
            # The scope and the windows' settings in one round trip (see _text_page for the settings).
            conn.execute("SELECT set_config(%s, %s, true), set_config('plan_cache_mode', 'force_generic_plan', true), "
                         "set_config('work_mem', '32MB', true)", (setting, value))
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
        order = "created_at DESC, id DESC" if by_time else "id DESC"
        by = "r." + order.replace(", ", ", r.")
        if developer_id is not None and not by_time:
            # A generic plan guesses a developer holds 1/n of each day (n developers): a page by id
            # then walked every day's primary key backwards, dropping other developers' rows, and
            # read the whole ledger for a developer with few rows or none (0.5 s at 1M rows). The
            # same bounds again as a range make that guess small, so each day's (developer_id, id)
            # index is read instead; the rows are the same.
            clauses.append("t.developer_id >= %s AND t.developer_id <= %s")
            params.extend([developer_id, developer_id])
        raw = scoped_read(conn, setting, value, keyed(f"SELECT {_SELECT} FROM {view} t WHERE {' AND '.join(clauses)} "
                                                      f"ORDER BY t.{order.replace(', ', ', t.')} LIMIT %s", by),
                          [*params, limit + 1], by, nested=before_id is not None and by_time)
        return _page(store.decode(conn, raw, with_keys=True), limit)


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def _next_day(day: str) -> str:
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()


def _after(day: str) -> str:
    """A text after every text that starts with ``day`` (the upper bound of its day, dates or not).

    >>> _after("2026-11-30")
    '2026-11-31'
    """
    head = day.rstrip("\U0010ffff")
    return head[:-1] + chr(ord(head[-1]) + 1) if head else "\U0010ffff" * 11


def _may_say(store: Any, conn: Any, batch: list[Any], wanted: set[str]) -> list[Any]:
    """The rows of ``batch`` (of ``SELECT {SELECT}``) whose words may hold every wanted word.

    A token shared with another word (32-bit tokens; the 4,096 buckets of rows not yet migrated
    from per-developer buckets) brings rows that do not say the query; most text is ASCII, where each word is a substring of the lowercased sealed text, so a
    row without them all is dropped before it is decoded and split into words (Unicode folding,
    the costly part of the check).
    """
    keys = store.keys.keys_for(conn, {r[-2] for r in batch if r[-2] is not None})
    needles = [w.encode() for w in wanted]
    keep = []
    for r in batch:
        key = keys.get(r[-2])
        if r[-1] is None or key is None:
            continue  # no words (or their key is erased): nothing to find
        text = crypto.unseal(key, bytes(r[-1]), str(r[-2]).encode())
        if text.isascii() and not all(n in text.lower() for n in needles):
            continue
        keep.append(r)
    return keep


def _windows(newest: datetime.date, since: str | None) -> list[tuple[str | None, str | None]]:
    """``created_at`` ranges ``[lo, hi)`` newest first, each twice as many days as the one before, covering every text.

    >>> _windows(datetime.date(2026, 12, 1), "2026-11-20")
    [('2026-11-30', None), ('2026-11-28', '2026-11-30'), ('2026-11-24', '2026-11-28'), (None, '2026-11-24')]
    >>> len(_windows(datetime.date(2026, 12, 1), None)), _windows(datetime.date(2026, 12, 1), None)[-1]
    (8, (None, '2026-07-27'))
    """
    out: list[tuple[str | None, str | None]] = []
    hi: str | None = None
    lo_day = newest
    for span in _SPANS:
        lo_day -= datetime.timedelta(days=span)
        lo = lo_day.isoformat()
        if since is not None and lo <= since[:10]:
            break
        out.append((lo, hi))
        hi = lo
    out.append((None, hi))
    return out


def _text_page(store: Any, conn: Any, view: str, filters: TranscriptFilter, clauses: list[str],
               params: list[Any], developer_id: str | None, before_id: int | None, limit: int
               ) -> tuple[list[dict[str, Any]], int | None]:
    """The scope's rows that say every word, by UTC day then id, newest first, read window by window.

    A window is a range of days, each twice as wide as the one before (1, 2, 4… days back): a
    common word fills the page from the first (one day's index entries read), a rare one reaches
    the oldest day in about log2(days) statements instead of one per day. In a window, the rows
    whose index buckets hold every word come newest first and are unsealed and checked word by
    word (a bucket is shared by many words), until the page is full.
    """
    wanted = query_words(filters.q)
    where, args = list(clauses), list(params)
    if developer_id is not None:
        # A row's tokens are under its user's group key: each word is asked for under every group's
        # key (and, while a re-key or the migration from per-developer buckets runs, the retired and
        # the old one) with one `&&` per word, which the GIN index answers in one scan (eight `@>`
        # ORed, one per key, a bitmap scan each, were slower). A row holding one word under one key and another
        # under a second would need a 32-bit collision, and is dropped by the check below anyway.
        keys, legacy = store.keys.search_keys(conn, developer_id)
        for w in sorted(wanted):
            where.append("t.tokens && %s::integer[]")
            args.append(sorted({t for k in keys for t in crypto.group_tokens(k, [w])}
                               | set(crypto.token_buckets(legacy[1], legacy[0], [w]) if legacy else ())))
    else:
        where.append("t.tokens IS NOT NULL")
    newest = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
    if before_id is not None:
        row = conn.execute(f"SELECT left(created_at, 10) FROM {view} WHERE id = %s", (before_id,)).fetchone()
        if row is None:  # the cursor's row is gone: everything below its id
            where.append("t.id < %s")
            args.append(before_id)
        else:
            where.append("(left(t.created_at, 10), t.id) < (%s, %s)")
            args += [row[0], before_id]
            with contextlib.suppress(ValueError):
                newest = min(newest, datetime.date.fromisoformat(row[0]) + datetime.timedelta(days=1))
    # Set by the caller for this transaction: one generic plan per statement shape and connection,
    # prepared once (planning a window of 30-60 day partitions took 10-16 ms each time, its execution
    # 2-3 ms; through developer_search no index serves the developer or the day range, so the plan is
    # the token index's in each day the window reaches, the days outside pruned when it runs,
    # whatever the parameters), and work_mem of 32 MB (a dense window's candidates sorted in memory).
    out: list[dict[str, Any]] = []
    take = limit + 1 + _SLACK  # grows once a window proves dense, and stays grown for the older ones
    for lo, hi in _windows(newest, filters.since):
        bounds = [*(["t.created_at >= %s"] if lo else []), *(["t.created_at < %s"] if hi else [])]
        below: list[Any] = []
        while True:
            # Past a full batch (a common word of the developer's shares the query's bucket, and
            # its rows are unsealed and dropped), the next statement takes twice as many and starts
            # at the last day seen, so that a dense window is read in a few statements, not one per batch.
            more = ["(left(t.created_at, 10), t.id) < (%s, %s) AND t.created_at < %s"] if below else []
            batch = conn.execute(f"SELECT {_SELECT} FROM {view} t WHERE {' AND '.join(where + bounds + more)} "
                                 "ORDER BY left(t.created_at, 10) DESC, t.id DESC LIMIT %s",
                                 [*args, *([lo] if lo else []), *([hi] if hi else []), *below, take],
                                 prepare=True).fetchall()
            for row in store.decode(conn, _may_say(store, conn, batch, wanted)):
                said = crypto.words(row["utterance"]) | crypto.words(row["speech"])
                if wanted <= said:
                    out.append(row)
                    if len(out) > limit:
                        return _page(out, limit)
            if len(batch) < take:
                break
            day = batch[-1][1][:10]
            below = [day, batch[-1][0], _after(day)]
            take = min(take * 2, _MOST)
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
            f"SELECT substr(created_at, 1, 10) AS day, count(*), count(*) FILTER (WHERE status IN ({ERROR_STATUSES_SQL})) "
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
