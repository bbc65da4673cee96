"""The ledger's middleware, composed in one place: forget-on-disable, then capture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..middleware import Middleware
    from .guard import LedgerGuard
    from .ledger import Ledger
    from .spool import Spool

__all__ = ["ledger_middleware"]


def ledger_middleware(ledger: Ledger, *, capture: bool = True, guard: LedgerGuard | None = None,
                      spool: Spool | None = None) -> list[Middleware]:
    """The middleware that ties every turn to ``ledger``, outermost first; what each edge puts before its own.

    >>> from skills_sdk.transcripts import open_ledger
    >>> ledger = open_ledger(":memory:")
    >>> [type(m).__name__ for m in ledger_middleware(ledger)]
    ['ForgetOnDisable', 'Capture']
    >>> host = SkillHost([pizza], state=ledger, middleware=[*ledger_middleware(ledger), *mine])   # doctest: +SKIP

    :class:`~skills_sdk.transcripts.erasure.ForgetOnDisable` comes first, so a
    ``SkillDisabled`` event erases the user and leaves no row itself; then, unless ``capture`` is
    False, :class:`~skills_sdk.transcripts.capture.Capture`, which records every response.
    Capture's write policy is ``guard`` (the server's
    :class:`~skills_sdk.transcripts.guard.LedgerGuard`: refuses a turn whose row has no place,
    spools what the ledger cannot take), else
    :class:`~skills_sdk.transcripts.guard.Unguarded`, which hands a row the ledger refused to
    ``spool`` when given, else logs it. ``create_app`` (so the WSGI app and AWS Lambda), the CLI's
    simulator and :class:`~skills_sdk.testing.SkillClient` all compose through here.
    """
    from .capture import Capture
    from .erasure import ForgetOnDisable

    chain: list[Any] = [ForgetOnDisable(ledger)]
    if capture:
        chain.append(Capture(ledger, guard=guard, fallback=spool.append if spool is not None and guard is None
                             else None))
    return chain
