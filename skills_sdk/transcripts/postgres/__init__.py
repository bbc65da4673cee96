"""The transcript ledger on PostgreSQL: many skill servers on many hosts share one database."""

from __future__ import annotations

from typing import Any

from .store import PostgresLedger

__all__ = ["PostgresLedger", "open", "holds_ledger"]


def open(url: str, **options: Any) -> PostgresLedger:  # noqa: A001 (the backend protocol's name)
    """The ledger in the PostgreSQL database at ``url`` (``postgresql://user@host/dbname``); ``options`` as PostgresLedger takes."""
    return PostgresLedger(url, **options)


def holds_ledger(url: str) -> bool | None:
    """Whether the database at ``url`` holds a ledger (its ``ledger_meta`` table), without making one; None if unreachable.

    Opening a ledger makes its schema (and its key file) where there is none: right for a server
    starting on a new database, wrong for a command that reads one (``verify`` answered "Intact" for
    an empty database it had just filled with tables).
    """
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SELECT to_regclass('ledger_meta') IS NOT NULL").fetchone()[0]
    except psycopg.Error:  # the ledger's own open names the reason
        return None
