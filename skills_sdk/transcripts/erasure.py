"""Erasure, the backend-neutral part: forgetting a user when they disable a skill, and the functional forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._logs import LazyLogger
from ..context import Turn
from ..middleware import Endpoint
from ..response import Response, empty

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ForgetOnDisable", "SKILL_DISABLED", "erase_user", "schedule_erasure", "iter_receipts"]

log = LazyLogger("skills_sdk.transcripts")

#: The event the platform sends when a user disables a skill.
SKILL_DISABLED = "AlexaSkillEvent.SkillDisabled"


# The functional forms, for scripts: each is the ledger's method of the same name.
def erase_user(ledger: Ledger, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
               actor: str = "cli", reason: str = "request", check: bool = True) -> dict[str, Any]:
    """:meth:`Ledger.erase_user`: erase everything recorded about ``user_id`` and return the receipt.

    >>> from skills_sdk.transcripts import open_ledger
    >>> ledger = open_ledger(":memory:")
    >>> ids = [ledger.record({"developer_id": "acme", "skill": "pizza", "user_id": "amzn1.ask.account.A"})
    ...        for _ in range(3)]
    >>> receipt = erase_user(ledger, "amzn1.ask.account.A")
    >>> receipt["transcripts"], receipt["scrubbed"]
    (3, True)
    """
    return ledger.erase_user(user_id, skill=skill, developer_id=developer_id, actor=actor, reason=reason, check=check)


def schedule_erasure(ledger: Ledger, user_id: str, *, skill: str | None = None, developer_id: str | None = None,
                     due: datetime, reason: str = "skill_disabled") -> None:
    """:meth:`Ledger.schedule_erasure`: queue an erasure for ``due`` (every purge runs those due)."""
    ledger.schedule_erasure(user_id, skill=skill, developer_id=developer_id, due=due, reason=reason)


def iter_receipts(ledger: Ledger, *, user_id: str | None = None) -> list[dict[str, Any]]:
    """:meth:`Ledger.receipts`: stored erasure receipts, newest first."""
    return ledger.receipts(user_id=user_id)


class ForgetOnDisable:
    """Middleware: when a user disables a skill, forget them in that skill (now, or after its grace days).

    >>> from skills_sdk.transcripts import open_ledger
    >>> from skills_sdk.transcripts.compose import ledger_middleware
    >>> ledger_middleware(open_ledger(":memory:"))[0]   # first in the chain
    <skills_sdk.transcripts.erasure.ForgetOnDisable ...>

    Answers ``AlexaSkillEvent.SkillDisabled`` with an empty response, before capture, so the
    event leaves no transcript row; a handler the skill registered for it still runs first. With ``Skill(disable_grace_days=N)`` the erasure is queued
    for N days later (a user who re-enables gets a new user id anyway); otherwise it runs at once.
    """

    def __init__(self, store: Ledger) -> None:
        self.store = store

    def __call__(self, ctx: Turn, call_next: Endpoint) -> Response:
        if ctx.request.type != SKILL_DISABLED:
            return call_next(ctx)
        user_id, skill = ctx.user_id, ctx.skill
        # The skill's own SkillDisabled handler (cleaning up partner data, say) still runs, before
        # the erasure and outside capture; state it changes is dropped rather than saved afterwards.
        skill.route(ctx)
        changed = ctx.changed_state()
        if changed is not None:
            ctx.state_saved(changed)
        if user_id:
            try:
                if skill.ledger.disable_grace_days:
                    due = datetime.now(UTC) + timedelta(days=skill.ledger.disable_grace_days)
                    self.store.schedule_erasure(user_id, skill=skill.name, developer_id=skill.developer_id, due=due)
                else:
                    self.store.erase_user(user_id, skill=skill.name, developer_id=skill.developer_id,
                                          actor="skill-disabled", reason="skill_disabled", check=False)
            except Exception:  # the platform gets its answer; the failure is logged for the operator
                log.exception("could not forget user %s in skill %s after SkillDisabled",
                              self.store.user_hash(user_id), skill.name)
        return empty()
