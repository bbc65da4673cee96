"""The spool: transcript rows the store could not take, kept in an append-only file and replayed exactly once."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._logs import LazyLogger
from ..context import StateChange
from .refused import REFUSAL_KEY, REFUSED_SUFFIX, Refused, blank_lines

if TYPE_CHECKING:
    from .ledger import Ledger
    from .reserve import Reserve

__all__ = ["Spool", "SPOOL_SUFFIX", "STATE_KEY", "erase_spooled", "with_state", "spool_turn", "spooled_state"]

log = LazyLogger("skills_sdk.transcripts")

#: The spool of database ``x.db`` is ``x.db.spool``; files being replayed are ``x.db.spool.<id>.replay``.
SPOOL_SUFFIX = ".spool"
#: The key a spooled line carries beside the row's own when its turn changed the user's state: the
#: change alone (:meth:`~skills_sdk.context.StateChange.delta`), merged over the state stored when
#: the row is replayed, so an answer given while the ledger was down ("added milk") still holds after.
STATE_KEY = "_state"
#: Seconds between the log lines that say rows are being spooled (each one counts the rows since the last).
LOG_EVERY = 10.0
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class Spool:
    """An append-only file of transcript rows, beside the database, for when the database cannot be written.

    >>> spool = Spool.for_store(store)                  # doctest: +SKIP
    >>> host = SkillHost(skills, state=store, middleware=ledger_middleware(store, spool=spool))  # doctest: +SKIP
    >>> spool.replay(store)                             # later: move the rows into the store, once  # doctest: +SKIP
    3

    Each row is one JSON line written with a single ``os.pwrite`` at the end of the file under an
    exclusive ``flock``, so lines from many threads and processes never interleave. Replay renames the file aside under an
    exclusive lock, then inserts its rows and records how far it got (the byte offset) in the same
    transaction, so a process killed mid-replay neither loses nor repeats a row.
    ``fsync=True`` also syncs every append to disk (survives power loss; slower). With a
    ``reserve`` (:class:`~skills_sdk.transcripts.reserve.Reserve`), every line is first paid for from
    space set aside at start-up, so a full disk still takes it, and the spool never outgrows it.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, reserve: Reserve | None = None) -> None:
        self.path = str(path)
        self.fsync = fsync
        self.reserve = reserve
        #: Rows a replay could not insert because of what they hold: kept here, never dropped.
        self.refused = Refused(self.path + REFUSED_SUFFIX)
        self._replay_lock = threading.Lock()
        #: When the next "spooled" line may be logged, and how many rows were spooled without one since.
        self._log_after, self._unlogged = 0.0, 0

    @classmethod
    def for_store(cls, store: Ledger, **kwargs: Any) -> Spool:
        """The spool beside ``store``'s database file: ``<db>.spool``.

        >>> Spool.for_store(TranscriptStore("var/t.db")).path   # doctest: +SKIP
        'var/t.db.spool'
        """
        path = store.local_file()
        if path is None:
            raise ValueError("An in-memory store has no file to put a spool beside; give the store a file path.")
        return cls(path + SPOOL_SUFFIX, **kwargs)

    # -- writing -----------------------------------------------------------------------
    def append(self, row: Mapping[str, Any], exc: BaseException | None = None) -> bool:
        """Append ``row`` as one JSON line; True when written. The signature of ``Capture(fallback=)``.

        Never raises: when even the spool cannot be written (its reserve used up, a read-only file
        system), the loss is logged, with the request id, and False returned.
        """
        line = _DUMPS({k: v for k, v in row.items() if k != "id"}).encode() + b"\n"
        try:
            if self.reserve is not None and not self.reserve.take(len(line)):
                raise OSError(errno.ENOSPC, f"its reserve {self.reserve.path} is used up")
            self._write(line)
        except OSError as err:
            log.error("transcript lost for request %s: store failed (%s) and spool %s failed (%s)",
                      row.get("request_id"), exc, self.path, err)
            return False
        # One line per LOG_EVERY seconds, not one a row: an outage spools a row at every turn (3,069
        # lines in 2 s on a full disk), written to the log that may live on that disk.
        now = time.monotonic()
        if now < self._log_after:
            self._unlogged += 1
            return True
        more, self._unlogged, self._log_after = self._unlogged, 0, now + LOG_EVERY
        log.warning("transcript for request %s spooled to %s: %s%s", row.get("request_id"), self.path, exc,
                    f" ({more} more spooled in the last {LOG_EVERY:g} s)" if more else "")
        return True

    def _write(self, line: bytes) -> None:
        for _ in range(8):  # the file may be renamed aside for replay between open and lock
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # one append at a time, at the end: a failed one is cut off whole
                if not _same_file(fd, self.path):
                    continue
                size = os.fstat(fd).st_size
                if self.reserve is not None:
                    self._allocate(fd, size, len(line))
                try:
                    if os.pwrite(fd, line, size) != len(line):
                        raise OSError(errno.EIO, f"short write to {self.path}")
                except OSError:
                    os.ftruncate(fd, size)  # no torn line for the next one to be glued to
                    raise
                if self.fsync:
                    os.fsync(fd)
                return
            finally:
                os.close(fd)
        raise OSError(f"spool {self.path} kept moving while appending")

    def _allocate(self, fd: int, size: int, n: int) -> None:
        """Own the blocks for ``n`` more bytes before writing them, so a full disk never cuts a line short.

        The bytes were given back from the reserve just before; when another writer took those
        blocks first, a little more is given back, a few times, before giving up. (A process killed
        between this and the write leaves zeros, which the reader skips.)
        """
        assert self.reserve is not None
        for _ in range(8):
            try:
                os.posix_fallocate(fd, size, n)
                return
            except OSError as err:
                if err.errno in (errno.EOPNOTSUPP, errno.EBADF, errno.EINVAL):
                    return  # no preallocation on this file system: the write itself will tell
                if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.reserve.take(8192):
                    raise
        os.posix_fallocate(fd, size, n)

    def writable(self) -> bool:
        """True when an append can open the spool now (the file, or its folder while there is none)."""
        if os.path.exists(self.path):
            return os.access(self.path, os.W_OK)
        return os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK | os.X_OK)

    # -- reading -------------------------------------------------------------------------
    def files(self) -> list[str]:
        """The spool files holding rows: those left mid-replay first, then the live spool."""
        import glob  # only a replay and the spool's size list the files: off the cold path

        found = sorted(glob.glob(glob.escape(self.path) + ".*.replay"))
        return found + ([self.path] if os.path.exists(self.path) else [])

    def size(self) -> int:
        """The bytes the spool's files hold (what it drew from its reserve)."""
        total = 0
        for path in self.files():
            try:
                total += os.stat(path).st_size
            except FileNotFoundError:
                pass
        return total

    def pending(self) -> int:
        """How many rows wait in the spool (a cheap line count; rows already replayed are not counted)."""
        n = 0
        for path in self.files():
            for _, row in _read_rows(path, 0):
                n += row is not None
        return n

    # -- replay --------------------------------------------------------------------------
    def replay(self, ledger: Ledger, *, refused: bool = False) -> int:
        """Move every spooled row into ``ledger``, exactly once; returns how many rows were inserted.

        A row the ledger refuses because of what it holds is kept in :attr:`refused` (with the
        reason) before the replay commits past it; ``refused=True`` first moves those rows back
        into the spool, to try them again once the cause is fixed. Any other failure (the database
        unreachable, full, locked) stops the replay with nothing committed: its rows wait here.

        Safe to run from many threads and processes at once, and to kill at any point: for each
        file the ledger commits its rows with the byte offset they reach
        (:meth:`~skills_sdk.transcripts.ledger.Ledger.record_spooled`), so a replay killed midway
        neither loses nor repeats a row.

        >>> Spool.for_store(store).replay(store)   # doctest: +SKIP
        0
        """
        with self._replay_lock:
            self._rotate()
            if refused:
                import uuid

                self.refused.move_to(f"{self.path}.{uuid.uuid4().hex}.replay")
            return sum(self._replay_file(ledger, path) for path in self.files() if path != self.path)

    def _rotate(self) -> None:
        """Rename the live spool aside (``<spool>.<id>.replay``) so appends go to a fresh file."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for appends in flight
            if _same_file(fd, self.path) and os.fstat(fd).st_size > 0:
                import uuid  # here, not at the top: uuid (and platform) cost a cold start ~5 ms for a rare rotation

                os.rename(self.path, f"{self.path}.{uuid.uuid4().hex}.replay")
        finally:
            os.close(fd)

    def _replay_file(self, ledger: Ledger, path: str) -> int:
        name = os.path.basename(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # another process finished it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # erasure blanks lines under LOCK_EX
            inserted = ledger.record_spooled(name, lambda start: _read_rows(path, start), self._refuse)
        finally:
            os.close(fd)
        # Committed: the file is done. A crash here leaves it for the next replay, which finds
        # its offset at the end and inserts nothing.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        ledger.forget_spooled(name)
        if inserted:
            log.info("replayed %d spooled transcript(s) from %s", inserted, name)
        return inserted

    def _refuse(self, row: Mapping[str, Any], exc: BaseException) -> None:
        self.refused.keep(row, exc)
        log.error("spooled transcript for request %s refused by the ledger (%s): kept in %s. Fix the cause, then run "
                  "`skills transcripts replay --refused`.", row.get("request_id"), exc, self.refused.path)

    # -- erasure -------------------------------------------------------------------------
    def erase_user(self, user_id: str) -> int:
        """Overwrite, in place, every spooled row of ``user_id``; returns how many were erased.

        Lines are blanked to spaces of the same length, so replay offsets stay valid. Erasure must
        call this *before* deleting the user's rows from the store: a replay running concurrently
        then either sees the blanks or commits before the store delete, which removes its rows.

        Erasure and replay share one rename protocol, so neither can hide rows from the other: it
        first renames the live spool aside itself, exactly as a replay does (under the file's
        exclusive lock, which waits for appends in flight). Every row spooled before the erasure
        is then in a ``.replay`` file that exists when they are listed, or was already replayed
        and committed (and the store's delete removes it). Listing first and opening after let a
        replay rename the live spool in between, so its rows were neither blanked nor counted,
        and came back after a receipt said none were spooled.

        >>> Spool.for_store(store).erase_user("amzn1.ask.account.X")   # doctest: +SKIP
        2
        """
        needle = _DUMPS(user_id).encode()

        def theirs(row: dict[str, Any]) -> bool:
            return row.get("user_id") == user_id

        # The refused rows before (a retry may move them into the spool meanwhile) and after (a
        # replay of a file blanked below may have refused one of theirs before the blanking).
        erased = self.refused.blank(theirs, needle)
        self._rotate()
        for path in self.files():
            if path != self.path:  # the live spool holds only rows appended after the erasure began
                erased += blank_lines(path, theirs, needle)
        return erased + self.refused.blank(theirs, needle)


def erase_spooled(store: Ledger, user_id: str, *, skill: str | None = None, developer_id: str | None = None) -> int:
    """Erasure's hook: keep ``user_id``'s rows waiting in ``store``'s spool from coming back; how many were erased.

    For a whole user, every spooled and refused row of theirs is blanked in place
    (:meth:`Spool.erase_user`). For one skill or developer the spool is replayed first, so the
    store's DELETE takes exactly those rows, and their refused rows in that scope are blanked.
    Call it before deleting the user's rows from the store.

    >>> erase_spooled(store, "amzn1.ask.account.X")   # doctest: +SKIP
    0
    """
    spool = store.spool()
    if spool is None:
        return 0
    if skill is None and developer_id is None:
        return spool.erase_user(user_id)
    if spool.files():
        spool.replay(store)
    return spool.refused.blank(lambda row: row.get("user_id") == user_id and skill in (None, row.get("skill"))
                               and developer_id in (None, row.get("developer_id")), _DUMPS(user_id).encode())


def with_state(row: Mapping[str, Any], state: str | None) -> Mapping[str, Any]:
    """``row`` as a spool keeps it: with its turn's state change (a :class:`~skills_sdk.context.StateChange`), if any."""
    return {**row, STATE_KEY: state.delta()} if isinstance(state, StateChange) else row


def spool_turn(append: Callable[[Mapping[str, Any], BaseException | None], Any], row: Mapping[str, Any],
               state: str | None, exc: BaseException | None) -> bool:
    """``append`` (a spool's) ``row`` with its turn's state change; True when it took them.

    A change the spool took is marked ``spooled``, so its turn does not try to save it again (the
    replay will, merged over what is stored then).
    """
    took = bool(append(with_state(row, state), exc))
    if took and isinstance(state, StateChange):
        state.spooled = True
    return took


def spooled_state(row: dict[str, Any]) -> tuple[str, str, str, StateChange] | None:
    """Take the state change out of a spooled ``row``: ``(developer_id, skill, user_id, change)``, or None.

    A change that cannot be read, or a row that does not say whose it is, is logged and dropped:
    the row itself still goes to the ledger (or is refused on its own account).
    """
    delta = row.pop(STATE_KEY, None)
    if delta is None:
        return None
    owner = (row.get("developer_id"), row.get("skill"), row.get("user_id"))
    try:
        if not all(isinstance(part, str) and part for part in owner):
            raise ValueError("the row does not name its developer, skill and user")
        return (*owner, StateChange.from_delta(delta))  # type: ignore[return-value]
    except ValueError as exc:
        log.error("the state change spooled with request %s was not applied: %s", row.get("request_id"), exc)
        return None


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _read_rows(path: str, start: int) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """``(offset after the line, row or None)`` for each complete line from byte ``start``.

    Blank (erased) and unreadable lines give None; a torn last line without its newline is left
    unread (its offset is not passed), so it is neither inserted nor counted as done.
    """
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        offset = start
        for line in f:
            if not line.endswith(b"\n"):
                return
            offset += len(line)
            text = line.lstrip(b"\0").strip()  # zeros: space allocated by an append that was killed
            if not text:
                yield offset, None
                continue
            try:
                row = json.loads(text)
            except ValueError:
                log.error("unreadable line in spool %s at byte %d skipped", path, offset - len(line))
                yield offset, None
                continue
            if isinstance(row, dict):
                row.pop(REFUSAL_KEY, None)  # a refused row tried again
                yield offset, row
            else:
                yield offset, None
