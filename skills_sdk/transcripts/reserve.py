"""The spool's reserve: disk space taken at start-up so that a full disk still has room for the rows it spools."""

from __future__ import annotations

import errno
import fcntl
import os
import threading

__all__ = ["Reserve", "DEFAULT_RESERVE", "DEFAULT_FLOOR"]

#: Disk space set aside for the spool at start-up: about 20,000 rows of 1.5 KB.
DEFAULT_RESERVE = 32 * 1024 * 1024
#: Below this much reserve a new turn is refused: room for the rows of the turns already running.
DEFAULT_FLOOR = 1024 * 1024
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_CHUNK = 64 * 1024
#: Held around each use of a reserve's descriptor (the guard's thread and the request threads share it).
_LOCK = threading.Lock()


def _new_lock_after_fork() -> None:
    global _LOCK
    _LOCK = threading.Lock()  # a fork while another thread held it would leave the child's copy held


os.register_at_fork(after_in_child=_new_lock_after_fork)


class Reserve:
    """Space for the spool, taken from the file system at start-up: a file of ``size`` allocated bytes.

    >>> reserve = Reserve("var/t.db.spool.reserve", 32 * 2**20)   # doctest: +SKIP
    >>> reserve.fill(); reserve.take(1500)                         # doctest: +SKIP
    True

    The spool gives back from here every byte it is about to write (``take``), so it never needs
    space a full disk no longer has, and it can never hold more than ``size`` bytes. ``fill`` takes
    the space again once the spool is replayed and the disk has room, but never so much that the disk
    would have less free than the reserve holds: the ledger it stands in for keeps at least as much
    (on a small or nearly full disk a reserve of its whole size left the database no page, so the
    first turn spooled). Many processes share the file (an exclusive ``flock`` around each change).
    """

    def __init__(self, path: str | os.PathLike[str], size: int) -> None:
        if size < 0:
            raise ValueError(f"a spool reserve is a number of bytes >= 0, got {size!r}.")
        self.path = str(path)
        self.size = int(size)
        self._fd: tuple[int, int] | None = None  # (pid, fd): a forked worker opens its own

    def _open(self) -> int:
        # Called with _LOCK held: a thread never uses a descriptor another thread has closed.
        pid = os.getpid()
        if self._fd is not None and self._fd[0] == pid:
            fd = self._fd[1]
            try:
                st, own = os.stat(self.path), os.fstat(fd)
                if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                    return fd
            except FileNotFoundError:
                pass
            # Removed or replaced: its blocks go back to the disk with it. Forgotten before it is
            # closed, so that when the open below fails (its folder gone too) no later call closes
            # this number again: by then it may be another file's, such as the database's.
            self._fd = None
            os.close(fd)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._fd = (pid, fd)
        return fd

    def held(self) -> int:
        """How many bytes the reserve holds now (0 when it cannot be read)."""
        with _LOCK:
            try:
                return os.fstat(self._open()).st_size
            except OSError:
                return 0

    def take(self, n: int) -> bool:
        """Give ``n`` bytes back to the file system for the spool; False when the reserve holds fewer."""
        with _LOCK:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size < n:
                    return False
                os.ftruncate(fd, size - n)
                return True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def fill(self, target: int | None = None) -> int:
        """Allocate the reserve up to ``target`` bytes (``size`` by default), leaving as much free; returns what it holds.

        Never shrinks it: the bytes the spool drew stay given back until the spool is replayed.
        """
        with _LOCK:
            target = self.size if target is None else max(0, min(int(target), self.size))
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size < target:  # no more than leaves the disk as much free as the reserve holds
                    disk = os.fstatvfs(fd)
                    target = min(target, (size + disk.f_bavail * disk.f_frsize) // 2)
                while size < target:
                    n = min(_CHUNK, target - size)
                    try:
                        os.posix_fallocate(fd, size, n)
                    except OSError as exc:
                        if exc.errno not in _NO_SPACE:
                            raise
                        if os.fstat(fd).st_size != size:  # a partial allocation: keep the count exact
                            os.ftruncate(fd, size)
                        break
                    size += n
                return size
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
