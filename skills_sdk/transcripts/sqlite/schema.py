"""The SQLite schema: the transcript, state and consent tables, the privacy tables, and upgrades of older files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..record import COLUMNS
from . import fts
from .chain import CHAIN_DDL
from .driver import sqlite3
from .fts import FTS_DAY, FTS_FLOOR, FTS_HAS_TEXT, FTS_SOURCE_VIEW, FTS_UPTO
from .seal import migrate as add_seal
from .seal import next_id_sql

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["ensure_schema", "privacy_secret"]


def ensure_schema(store: Connection) -> None:
    """Create the tables and indexes if they are missing, and upgrade older files (safe from many processes).

    Plain DDL with ``IF NOT EXISTS`` (the names and shapes sqlite-utils gave these tables and
    indexes, so files it made are the same files): opening a ledger imports nothing more.
    """
    conn = store.conn
    with store.transaction():
        # AUTOINCREMENT: an id is never handed out twice, even after the newest rows are erased, so
        # the full-text index needs no per-insert trigger to notice reuse (that trigger was a fifth
        # of the insert) and an old cursor never points at a new row.
        types = {int: "INTEGER", str: "TEXT", float: "REAL"}
        cols = ",\n   ".join(
            '"id" INTEGER PRIMARY KEY AUTOINCREMENT' if c == "id" else
            f'"{c}" {types[t]}' + (" NOT NULL" if c in ("created_at", "developer_id", "skill", "user_id") else "")
            for c, t in COLUMNS.items())
        conn.execute(f'CREATE TABLE IF NOT EXISTS "transcripts" (\n   {cols}\n)')
        # The queries users run: a user's history, a developer's pages (newest first, keyset on id:
        # /v1 and the console), a developer's and a skill's timeline (time ranges, exports,
        # retention), a session's. Each index costs a page write per capture, so only these five.
        for index in (("user_id", "id"), ("developer_id", "id"), ("developer_id", "created_at"),
                      ("skill", "created_at"), ("session_id",)):
            conn.execute(f'CREATE INDEX IF NOT EXISTS "idx_transcripts_{"_".join(index)}" '
                         f'ON "transcripts" ({", ".join(index)})')
        conn.execute('CREATE TABLE IF NOT EXISTS "user_state" ("developer_id" TEXT, "skill" TEXT, "user_id" TEXT, '
                     '"state" TEXT, "updated_at" TEXT, PRIMARY KEY ("developer_id", "skill", "user_id"))')
        conn.execute('CREATE INDEX IF NOT EXISTS "idx_user_state_user_id" ON "user_state" (user_id)')
        conn.execute('CREATE TABLE IF NOT EXISTS "consent" ("user_id" TEXT PRIMARY KEY, "mode" TEXT, "updated_at" TEXT)')
        _privacy_schema(conn)
        add_seal(conn)  # after the chain's DDL: rows from before the seal keep their insert entries
        #: What a capture asks for its row's id, under the write lock (the id is in the row's seal).
        store.next_id_sql = next_id_sql(conn)


# -- the privacy tables: full-text index, keys, audit, erasure receipts, scheduled erasures ----------
_PRIVACY_DDL = (
    "CREATE TABLE IF NOT EXISTS privacy_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_upto', '0')",
    # Days before the floor had their partition dropped by a purge, which deleted all their rows.
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_floor', '')",
    # Rows below this id were hidden by a purge and wait for the background thread to delete them
    # (every read tests it: queries.LIVE); none are left once it finishes.
    "INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('purged_below', '0')",
    # The full-text index is a fixed number of external-content FTS5 tables per UTC day of
    # created_at (transcripts_fts_YYYYMMDD_bK, listed in fts_days; K is a hash of the developer id
    # modulo fts_buckets): the text lives once, in transcripts; each table holds tokens, among them
    # one per row for its developer, in the indexed column "developer". The number of tables follows
    # days, never developers (SQLite parses the whole schema on every new connection). A purge that
    # expires whole days drops their tables instead of deleting token by token (FTS5's secure
    # delete costs 0.2-1.4 ms per row and grows with the index), an erasure deletes from a day's
    # index, so neither cost grows with the ledger, and a developer's search matches its
    # developer token with the words, so it never walks another developer's matches.
    # Rows are indexed in batches by index_pending() (every checkpoint tick, and before a search),
    # not by an insert trigger: a per-row FTS insert writes a new index segment on every commit,
    # which measured 2-3x the cost of the capture insert itself. Rows with id <= fts_upto are
    # indexed (if they have text).
    "CREATE TABLE IF NOT EXISTS fts_days (day TEXT NOT NULL, bucket INTEGER NOT NULL, PRIMARY KEY (day, bucket)) "
    "WITHOUT ROWID",
    FTS_SOURCE_VIEW,
    # A trigger cannot name a table chosen per row, so deletes and text changes of indexed rows
    # are queued here (with the old text: external-content FTS5 needs it to find the tokens) and
    # applied to their table by apply_fts_changes() in the transaction that made them (erasure,
    # purge), or at the latest by the next index_pending(). Emptied with secure_delete on, as
    # every table is.
    "CREATE TABLE IF NOT EXISTS fts_changes (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL, day TEXT NOT NULL, "
    "developer_id TEXT NOT NULL, utterance TEXT, speech TEXT, had_text INTEGER NOT NULL, reindex INTEGER NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_queue_del AFTER DELETE ON transcripts WHEN "
    + FTS_HAS_TEXT.format("old") + " AND old.id <= " + FTS_UPTO + " AND " + FTS_DAY.format("old") + " >= "
    + FTS_FLOOR + " BEGIN INSERT INTO fts_changes (id, day, developer_id, utterance, speech, had_text, reindex) "
    "VALUES (old.id, " + FTS_DAY.format("old") + ", old.developer_id, old.utterance, old.speech, 1, 0); END",
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_queue_upd AFTER UPDATE OF utterance, speech, created_at, "
    "developer_id "
    "ON transcripts WHEN old.id <= " + FTS_UPTO + " AND " + FTS_DAY.format("old") + " >= " + FTS_FLOOR
    + " BEGIN INSERT INTO fts_changes (id, day, developer_id, utterance, speech, had_text, reindex) "
    "VALUES (old.id, " + FTS_DAY.format("old") + ", old.developer_id, old.utterance, old.speech, "
    + FTS_HAS_TEXT.format("old")
    + ", 1); END",
    # Only a hash of each key is kept: the key itself is shown once, when it is made.
    "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, "
    "kind TEXT NOT NULL CHECK (kind IN ('developer', 'user')), subject TEXT NOT NULL, "
    "created_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, filters TEXT, rows INTEGER NOT NULL DEFAULT 0)",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: its rows cannot be changed'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: its rows cannot be deleted'); END",
    # Whose rows each audited read returned, and how many: a user's access log. The user is named
    # by the salted hash receipts use, so an erasure leaves the log true and free of the id.
    "CREATE TABLE IF NOT EXISTS audit_access (audit_id INTEGER NOT NULL REFERENCES audit_log (id), "
    "user_hash TEXT NOT NULL, rows INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_access_user ON audit_access (user_hash, audit_id)",
    "CREATE TRIGGER IF NOT EXISTS audit_access_no_update BEFORE UPDATE ON audit_access BEGIN "
    "SELECT RAISE(ABORT, 'audit_access is append-only: its rows cannot be changed'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_access_no_delete BEFORE DELETE ON audit_access BEGIN "
    "SELECT RAISE(ABORT, 'audit_access is append-only: its rows cannot be deleted'); END",
    # Receipts hold counts and a salted hash of the user id: never the id, never any text.
    "CREATE TABLE IF NOT EXISTS erasure_receipts (id TEXT PRIMARY KEY, at TEXT NOT NULL, user_hash TEXT NOT NULL, "
    "scope TEXT NOT NULL, reason TEXT NOT NULL, rows INTEGER NOT NULL, per_skill TEXT NOT NULL, "
    "developers TEXT NOT NULL, state_rows INTEGER NOT NULL, scrubbed INTEGER NOT NULL)",
    # Console sign-ins: the browser's cookie holds a random id; the row holds its hash, names the
    # keys by id (never the key), and expires. Revoking a key deletes its sessions.
    "CREATE TABLE IF NOT EXISTS console_sessions (id TEXT PRIMARY KEY, developer_key_id TEXT, user_key_id TEXT, "
    "data TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pending_erasures (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    "developer_id TEXT, skill TEXT, due_at TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL)",
)


def _privacy_schema(conn: sqlite3.Connection) -> None:
    """Create the privacy tables and triggers (inside ensure_schema's transaction)."""
    for old in ("transcripts_fts_ai", "transcripts_fts_ad", "transcripts_fts_au",  # per-row index triggers
                "transcripts_fts_del", "transcripts_fts_upd"):  # the single index's triggers
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (old,)).fetchone():
            conn.execute(f"DROP TRIGGER {old}")
    for ddl in _PRIVACY_DDL:
        conn.execute(ddl)
    # A new ledger keeps the bucket count it was made with (a hash of the developer id picks the
    # bucket, so the count of a file never changes).
    conn.execute("INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_buckets', ?)", (str(fts.FTS_BUCKETS),))
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'transcripts'").fetchone()[0]
    if "AUTOINCREMENT" not in table_sql.upper():
        # A table from 0.1 can hand out the id of an erased newest row again; then the rows from
        # that id on must be indexed again.
        conn.execute(FTS_REUSE_TRIGGER)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fts_parts'").fetchone():
        # One table per developer and day (the layout before this one): the schema grew with developers. Its tables stay
        # searchable and erasable, and index_pending() moves them into the day tables one at a
        # time (background thread, searches); rows up to this id may still be in them.
        conn.execute("INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('fts_legacy_upto', "
                     "(SELECT value FROM privacy_meta WHERE name = 'fts_upto'))")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'transcripts_fts'").fetchone():
        # One index for the whole ledger (0.1): drop it (secure_delete zeroes its pages) and index
        # every row again, into partitions, from the background thread.
        conn.execute("DROP TABLE transcripts_fts")
        conn.execute("UPDATE privacy_meta SET value = '0' WHERE name = 'fts_upto'")
    conn.execute("INSERT OR IGNORE INTO privacy_meta (name, value) VALUES ('secret', ?)", (os.urandom(32).hex(),))
    for ddl in CHAIN_DDL:
        conn.execute(ddl)
    if not conn.execute("SELECT 1 FROM privacy_meta WHERE name = 'exact_latency_from'").fetchone():
        # Every row after this id holds latency to the microsecond (as _values writes it), so the
        # export prints it as SQLite does; found once, when a database from before is first opened.
        conn.execute("INSERT INTO privacy_meta (name, value) VALUES ('exact_latency_from', (SELECT CAST("
                     "coalesce(max(id), 0) AS TEXT) FROM transcripts WHERE typeof(latency_ms) = 'real' AND "
                     "latency_ms != round(latency_ms, 3)))")


FTS_REUSE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS transcripts_fts_reuse AFTER INSERT ON transcripts WHEN new.id <= "
    + FTS_UPTO + " BEGIN UPDATE privacy_meta SET value = CAST(new.id - 1 AS TEXT) WHERE name = 'fts_upto'; END")



def privacy_secret(store: Connection) -> bytes:
    """This database's random secret (salts user-id hashes in receipts, signs page cursors)."""
    secret = getattr(store, "_privacy_secret", None)
    if secret is None:
        row = store.conn.execute("SELECT value FROM privacy_meta WHERE name = 'secret'").fetchone()
        secret = store._privacy_secret = bytes.fromhex(row[0])
    return secret
