"""The capture middleware: one committed transcript row per response, redacted per the user's consent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._logs import LazyLogger, traceback_without_words
from ..context import Turn
from ..middleware import Endpoint
from ..request_types import reported, sent_body
from ..response import Response, ask, ssml_to_text
from .ledger import CAPTURE_MODES, DEFAULT_CAPTURE_MODE, Ledger
from .record import encode_json, utcnow_iso
from .redaction import Redactor

if TYPE_CHECKING:
    from .guard import LedgerGuard, Unguarded

__all__ = ["Capture", "CAPTURE_MODES"]

log = LazyLogger("skills_sdk.transcripts")



class Capture:
    """Middleware that records every response of a skill into a :class:`Ledger`.

    The server adds it for you:

    >>> from skills_sdk.server import create_app
    >>> from skills_sdk.transcripts import open_ledger
    >>> store = open_ledger(":memory:")
    >>> app = create_app(skills=[skill], store=store)   # doctest: +SKIP

    The row is committed before the middleware returns, so before the reply leaves the server.
    A handler that raised is recorded with status ``error`` and the user hears an apology.
    Whether a turn may run and where its row goes is one policy, ``guard``: its ``admit()`` runs
    before the handler, its ``record()`` after. The server's
    :class:`~skills_sdk.transcripts.guard.LedgerGuard` refuses a turn whose row would have nowhere
    to go (:class:`~skills_sdk.errors.LedgerUnavailable`, before its handler runs) and spools rows
    the store cannot take. Without one, :class:`~skills_sdk.transcripts.guard.Unguarded` admits
    every turn and hands a row the store refused to ``fallback(row, exc)`` (a spool's append), or
    logs its loss; either way the user is answered.
    """

    def __init__(
        self,
        store: Ledger,
        *,
        clock: Callable[[], str] = utcnow_iso,
        fallback: Callable[[dict[str, Any], Exception], None] | None = None,
        guard: LedgerGuard | Unguarded | None = None,
    ) -> None:
        from .guard import Unguarded

        if guard is not None and fallback is not None:
            raise ValueError("Capture takes a guard or a fallback, not both: a LedgerGuard spools rows itself; "
                             "give the fallback to Unguarded(store, fallback) or drop it.")
        self.store = store
        self.clock = clock
        # One write policy whatever serves the turn: admit() before the handler, record() after.
        self.guard = guard if guard is not None else Unguarded(store, fallback)
        self._redactors: dict[str, _CachedRedactor] = {}

    def _redactor(self, ctx: Turn) -> _CachedRedactor:
        r = self._redactors.get(ctx.skill.name)
        if r is None:
            r = self._redactors[ctx.skill.name] = _CachedRedactor(Redactor(patterns=ctx.skill.ledger.redact_patterns or None))
        return r

    def __call__(self, ctx: Turn, call_next: Endpoint) -> Response:
        self.guard.admit()  # may raise before the handler when the row would have nowhere to go
        try:
            resp = call_next(ctx)
        except Exception as exc:  # a middleware below failed: record it, apologise
            log.error("skill %s failed outside its handler (request %s)\n%s", ctx.skill.name, ctx.request.request_id,
                      traceback_without_words(exc))
            resp = ask("Sorry, something went wrong on my side. Please try again.", "What would you like to do?")
            resp.error = (type(exc).__name__, str(exc)[:500])
        row = self.build_row(ctx, resp)
        state = ctx.changed_state() if resp.error is None else None
        rid = self.guard.record(row, user_state=state)  # never raises: the store, else the spool, else logged
        if rid is not None:
            row["id"] = rid
        if state is not None and (rid is not None or state.spooled):  # spooled: the replay saves it
            ctx.state_saved(state)
        ctx.meta["transcript"] = row
        return resp

    def _capture_mode(self, user_id: str) -> str:
        try:
            return self.store.capture_mode(user_id)
        except self.store.errors as exc:
            # The user's choice cannot be read (the database is gone or failing): record the
            # least, no text at all, rather than more than they may have agreed to.
            log.warning("capture mode unreadable, recording metadata only: %s", exc)
            return "metadata"

    def build_row(self, ctx: Turn, resp: Response) -> dict[str, Any]:
        """The transcript row for what leaves the server for ``resp``, redacted per the user's capture mode.

        Speech, reprompt, card, directives and end of session are read from the response envelope's
        ``response`` object after the request type's rules were applied, so a reply with no speech
        has a row with no speech. What Alexa reported in the request (an error, a session-end
        reason, a cause) is kept in ``error``; a failure it reported gets status ``alexa_error``.
        """
        body = sent_body(ctx, resp)
        request = ctx.request
        user_id = ctx.user_id
        mode = (ctx.consent_read(self.store) or self._capture_mode(user_id)) if user_id else DEFAULT_CAPTURE_MODE
        slots = {}
        if request.intent is not None:
            for name, s in request.intent.slots.items():
                value = s.resolved or s.value
                if value:
                    slots[name] = value
        utterance = ctx.utterance
        speech = _said(body.get("outputSpeech"))
        reprompt = _said((body.get("reprompt") or {}).get("outputSpeech"))
        card = body.get("card")
        directives = body.get("directives")
        end = body.get("shouldEndSession")
        alexa_failed, alexa_said = reported(request.raw) if request.raw else (False, None)
        status = "error" if resp.error else "alexa_error" if alexa_failed else "ok"
        error = f"{resp.error[0]}: {resp.error[1]}" if resp.error else alexa_said
        kinds: set[str] = set()
        if mode == "metadata":
            slots, utterance, speech, reprompt, card = {}, None, None, None, None
            error = resp.error[0] if resp.error else (alexa_said.split(":")[0] if alexa_said else None)
        elif mode == "redacted":
            red = self._redactor(ctx)
            locale = request.locale
            if slots:
                slots, k = red.redact_slots(slots, exempt=ctx.skill.ledger.exempt_slots, locale=locale)
                kinds |= k
            out = []
            for text in (utterance, speech, reprompt, error):
                if text:
                    r = red.redact(text, locale=locale)
                    kinds |= r.kinds
                    out.append(r.text)
                else:
                    out.append(text)
            utterance, speech, reprompt, error = out
            if card is not None:
                card = dict(card)
                for key in ("title", "content", "text"):
                    if card.get(key):
                        r = red.redact(card[key], locale=locale)
                        kinds |= r.kinds
                        card[key] = r.text
        tx = resp.transaction_tag
        return {
            "created_at": self.clock(),
            "developer_id": ctx.skill.developer_id,
            "skill": ctx.skill.name,
            "user_id": user_id,
            "session_id": ctx.session_id,
            "request_id": request.request_id,
            "request_type": request.type,
            "intent": request.intent.name if request.intent else None,
            "slots": encode_json(slots) if slots else None,
            "utterance": utterance,
            "speech": speech,
            "reprompt": reprompt,
            "card": encode_json(card) if card else None,
            "directives": encode_json([d.get("type") for d in directives]) if directives else None,
            "end_session": None if end is None else int(end),
            "transaction": encode_json(tx.to_dict()) if tx is not None else None,
            "locale": request.locale,
            "latency_ms": round(ctx.elapsed_ms, 3),
            "status": status,
            "error": error,
            "redacted": ",".join(sorted(kinds)) if kinds else None,
            "capture_mode": mode,
        }


def _said(speech: Any) -> str | None:
    """The plain text of an ``outputSpeech`` object, None when there is none."""
    if not isinstance(speech, dict):
        return None
    if speech.get("type") == "SSML":
        return ssml_to_text(speech.get("ssml") or "") or None
    return speech.get("text") or None


class _CachedRedactor:
    """A redactor that remembers its answers for text it has seen (prompts repeat a lot).

    The cache lives in process memory only and is bounded; it never reaches disk.
    """

    __slots__ = ("redactor", "_cache", "size")

    def __init__(self, redactor: Redactor, size: int = 2048) -> None:
        self.redactor = redactor
        self._cache: dict[tuple[str, str | None], Any] = {}
        self.size = size

    def redact(self, text: str, *, locale: str | None = None) -> Any:
        key = (text, locale)  # the locale decides which national phone numbers are found
        hit = self._cache.get(key)
        if hit is None:
            hit = self.redactor.redact(text, locale=locale)
            if len(self._cache) >= self.size:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def redact_slots(
        self, slots: dict[str, Any], *, exempt: frozenset[str] = frozenset(), locale: str | None = None
    ) -> tuple[dict[str, Any], set[str]]:
        out: dict[str, Any] = {}
        kinds: set[str] = set()
        for name, value in slots.items():
            if name in exempt:
                out[name] = value
                continue
            r = self.redact(value, locale=locale)
            out[name] = r.text
            kinds |= r.kinds
        return out, kinds
