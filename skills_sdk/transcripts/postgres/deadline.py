"""A capture's bound in time on PostgreSQL: its statements are cancelled once they wait past ``write_timeout``.

A turn's read of its user's state is bounded the same way (state.py): a lock on ``user_state``
held it as long as the lock, with no answer to Alexa meanwhile.

``write_timeout`` bounds the wait for a pooled connection; a statement that then waits on a lock
(a migration rebuilding a table, anything holding ``LOCK TABLE transcripts``) waited as long as the
lock was held: 15 s held, a turn answered 15 s late, past Alexa's 8 s. A ``lock_timeout`` on the
pooled connections would also end the waits of erasures, purges and migrations, which may wait,
and a ``SET LOCAL`` around each capture costs it round trips. So one thread per process watches
the captures in flight and cancels the statement of one that runs past its deadline; the capture
then fails like any other (its row is spooled). The cancel request reaches the server on its own
connection, possibly after the statement ended: the connection it was meant for is closed rather
than reused, so that it can cancel nothing else.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from ...errors import StoreError

__all__ = ["bounded"]

_lock = threading.Condition()
_running: dict[int, list[Any]] = {}  # id(conn): [conn, deadline, cancelled]
_watcher: list[int] = [0]  # the process whose thread watches (a fork starts its own)
#: When the watching thread wakes next (inf: when told). A capture wakes it only when it must be
#: woken sooner, so a capture costs no thread switch: with one timeout, a later capture's deadline
#: is never sooner than an earlier one's.
_wakes: list[float] = [float("inf")]


@contextlib.contextmanager
def bounded(conn: Any, seconds: float, what: str = "A capture",
            then: str = "not recorded, the capture spools it") -> Iterator[None]:
    """Run the ``with`` block's statements on ``conn``, cancelled when still running after ``seconds``.

    >>> with bounded(conn, 2.0):          # doctest: +SKIP
    ...     conn.execute("INSERT ...")

    A cancelled block raises :class:`StoreError` saying that ``what`` waited past ``write_timeout``,
    and ``then``: what became of it.
    """
    entry = [conn, time.monotonic() + seconds, False]
    with _lock:
        if _watcher[0] != os.getpid():
            _watcher[0] = os.getpid()
            threading.Thread(target=_watch, name="skills-capture-deadline", daemon=True).start()
        _running[id(conn)] = entry
        if entry[1] < _wakes[0]:
            _lock.notify()
    try:
        yield
    except Exception as exc:
        if entry[2]:
            raise StoreError(f"{what} waited past write_timeout ({seconds:g} s) for the database (another session "
                             f"holds a lock it needs, such as a migration's); {then}.") from exc
        raise
    finally:
        with _lock:
            _running.pop(id(conn), None)
        if entry[2]:
            conn.close()  # a cancel that arrives late would hit whatever this connection ran next


def _forked() -> None:
    """In a forked child: no thread watches yet, no capture of the parent's is this process's, the lock is free."""
    global _lock
    _lock = threading.Condition()
    _running.clear()
    _watcher[0], _wakes[0] = 0, float("inf")


os.register_at_fork(after_in_child=_forked)


def _watch() -> None:
    while True:
        with _lock:
            now = time.monotonic()
            late = [e for e in _running.values() if not e[2] and e[1] <= now]
            for entry in late:
                entry[2] = True  # from here its capture closes the connection, whenever it ends
            if not late:
                _wakes[0] = min((e[1] for e in _running.values() if not e[2]), default=float("inf"))
                _lock.wait(None if _wakes[0] == float("inf") else _wakes[0] - now + 0.01)
                _wakes[0] = 0.0  # awake: no capture need wake it until it waits again
                continue
        for entry in late:  # outside the lock: sending a cancel opens a connection to the server
            try:
                entry[0].cancel_safe(timeout=5)
            except Exception:  # noqa: S110 (closed by its capture meanwhile: nothing left to cancel)
                pass
