"""What the example skills share: calling a partner API, answering honestly when it fails, saying money."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from skills_sdk import Response, Skill, Turn, say

from . import partner_url

__all__ = ["PartnerError", "call_partner", "answer_partner_errors", "dollars", "spoken_price"]


class PartnerError(Exception):
    """A partner call failed: timed out, unreachable, an HTTP error, or a body that is not a JSON object.

    ``status`` is the HTTP status (None when no answer came) and ``code`` the partner's error code, so a
    handler can answer a 409 or a 422 in its own words and leave the rest to the skill's error handler.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def call_partner(ctx: Turn, partner: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Call ``partner``'s API through the injected session and return its JSON object.

    >>> order = call_partner(ctx, "pizza", "POST", "/v1/orders", json={...})   # doctest: +SKIP

    Raises :class:`PartnerError` for a timeout, a connection failure, a 4xx/5xx, or a body that is not a
    JSON object; the message names the partner, the status and the route (never the body, which may
    hold the user's data), because it ends up in the transcript's ``error`` column.
    """
    where = f"{method} {path}"
    try:
        reply = ctx.http.request(method, partner_url(partner) + path, **kwargs)
    except requests.Timeout:
        raise PartnerError(f"{partner}: timed out on {where}") from None
    except requests.RequestException as exc:
        raise PartnerError(f"{partner}: {type(exc).__name__} on {where}") from None
    if reply.status_code >= 400:
        try:
            code = reply.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        raise PartnerError(f"{partner}: HTTP {reply.status_code} on {where}", status=reply.status_code, code=code)
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PartnerError(f"{partner}: malformed JSON from {where}", status=reply.status_code)
    return body


def answer_partner_errors(skill: Skill, apology: str | Callable[[Turn], str]) -> None:
    """Answer any :class:`PartnerError` a handler lets escape with ``apology`` (text, or ``apology(ctx)``
    for text in the request's language), and record why.

    Handlers then read as the happy path. The SDK tags the answer with the error (status ``error`` in
    the transcript, the message in its ``error`` column) and does not save that turn's state changes.
    Any other exception is a bug of ours, not the partner's: the SDK's own apology answers it.
    """

    def on_error(ctx: Turn, exc: Exception) -> Response | None:
        if not isinstance(exc, PartnerError):
            return None
        return say(apology(ctx) if callable(apology) else apology)

    skill.add_error_handler(on_error)


def dollars(cents: int) -> str:
    """Cents as the amount string a transaction tag takes: ``1234`` -> ``'12.34'``."""
    return f"{cents // 100}.{cents % 100:02d}"


def spoken_price(cents: int) -> str:
    """Cents as a listener hears them: ``1234`` -> ``'$12.34'``, ``1200`` -> ``'$12'``."""
    return f"${cents // 100}" if cents % 100 == 0 else f"${dollars(cents)}"
