"""The transcript ledger on PostgreSQL: many skill servers on many hosts share one database."""

from __future__ import annotations

from typing import Any

from .store import PostgresLedger

__all__ = ["PostgresLedger", "open"]


def open(url: str, **options: Any) -> PostgresLedger:  # noqa: A001 (the backend protocol's name)
    """The ledger in the PostgreSQL database at ``url`` (``postgresql://user@host/dbname``); ``options`` as PostgresLedger takes."""
    return PostgresLedger(url, **options)
