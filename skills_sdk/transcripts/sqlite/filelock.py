"""The store's cross-process write lock: an exclusive ``flock`` on ``<db>-lock``, waited for without polling."""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import sys
import threading

from ...errors import StoreError
from .driver import pid as current_pid

try:  # the futex wait (_lockwake.c): Linux, where the module was built
    from . import _lockwake  # type: ignore[attr-defined]
except ImportError:
    _lockwake = None

__all__ = ["FileLock"]

#: Seconds the waiting thread stays for the next wait before it ends (a store may live as long as its process).
IDLE = 10.0


class FileLock:
    """An exclusive ``flock`` on ``path`` that a process's writers take one at a time (the caller serialises them).

    A free lock is taken with one non-blocking ``flock``. A taken one is waited for with the
    timeout a blocking ``flock`` cannot have, waking when the holder lets go rather than at a
    poll (polling every 0.1 ms, then every 1 ms, cost a request beside a second gunicorn worker
    three ``flock`` calls, three sleeps and a late wake-up of up to 1 ms). Where ``_lockwake.c``
    was built, the waiter sleeps on a futex in the lock file's first bytes, which every release
    through this class bumps (see the C file): it is woken once, as a bare blocking ``flock`` is,
    two context switches a hand-off fewer than through a thread (``bench/http_lock_handoff.py``).

    Elsewhere a blocking ``flock`` runs on a thread of its own, on which the caller waits with its
    timeout. A wait given up leaves that thread blocked; when it gets the lock it lets go at once,
    unless a writer waits again by then, which then has it. The thread uses its own open file, so
    its pending request conflicts with the non-blocking one instead of being granted by it.

    While a process waits it also holds a shared POSIX lock on the file's first byte (independent
    of ``flock`` on Linux), so another process can see that a writer waits (:meth:`others_waiting`)
    and leave the lock to it: the maintenance process's background work gives way to the
    workers' captures as the serving process's own thread gives way to its captures.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid = 0
        self._fd = -1  # the non-blocking attempts' and the untimed wait's open file
        self._waiter_fd = -1  # the waiting thread's
        self._word: mmap.mmap | None = None  # the lock file's wake-up word (_lockwake)
        self._cond = threading.Condition()
        self._wanted = False  # a writer waits for the thread to get the lock
        self._granted = False  # the thread got it for that writer
        self._waiter: threading.Thread | None = None  # started at the first wait, ends after IDLE s without one

    def acquire(self, timeout_ms: int | None = None) -> int:
        """Take the lock, within ``timeout_ms`` (else :class:`StoreError`); returns the file descriptor to :meth:`release`."""
        self._for_this_process()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            pass
        marked = _mark(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        try:
            return self._wait(timeout_ms)
        finally:
            if marked:
                _mark(self._fd, fcntl.LOCK_UN)

    def _wait(self, timeout_ms: int | None) -> int:
        if timeout_ms is None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            return self._fd
        if self._word is not None:
            if _lockwake.acquire(self._fd, self._word, timeout_ms):
                return self._fd
            raise self._timed_out(timeout_ms)
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
        raise self._timed_out(timeout_ms)

    def _timed_out(self, timeout_ms: int) -> StoreError:
        return StoreError(f"Transcript database is locked: another process held its write lock ({self.path}) "
                          f"for more than {timeout_ms} ms.")

    def others_waiting(self) -> bool:
        """Whether a writer of another process waits for the lock now (``F_GETLK`` on its mark; False off Linux)."""
        if _FLOCK is None:
            return False
        self._for_this_process()
        probe = fcntl.fcntl(self._fd, fcntl.F_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 1, 0))
        return _FLOCK.unpack(probe)[0] != fcntl.F_UNLCK  # this process's own marks are never reported

    def release(self, fd: int) -> None:
        """Let go of the lock taken through ``fd`` (what :meth:`acquire` returned), waking the writers that wait."""
        if self._word is not None:
            _lockwake.release(fd, self._word)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _for_this_process(self) -> None:
        # A forked worker needs open files of its own (an inherited one shares the parent's lock)
        # and a thread of its own (threads do not survive a fork), started at its first wait.
        pid = current_pid()
        if self._pid == pid:
            return
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._waiter_fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._word = _map_word(self._fd)
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


# Linux's struct flock (l_type, l_whence, l_start, l_len, l_pid): read by others_waiting(). Elsewhere its
# layout differs, so no other process is seen waiting there (the background work does not give way).
_FLOCK = struct.Struct("hhqqi4x") if sys.platform == "linux" else None


def _map_word(fd: int) -> mmap.mmap | None:
    """The lock file's first bytes, shared with every process that maps them (None: waits on a thread instead).

    The file is grown to hold them, never cut: another process growing it too writes the same size.
    Their block is allocated here, not left a hole (as ``ftruncate`` would): a store to a mapped
    hole on a full disk is a SIGBUS, which would kill the process at its first release; here the
    full disk is an ENOSPC, and the thread serves.
    """
    if _lockwake is None:
        return None
    try:
        os.posix_fallocate(fd, 0, _WORD_BYTES)
        return mmap.mmap(fd, _WORD_BYTES)
    except OSError:  # a file system without shared mappings, a file size limit: the thread serves
        return None


_WORD_BYTES = 8  # two 32-bit counters: releases, sleeping waiters


def _mark(fd: int, op: int) -> bool:
    """Take (``LOCK_SH | LOCK_NB``) or drop (``LOCK_UN``) this process's waiting mark; False if another process's probe held it."""
    try:
        fcntl.lockf(fd, op, 1, 0)
    except OSError:  # a probe never takes it (F_GETLK), so only an odd filesystem gets here: no mark
        return False
    return True
