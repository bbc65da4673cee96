"""The store's cross-process write lock: an exclusive ``flock`` on ``<db>-lock``, waited for without polling."""

from __future__ import annotations

import fcntl
import os
import threading

from ...errors import StoreError
from .driver import pid as current_pid

__all__ = ["FileLock"]

#: Seconds the waiting thread stays for the next wait before it ends (a store may live as long as its process).
IDLE = 10.0


class FileLock:
    """An exclusive ``flock`` on ``path`` that a process's writers take one at a time (the caller serialises them).

    A free lock is taken with one non-blocking ``flock``. A taken one is waited for by a blocking
    ``flock`` on a thread of its own, so the waiter wakes when the holder lets go, not at its next
    poll, and spends no CPU meanwhile; the caller waits on that thread with its timeout, which a
    blocking ``flock`` cannot have. Polling every 0.1 ms, then every 1 ms, cost a request beside a
    second gunicorn worker three ``flock`` calls and three sleeps, and a late wake-up of up to 1 ms.

    A wait given up leaves the thread blocked; when it gets the lock it lets go at once, unless a
    writer waits again by then, which then has it. The thread uses its own open file, so its
    pending request conflicts with the non-blocking one instead of being granted by it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid = 0
        self._fd = -1  # the non-blocking attempts' and the untimed wait's open file
        self._waiter_fd = -1  # the waiting thread's
        self._cond = threading.Condition()
        self._wanted = False  # a writer waits for the thread to get the lock
        self._granted = False  # the thread got it for that writer
        self._waiter: threading.Thread | None = None  # started at the first wait, ends after IDLE s without one

    def acquire(self, timeout_ms: int | None = None) -> int:
        """Take the lock, within ``timeout_ms`` (else :class:`StoreError`); returns the file descriptor to :meth:`release`."""
        self._for_this_process()
        if timeout_ms is None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            return self._fd
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            pass
        with self._cond:
            self._wanted, self._granted = True, False
            if self._waiter is None:
                self._waiter = threading.Thread(target=self._wait_loop, args=(self._cond, self._waiter_fd),
                                                name=f"skills-write-lock {self.path}", daemon=True)
                self._waiter.start()
            self._cond.notify_all()
            if self._cond.wait_for(lambda: self._granted, timeout=timeout_ms / 1000):
                self._granted = False
                return self._waiter_fd
            self._wanted = False
        raise StoreError(f"Transcript database is locked: another process held its write lock ({self.path}) "
                         f"for more than {timeout_ms} ms.")

    @staticmethod
    def release(fd: int) -> None:
        """Let go of the lock taken through ``fd`` (what :meth:`acquire` returned)."""
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _for_this_process(self) -> None:
        # A forked worker needs open files of its own (an inherited one shares the parent's lock)
        # and a thread of its own (threads do not survive a fork), started at its first wait.
        pid = current_pid()
        if self._pid == pid:
            return
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._waiter_fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._cond = threading.Condition()
        self._wanted = self._granted = False
        self._waiter = None
        self._pid = pid

    def _wait_loop(self, cond: threading.Condition, fd: int) -> None:
        while True:
            with cond:
                if not cond.wait_for(lambda: self._wanted, timeout=IDLE):
                    self._waiter = None  # under the condition's lock: the next wait starts a thread again
                    return
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL until the holder lets go
            with cond:
                if self._wanted:
                    self._wanted, self._granted = False, True
                    cond.notify_all()
                else:  # the writer gave up meanwhile
                    fcntl.flock(fd, fcntl.LOCK_UN)
