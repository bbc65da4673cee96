"""The response builder: speech, reprompt, cards, directives, session end and transaction tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._frozen import RECORD, Frozen, set_field

if TYPE_CHECKING:
    from decimal import Decimal

    from .envelope import Intent

__all__ = ["Response", "CanFulfill", "Transaction", "say", "ask", "ssml", "empty", "escape_ssml", "ssml_to_text",
           "limit_problems", "MAX_RESPONSE_BYTES", "MAX_SPEECH_CHARS", "MAX_CARD_CHARS"]

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

TransactionStatus = Literal["completed", "pending", "failed", "refunded", "cancelled"]


def escape_ssml(text: str) -> str:
    """Escape user text for SSML: ``ham & pineapple`` -> ``ham &amp; pineapple``.

    >>> escape_ssml('5 < 6 & "quoted"')
    '5 &lt; 6 &amp; &quot;quoted&quot;'
    """
    # html.escape(text, quote=True), spelled here: importing html loads its 2,231-entry entity table,
    # which every process start paid for this one call.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def ssml_to_text(markup: str) -> str:
    """The plain text an SSML document speaks: tags dropped, entities decoded, spacing folded.

    >>> ssml_to_text("<speak>Ham &amp; <emphasis>pineapple</emphasis></speak>")
    'Ham & pineapple'
    """
    if markup.startswith("<speak>") and markup.endswith("</speak>") and "<" not in markup[7:-8]:
        # What say() and ask() write: escaped text inside one <speak>, which capture reads back on
        # every turn. No tag inside, so no substitution: str.split() folds the same whitespace as
        # _SPACE (both Py_UNICODE_ISSPACE): 12,600 instructions for an order's confirmation against the
        # substitutions' 46,000 (callgrind).
        inner = markup[7:-8]
        if "&" in inner:
            from html import unescape

            inner = unescape(inner)
        return " ".join(inner.split())
    if "&" not in markup:  # no entities: html (and its entity table) stays unloaded
        return _SPACE.sub(" ", _TAG.sub(" ", markup)).strip() if "<" in markup else markup.strip()
    from html import unescape

    return _SPACE.sub(" ", unescape(_TAG.sub(" ", markup))).strip()


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Transaction(Frozen):
    """A purchase, booking, refund or fee that a response completed; the transcript records it."""

    kind: str
    reference: str
    amount: Decimal
    currency: str = "USD"
    status: str = "completed"

    def __init__(self, kind: str, reference: str, amount: Decimal, currency: str = "USD",
                 status: str = "completed") -> None:
        set_field(self, "kind", kind)
        set_field(self, "reference", reference)
        set_field(self, "amount", amount)
        set_field(self, "currency", currency)
        set_field(self, "status", status)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (amount as a string, so no float rounding)."""
        return {
            "kind": self.kind,
            "reference": self.reference,
            "amount": str(self.amount),
            "currency": self.currency,
            "status": self.status,
        }


def _speech(text: str | None, markup: str | None) -> dict[str, str] | None:
    if markup is not None:
        body = markup if markup.lstrip().startswith("<speak") else f"<speak>{markup}</speak>"
        return {"type": "SSML", "ssml": body}
    if text is not None:
        return {"type": "SSML", "ssml": f"<speak>{escape_ssml(text)}</speak>"}
    return None


class Response:
    """What a skill says back, built fluently: ``say("Large it is.").ask("Which topping?")``.

    Build one with :func:`say`, :func:`ask`, :func:`ssml` or :func:`empty`; each method returns the
    same response, so calls chain. A response ends the session unless it asks a question, carries a
    Dialog directive, or you call ``keep_open()``.
    """

    __slots__ = (
        "_speech_text",
        "_speech_ssml",
        "_reprompt_text",
        "_reprompt_ssml",
        "_card",
        "_directives",
        "_end",
        "transaction_tag",
        "error",
        "can_fulfill_intent",
    )

    def __init__(self, text: str | None = None, *, markup: str | None = None) -> None:
        self._speech_text = text
        self._speech_ssml = markup
        self._reprompt_text: str | None = None
        self._reprompt_ssml: str | None = None
        self._card: dict[str, Any] | None = None
        self._directives: list[dict[str, Any]] = []
        self._end: bool | None = None
        #: The purchase or booking this response completed, set with :meth:`transaction`.
        self.transaction_tag: Transaction | None = None
        #: Set by the SDK when the response stands in for a failed handler: (type, message).
        self.error: tuple[str, str] | None = None
        #: The ``canFulfillIntent`` answer to a CanFulfillIntentRequest (see :class:`CanFulfill`).
        self.can_fulfill_intent: dict[str, Any] | None = None

    # -- speech ---------------------------------------------------------------
    def say(self, text: str) -> Response:
        """Say ``text`` (plain text: escaped for SSML). Replaces earlier speech."""
        self._speech_text, self._speech_ssml = text, None
        return self

    def ssml(self, markup: str) -> Response:
        """Say raw SSML (``<speak>`` is added when missing). You own its escaping."""
        self._speech_text, self._speech_ssml = None, markup
        return self

    def ask(self, reprompt: str | None = None, *, markup: str | None = None) -> Response:
        """Keep the microphone open; ``reprompt`` is said if the user is silent (default: the speech)."""
        if reprompt is None and markup is None:
            reprompt, markup = self._speech_text, self._speech_ssml
        self._reprompt_text, self._reprompt_ssml = reprompt, markup
        self._end = False
        return self

    reprompt = ask

    # -- session ----------------------------------------------------------------
    def end(self) -> Response:
        """End the session after this response."""
        self._end = True
        return self

    def keep_open(self) -> Response:
        """Keep the session open without a reprompt."""
        self._end = False
        return self

    # -- cards ------------------------------------------------------------------
    def card(
        self, title: str, content: str, *, small_image: str | None = None, large_image: str | None = None
    ) -> Response:
        """Show a Simple card, or a Standard card when an image URL is given."""
        if small_image or large_image:
            image = {k: v for k, v in (("smallImageUrl", small_image), ("largeImageUrl", large_image)) if v}
            self._card = {"type": "Standard", "title": title, "text": content, "image": image}
        else:
            self._card = {"type": "Simple", "title": title, "content": content}
        return self

    def link_account_card(self) -> Response:
        """Ask the user to link their account in the companion app."""
        self._card = {"type": "LinkAccount"}
        return self

    # -- directives -------------------------------------------------------------
    def directive(self, directive: dict[str, Any]) -> Response:
        """Add any directive as its JSON object (``{"type": ..., ...}``)."""
        if not isinstance(directive, dict) or not isinstance(directive.get("type"), str):
            raise TypeError(f"A directive is a dict with a 'type' string, got {directive!r}.")
        self._directives.append(directive)
        return self

    def play(
        self,
        url: str,
        *,
        token: str,
        offset_ms: int = 0,
        behavior: str = "REPLACE_ALL",
        expected_previous_token: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Response:
        """Play an audio stream (``AudioPlayer.Play``), from ``offset_ms`` into it.

        >>> empty().play("https://cdn.example.com/ep1.mp3", token="ep1", offset_ms=61000)  # doctest: +SKIP

        :param url: the stream, an https URL.
        :param token: names the stream in the AudioPlayer events Alexa sends back (1 to 1024 characters).
        :param offset_ms: where to start, in milliseconds (a paused stream's ``offsetInMilliseconds``).
        :param behavior: ``REPLACE_ALL`` (play now), ``ENQUEUE`` (after the playing stream) or
            ``REPLACE_ENQUEUED`` (replace what is queued).
        :param expected_previous_token: with ``ENQUEUE`` only, and required there: the playing stream's token.
        :raises ValueError: naming the argument Alexa would refuse.
        """
        if not url.startswith("https://"):
            raise ValueError(f"AudioPlayer streams must be https URLs, got {url!r}.")
        if behavior not in ("REPLACE_ALL", "ENQUEUE", "REPLACE_ENQUEUED"):
            raise ValueError(f"behavior must be REPLACE_ALL, ENQUEUE or REPLACE_ENQUEUED, got {behavior!r}.")
        if not isinstance(token, str) or not 0 < len(token) <= 1024:
            raise ValueError(f"token must be a string of 1 to 1024 characters, got {token!r}: Alexa refuses a "
                             "stream without one, and its AudioPlayer events name the stream by it.")
        if int(offset_ms) < 0:
            raise ValueError(f"offset_ms must be 0 or more (milliseconds from the stream's start), got {offset_ms!r}.")
        stream: dict[str, Any] = {"url": url, "token": token, "offsetInMilliseconds": int(offset_ms)}
        if behavior == "ENQUEUE":
            if expected_previous_token is None:
                raise ValueError("Enqueuing needs expected_previous_token: the token of the playing stream "
                                 "(in an AudioPlayer event, ctx.request.raw['token']).")
            stream["expectedPreviousToken"] = expected_previous_token
        elif expected_previous_token is not None:
            # Alexa refuses it with REPLACE_ALL and REPLACE_ENQUEUED; most often behavior="ENQUEUE" was forgotten,
            # and the stream would cut off the one playing instead of following it.
            raise ValueError(f"expected_previous_token goes with behavior='ENQUEUE' only, not {behavior!r}: pass "
                             "behavior='ENQUEUE' to play this stream after the playing one, or leave "
                             "expected_previous_token out to replace it.")
        item: dict[str, Any] = {"stream": stream}
        if metadata:
            item["metadata"] = metadata
        if self._end is None:
            self._end = True
        return self.directive({"type": "AudioPlayer.Play", "playBehavior": behavior, "audioItem": item})

    def stop_audio(self) -> Response:
        """Stop the current audio stream (``AudioPlayer.Stop``)."""
        return self.directive({"type": "AudioPlayer.Stop"})

    def clear_queue(self, *, stop_current: bool = False) -> Response:
        """Clear the audio queue (``AudioPlayer.ClearQueue``); optionally stop what plays."""
        behavior = "CLEAR_ALL" if stop_current else "CLEAR_ENQUEUED"
        return self.directive({"type": "AudioPlayer.ClearQueue", "clearBehavior": behavior})

    def _dialog(self, directive: dict[str, Any], updated_intent: Intent | dict[str, Any] | None) -> Response:
        from .envelope import Intent  # here: the builder itself needs no envelope

        if isinstance(updated_intent, Intent):
            updated_intent = updated_intent.to_dict()
        elif updated_intent is not None and not (isinstance(updated_intent, dict) and "name" in updated_intent):
            raise TypeError(
                f"{directive['type']}: updated_intent must be the request's intent (ctx.request.intent, or "
                f"ctx.request.intent.with_slots(size='large') to change slots) or Alexa's JSON for an intent "
                f"(a dict with 'name' and 'slots'), got {updated_intent!r}."
            )
        if updated_intent is not None:
            directive["updatedIntent"] = updated_intent
        self._end = False
        return self.directive(directive)

    def delegate(self, updated_intent: Intent | dict[str, Any] | None = None) -> Response:
        """Let the platform's dialog model ask for the next slot (``Dialog.Delegate``).

        ``updated_intent`` (on every Dialog method) changes what the dialog continues with: the
        request's intent with some slots set or emptied, ``ctx.request.intent.with_slots(topping=None)``,
        or Alexa's JSON for an intent as a dict.
        """
        return self._dialog({"type": "Dialog.Delegate"}, updated_intent)

    def elicit_slot(self, slot: str, updated_intent: Intent | dict[str, Any] | None = None) -> Response:
        """Ask the user for ``slot``; say the question with :meth:`say` (``Dialog.ElicitSlot``)."""
        return self._dialog({"type": "Dialog.ElicitSlot", "slotToElicit": slot}, updated_intent)

    def confirm_slot(self, slot: str, updated_intent: Intent | dict[str, Any] | None = None) -> Response:
        """Ask the user to confirm ``slot`` (``Dialog.ConfirmSlot``)."""
        return self._dialog({"type": "Dialog.ConfirmSlot", "slotToConfirm": slot}, updated_intent)

    def confirm_intent(self, updated_intent: Intent | dict[str, Any] | None = None) -> Response:
        """Ask the user to confirm the whole intent (``Dialog.ConfirmIntent``)."""
        return self._dialog({"type": "Dialog.ConfirmIntent"}, updated_intent)

    # -- transactions -----------------------------------------------------------
    def transaction(
        self,
        kind: str,
        reference: str,
        amount: Decimal | int | str,
        currency: str = "USD",
        status: str = "completed",
    ) -> Response:
        """Tag the purchase or booking this response completes; the transcript records it.

        >>> say("Your order is placed.").transaction("order", "ORD-1", "23.50").transaction_tag.amount
        Decimal('23.50')
        """
        if isinstance(amount, float):
            raise TypeError("Pass amount as Decimal, int or a string like '23.50': floats round.")
        from decimal import Decimal  # here: a response that records no transaction needs no decimal module

        try:
            value = Decimal(amount)
        except Exception:
            raise ValueError(f"amount must be a number like '23.50', got {amount!r}.") from None
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise ValueError(f"currency must be a 3-letter ISO code like 'USD', got {currency!r}.")
        self.transaction_tag = Transaction(kind, str(reference), value, currency.upper(), status)
        return self

    # -- reading back -------------------------------------------------------------
    @property
    def speech(self) -> str | None:
        """The plain text this response says (SSML tags stripped)."""
        if self._speech_ssml is not None:
            return ssml_to_text(self._speech_ssml)
        return self._speech_text

    @property
    def reprompt_text(self) -> str | None:
        """The plain text of the reprompt, if any."""
        if self._reprompt_ssml is not None:
            return ssml_to_text(self._reprompt_ssml)
        return self._reprompt_text

    @property
    def card_data(self) -> dict[str, Any] | None:
        """The card as its JSON object, if any."""
        return self._card

    @property
    def directives(self) -> list[dict[str, Any]]:
        """The directives, in order."""
        return self._directives

    @property
    def should_end_session(self) -> bool | None:
        """True, False, or None (left to the platform, e.g. for AudioPlayer responses)."""
        if self._end is None:
            return None if self._is_empty() else True
        return self._end

    def _is_empty(self) -> bool:
        return self._speech_text is None and self._speech_ssml is None and not self._directives

    def to_dict(self, *, audio_only: bool = False) -> dict[str, Any]:
        """The ``response`` object of the Alexa response envelope.

        ``audio_only`` drops speech, reprompt and card, as AudioPlayer and PlaybackController
        requests require.
        """
        out: dict[str, Any] = {}
        if not audio_only:
            speech = _speech(self._speech_text, self._speech_ssml)
            if speech is not None:
                out["outputSpeech"] = speech
            reprompt = _speech(self._reprompt_text, self._reprompt_ssml)
            if reprompt is not None and self._end is False:
                out["reprompt"] = {"outputSpeech": reprompt}
            if self._card is not None:
                out["card"] = self._card
        if self._directives:
            out["directives"] = self._directives
        if not audio_only:
            end = self.should_end_session
            if end is not None:
                out["shouldEndSession"] = end
        return out

    def __repr__(self) -> str:
        return f"<Response speech={self.speech!r} end={self.should_end_session!r}>"


_VERDICTS = ("YES", "NO", "MAYBE")


class CanFulfill:
    """The answer to a CanFulfillIntentRequest: can this skill take the request, and each slot?

    >>> CanFulfill.maybe().slot("song", understand="YES", fulfill="YES").to_dict()
    {'canFulfill': 'MAYBE', 'slots': {'song': {'canUnderstand': 'YES', 'canFulfill': 'YES'}}}

    ``understand`` is YES, NO or MAYBE; a slot's ``fulfill`` is YES or NO (Alexa's rules).
    """

    __slots__ = ("verdict", "slots")

    def __init__(self, verdict: str) -> None:
        if verdict not in _VERDICTS:
            raise ValueError(f"canFulfill must be YES, NO or MAYBE, got {verdict!r}.")
        self.verdict = verdict
        self.slots: dict[str, dict[str, str]] = {}

    @classmethod
    def yes(cls) -> CanFulfill:
        """The skill can understand and fulfil the whole request."""
        return cls("YES")

    @classmethod
    def no(cls) -> CanFulfill:
        """The skill cannot take this request."""
        return cls("NO")

    @classmethod
    def maybe(cls) -> CanFulfill:
        """The skill may be able to, once it asks the user something."""
        return cls("MAYBE")

    def slot(self, name: str, *, understand: str = "YES", fulfill: str = "YES") -> CanFulfill:
        """Say whether slot ``name`` is understood (YES/NO/MAYBE) and can be fulfilled (YES/NO)."""
        if understand not in _VERDICTS:
            raise ValueError(f"canUnderstand of slot {name!r} must be YES, NO or MAYBE, got {understand!r}.")
        if fulfill not in ("YES", "NO"):
            raise ValueError(f"canFulfill of slot {name!r} must be YES or NO, got {fulfill!r}.")
        self.slots[name] = {"canUnderstand": understand, "canFulfill": fulfill}
        return self

    def to_dict(self) -> dict[str, Any]:
        """The ``canFulfillIntent`` object of the response."""
        out: dict[str, Any] = {"canFulfill": self.verdict}
        if self.slots:
            out["slots"] = {k: dict(v) for k, v in self.slots.items()}
        return out

    def response(self) -> Response:
        """An otherwise empty :class:`Response` carrying this answer."""
        resp = Response()
        resp.can_fulfill_intent = self.to_dict()
        return resp

    def __repr__(self) -> str:
        return f"<CanFulfill {self.verdict} slots={self.slots!r}>"


def say(text: str) -> Response:
    """A response that says ``text`` and, unless you ask, ends the session.

    >>> say("Your pizza is on its way.").speech
    'Your pizza is on its way.'
    """
    return Response(text)


def ask(question: str, reprompt: str | None = None) -> Response:
    """A response that asks ``question`` and keeps the session open for the answer."""
    return Response(question).ask(reprompt if reprompt is not None else question)


def ssml(markup: str) -> Response:
    """A response that says raw SSML."""
    return Response(markup=markup)


def empty() -> Response:
    """A response that says nothing (for SessionEndedRequest and AudioPlayer events)."""
    return Response()


#: Alexa's limits on a skill's answer (the custom skill JSON reference). Past one, Alexa speaks none
#: of it and the user hears that the skill's response had a problem.
MAX_RESPONSE_BYTES = 24 * 1024
MAX_SPEECH_CHARS = 8000
MAX_CARD_CHARS = 8000


def limit_problems(envelope: dict[str, Any], size: int) -> list[str]:
    """What in a response envelope of ``size`` bytes (its JSON) is past Alexa's limits; [] when nothing is.

    >>> limit_problems({"response": {"outputSpeech": {"type": "PlainText", "text": "x" * 9000}}}, 9100)
    ['the speech is 9,000 characters; Alexa speaks at most 8,000']

    Nothing under :data:`MAX_SPEECH_CHARS` bytes can break one, so a caller checks bigger answers only.
    """
    problems = []
    if size > MAX_RESPONSE_BYTES:
        parts = ", ".join(f"{name} {len(_compact(value).encode()):,}" for name, value in envelope.items()
                          if isinstance(value, dict | list) and value)
        problems.append(f"the response is {size:,} bytes; Alexa takes at most {MAX_RESPONSE_BYTES:,} (24 KB)"
                        + (f" (bytes by part: {parts})" if parts else ""))
    body = envelope.get("response") or {}
    for what, speech in (("the speech", body.get("outputSpeech")),
                         ("the reprompt", (body.get("reprompt") or {}).get("outputSpeech"))):
        said = (speech or {}).get("ssml") or (speech or {}).get("text") or ""
        if len(said) > MAX_SPEECH_CHARS:
            problems.append(f"{what} is {len(said):,} characters; Alexa speaks at most {MAX_SPEECH_CHARS:,}")
    card = body.get("card") or {}
    shown = len(card.get("title") or "") + len(card.get("content") or card.get("text") or "")
    if shown > MAX_CARD_CHARS:
        problems.append(f"the card's title and text are {shown:,} characters; Alexa shows at most {MAX_CARD_CHARS:,}")
    return problems


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
