"""Retention: transcripts expire after their skill's retention; transaction receipts may outlive the text."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .record import COLUMNS, parse_iso, to_iso

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["Policy", "policies", "purge", "PurgeThread", "RECEIPT_COLUMNS", "Expiry", "expiry", "moment"]

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

    >>> from skills_sdk import Skill
    >>> policies([Skill("pizza", developer_id="d", retention_days=30, receipt_retention_days=365)])
    {'pizza': Policy(days=30, receipt_days=365)}
    """
    return {s.name: Policy(s.ledger.retention_days, s.ledger.receipt_retention_days) for s in skills}


@dataclass(frozen=True, slots=True)
class Expiry:
    """What one skill's retention removes at a moment: the steps in order, and the times before which nothing stays.

    ``steps`` are ``(kind, where, params)``: ``kind`` is ``delete`` or ``strip`` (keep only
    :data:`RECEIPT_COLUMNS`), ``where`` a condition on ``transcripts`` with the backend's
    placeholders. ``text_before``: no words of the skill stay before it; ``rows_before``: no rows.
    """

    skill: str
    steps: tuple[tuple[str, str, tuple[Any, ...]], ...]
    text_before: str
    rows_before: str


def expiry(name: str, policy: Policy | None, now: datetime, default_days: int | None, *, placeholder: str = "?",
           nulled: Sequence[str] = _NULLED) -> Expiry | None:
    """What the purge at ``now`` removes of skill ``name``, the same on every backend; None when it keeps everything.

    >>> expiry("pizza", Policy(30), datetime(2026, 12, 31, tzinfo=UTC), None).steps
    (('delete', 'skill = ? AND created_at < ?', ('pizza', '2026-12-01T00:00:00.000Z')),)

    A skill that keeps receipts longer than its words loses its rows without a transaction at
    ``days``, those with one at ``receipt_days``, and in between the rows with one are stripped:
    every row that still holds any of ``nulled`` (the backend's columns beyond a receipt's),
    whatever its request type (testing one column let an imported row keep its speech).
    """
    pol = policy or Policy(None)
    days = pol.days if pol.days is not None else default_days
    if days is None:
        return None
    p = placeholder
    cut = _days_before(now, days)
    if pol.receipt_days is not None and pol.receipt_days > days:
        rcut = _days_before(now, pol.receipt_days)
        unstripped = "NOT (" + " AND ".join(f'"{c}" IS NULL' for c in nulled) + ")"
        steps = (("delete", f'skill = {p} AND created_at < {p} AND "transaction" IS NULL', (name, cut)),
                 ("delete", f'skill = {p} AND created_at < {p} AND "transaction" IS NOT NULL', (name, rcut)),
                 ("strip", f'skill = {p} AND created_at < {p} AND "transaction" IS NOT NULL AND {unstripped}',
                  (name, cut)))
        return Expiry(name, steps, cut, rcut)
    return Expiry(name, (("delete", f"skill = {p} AND created_at < {p}", (name, cut)),), cut, cut)


def moment(now: datetime | str | None) -> datetime:
    """The purge's ``now`` as an aware UTC time (text is ISO-8601; None is now; a naive time is UTC)."""
    if isinstance(now, str):
        now = parse_iso(now)
    now = now or datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def purge(ledger: Ledger, skills: Mapping[str, Policy] | Iterable[Any] = (), *, default_days: int | None = None,
          now: datetime | str | None = None, actor: str = "purge",
          progress: Callable[[int], None] | None = None, wait: bool = False) -> dict[str, Any]:
    """:meth:`Ledger.purge`: delete expired transcripts, strip expired text from kept receipts, run due erasures.

    >>> purge(ledger, [pizza], default_days=30, now="2026-12-31T00:00:00Z")   # doctest: +SKIP
    {'deleted': 12, 'stripped': 2, 'per_skill': {'pizza': 14}, 'erasures': [], 'scrubbed': True, 'pending': 0, ...}

    No read returns a purged row once this returns. On SQLite the rows of whole expired days may
    still be in the file then (``pending``), until the ledger's background thread deletes them;
    ``wait=True`` deletes them before returning (``SQLiteLedger.remove_purged``).
    """
    report = ledger.purge(skills, default_days=default_days, now=now, actor=actor, progress=progress)
    report.setdefault("pending", 0)
    # Only a backend with a second step has remove_purged (SQLite); it also finishes what an earlier
    # purge left, or an interrupted removal.
    remove = getattr(ledger, "remove_purged", None)
    if wait and remove is not None:
        report["pending"] = 0
        report["scrubbed"] = remove()
    return report


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


def _days_before(now: datetime, days: int) -> str:
    """``now`` less ``days`` as stored text; a moment before the year 1 (a ``--now`` early in it) is the year 1's start."""
    try:
        return to_iso(now - timedelta(days=days))
    except OverflowError:  # nothing was written before then: the purge removes nothing
        return to_iso(datetime(1, 1, 1, tzinfo=UTC))
