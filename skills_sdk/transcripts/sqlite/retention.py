"""Retention on SQLite: the purge, in short transactions, dropping whole days of the full-text index."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..record import to_iso as _iso
from ..retention import _NULLED, Policy, expiry, moment, policies
from .audit import audit
from .chain import chain_changed, chain_purged, returning_content
from .erasure import finish_scrubs, run_pending
from .fts import FTS_DAY, apply_fts_changes, drop_fts_days, fts_day
from .queries import PURGED_BELOW
from .removal import remove_hidden

if TYPE_CHECKING:
    from .ledger import SQLiteLedger as TranscriptStore

__all__ = ["purge"]

log = logging.getLogger("skills_sdk.transcripts")


#: Rows one purge statement removes; statements repeat until a skill has none left to remove.
_CHUNK = 2000
#: Rows a purge gathers by id before deleting them in id order; the rest go skill by skill.
_GATHER = 500_000
#: The page cache a purge's connection gets while it runs, in KiB (SQLite's default is 2 MB): the
#: deletes then find the index pages they touch again in memory instead of reading them back
#: (2.2 GB read for a day at 10M rows with 2 MB; 256 MB did no better than 64) and write each
#: once per transaction. Pages are taken as they are used, so a small ledger's purge stays small;
#: the memory goes back to the process's allocator afterwards (``shrink_memory``), not the system.
_CACHE_KIB = 65_536
_BY_ID = "DELETE FROM transcripts WHERE id IN (SELECT value FROM json_each(?))"
_DAY = FTS_DAY.format("transcripts")
#: The trigger that queues a deleted row's full-text entry for removal.
_QUEUE_DEL = "transcripts_fts_queue_del"
_SETS = ", ".join(f'"{c}" = NULL' for c in _NULLED)
# The skills present, one index probe each (SELECT DISTINCT read the whole skill index: 1.7 s at 10M rows).
_SKILLS_SQL = ("WITH RECURSIVE s(k) AS (SELECT min(skill) FROM transcripts UNION ALL "
               "SELECT (SELECT min(skill) FROM transcripts WHERE skill > s.k) FROM s WHERE s.k IS NOT NULL) "
               "SELECT k FROM s WHERE k IS NOT NULL")


def _plan(store: TranscriptStore, table: Mapping[str, Policy], now: datetime,
          default_days: int | None) -> tuple[list[tuple[str, str, str, tuple[Any, ...]]], str | None]:
    """The purge as (skill, "delete" | "strip", condition, parameters) steps, and the day before
    which every full-text partition can be dropped whole."""
    steps = []
    # Days whose every row this purge deletes or strips of its text: before the earliest cutoff
    # of any skill present (a skill kept forever stops it at its first row).
    text_until: str | None = None
    for (name,) in store.conn.execute(_SKILLS_SQL).fetchall():
        exp = expiry(name, table.get(name), now, default_days)
        if exp is None:
            first = store.conn.execute("SELECT min(created_at) FROM transcripts WHERE skill = ?",
                                          (name,)).fetchone()[0]
            text_until = min(text_until or first, first)
            continue
        text_until = min(text_until or exp.text_before, exp.text_before)
        steps.extend((name, kind, where, params) for kind, where, params in exp.steps)
    # Whole days only: the day of the cutoff itself keeps the rows after it.
    drop_before = fts_day(text_until) if text_until and steps else None
    return steps, (drop_before if drop_before != "other" else None)


def _ordered_ids(store: TranscriptStore, steps: list[tuple[str, str, str, tuple[Any, ...]]],
                 drop_before: str | None) -> list[tuple[int, str]]:
    """The ids the delete steps remove in the days before ``drop_before``, with their skill, in id
    order (at most _GATHER of them): the rows whose full-text tables the purge drops whole."""
    found: list[tuple[int, str]] = []
    if drop_before is None:
        return found
    for name, kind, where, params in steps:
        if kind != "delete" or len(found) >= _GATHER:
            continue
        found.extend((rid, name) for (rid,) in store.conn.execute(
            _select(f"{where} AND {_DAY} < ?", _GATHER - len(found)), (*params, drop_before)))
    found.sort()
    return found


def _select(where: str, limit: int) -> str:
    return f"SELECT id FROM transcripts WHERE {where} LIMIT {limit}"


def purge(store: TranscriptStore, skills: Mapping[str, Policy] | Iterable[Any] = (), *,
          default_days: int | None = None, now: datetime | str | None = None, actor: str = "purge",
          progress: Callable[[int], None] | None = None, batch_seconds: float = 0.25,
          wait: bool = False) -> dict[str, Any]:
    """Delete expired transcripts, strip expired text from kept receipts, run due erasures; returns a report.

    >>> purge(store, [pizza], default_days=30, now="2026-12-31T00:00:00Z")   # doctest: +SKIP
    {'deleted': 12, 'stripped': 2, 'per_skill': {'pizza': 14}, 'erasures': [], 'scrubbed': True, ...}

    A skill's ``retention_days`` applies to its rows; rows of skills not listed, or without one,
    use ``default_days`` (None keeps them). A row with a transaction, in a skill whose
    ``receipt_retention_days`` is longer, keeps only :data:`RECEIPT_COLUMNS` (text nulled, its
    full-text entry removed) until the receipt retention ends too. Everything removed is scrubbed
    from the files as an erasure is (see :func:`skills_sdk.transcripts.erasure.scrub`); ``scrubbed``
    in the report is False when the WAL could not be truncated yet (the next purge retries).

    In two steps. The first, before this returns: whole expired days (every row of them from the
    purge mark up, up to the first row kept) are hidden at once, by raising the mark in one short
    transaction that also drops their full-text tables and audits them: no read returns them
    after its commit. What is left (rows of a day kept in part, rows above a kept one, strips) is
    done here as before, in short transactions (about ``batch_seconds`` each) so captures are not
    held up, each audited with the rows it removed. The second step deletes the hidden rows from
    the file (:func:`.removal.remove_hidden`): the ledger's background thread does it in slices,
    or this call before returning with ``wait=True``. ``pending`` in the report counts the rows
    this purge left to it (0 with ``wait``; ``scrubbed`` is then False). ``progress``, when given,
    is called after each transaction with the number of rows removed so far (the CLI draws it).
    """
    now = moment(now)
    table = dict(skills) if isinstance(skills, Mapping) else policies(skills)
    steps, drop_before = _plan(store, table, now, default_days)
    # The rows to delete, gathered from the (skill, created_at) index and removed in the table's id
    # order: neighbouring ids share table pages, so each page is dirtied once instead of once per
    # skill (skill by skill wrote 1.25x the log); the per-skill statements then find only rows that
    # came in meanwhile. Bounded, so a first purge of a long backlog does not hold every id at once.
    ordered = _ordered_ids(store, steps, drop_before)
    filters = {"now": _iso(now), "default_days": default_days}
    # The first step: the longest run of these ids from the mark up, with no kept row among them,
    # is hidden at once (the mark moves past it) and left to the removal (removal.py).
    mark, hidden = _hide(store, ordered, drop_before, actor, filters)
    if hidden:
        drop_before = None  # dropped with the mark
    per_skill: dict[str, int] = {}
    for _, name in hidden:
        per_skill[name] = per_skill.get(name, 0) + 1
    ordered = [r for r in ordered if r[0] >= mark]
    steps = [(name, kind, f"{where} AND id >= {int(mark)}", params) for name, kind, where, params in steps]
    cache = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    store.conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    try:
        deleted, stripped = _remove(store, ordered, steps, drop_before, actor, filters, progress, batch_seconds,
                                    per_skill, len(hidden))
    finally:
        store.conn.execute(f"PRAGMA cache_size = {cache}")
        store.conn.execute("PRAGMA shrink_memory")
    pending = len(hidden)
    if wait:
        remove_hidden(store)
        pending = 0
    erasures = run_pending(store, now=now, actor=actor)
    scrubbed = finish_scrubs(store, wal=bool(deleted or stripped)) and not pending
    return {"now": _iso(now), "deleted": deleted, "stripped": stripped, "per_skill": per_skill,
            "erasures": [r["receipt_id"] for r in erasures], "scrubbed": scrubbed, "pending": pending}


def _hide(store: TranscriptStore, ordered: list[tuple[int, str]], drop_before: str | None, actor: str,
          filters: dict[str, Any]) -> tuple[int, list[tuple[int, str]]]:
    """Raise the purge mark over the run of ``ordered`` that starts at it, drop the expired days'
    full-text tables and audit, in one transaction; returns the mark and the rows it hid.

    ``ordered`` are expired rows of whole expired days; a gap between two of them is probed (one
    rowid seek) and ends the run when a row lives there (a kept row, or one this purge strips).
    Ids only grow (AUTOINCREMENT), so no row written later can fall below the mark; a table made
    before it can hand out an erased newest row's id again, so its purge hides nothing.
    """
    conn = store.conn
    mark = int(conn.execute(f"SELECT {PURGED_BELOW}").fetchone()[0])
    if not ordered or drop_before is None or not _autoincrement(conn):
        return mark, []
    at = mark
    run: list[tuple[int, str]] = []
    for rid, name in ordered:
        if rid < mark:
            continue  # hidden by an earlier purge, still waiting for the removal
        if rid != at and conn.execute("SELECT min(id) FROM transcripts WHERE id >= ?", (at,)).fetchone()[0] != rid:
            break
        run.append((rid, name))
        at = rid + 1
    if not run:
        return mark, run
    with store.writing(), store.transaction() as conn:
        conn.execute("UPDATE privacy_meta SET value = CAST(? AS TEXT) WHERE name = 'purged_below'", (at,))
        drop_fts_days(conn, drop_before)
        # What the removal still owes is in the audit: the rows are gone for every read from this commit.
        audit(store, actor, "purge", {**filters, "pending": len(run)}, len(run), conn=conn)
    return at, run


def _autoincrement(conn: Any) -> bool:
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'transcripts'").fetchone()[0]
    return "AUTOINCREMENT" in sql.upper()


def _remove(store: TranscriptStore, ordered: list[tuple[int, str]], steps: list[tuple[str, str, str, tuple[Any, ...]]],
            drop_before: str | None, actor: str, audit_filters: dict[str, Any],
            progress: Callable[[int], None] | None, batch_seconds: float, per_skill: dict[str, int],
            deleted: int) -> tuple[int, int]:
    """Delete ``ordered`` by id, then run ``steps``; returns the rows deleted and stripped (``deleted`` and
    ``per_skill`` start from the rows the first step hid).

    Short transactions, each holding the write lock for about ``batch_seconds``: captures go on
    between them instead of waiting behind a day's worth of deletes (30 s at 10M rows). Each
    transaction audits what it removed, so an interrupted purge is still fully accounted for and
    the next one finishes it.
    """
    stripped = at = 0
    pending = list(steps)
    while True:
        removed_here = 0
        gone: list[tuple[int, str]] = []
        started = time.perf_counter()
        with store.writing(), store.transaction() as conn:
            if drop_before:
                # Whole expired days lose their full-text partition at once; their rows' deletes
                # below then queue nothing (token-by-token secure delete was 80% of a purge).
                drop_fts_days(conn, drop_before)
                drop_before = None
            returning = returning_content(conn)
            # The rows gathered by id are in days whose full-text tables are gone: the queueing
            # trigger would run for each only to find its day below the floor (two lookups, 15,000
            # instructions a row: as much again as the delete). It is dropped for these deletes and
            # made again from its own text before the commit; a rollback restores it with the rest.
            trigger = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                   (_QUEUE_DEL,)).fetchone() if at < len(ordered) else None
            if trigger:
                conn.execute(f"DROP TRIGGER {_QUEUE_DEL}")
            while at < len(ordered) and (removed_here == 0 or time.perf_counter() - started < batch_seconds):
                part, at = ordered[at:at + _CHUNK], at + _CHUNK
                rows = conn.execute(_BY_ID + returning, (json.dumps([rid for rid, _ in part]),)).fetchall()
                gone.extend(rows)
                removed_here += len(rows)
                deleted += len(rows)
                skill_of = dict(part)
                for rid, *_ in rows:
                    per_skill[skill_of[rid]] = per_skill.get(skill_of[rid], 0) + 1
            if trigger:
                conn.execute(trigger[0])
            while at >= len(ordered) and pending and (removed_here == 0 or time.perf_counter() - started < batch_seconds):
                name, kind, where, params = pending[0]
                action = f"UPDATE transcripts SET {_SETS}" if kind == "strip" else "DELETE FROM transcripts"
                sql = f"{action} WHERE id IN ({_select(where, _CHUNK)})"
                if kind == "strip":
                    ids = [r[0] for r in conn.execute(sql + " RETURNING id", params).fetchall()]
                    chain_changed(conn, store.secret(), ids)
                else:
                    ids = conn.execute(sql + returning, params).fetchall()
                    gone.extend(ids)
                n = len(ids)
                if n < _CHUNK:
                    pending.pop(0)
                if n:
                    removed_here += n
                    per_skill[name] = per_skill.get(name, 0) + n
                    if kind == "strip":
                        stripped += n
                    else:
                        deleted += n
            chain_purged(conn, store.secret(), gone)  # one tombstone for the transaction's rows
            apply_fts_changes(conn)
            if removed_here or (deleted + stripped == 0 and not pending):
                audit(store, actor, "purge", audit_filters, removed_here, conn=conn)
        if progress is not None and removed_here:
            progress(deleted + stripped)
        if not pending and at >= len(ordered):
            return deleted, stripped
