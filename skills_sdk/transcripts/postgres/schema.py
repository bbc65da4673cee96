"""The PostgreSQL ledger's schema: numbered migrations the ledger applies itself, and day partitions made ahead."""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

import psycopg

from ...errors import StoreError
from . import chain, userdays

__all__ = ["MIGRATIONS", "USER_DAYS_KEPT", "PARTITION_LOCK", "migrate", "schema_version", "ensure_days",
           "partition_days", "drop_days_before", "partition_name", "DAYS_AHEAD"]

#: Day partitions the ledger keeps ready after today (made by every host at start and daily).
DAYS_AHEAD = 7
_DAY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MIGRATION_LOCK = 0x534B4C44  # "SKLD": one migrator at a time across every host
#: The advisory lock every host takes to make day partitions (one at a time: the second finds them made).
PARTITION_LOCK = 0x534B5054

# Columns that hold a user's words are not here: they are sealed together in ``sealed`` under the
# user's data key (see crypto.py). ``created_at`` stays the ISO-8601 text the ledger writes, with
# the C collation, so day ranges, exports and filters are byte-for-byte those of the SQLite ledger.
_V1 = (
    "CREATE TABLE ledger_meta (name text PRIMARY KEY, value text NOT NULL)",
    "CREATE SEQUENCE transcripts_id_seq AS bigint",
    """CREATE TABLE transcripts (
        id bigint NOT NULL DEFAULT nextval('transcripts_id_seq'),
        created_at text COLLATE "C" NOT NULL,
        developer_id text NOT NULL,
        skill text NOT NULL,
        user_id text NOT NULL,
        session_id text,
        request_id text,
        request_type text,
        intent text,
        end_session boolean,
        "transaction" text,
        locale text,
        latency_ms double precision,
        status text,
        redacted text,
        capture_mode text,
        key_id bigint,
        sealed bytea,
        tokens integer[],
        PRIMARY KEY (id, created_at)
    ) PARTITION BY RANGE (created_at)""",
    "ALTER SEQUENCE transcripts_id_seq OWNED BY transcripts.id",
    # Rows whose day has no partition (a clock far ahead, text that is not a date) land here;
    # making their day's partition later moves them (ensure_days).
    "CREATE TABLE transcripts_other PARTITION OF transcripts DEFAULT",
    # The queries the ledger runs: a user's history, a developer's pages (newest first by id) and
    # timeline (time ranges, exports), a skill's timeline (retention), a session, full-text search.
    "CREATE INDEX transcripts_user ON transcripts (user_id, id)",
    "CREATE INDEX transcripts_dev_id ON transcripts (developer_id, id)",
    "CREATE INDEX transcripts_dev_time ON transcripts (developer_id, created_at, id)",
    "CREATE INDEX transcripts_skill_time ON transcripts (skill, created_at)",
    "CREATE INDEX transcripts_session ON transcripts (session_id)",
    "CREATE INDEX transcripts_tokens ON transcripts USING gin (tokens)",
    # Isolation in SQL: a developer's (or a user's) reads go through these views, which filter on a
    # setting the ledger sets per transaction. Unset, current_setting() raises: a read that forgot
    # its scope fails instead of returning everyone's rows.
    "CREATE VIEW developer_transcripts AS SELECT * FROM transcripts "
    "WHERE developer_id = current_setting('skills.developer_id')",
    "CREATE VIEW user_transcripts AS SELECT * FROM transcripts WHERE user_id = current_setting('skills.user_id')",
    # Data keys, one per (developer, skill, user): a SkillDisabled erasure shreds one skill's rows
    # and keeps the user's others. Stored only wrapped under the key file's KEK at ``epoch``.
    """CREATE TABLE user_keys (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        developer_id text NOT NULL, skill text NOT NULL, user_id text NOT NULL,
        epoch integer NOT NULL, wrapped bytea NOT NULL, created_at text NOT NULL,
        UNIQUE (user_id, developer_id, skill))""",
    # Each developer's search key (HMAC of the words) and the number that keeps its index entries apart.
    """CREATE TABLE search_keys (
        developer_id text PRIMARY KEY,
        num integer GENERATED ALWAYS AS IDENTITY UNIQUE CHECK (num < 524288),
        epoch integer NOT NULL, wrapped bytea NOT NULL)""",
    # Per-user skill state is sealed like the words: attributes often hold what the user said.
    """CREATE TABLE user_state (developer_id text NOT NULL, skill text NOT NULL, user_id text NOT NULL,
        key_id bigint NOT NULL, sealed bytea NOT NULL, updated_at text NOT NULL,
        PRIMARY KEY (developer_id, skill, user_id))""",
    "CREATE INDEX user_state_user ON user_state (user_id)",
    "CREATE TABLE consent (user_id text PRIMARY KEY, mode text NOT NULL, updated_at text NOT NULL)",
    """CREATE TABLE api_keys (id text PRIMARY KEY, key_hash text NOT NULL UNIQUE,
        kind text NOT NULL CHECK (kind IN ('developer', 'user')), subject text NOT NULL,
        created_at text NOT NULL, revoked_at text)""",
    """CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at text NOT NULL,
        actor text NOT NULL, action text NOT NULL, filters text, rows bigint NOT NULL DEFAULT 0)""",
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only: its rows cannot be %', TG_TABLE_NAME, lower(TG_OP) || 'd'; END $$""",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    # Whose rows each audited read returned, and how many (a user's access log), under the salted user hash.
    """CREATE TABLE audit_access (audit_id bigint NOT NULL REFERENCES audit_log (id), user_hash text NOT NULL,
        rows bigint NOT NULL)""",
    "CREATE INDEX audit_access_user ON audit_access (user_hash, audit_id)",
    "CREATE TRIGGER audit_access_no_change BEFORE UPDATE OR DELETE ON audit_access "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    # Console sign-ins: the row holds a hash of the cookie's id and names keys by id, never the key.
    """CREATE TABLE console_sessions (id text PRIMARY KEY, developer_key_id text, user_key_id text, data text,
        created_at text NOT NULL, expires_at text NOT NULL)""",
    """CREATE TABLE erasure_receipts (id text PRIMARY KEY, at text NOT NULL, user_hash text NOT NULL,
        scope text NOT NULL, reason text NOT NULL, rows bigint NOT NULL, per_skill text NOT NULL,
        developers text NOT NULL, state_rows bigint NOT NULL, scrubbed boolean NOT NULL)""",
    # How far each spool file (unique names, any host) has been replayed: moved in the same commit as its rows.
    "CREATE TABLE spool_replay (file text PRIMARY KEY, \"offset\" bigint NOT NULL, updated_at text NOT NULL)",
    """CREATE TABLE pending_erasures (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id text NOT NULL,
        developer_id text, skill text, due_at text NOT NULL, reason text NOT NULL, created_at text NOT NULL)""",
)

# Search groups (see crypto.GROUPS): the keys of each developer's groups, wrapped like the data
# keys. A group's live key is the one not retired; an erasure retires it (captures then make a new
# one) and queues a re-key, which re-tokenises the group's rows under the live key and deletes the
# retired one (``done_below``: the rows up to that id are done, so a re-key resumes where it stopped).
# ``legacy_tokens_end``: rows up to this id may hold the per-developer buckets of before
# (search_keys); ``skills ledger migrate`` re-tokenises them and then deletes those keys.
_V3 = (
    """CREATE TABLE search_groups (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        developer_id text NOT NULL, grp integer NOT NULL, epoch integer NOT NULL, wrapped bytea NOT NULL,
        retired boolean NOT NULL DEFAULT false)""",
    "CREATE UNIQUE INDEX search_groups_live ON search_groups (developer_id, grp) WHERE NOT retired",
    """CREATE TABLE search_rekeys (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, developer_id text NOT NULL,
        grp integer NOT NULL, key_id bigint, done_below bigint NOT NULL DEFAULT 0)""",
    "INSERT INTO ledger_meta (name, value) SELECT 'legacy_tokens_end', "
    "(CASE WHEN is_called THEN last_value ELSE 0 END)::text FROM transcripts_id_seq "
    "WHERE EXISTS (SELECT 1 FROM search_keys)",
)

# The developer-scoped view full-text search reads through. Its filter is the one of
# developer_transcripts written so that no index can serve it (``IS TRUE`` is not an indexable
# operator): a row's tokens are keyed by its developer's group keys, so the token index alone finds
# only that developer's rows, and the filter is checked on each row found. Through
# developer_transcripts the planner ANDed each day's token scan with a scan of every row of the
# developer in that day (the (developer_id, id) index): 2,700 index entries read per day to drop
# almost none, 10x the cost of the token lookup itself.
_V4 = (
    "CREATE VIEW developer_search AS SELECT * FROM transcripts "
    "WHERE (developer_id = current_setting('skills.developer_id')) IS TRUE",
)

# The capture's own statement keeps its user's day in user_days (store.py) and says so for its
# transaction: the insert trigger is then not called for it. A plpgsql call, a transition table and
# a grouped upsert cost about as much server time as the row's insert with its seven indexes (a
# median 120 against 103 µs, EXPLAIN ANALYZE of 280 captures into today's partition on a loaded
# machine). Every other writer (COPY, an older host, psql) sets nothing and goes through the trigger.
USER_DAYS_KEPT = "skills.user_days"
_V6 = (
    "DROP TRIGGER transcripts_user_days_insert ON transcripts",
    "CREATE TRIGGER transcripts_user_days_insert AFTER INSERT ON transcripts REFERENCING NEW TABLE AS new_rows "
    f"FOR EACH STATEMENT WHEN (current_setting('{USER_DAYS_KEPT}', true) IS DISTINCT FROM 'kept') "
    "EXECUTE FUNCTION user_days_insert()",
)

# Migration 8: a search reads its developer's group keys, live and retired, first; with only the
# index of live keys that was a scan of every developer's (8,000 rows at 1,000 developers: 122
# buffers, 0.7 ms of each search at 1M rows).
_V8 = ("CREATE INDEX search_groups_developer ON search_groups (developer_id, id)",)

# Migration 9: an erasure's check of each day it emptied (userdays.prune) runs under one generic
# plan per connection, pruned to the day's partition as it runs: planned for its day at each call
# (plpgsql kept custom plans), a heavy user's 90 days took 27-91 ms of the erasure, against
# 3.5-31 ms so (psql, 6 calls each, alternated, at 1M rows on a loaded machine).
_V9 = ("ALTER FUNCTION user_days_prune(text[], text[]) SET plan_cache_mode = force_generic_plan",)

# Migration 10: a user's history reads its days and its data keys from index pages alone, and
# each batch of its days only those days' partitions (userdays.DDL_10). The days were index entries
# pointing at heap rows written a day apart (a 90-day user's 90 rows on 90 pages), and each row's
# key, looked up by id, one more heap page per key (16 keys on a heavy user's page of 50). Now the
# days' key holds ``top_id`` and the owners' key holds the key itself, read in key order from one
# or two leaf pages (an index-only scan; a page changed since the last VACUUM is still read from
# the heap). At 1M rows a history read 0.42x the pages from outside shared_buffers (docs/
# performance.md). Rebuilding both keys takes their tables' locks: 10 s at 1M rows, captures waiting.
_V10 = (
    "ALTER TABLE user_days DROP CONSTRAINT user_days_pkey, ADD PRIMARY KEY (user_id, day) INCLUDE (top_id)",
    "ALTER TABLE user_keys DROP CONSTRAINT user_keys_user_id_developer_id_skill_key, "
    "ADD CONSTRAINT user_keys_owner UNIQUE (user_id, developer_id, skill) INCLUDE (id, epoch, wrapped)",
    *userdays.DDL_10,
)

# Migration 11: a capture whose turn's state change meets a state another turn stored since it
# loaded fails whole (its row too, in the same statement), so that it is written again with the
# change merged, row and state in one commit (writes.py). Raised as a serialization failure: what
# it is, and what a caller retries.
_V11 = (
    """CREATE FUNCTION ledger_state_moved() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN
        RAISE EXCEPTION 'the user''s state changed since the turn loaded it' USING ERRCODE = 'serialization_failure';
        END $$""",
)

#: The schema's history: migration N brings a database from version N-1 to N. Append, never edit.
#: 2: the tamper-evident chains (see chain.py). 3: search groups. 4: the search's view. 5: the days
#: each user has rows in (see userdays.py). 6: the capture keeps its user's day itself. 7: a
#: user's history reads its days in batches. 8: the search groups' index by developer. 9: an
#: erasure's check of its users' days under a generic plan. 10: a history's days and keys read from
#: indexes, each batch of its days pruned to those days. 11: a capture over a moved state fails whole.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, chain.DDL, _V3, _V4, userdays.DDL, _V6, userdays.DDL_7, _V8, _V9,
                                           _V10, _V11)


def schema_version(conn: Any) -> int:
    """The version the database is at (0 for an empty one)."""
    if conn.execute("SELECT to_regclass('ledger_meta')").fetchone()[0] is None:
        return 0
    row = conn.execute("SELECT value FROM ledger_meta WHERE name = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: Any, *, target: int | None = None) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction; returns their numbers.

    >>> migrate(conn)      # doctest: +SKIP
    [1]

    Safe from many hosts at once: an advisory lock lets one migrate while the others wait, then
    find nothing to do. ``conn`` is an autocommit psycopg connection.
    """
    target = len(MIGRATIONS) if target is None else target
    if target > len(MIGRATIONS):
        raise ValueError(f"no migration {target}: this version of skills_sdk knows {len(MIGRATIONS)}.")
    done: list[int] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            version = schema_version(conn)
            if version > len(MIGRATIONS):
                raise StoreError(f"The database's ledger schema is at version {version}, newer than this "
                                 f"skills_sdk knows ({len(MIGRATIONS)}): upgrade skills_sdk on this host.")
            if version >= target:
                return done
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO ledger_meta (name, value) VALUES ('schema_version', %s) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(version + 1),))
            done.append(version + 1)


def is_day(day: str) -> bool:
    """Whether ``day`` is a day a partition can be named for (``YYYY-MM-DD``)."""
    return _DAY_RE.match(day) is not None


def partition_name(day: str) -> str:
    """The partition of a UTC day: ``2026-11-28`` -> ``transcripts_20261128``."""
    if not _DAY_RE.match(day):
        raise ValueError(f"not a day (YYYY-MM-DD): {day!r}")
    return "transcripts_" + day.replace("-", "")


def partition_days(conn: Any) -> list[str]:
    """The days that have a partition, oldest first."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'transcripts'::regclass AND c.relname ~ '^transcripts_[0-9]{8}$'").fetchall()
    return sorted(f"{n[12:16]}-{n[16:18]}-{n[18:20]}" for (n,) in rows)


def ensure_days(conn: Any, days: list[str] | set[str]) -> list[str]:
    """Make the partitions of ``days`` that do not exist yet (in the caller's transaction); returns those made.

    Rows of such a day already waiting in the default partition are moved into the new one.
    """
    have = set(partition_days(conn))
    made = []
    for day in sorted(set(days) - have):
        name = partition_name(day)
        lo = day
        hi = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _moving (LIKE transcripts) ON COMMIT DROP")
        moved = conn.execute("WITH m AS (DELETE FROM transcripts_other WHERE created_at >= %s AND created_at < %s "
                             "RETURNING *) INSERT INTO _moving SELECT * FROM m", (lo, hi)).rowcount
        conn.execute(f"CREATE TABLE {name} PARTITION OF transcripts FOR VALUES FROM ('{lo}') TO ('{hi}')")
        if moved:
            conn.execute("INSERT INTO transcripts SELECT * FROM _moving")
            conn.execute("DELETE FROM _moving")
        made.append(day)
    return made


def ahead(today: datetime.date | None = None, days_ahead: int = DAYS_AHEAD) -> list[str]:
    """Yesterday, today and the ``days_ahead`` days after it (UTC), as partition days."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    return [(today + datetime.timedelta(days=d)).isoformat() for d in range(-1, days_ahead + 1)]


#: How long a purge's DETACH waits for the table's lock before it gives way, and how many times it tries.
DETACH_WAIT_MS = 200
DETACH_TRIES = 5


def _detach(conn: Any, day: str, name: str) -> None:
    """Detach a day's partition, waiting at most ``DETACH_WAIT_MS`` at a time for the table.

    A DETACH needs the whole table to itself: queued behind a long reader (an export's snapshot
    holds the table until it ends), it would make every capture queue behind it for as long. So it
    gives way (undone alone, by its savepoint) and tries again, then gives up with an error; the
    purge's next run drops the day.
    """
    for attempt in range(DETACH_TRIES):
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = {DETACH_WAIT_MS}")
                conn.execute(f"ALTER TABLE transcripts DETACH PARTITION {name}")
                conn.execute("SET LOCAL lock_timeout = DEFAULT")
            return
        except psycopg.errors.LockNotAvailable:
            time.sleep(0.1 * (attempt + 1))
    raise StoreError(f"The purge could not drop the day {day}: a long read (an export, most likely) held the "
                     f"transcripts table through {DETACH_TRIES} waits of {DETACH_WAIT_MS} ms, and a longer wait would "
                     "hold up every capture behind it. Nothing was purged; run the purge again once it ends (the "
                     "server's purge thread tries again at its next interval).")


def drop_days_before(conn: Any, before: str) -> list[str]:
    """Detach and drop every day partition before ``before`` (``YYYY-MM-DD``); returns the days dropped.

    Whole files go: no row by row delete, no dead tuples for VACUUM, and the freed files leave the
    data directory (what a day held stays only in WAL and backups, sealed).
    """
    gone = [d for d in partition_days(conn) if d < before]
    for day in gone:
        name = partition_name(day)
        _detach(conn, day, name)
        conn.execute(f"DROP TABLE {name}")
    userdays.forget(conn, gone)
    return gone
