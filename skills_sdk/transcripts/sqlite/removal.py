"""A purge's second step on SQLite: the rows its first step hid (ids below the mark) deleted in short slices.

The first step (:func:`.retention.purge`) raises ``purged_below`` in ``privacy_meta``: at its
commit every read stops returning the rows below it (:data:`.queries.LIVE`) and their days'
full-text tables are gone. Deleting the rows themselves (the table and its five indexes, about
2 s of CPU for a day at 10M rows) is this module's: the ledger's background thread runs it a few
slices per tick, and :func:`remove_hidden` without ``seconds`` (``skills transcripts purge``,
``purge(wait=True)``) runs it to the end. A slice is a transaction of its own that deletes the
lowest hidden ids, with ``secure_delete`` as every delete, and tombstones them in the chain; a
crash loses at most the slice under way, and whatever remains below the mark is found again by
the next tick or call.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING

from .chain import chain_purged, returning_content
from .driver import Transaction, sqlite3
from .fts import apply_fts_changes
from .queries import PURGED_BELOW

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["remove_hidden", "hidden_left", "tick", "SLICE_ROWS", "TICK_SECONDS"]

#: Rows one slice deletes: about 10 ms of write lock at 10M rows (18 us a row on this machine), so
#: a capture that arrives meanwhile waits about as long as for an indexing slice.
SLICE_ROWS = 500
#: How long one background tick (every checkpoint_interval, 0.5 s) spends on the removal at most: half, so it still indexes and checkpoints.
TICK_SECONDS = 0.25
#: Rows a slice deletes when the caller waits for the whole removal (nobody else to give way to).
WAIT_ROWS = 2000
#: The page cache the removing connection gets while it works, in KiB (see retention._CACHE_KIB).
_CACHE_KIB = 65_536
#: Ledgers whose background thread removed the last hidden rows but has not emptied the log yet.
_log_owed: weakref.WeakSet[SQLiteLedger] = weakref.WeakSet()
_ANY = f"SELECT min(id) < {PURGED_BELOW} FROM transcripts"
_SLICE = f"DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts WHERE id < {PURGED_BELOW} ORDER BY id LIMIT ?)"


def hidden_left(conn: sqlite3.Connection) -> bool:
    """True while rows a purge hid are still in the file (one probe of the table's first row)."""
    return bool(conn.execute(_ANY).fetchone()[0])


def remove_hidden(store: SQLiteLedger, *, conn: sqlite3.Connection | None = None, seconds: float | None = None,
                  stop: threading.Event | None = None, holds: list[float] | None = None) -> int:
    """Delete the rows below the purge mark, lowest id first, a slice per transaction; returns how many.

    Without ``seconds`` it runs until none is left. With ``seconds`` (the background thread's, on its
    own ``conn``) it stops once they have passed, or ``stop`` is set, and gives way to this
    process's waiting writers before each slice and pauses after it (``index_pause``), as the
    indexer does. The caller empties the log after the last row (:func:`tick` does, until it
    succeeds). ``holds``, when given, gets each slice's time holding the write lock, in seconds
    (the bench reports them).
    """
    background = seconds is not None
    conn = conn or store.conn
    if not hidden_left(conn):
        return 0
    deadline = time.monotonic() + (seconds or 0.0)
    rows = SLICE_ROWS if background else WAIT_ROWS
    removed = 0
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    try:
        while True:
            if background:
                store._give_way()
            with store.writing(yielding=background):
                held = time.perf_counter()
                with Transaction(conn):
                    gone = conn.execute(_SLICE + returning_content(conn), (rows,)).fetchall()
                    chain_purged(conn, store.secret(), gone)  # one tombstone for the slice's rows
                    apply_fts_changes(conn)  # none expected: their days' tables were dropped by the first step
                if holds is not None:
                    holds.append(time.perf_counter() - held)
            removed += len(gone)
            if len(gone) < rows and not hidden_left(conn):
                break
            if background:
                if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                    return removed
                time.sleep(store.index_pause)
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")
        conn.execute("PRAGMA shrink_memory")
    return removed


def tick(store: SQLiteLedger, conn: sqlite3.Connection, scrub_due: threading.Event) -> None:
    """The ledger's background work after indexing: the scrubs erasures owe (when ``scrub_due``), then removal slices."""
    from .erasure import finish_scrubs

    if scrub_due.is_set():
        scrub_due.clear()  # before reading what is owed: an erasure committed after sets it again
        done = False
        try:
            done = finish_scrubs(store, conn=conn, yielding=True, attempts=1)
        finally:
            if not done:  # a reader kept the log, or the database was busy: the next tick tries again
                scrub_due.set()
    if remove_hidden(store, conn=conn, seconds=TICK_SECONDS) and not hidden_left(conn):
        _log_owed.add(store)
    # The log still holds the removed rows' words until it is emptied; a reader can keep it from
    # being truncated, so every tick tries again until it is (a failed try left 200 copies in a test).
    if store in _log_owed and finish_scrubs(store, conn=conn, wal=True, yielding=True, attempts=1):
        _log_owed.discard(store)
