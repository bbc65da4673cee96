"""A capture without the server's guard: after a write the store failed, rows go straight to the spool until a turn probes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Backoff", "PROBE_EVERY"]

#: Seconds between probes of a store that failed a write (the guard's thread, or a turn without one).
PROBE_EVERY = 1.0


class Backoff:
    """After a write the store failed, rows skip it (straight to the spool) until the store is probed again.

    >>> backoff = Backoff(1.0)
    >>> backoff.skip()
    False
    >>> backoff.failed(TimeoutError("a migration holds the table"))
    >>> backoff.skip()
    True
    >>> backoff.recovered()
    >>> backoff.skip()
    False

    A store that cannot take a row now (a lock held, the server gone) makes each write wait its
    timeout (``write_timeout``, ``capture_timeout_ms``) before the row is spooled: every turn
    answered that much later. After one such failure the rows of the next ``seconds`` go to the
    spool without trying; then one write (one turn, while the others go on spooling) tries the
    store again, the probe. It is :class:`~skills_sdk.transcripts.guard.Unguarded`'s (a capture
    without a guard runs no thread, so its turns probe); the server's
    :class:`~skills_sdk.transcripts.guard.LedgerGuard` gets the same from its state, which its own
    thread's probe sets back to ``ok``. ``clock`` is :func:`time.monotonic`; tests pass their own.
    """

    __slots__ = ("seconds", "clock", "cause", "_until", "_lock")

    def __init__(self, seconds: float = PROBE_EVERY, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        #: What the last failed write raised (the spool's log line says it), None while the store takes rows.
        self.cause: Any = None
        self._until = 0.0  # 0: the store takes rows; else until when rows skip it
        self._lock = threading.Lock()

    def skip(self) -> bool:
        """True when this row should go straight to the spool; False when it tries the store (maybe as the probe)."""
        until = self._until
        if not until:
            return False  # the common case: one attribute read
        now = self.clock()
        if now < until:
            return True
        with self._lock:  # the back-off is over: this write probes, the others spool while it does
            if self._until != until:
                return bool(self._until)  # another write probed first (still failing), or it recovered
            self._until = now + self.seconds
        return False

    def failed(self, cause: Any = None) -> None:
        """A write the store failed: skip it for ``seconds``."""
        self.cause = cause
        self._until = self.clock() + self.seconds

    def recovered(self) -> None:
        """The store took a row, or a probe found it writable: rows go to it again."""
        if self._until:
            self._until, self.cause = 0.0, None
