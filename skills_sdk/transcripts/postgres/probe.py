"""Whether a capture could write now on PostgreSQL: the server answers, takes writes, and no lock stands in its way."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from ..record import utcnow_iso
from . import schema

__all__ = ["TABLES", "check_writable"]

#: The tables a capture's statement writes or locks (writes.py), in the order it locks them: the
#: user's data key, the search group's key, the row (the parent, then the day's partition), its
#: lane's head and entry, the user's day, the user's state. Each with the mode the probe takes on
#: it: the capture's own, which no other capture's conflicts with, and which conflicts with what a
#: migration takes (``ALTER TABLE``, ``CREATE INDEX``, ``LOCK TABLE``). ``None`` stands for the
#: partition today's rows go to.
TABLES: tuple[tuple[str | None, str], ...] = (
    ("user_keys", "ROW EXCLUSIVE"), ("search_groups", "ROW SHARE"), ("transcripts", "ROW EXCLUSIVE"),
    (None, "ROW EXCLUSIVE"), ("ledger_chain_heads", "ROW EXCLUSIVE"), ("ledger_chain", "ROW EXCLUSIVE"),
    ("user_days", "ROW EXCLUSIVE"), ("user_state", "ROW EXCLUSIVE"))
#: The lock modes (as ``pg_locks`` names them) that make each of the probe's modes wait.
_CONFLICTS = {"ROW SHARE": {"ExclusiveLock", "AccessExclusiveLock"},
              "ROW EXCLUSIVE": {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}}
_START = ("SELECT set_config('statement_timeout', %(ms)s, true), set_config('lock_timeout', %(ms)s, true), "
          "pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on', to_regclass(%(day)s) IS NOT NULL")
#: Up to four leading words of a query, before any literal, number or parenthesis.
_COMMAND = re.compile(r"[A-Za-z_][\w.]*(?: [A-Za-z_][\w.]*){0,3}")
_HOLDERS = ("SELECT l.relation::regclass::text, l.pid, l.mode, l.granted, left(a.query, 200) FROM pg_locks l "
            "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() "
            "AND l.relation IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n) AND l.mode = ANY(%s) "
            "ORDER BY l.granted DESC, l.pid")


def check_writable(conn: Any, timeout_ms: int) -> str | None:
    """None when a capture could write now on ``conn`` (autocommit); else why not. Writes nothing.

    >>> check_writable(conn, 250)      # doctest: +SKIP
    'the PostgreSQL ledger cannot be written now: a lock on user_state is held by pid 4242 (AccessExclusiveLock: ...'

    In one transaction, bounded by ``timeout_ms`` (``statement_timeout`` and ``lock_timeout``):
    the server is a primary that takes writes, then the probe takes the capture's locks
    (:data:`TABLES`), in its order. A lock a migration or an operator holds (or is waiting for,
    ahead of the captures) makes the probe wait like a capture would, and the probe names it with
    who holds it. The transaction commits, not rolls back: it wrote nothing, so the two are the
    same to the server, and psycopg answers a rollback by deallocating every statement prepared on
    the connection, the capture's too (a plan over every day partition, made again by the next
    capture there). Eight locks in one statement (a ``DO`` block: three ``LOCK TABLE``, as the mode
    changes twice), so one round trip, all its waits together ``timeout_ms`` at most.
    """
    partition = schema.partition_name(utcnow_iso()[:10])
    tables: list[tuple[str, str]] = []
    try:
        with conn.transaction():
            read_only, made = conn.execute(_START, {"ms": str(int(timeout_ms)), "day": partition}).fetchone()[2:]
            if read_only:
                return "the PostgreSQL server is a read-only replica; point --db at the primary"
            # Without today's partition, the parent puts today's rows in its default one (writes.py).
            tables = [(name or (partition if made else "transcripts_other"), mode) for name, mode in TABLES]
            # One statement: statement_timeout bounds all the waits together, where three LOCK statements
            # could each wait their lock_timeout; one round trip, not three.
            locks = "; ".join(f"LOCK TABLE {', '.join('ONLY ' + n for n in names)} IN {mode} MODE"
                              for mode, names in _runs(tables))
            conn.execute(f"DO $$ BEGIN {locks}; END $$")
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        if not tables:  # the server too slow to answer the first statement: the caller says so
            raise
        # A LOCK TABLE that is not granted at once only ends by a timeout: name what it waited on.
        return _named(conn, tables, timeout_ms)
    return None


def _runs(tables: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The tables grouped into consecutive runs of one mode: one ``LOCK TABLE`` statement each, in order."""
    runs: list[tuple[str, list[str]]] = []
    for name, mode in tables:
        if runs and runs[-1][0] == mode:
            runs[-1][1].append(name)
        else:
            runs.append((mode, [name]))
    return runs


def _named(conn: Any, tables: list[tuple[str, str]], timeout_ms: int) -> str:
    """Why the probe's locks were not granted within ``timeout_ms``, naming the table, who holds its lock and doing what."""
    order = [name for name, _ in tables]
    modes = dict(tables)
    strong = sorted(_CONFLICTS["ROW EXCLUSIVE"])
    try:
        rows = conn.execute(_HOLDERS, (order, strong)).fetchall()
    except psycopg.Error:  # the lock gone meanwhile, or the views refused: say what is known
        rows = []
    rows = [r for r in rows if r[0] in modes and r[2] in _CONFLICTS[modes[r[0]]]]
    rows.sort(key=lambda r: order.index(r[0]))  # stable: within a table, holders before waiters
    lead = "the PostgreSQL ledger cannot be written now"
    if not rows:
        return f"{lead}: a lock on one of {', '.join(order)} was held for more than {timeout_ms} ms (released since)"
    table, pid, mode, granted, query = rows[0]
    # Its first words only ("LOCK TABLE user_state IN", "ALTER TABLE transcripts ADD"): /readyz answers
    # anyone, and a query's literals may be a user's id or words.
    words = _COMMAND.match(" ".join((query or "").split()))
    doing = f"{words.group()} ..." if words else ""
    who = f"pid {pid} ({mode}{': ' + doing if doing else ''})"
    if granted:
        return f"{lead}: a lock on {table} is held by {who}; captures wait for it (still held after {timeout_ms} ms)"
    return (f"{lead}: {who} waits for a lock on {table}, and captures queue behind it "
            f"(still waiting after {timeout_ms} ms)")
