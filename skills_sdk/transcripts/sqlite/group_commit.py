"""Group commit: the captures that a process's threads make at the same time share one transaction.

A capture whose row is ready joins the queue. While another capture of the process holds the
write lock, it waits; the first to find no capture leading becomes the leader: it takes the write
lock, inserts every queued row (and each one's chain entry) in one transaction, commits once, and
wakes the others. Every capture returns only once the commit holding its row is done, so a row is
committed before its reply leaves, as when each capture commits alone; under a threaded server
(gunicorn ``gthread``) the rows that arrive during one commit pay for the next one together: one
write lock, one commit (one ``fsync`` under ``synchronous=FULL``), and the pages the rows share
(the table's newest leaf, the time indexes', the chain's) written to the WAL once.

A failure reaches the rows it hit: a row whose own statements fail (a constraint, a trigger's
refusal, a value the driver cannot bind) gets that error, and the others are written again
without it in a new transaction; a failure of the transaction itself (its ``BEGIN``, the chain,
the ``COMMIT``, the database busy, full or failing) reaches every row of it, and nothing of it is
written. Each failed row's capture raises the error, so its guard spools that row, as it would
have alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...errors import StoreError
from .chain import seal_inserted
from .driver import Transaction, pid, sqlite3
from .userstate import write_state

if TYPE_CHECKING:
    from .ledger import SQLiteLedger

__all__ = ["GroupCommit", "Pending"]

#: Rows one transaction takes at most: a bound on how long the batch holds every other writer.
BATCH_LIMIT = 64


class Pending:
    """One capture's row waiting for its commit: its statements, its digest, then its id or its error."""

    __slots__ = ("state", "insert", "params", "digest", "rid", "error", "taken", "done")

    def __init__(self, state: tuple[Any, ...] | None, insert: str, params: Sequence[Any],
                 digest: str | None) -> None:
        self.state = state  # write_state's arguments after the connection (the user's state), or None
        self.insert = insert
        self.params = params
        self.digest = digest  # None: the row is sealed read back
        self.rid = 0
        self.error: BaseException | None = None
        self.taken = False  # a leader took it into its transaction: its outcome is coming
        self.done = False

    def outcome(self) -> int:
        if self.error is not None:
            raise self.error
        return self.rid


class GroupCommit:
    """The queue of one ledger's captures in this process, and who leads its next commit.

    ``commits`` counts the transactions this process's captures committed (fewer than the rows
    once captures overlap); ``waiting`` is how many rows are queued for the next one.
    """

    def __init__(self, limit: int = BATCH_LIMIT) -> None:
        self.limit = limit
        self.commits = 0
        self._for_pid = -1
        self._for_this_process()

    def _for_this_process(self) -> None:
        # A forked worker starts with an empty queue of its own: a lock copied while held stays held.
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[Pending] = []
        self._leading = False
        self._sleeping = 0  # captures waiting on the condition
        self._for_pid = pid()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def lead_alone(self) -> bool:
        """True when no capture of this process leads or waits: the caller then writes its row as the leader.

        Call :meth:`end_lead` after. Alone, a capture commits as it would without this queue (its
        two steps cost about as much as one statement's binding); building a :class:`Pending` and
        walking the batch code cost a lone capture a tenth more instructions.
        """
        if self._for_pid != pid():
            self._for_this_process()
        cond = self._cond
        cond.acquire()
        alone = not self._leading and not self._queue
        if alone:
            self._leading = True
        cond.release()
        return alone

    def end_lead(self) -> None:
        """The leader's write is over, committed or not: wake the captures that queued meanwhile."""
        # The condition's lock taken by hand, as lead_alone does: `with` runs Condition's __enter__
        # and __exit__, two Python calls (2,100 instructions of the 6,900 a lone capture spent on the queue).
        cond = self._cond
        cond.acquire()
        try:
            self._leading = False
            if self._sleeping:
                cond.notify_all()
        finally:
            cond.release()

    def submit(self, store: SQLiteLedger, row: Pending, timeout_ms: int) -> int:
        """Queue ``row``, lead or wait for the commit that holds it; its id, or the error that hit it.

        A row still queued after ``timeout_ms`` leaves the queue and its capture raises
        :class:`StoreError` (its guard spools it); one a leader has taken waits for its outcome.
        """
        if self._for_pid != pid():
            self._for_this_process()
        deadline = time.monotonic() + timeout_ms / 1000
        cond = self._cond
        cond.acquire()
        self._queue.append(row)
        while True:
            try:
                while self._leading and not row.done:
                    left = deadline - time.monotonic()
                    if not row.taken and left <= 0:
                        self._queue.remove(row)
                        raise StoreError(f"Transcript database is locked: this process's captures waited more "
                                         f"than {timeout_ms} ms for the write lock of {store.path}.")
                    self._sleeping += 1
                    cond.wait(None if row.taken else left)
                    self._sleeping -= 1
                if row.done:
                    return row.outcome()
                self._leading = True
            finally:
                cond.release()
            try:
                self._lead(store, row, deadline)
            finally:
                self.end_lead()  # wakes the rows it wrote, and the captures that queued meanwhile
            if row.done:
                return row.outcome()
            cond.acquire()  # more than a batch was queued before it: it leads again

    def _lead(self, store: SQLiteLedger, own: Pending, deadline: float) -> None:
        """Take the write lock, then write what is queued (``own`` among it, unless more than a batch waits)."""
        batch: list[Pending] = []
        try:
            with store.writing(timeout_ms=max(0, int((deadline - time.monotonic()) * 1000))):
                with self._cond:
                    batch = self._queue[:self.limit]
                    del self._queue[:self.limit]
                    for row in batch:
                        row.taken = True
                self._write(store, batch)
        except Exception as exc:
            if not batch:  # the write lock was not had: only this capture's own wait is over
                with self._cond:
                    self._queue.remove(own)
                own.error, own.done = exc, True
            for row in batch:
                if not row.done:
                    row.error, row.done = exc, True
        finally:
            for row in batch:
                if not row.done:  # interrupted (KeyboardInterrupt): no waiter may wait forever
                    row.error, row.done = StoreError("the capture's commit was interrupted"), True

    def _write(self, store: SQLiteLedger, batch: list[Pending]) -> None:
        """Insert ``batch`` in one transaction; a row whose statements fail is left out and the rest written again."""
        conn = store.capture_conn
        secret = store.secret()
        todo = batch
        while todo:
            failed: Pending | None = None
            try:
                with Transaction(conn):
                    ids = []
                    for row in todo:
                        try:
                            if row.state is not None:
                                write_state(conn, *row.state)
                            rid = int(conn.execute(row.insert, (row.digest, *row.params)).lastrowid or 0)
                            if row.digest is None:  # sealed read back
                                seal_inserted(conn, secret, rid, rid)
                            ids.append(rid)
                        except Exception as exc:
                            # A constraint, a trigger's refusal, a value the driver cannot bind:
                            # this row's. The database's own state (busy, full, I/O) is every row's.
                            if len(todo) > 1 and not isinstance(exc, sqlite3.OperationalError):
                                failed = row
                            raise
            except Exception as exc:
                if failed is None:  # the transaction failed, not a row: every row of it
                    for row in todo:
                        row.error, row.done = exc, True
                    return
                failed.error, failed.done = exc, True
                todo = [row for row in todo if row is not failed]
                continue
            self.commits += 1
            for rid, row in zip(ids, todo, strict=True):
                row.rid, row.done = rid, True
            return
