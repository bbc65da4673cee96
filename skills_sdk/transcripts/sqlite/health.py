"""Health of the transcript store: can a write transaction start right now, and can anyone else read its files?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .connection import open_uri
from .driver import DB_ERRORS, sqlite3

if TYPE_CHECKING:
    from .ledger import SQLiteLedger as TranscriptStore

__all__ = ["check_writable", "exposed_files", "LEDGER_SUFFIXES"]

#: The files a SQLite ledger ``path`` is made of: the database, its WAL, shared memory, lock and spool.
LEDGER_SUFFIXES = ("", "-wal", "-shm", "-lock", ".spool")


def exposed_files(path: str) -> list[tuple[str, int]]:
    """``(file, mode)`` of each file of the ledger at ``path`` that users other than its owner can read or write.

    >>> exposed_files("var/transcripts.db")        # doctest: +SKIP
    [('var/transcripts.db', 0o644)]

    The ledger makes every file 0600; one found wider was made by an older version, copied, or
    changed by hand. Spool files left mid-replay (``.spool.*.replay``) are checked too.
    """
    import glob
    import os
    import stat

    found = []
    for name in [path + s for s in LEDGER_SUFFIXES] + sorted(glob.glob(glob.escape(path) + ".spool.*.replay")):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append((name, mode))
    return found


def check_writable(store: TranscriptStore, *, timeout_ms: int = 250) -> str | None:
    """None when ``store`` can take a write now, else why not (``BEGIN IMMEDIATE`` then ``ROLLBACK``).

    The probe writes nothing and waits at most ``timeout_ms`` for a lock held elsewhere.

    >>> from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger
    >>> check_writable(SQLiteLedger(":memory:")) is None
    True
    """
    if store.memory:
        conn = store.conn
        with store._lock:
            return _probe(conn)
    try:
        conn = sqlite3.connect(open_uri(store.path), timeout=timeout_ms / 1000, isolation_level=None, uri=True)
    except DB_ERRORS as exc:
        return f"cannot open {store.path!r}: {exc}"
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        return _probe(conn)
    finally:
        conn.close()


def _probe(conn: sqlite3.Connection) -> str | None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except DB_ERRORS as exc:
        return f"the transcript database cannot be written: {exc}"
    conn.execute("ROLLBACK")
    return None
