"""The ledger guard: a turn runs only when its row has somewhere to go, and every row lands exactly once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._logs import LazyLogger
from ..errors import LedgerUnavailable
from .backoff import PROBE_EVERY, Backoff
from .ledger import Ledger
from .reserve import DEFAULT_FLOOR, DEFAULT_RESERVE, Reserve
from .spool import Spool, spool_turn

__all__ = ["LedgerGuard", "Unguarded", "Reserve", "STATES", "DEFAULT_RESERVE", "DEFAULT_FLOOR"]

log = LazyLogger("skills_sdk.transcripts")

#: The guard's states, in order of gravity (the ``skills_ledger_state`` metric is the index).
STATES = ("ok", "spooling", "refusing")
class Unguarded:
    """The write policy of a capture without a :class:`LedgerGuard`: every turn runs; its row goes to the store, else to ``fallback``.

    >>> Unguarded(store, fallback=spool.append).record(row)   # doctest: +SKIP
    42

    Capture asks one policy object two things whatever serves the turn: :meth:`admit` before the
    handler (may raise :class:`~skills_sdk.errors.LedgerUnavailable`) and :meth:`record` after it
    (the row's id, or None when it went elsewhere; never raises). A :class:`LedgerGuard` refuses
    turns and spools rows; this one (tests, the CLI's simulator, a host given no guard) refuses
    nothing: a row the store cannot take goes to ``fallback(row, exc)`` (e.g. a
    :meth:`~skills_sdk.transcripts.spool.Spool.append`), else its loss is logged with the request id.
    Either policy hands a spool the turn's state change with its row (under
    :data:`~skills_sdk.transcripts.spool.STATE_KEY`), so a replay saves it too. Either one, after a
    write the store failed, sends the rows that follow straight to the spool: the guard until its
    thread's probe finds the store writable, this one for ``backoff`` seconds (:class:`.Backoff`),
    after which the next turn tries the store again. A lock held on
    the table (a migration's) costs one turn its ``write_timeout`` a second, not every turn. Without
    a ``fallback`` every row tries the store: it has nowhere else to go. Replaying the spool stays
    the caller's (:meth:`~skills_sdk.transcripts.spool.Spool.replay`, ``skills transcripts replay``).
    """

    __slots__ = ("store", "fallback", "backoff")

    def __init__(self, store: Ledger, fallback: Callable[[Mapping[str, Any], BaseException], Any] | None = None, *,
                 backoff: float = PROBE_EVERY) -> None:
        self.store = store
        self.fallback = fallback
        #: Whether rows skip the store for now (after a failed write), shared in kind with the guard's.
        self.backoff = Backoff(backoff)

    def admit(self) -> None:
        """Every turn runs: there is nothing to check before the handler."""

    def record(self, row: Mapping[str, Any], *, user_state: str | None = None) -> int | None:
        """Write ``row`` (with ``user_state``) to the store and return its id; None when it went to ``fallback`` or was lost."""
        if self.fallback is not None and self.backoff.skip():
            spool_turn(self.fallback, row, user_state, self.backoff.cause)
            return None
        try:
            rid = self.store.record(row, state=user_state)
        except self.store.errors as exc:
            if self.fallback is None:
                log.error("transcript not recorded for request %s: %s", row.get("request_id"), exc)
            else:
                self.backoff.failed(exc)
                spool_turn(self.fallback, row, user_state, exc)
            return None
        self.backoff.recovered()
        return rid


class LedgerGuard:
    """Decides before each turn whether its row has a place, records the row, and watches for recovery.

    >>> guard = LedgerGuard(store, Spool.for_store(store, reserve=Reserve(store.path + ".spool.reserve", 2**25)))   # doctest: +SKIP
    >>> guard.admit()                      # before the handler: raises LedgerUnavailable when there is none  # doctest: +SKIP
    >>> guard.record(row)                  # after it: the store, else the spool  # doctest: +SKIP
    42

    States: ``ok`` (rows go to the store); ``spooling`` (the store cannot take rows, so they go to
    the spool, which draws on space reserved at start-up); ``refusing`` (the store cannot take rows
    and the reserve is down to ``floor``, or there is no spool: turns are refused before their
    handler runs). Before each turn the database file is checked (still the file the connections
    have open, still writable: two system calls); after each write, that it still is. A thread
    (:meth:`start`) probes the store every ``interval`` seconds while not ``ok``; when the spool's
    rows are replayed into it (exactly once), the state is ``ok`` again. While ``ok`` it replays
    rows other processes spooled, and refills the reserve, every ``replay_interval`` seconds.

    ``listeners`` are called ``fn(event, value)`` with ``capture`` (seconds a store write took),
    ``spooled``, ``lost``, ``refused``, ``replayed`` (rows) and ``state`` (index in :data:`STATES`).
    """

    def __init__(self, store: Ledger, spool: Spool | None = None, *, floor: int = DEFAULT_FLOOR,
                 interval: float = PROBE_EVERY, replay_interval: float = 30.0) -> None:
        self.store = store
        self.spool = spool
        self.reserve: Reserve | None = spool.reserve if spool is not None else None
        self._short = False  # the reserve could not be filled to its size (warned once)
        self.floor = floor
        self.interval = interval
        self.replay_interval = replay_interval
        self.listeners: list[Callable[[str, float], None]] = []
        self.state = "ok"
        self.cause: str | None = None
        self._lock = threading.Lock()
        # The database file whose identity and space the guard watches (None for ``:memory:`` or a
        # server database): looked up once, as every turn checks it twice.
        self._path = store.local_file()
        self._identity = self._stat()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        if self.reserve is not None:
            self._refill()

    # -- before the handler ----------------------------------------------------------------
    def admit(self) -> None:
        """Return when the coming turn's row has a place (the store, else room in the spool); else raise.

        Raises :class:`~skills_sdk.errors.LedgerUnavailable` naming the cause: the server answers
        503 and no handler runs, so nothing is done that the ledger would not record.
        """
        if self.state == "ok":
            problem = self.file_problem()
            if problem is None:
                return
            self._degrade(problem)
        if self.spool_room():
            if self.state == "refusing":
                self._set("spooling")
            return
        self._set("refusing")
        self._emit("refused", 1)
        raise LedgerUnavailable(self.cause or "the transcript database cannot be written")

    def file_problem(self) -> str | None:
        """Why the database file cannot take rows (removed, replaced, not writable), or None."""
        path = self._path
        if path is None:
            return None
        st = self._stat()
        if st is None:
            return f"the database file {path} was removed while the server had it open (restore it, with its -wal file)"
        if st != self._identity:
            return (f"the database file {path} was replaced while the server had the old one open "
                    "(restart the server to open the new one)")
        if not os.access(path, os.W_OK):
            return f"the database file {path} is not writable (read-only file system or permissions)"
        return None

    def _disk_problem(self) -> str | None:
        """Whether the database's file system is out of space: then a replay would only eat what the spool freed."""
        path = self._path
        if path is None:
            return None
        try:
            st = os.statvfs(os.path.dirname(os.path.abspath(path)))
        except OSError:
            return None
        free = st.f_bavail * st.f_frsize
        if free < self.floor:
            return f"the file system holding {path} is full ({free} bytes free)"
        return None

    def spool_room(self) -> bool:
        """True when the spool can take the rows of the turns running now: writable, and the reserve above ``floor``."""
        if self.spool is None or not self.spool.writable():
            return False
        return self.reserve is None or self.reserve.held() >= self.floor

    # -- after the handler -----------------------------------------------------------------
    def record(self, row: Mapping[str, Any], *, user_state: str | None = None) -> int | None:
        """Write ``row`` to the store (with ``user_state``), else to the spool; the store's id, or None when spooled.

        Never raises: a row neither can take is logged with its request id and counted (``lost``).
        """
        if self.state == "ok":
            t0 = time.perf_counter()
            try:
                rid = self.store.record(row, state=user_state)
            except self.store.errors as exc:
                self._degrade(f"the transcript database cannot be written: {exc}")
            else:
                self._emit("capture", time.perf_counter() - t0)
                if self._path is None or self._stat() == self._identity:
                    return rid
                # The file at the path is no longer the one written: the row is in a file nobody
                # will read, so it goes to the spool too.
                self._degrade(self.file_problem() or f"the database file {self._path} changed")
        self._spool(row, user_state)
        return None

    def _spool(self, row: Mapping[str, Any], user_state: str | None = None) -> None:
        if self.spool is not None and spool_turn(self.spool.append, row, user_state, self.cause):
            self._emit("spooled", 1)
            if not self.spool_room():
                self._set("refusing")
            return
        if self.spool is None:
            log.error("transcript lost for request %s: %s, and there is no spool", row.get("request_id"), self.cause)
        self._emit("lost", 1)
        self._set("refusing")

    # -- recovery ------------------------------------------------------------------------
    def check(self) -> str:
        """Probe the store now: replay the spool into it, refill the reserve; returns the state."""
        problem = self.file_problem() or self._disk_problem()
        if problem is None:
            problem = self.store.check_writable()
        if problem is None and self.spool is not None and self.spool.files():
            try:
                n = self.spool.replay(self.store)
            except self.store.errors as exc:
                problem = f"the spool cannot be replayed into the transcript database: {exc}"
            else:
                if n:
                    self._emit("replayed", n)
        if self.reserve is not None:
            self._refill()
        with self._lock:
            if problem is None:
                if self.state != "ok":
                    log.warning("transcript ledger recovered: rows go to the store again")
                self.cause = None
                self._set("ok")
            elif self.state != "ok":
                self.cause = problem
                self._set("spooling" if self.spool_room() else "refusing")
            # A problem seen while "ok" (a lock the probe waited on) waits for a write to fail:
            # captures queue behind locks that short, and the readiness check reports it.
        return self.state

    def _refill(self) -> None:
        assert self.reserve is not None and self.spool is not None
        want = self.reserve.size - self.spool.size()
        try:
            held = self.reserve.fill(want)
        except OSError as exc:
            log.warning("spool reserve %s cannot be refilled: %s", self.reserve.path, exc)
            return
        short = held < want
        if short and not self._short:  # once, until it is whole again: not at every probe
            log.warning("spool reserve %s holds %d of its %d bytes: it leaves the disk at least as much free as "
                        "it holds, so this disk has too little for it; free space (or lower SKILLS_SPOOL_RESERVE) "
                        "or an outage spools fewer rows", self.reserve.path, held, want)
        self._short = short

    def start(self) -> LedgerGuard:
        """Start the probing thread in this process (a no-op while it runs; call again in a forked worker)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="skills-ledger-guard", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to stop after its current probe."""
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            woke = self._wake.wait(self.interval if self.state != "ok" else self.replay_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if woke:  # a write just failed: probe after the short interval, not the replay one
                continue
            if self.state == "ok" and not (self.spool is not None and self.spool.files()) and (
                    self.reserve is None or self.reserve.held() >= self.reserve.size):
                continue
            try:
                self.check()
            except Exception:  # the thread must outlive any one probe
                log.exception("ledger probe failed")

    # -- state -------------------------------------------------------------------------
    def _degrade(self, cause: str) -> None:
        with self._lock:
            self.cause = cause
            if self.state == "ok":
                log.error("transcript ledger cannot take rows (%s): turns are spooled while the reserve lasts", cause)
                self._set("spooling")
                self._wake.set()

    def _set(self, state: str) -> None:
        if state != self.state:
            if state == "refusing":
                log.error("transcript ledger refuses turns before their handler runs (%s): the spool can take no more rows",
                          self.cause)
            self.state = state
            self._emit("state", STATES.index(state))

    def _emit(self, event: str, value: float) -> None:
        for fn in self.listeners:
            try:
                fn(event, value)
            except Exception:  # a metrics failure must not fail a turn
                log.exception("ledger listener failed on %s", event)

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

