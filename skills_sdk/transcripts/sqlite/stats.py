"""Per-skill figures for a developer's dashboard: requests per day, errors, transactions, latency percentiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..query import ERROR_STATUSES_SQL
from ..stats import transaction_totals
from .queries import LIVE

if TYPE_CHECKING:
    from .ledger import SQLiteLedger as TranscriptStore

__all__ = ["skill_stats"]


def skill_stats(store: TranscriptStore, developer_id: str, skill: str, *, since: str, until: str | None = None
                ) -> dict[str, Any]:
    """The dashboard figures of one of ``developer_id``'s skills between ``since`` and ``until`` (ISO-8601).

    >>> skill_stats(store, "pronto-pizza-labs", "pizza", since="2026-11-01")   # doctest: +SKIP
    {'requests': 1200, 'errors': 3, 'error_rate': 0.0025, 'days': [{'day': '2026-11-01', ...}], ...}

    ``days`` lists each day that had requests (``day``, ``requests``, ``errors``); ``transactions``
    counts the responses that carried a transaction tag and ``totals`` sums their amounts per
    currency (as strings, exact); ``p50_ms`` / ``p99_ms`` are nearest-rank latency percentiles.
    Only rows of ``developer_id`` are read, so one developer never sees another's figures.
    """
    where = "developer_id = ? AND skill = ? AND created_at >= ? AND " + LIVE
    params: list[Any] = [developer_id, skill, since]
    if until:
        where += " AND created_at < ?"
        params.append(until)
    conn = store.conn
    days = [
        {"day": d, "requests": int(n), "errors": int(e or 0)}
        for d, n, e in conn.execute(
            f"SELECT substr(created_at, 1, 10) AS day, count(*), sum(status IN ({ERROR_STATUSES_SQL})) FROM transcripts "
            f"WHERE {where} GROUP BY day ORDER BY day", params)
    ]
    requests = sum(d["requests"] for d in days)
    errors = sum(d["errors"] for d in days)
    tags = [raw for (raw,) in conn.execute(f'SELECT "transaction" FROM transcripts WHERE {where} AND '
                                           '"transaction" IS NOT NULL', params)]
    n_latency = conn.execute(f"SELECT count(latency_ms) FROM transcripts WHERE {where}", params).fetchone()[0]

    def percentile(q: float) -> float | None:
        if not n_latency:
            return None
        rank = max(0, min(n_latency - 1, int(q * n_latency + 0.999999) - 1))  # nearest rank
        row = conn.execute(f"SELECT latency_ms FROM transcripts WHERE {where} AND latency_ms IS NOT NULL "
                           f"ORDER BY latency_ms LIMIT 1 OFFSET ?", [*params, rank]).fetchone()
        return float(row[0]) if row else None

    return {
        "developer_id": developer_id,
        "skill": skill,
        "since": since,
        "until": until,
        "requests": requests,
        "errors": errors,
        "error_rate": (errors / requests) if requests else 0.0,
        "days": days,
        "transactions": len(tags),
        "totals": transaction_totals(tags),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }
