"""Retention: transcripts expire after their skill's retention; transaction receipts may outlive the text."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .record import COLUMNS

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["Policy", "policies", "purge", "PurgeThread", "RECEIPT_COLUMNS"]

log = logging.getLogger("skills_sdk.transcripts")

#: What a receipt-only row keeps once its text has expired; every other column becomes NULL.
RECEIPT_COLUMNS = ("id", "developer_id", "skill", "user_id", "created_at", "request_id", "transaction")
#: The columns a receipt-only row has nulled.
_NULLED = tuple(c for c in COLUMNS if c not in RECEIPT_COLUMNS)


@dataclass(frozen=True, slots=True)
class Policy:
    """How long one skill keeps transcripts (``days``) and transaction receipts (``receipt_days``); None is forever."""

    days: int | None
    receipt_days: int | None = None


def policies(skills: Iterable[Any]) -> dict[str, Policy]:
    """The retention policy of each skill, by name, from ``Skill(retention_days=…, receipt_retention_days=…)``.

    >>> policies([Skill("pizza", developer_id="d", retention_days=30, receipt_retention_days=365)])   # doctest: +SKIP
    {'pizza': Policy(days=30, receipt_days=365)}
    """
    return {s.name: Policy(s.ledger.retention_days, s.ledger.receipt_retention_days) for s in skills}


def purge(ledger: Ledger, skills: Mapping[str, Policy] | Iterable[Any] = (), *, default_days: int | None = None,
          now: datetime | str | None = None, actor: str = "purge",
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:meth:`Ledger.purge`: delete expired transcripts, strip expired text from kept receipts, run due erasures.

    >>> purge(ledger, [pizza], default_days=30, now="2026-12-31T00:00:00Z")   # doctest: +SKIP
    {'deleted': 12, 'stripped': 2, 'per_skill': {'pizza': 14}, 'erasures': [], 'scrubbed': True, ...}
    """
    return ledger.purge(skills, default_days=default_days, now=now, actor=actor, progress=progress)


class PurgeThread:
    """A daemon thread that runs the ledger's purge every ``interval`` seconds (:meth:`Ledger.start` runs one).

    >>> t = PurgeThread(store, [pizza], default_days=30, interval=3600); t.start()   # doctest: +SKIP
    >>> t.stop()                                                                      # doctest: +SKIP
    """

    def __init__(self, store: Ledger, skills: Mapping[str, Policy] | Iterable[Any] = (), *,
                 default_days: int | None = None, interval: float = 3600.0) -> None:
        if interval <= 0:
            raise ValueError(f"the purge interval must be a positive number of seconds, got {interval!r}.")
        self.store = store
        self.table = dict(skills) if isinstance(skills, Mapping) else policies(skills)
        self.default_days = default_days
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skills-purge", daemon=True)

    def start(self) -> None:
        """Start purging (first run after one interval)."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current run, waiting up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        """True when the thread is not running."""
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = self.store.purge(self.table, default_days=self.default_days)
                if report["deleted"] or report["stripped"] or report["erasures"]:
                    log.info("purge: %d deleted, %d stripped to receipts, %d erasures", report["deleted"],
                             report["stripped"], len(report["erasures"]))
            except Exception:  # a busy or broken database is retried on the next tick
                log.exception("purge failed; retrying in %.0f s", self.interval)
