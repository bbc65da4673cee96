"""The SQLite driver under its first import path; it lives in :mod:`skills_sdk.transcripts.sqlite.driver`."""

from .sqlite.driver import DB_ERRORS, FTS5_SECURE_DELETE, is_busy, sqlite3

__all__ = ["sqlite3", "DB_ERRORS", "FTS5_SECURE_DELETE", "is_busy"]
