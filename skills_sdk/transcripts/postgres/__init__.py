"""The transcript ledger on PostgreSQL: many skill servers on many hosts share one database."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
