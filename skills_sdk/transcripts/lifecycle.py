"""``Lifecycle``: the background work a ledger owns in this process, started and stopped in one place."""

from __future__ import annotations

import abc
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Self

__all__ = ["Lifecycle"]

# Starting and stopping are rare; one lock for every ledger keeps them simple.
_LIFECYCLE_LOCK = threading.RLock()


class Lifecycle(abc.ABC):
    """What :class:`~skills_sdk.transcripts.ledger.Ledger` inherits to own its threads: ``start``, ``stop``, ``with``.

    A backend implements :meth:`start_background` and :meth:`stop_background` (its own work); the
    purge thread and the jobs given to :meth:`start` (the server's guard) are run here beside it.
    """

    def start(self, *, skills: Mapping[str, Any] | Iterable[Any] | None = None, default_days: int | None = None,
              purge_every: float = 0.0, jobs: Iterable[Any] = ()) -> Self:
        """Start the ledger's background work in this process and return the ledger; idempotent.

        >>> ledger = open_ledger("var/t.db").start(skills=[pizza], default_days=30, purge_every=3600)  # doctest: +SKIP

        The backend's own work (SQLite: indexing and checkpoints) always; a purge every
        ``purge_every`` seconds by the retention of ``skills`` (``default_days`` for those that set
        none) when positive; and ``jobs``, objects with ``start()`` and ``stop()`` the ledger runs
        and stops with its own (the server's :class:`~skills_sdk.transcripts.guard.LedgerGuard`,
        which probes the database and replays the spool). A forked process that calls it again (a
        server calls it before each request; it returns at once when nothing changed) starts its
        own threads with the options given first.
        """
        state = self.__dict__.get("_lifecycle")
        if state is not None and state["pid"] == os.getpid() and skills is None and not purge_every:
            # The server passes the same tuple of jobs with every request: once all of it was seen
            # running, only a stop or a fork (both change the pid above) can undo that.
            if jobs is state["seen"]:
                return self  # running in this process: the per-request call costs a lookup, no lock
            if all(any(job is mine for mine in state["jobs"]) for job in jobs):
                state["seen"] = jobs if type(jobs) is tuple else None
                return self
        with _LIFECYCLE_LOCK:
            state = self.__dict__.setdefault("_lifecycle", {"pid": None, "jobs": [], "options": None, "seen": None})
            state["seen"] = None
            if state["options"] is None or skills is not None or purge_every:
                known = state["options"]["jobs"] if state["options"] is not None else []
                state["options"] = dict(skills=skills, default_days=default_days, purge_every=purge_every, jobs=known)
            opts = state["options"]
            for job in jobs:  # jobs given later join the ones to run (and to restart after a fork)
                if not any(job is known for known in opts["jobs"]):
                    opts["jobs"].append(job)
            if state["pid"] == os.getpid():
                for job in opts["jobs"]:
                    if not any(job is mine for mine in state["jobs"]):
                        state["jobs"].append(job)
                        job.start()
                return self
            state["pid"], state["jobs"] = os.getpid(), []
            self.start_background()
            if opts["purge_every"] > 0:
                from .retention import PurgeThread

                state["jobs"].append(PurgeThread(self, opts["skills"] or (), default_days=opts["default_days"],
                                                 interval=opts["purge_every"]))
            state["jobs"].extend(opts["jobs"])
            for job in state["jobs"]:
                job.start()
        return self

    def stop(self) -> None:
        """Stop the background work, wait for it, and close this process's connections; idempotent."""
        with _LIFECYCLE_LOCK:
            state = self.__dict__.get("_lifecycle")
            jobs = state["jobs"] if state is not None and state["pid"] == os.getpid() else []
            if state is not None:
                state["pid"], state["jobs"] = None, []
        for job in jobs:
            job.stop()
        self.stop_background()

    @property
    def jobs(self) -> list[Any]:
        """The background jobs this process runs for the ledger: the purge thread, the server's guard."""
        state = self.__dict__.get("_lifecycle")
        return list(state["jobs"]) if state is not None and state["pid"] == os.getpid() else []

    @abc.abstractmethod
    def start_background(self) -> None:
        """Start the backend's own background work (SQLite: the indexer and checkpointer); idempotent."""

    @abc.abstractmethod
    def stop_background(self) -> None:
        """Stop the backend's own background work, wait for it, and close this process's connections."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
