"""``TranscriptStore``: the SQLite ledger under its first name, and the names code written before the split imports.

New code opens a ledger with :func:`skills_sdk.transcripts.open_ledger` and uses the
:class:`~skills_sdk.transcripts.ledger.Ledger` methods; SQLite's own pieces live in
:mod:`skills_sdk.transcripts.sqlite` (``fts``, ``schema``, ``connection``, ``queries``).
"""

from __future__ import annotations

from .ledger import DEFAULT_DB
from .record import COLUMNS, JsonText, encode_json, utcnow_iso
from .record import decode as decode_row
from .record import storage_values as _values
from .sqlite.connection import open_uri
from .sqlite.driver import sqlite3
from .sqlite.fts import FTS_DAY as _FTS_DAY
from .sqlite.fts import FTS_HAS_TEXT as _FTS_HAS_TEXT
from .sqlite.fts import apply_fts_changes, drop_fts_days, fts_day, fts_partitions, fts_table, index_pending
from .sqlite.ledger import INSERT_SQL as _INSERT_SQL
from .sqlite.ledger import SQLiteLedger as TranscriptStore
from .sqlite.schema import privacy_secret

_INSERT_COLUMNS = list(COLUMNS)[1:]

__all__ = ["TranscriptStore", "COLUMNS", "utcnow_iso", "DEFAULT_DB", "JsonText", "encode_json", "decode_row",
           "index_pending", "fts_partitions", "fts_day", "fts_table", "drop_fts_days", "apply_fts_changes",
           "privacy_secret", "sqlite3", "open_uri", "_FTS_DAY", "_FTS_HAS_TEXT", "_INSERT_SQL", "_INSERT_COLUMNS", "_values"]
