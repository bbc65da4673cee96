"""This host's spool for the PostgreSQL ledger: rows captured while the database was unreachable, replayed exactly once."""

from __future__ import annotations

import fcntl
import logging
import os
from typing import TYPE_CHECKING, Any

from ..record import utcnow_iso
from ..spool import Spool, _read_rows

if TYPE_CHECKING:
    from .store import PostgresLedger

__all__ = ["PostgresSpool"]

log = logging.getLogger("skills_sdk.transcripts")


class PostgresSpool(Spool):
    """A :class:`Spool` on this host's disk whose replay commits its rows and its progress in one PostgreSQL transaction.

    >>> ledger.spool().replay(ledger)      # doctest: +SKIP
    3

    Spool files have unique names, so many hosts replay into one database without meeting; the
    table ``spool_replay`` holds, per file, the byte offset whose rows are in the ledger.
    """

    def replay(self, store: Any) -> int:
        with self._replay_lock:
            self._rotate()
            return sum(self._replay_file(store, path) for path in self.files() if path != self.path)

    def _replay_file(self, store: PostgresLedger, path: str) -> int:
        name = os.path.basename(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # another process finished it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # erasure blanks lines under LOCK_EX
            with store.connection() as conn:
                got = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s', (name,)).fetchone()
                start = got[0] if got else 0
                rows, end = [], start
                for end, row in _read_rows(path, start):
                    if row is not None:
                        rows.append(row)
                good = []
                for row in rows:
                    try:
                        good.append(store.prepare_many(conn, [row])[0])
                    except Exception as exc:  # a row the ledger refuses must not block the rest
                        log.error("spooled row for request %s skipped: %s", row.get("request_id"), exc)
                with conn.transaction():
                    # The offset row is locked first: a second replayer of the same file waits here,
                    # then finds the offset moved and inserts nothing twice.
                    conn.execute('INSERT INTO spool_replay (file, "offset", updated_at) VALUES (%s, 0, %s) '
                                 "ON CONFLICT (file) DO NOTHING", (name, utcnow_iso()))
                    now = conn.execute('SELECT "offset" FROM spool_replay WHERE file = %s FOR UPDATE',
                                       (name,)).fetchone()[0]
                    if now != start:
                        return 0
                    store.copy_in(conn, good)
                    conn.execute('UPDATE spool_replay SET "offset" = %s, updated_at = %s WHERE file = %s',
                                 (end, utcnow_iso(), name))
        finally:
            os.close(fd)
        # Committed: the file is done. A crash here leaves it for the next replay, which finds its
        # offset at the end and inserts nothing.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        with store.connection() as conn:
            conn.execute("DELETE FROM spool_replay WHERE file = %s", (name,))
        if good:
            log.info("replayed %d spooled transcript(s) from %s", len(good), name)
        return len(good)
