"""The text simulator: typed text -> local NLU -> request envelope -> ``SkillHost.handle``, with the session carried.

One core serves ``skills say`` / ``skills chat``, ``POST /simulate/<skill>`` and the test client
(:class:`skills_sdk.testing.SkillClient`), so a typed conversation runs through exactly the same
middleware chain, capture and transcripts as a real device's::

    host = SkillHost([pizza], store=TranscriptStore(":memory:"), http=partner_session())
    chat = Conversation(host, "pizza")
    chat.say("open pizza shop").speech          # LaunchRequest, session new
    chat.say("a large pepperoni pizza").speech  # IntentRequest, same session, attributes carried

The session is carried like a device carries it: ``sessionAttributes`` of each response go into
the next request; ``new`` is true only on a session's first request; a response that ends the
session (or a SessionEndedRequest) makes the next request start a new session. A pending
``Dialog.ElicitSlot`` changes one thing: text the NLU cannot match is taken as the value of the
elicited slot, and the elicited intent is sent again with the slots gathered so far.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .nlu import FALLBACK_INTENT, Matcher, NluResult, compile_model, words_to_number
from .response import ssml_to_text
from .testing import builders as b

if TYPE_CHECKING:
    from .host import SkillHost, TurnResult
    from .skill import Skill

__all__ = ["Conversation", "ConversationCache", "SimulatedTurn", "matcher_for", "MAX_TEXT"]

#: The longest text the simulator accepts (Alexa utterances are far shorter).
MAX_TEXT = 1000

_MATCHERS: weakref.WeakKeyDictionary[Skill, Matcher] = weakref.WeakKeyDictionary()
_MATCHERS_LOCK = threading.Lock()


def matcher_for(skill: Skill) -> Matcher:
    """The compiled NLU of ``skill``, compiled once per skill and cached.

    >>> matcher_for(pizza).match("open pizza shop").kind   # doctest: +SKIP
    'launch'
    """
    with _MATCHERS_LOCK:
        matcher = _MATCHERS.get(skill)
        if matcher is None:
            matcher = _MATCHERS[skill] = compile_model(skill.model)
        return matcher


@dataclass(frozen=True)
class _Elicit:
    """A ``Dialog.ElicitSlot`` waiting for its answer: which intent, which slot, the slots so far."""

    intent: str
    slot: str
    slots: Mapping[str, str]


@dataclass
class SimulatedTurn:
    """One simulated turn: the text typed (if any), what the NLU made of it, the request sent, the answer."""

    text: str | None
    nlu: NluResult | None
    request: dict[str, Any]
    result: TurnResult
    session_ended: bool
    elicited: str | None = None

    @property
    def response(self) -> dict[str, Any]:
        """The ``response`` object of the response envelope."""
        return self.result.envelope.get("response") or {}

    @property
    def request_type(self) -> str:
        """The type of the request sent."""
        return self.request["request"]["type"]

    @property
    def intent(self) -> str | None:
        """The intent sent, for an IntentRequest."""
        intent = self.request["request"].get("intent")
        return intent["name"] if intent else None

    @property
    def slots(self) -> dict[str, dict[str, Any]]:
        """The filled slots sent: name -> {value, resolved, id, status}."""
        intent = self.request["request"].get("intent") or {}
        out: dict[str, dict[str, Any]] = {}
        for name, slot in (intent.get("slots") or {}).items():
            if slot.get("value") is None:
                continue
            auth = ((slot.get("resolutions") or {}).get("resolutionsPerAuthority") or [{}])[0]
            value = ((auth.get("values") or [{}])[0]).get("value") or {}
            out[name] = {"value": slot["value"], "resolved": value.get("name"), "id": value.get("id"),
                         "status": (auth.get("status") or {}).get("code")}
        return out

    @property
    def speech(self) -> str | None:
        """The plain text the skill said (as the device received it)."""
        return _text(self.response.get("outputSpeech"))

    @property
    def reprompt(self) -> str | None:
        """The plain text of the reprompt, if any."""
        return _text((self.response.get("reprompt") or {}).get("outputSpeech"))

    @property
    def card(self) -> dict[str, Any] | None:
        """The card, if any."""
        return self.response.get("card")

    @property
    def directives(self) -> list[dict[str, Any]]:
        """The directives, in order."""
        return list(self.response.get("directives") or ())

    @property
    def end_session(self) -> bool | None:
        """``shouldEndSession`` as sent (None when the response leaves it out)."""
        return self.response.get("shouldEndSession")

    @property
    def session_attributes(self) -> dict[str, Any]:
        """The session attributes the response carries."""
        return dict(self.result.envelope.get("sessionAttributes") or {})

    @property
    def transaction(self) -> dict[str, Any] | None:
        """The transaction the response tagged (kind, reference, amount as a string, currency, status)."""
        tag = self.result.response.transaction_tag
        return tag.to_dict() if tag is not None else None

    @property
    def transcript(self) -> dict[str, Any] | None:
        """The transcript row this turn wrote, JSON columns decoded (None when capture is off)."""
        row = self.result.transcript
        if row is None:
            return None
        from .transcripts.record import decode as decode_row

        return decode_row(dict(row))

    def to_dict(self) -> dict[str, Any]:
        """The turn as plain JSON values: what ``/simulate`` answers and ``skills say --json`` prints."""
        nlu = None
        if self.text is not None:
            nlu = {
                "kind": "launch" if self.request_type == "LaunchRequest" else "intent",
                "intent": self.intent,
                "slots": self.slots,
                "sample": self.nlu.sample if self.nlu else None,
                "elicited_slot": self.elicited,
            }
        return {
            "text": self.text,
            "request_type": self.request_type,
            "session_id": (self.request.get("session") or {}).get("sessionId"),
            "nlu": nlu,
            "speech": self.speech,
            "reprompt": self.reprompt,
            "card": self.card,
            "directives": self.directives,
            "end_session": self.end_session,
            "session_attributes": self.session_attributes,
            "transaction": self.transaction,
            "transcript": self.transcript,
        }


def _text(speech: Mapping[str, Any] | None) -> str | None:
    if not speech:
        return None
    if speech.get("type") == "SSML":
        return ssml_to_text(speech.get("ssml") or "")
    return speech.get("text")


class Conversation:
    """A device's side of a conversation with one hosted skill: it builds the requests and carries the session.

    >>> chat = Conversation(host, "pizza", user_id="amzn1.ask.account.A")   # doctest: +SKIP
    >>> chat.say("ask pizza shop where is my pizza").speech                  # doctest: +SKIP

    ``session_id`` names the first session (a fresh id otherwise; later sessions get fresh ids).
    ``attributes`` starts the session with these attributes. Safe to share between threads: turns
    of one conversation run one at a time.
    """

    def __init__(
        self,
        host: SkillHost,
        skill: str,
        *,
        user_id: str = b.DEFAULT_USER,
        session_id: str | None = None,
        locale: str = "en-US",
        attributes: Mapping[str, Any] | None = None,
        device_id: str = b.DEFAULT_DEVICE,
    ) -> None:
        if skill not in host:
            known = ", ".join(sorted(host.skills)) or "none"
            raise KeyError(f"No skill named {skill!r} is hosted here. Hosted: {known}.")
        self.host = host
        self.skill: Skill = host.skills[skill]
        self.user_id = user_id
        self.locale = locale
        self.device_id = device_id
        self.session_id = session_id or b.new_session_id()
        self.attributes: dict[str, Any] = dict(attributes or {})
        #: True until the current session's first request has been answered.
        self.fresh = True
        self._pending: _Elicit | None = None
        self._lock = threading.RLock()

    # -- session --------------------------------------------------------------------
    def new_session(self) -> None:
        """Make the next request start a new session (same user), as when the user says "Alexa, open ..." again."""
        with self._lock:
            self.session_id = b.new_session_id()
            self.attributes = {}
            self.fresh = True
            self._pending = None

    @property
    def elicited_slot(self) -> str | None:
        """The slot a pending ``Dialog.ElicitSlot`` asks for, else None."""
        return self._pending.slot if self._pending else None

    def _common(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "session_id": self.session_id, "new": self.fresh,
                "attributes": self.attributes, "locale": self.locale,
                "application_id": self.skill.application_id, "device_id": self.device_id}

    def _events(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "locale": self.locale, "application_id": self.skill.application_id,
                "device_id": self.device_id}

    # -- turns ----------------------------------------------------------------------
    def say(self, text: str) -> SimulatedTurn:
        """Send what the user typed: the skill's own NLU picks a launch or an intent with its slots.

        >>> chat.say("order a large pepperoni pizza").intent   # doctest: +SKIP
        'OrderPizzaIntent'
        """
        if not isinstance(text, str):
            raise TypeError(f"say() takes the user's words as a string, got {type(text).__name__}.")
        if len(text) > MAX_TEXT:
            raise ValueError(f"The text is {len(text)} characters long; the simulator takes at most {MAX_TEXT}.")
        with self._lock:
            nlu = matcher_for(self.skill).match(text)
            if nlu.kind == "launch":
                return self._launch(text, nlu)
            pending = self._pending
            model = self.skill.model
            slots: dict[str, Any] = dict(nlu.slots)
            name = nlu.intent or FALLBACK_INTENT
            dialog_state = None
            elicited = None
            if pending is not None and name == FALLBACK_INTENT and self._declares(pending.intent, pending.slot):
                # The answer to our own question: the whole text is the slot's value.
                name, elicited = pending.intent, pending.slot
                slots = {**pending.slots, pending.slot: self._spoken_value(pending.intent, pending.slot, text)}
                dialog_state = "IN_PROGRESS"
            elif pending is not None and name == pending.intent:
                slots = {**pending.slots, **slots}  # a device keeps the intent's earlier slots
                dialog_state = "IN_PROGRESS"
            body = b.intent_request(name, slots, model=model, dialog_state=dialog_state, **self._common())
            turn = self.send(body, utterance=text, nlu=nlu)
            turn.elicited = elicited
            return turn

    def _declares(self, intent: str, slot: str) -> bool:
        im = self.skill.model.intent(intent)
        return im is not None and slot in im.slots

    def _spoken_value(self, intent: str, slot: str, text: str) -> str:
        im = self.skill.model.intent(intent)
        value = " ".join(text.split())
        if im is not None and im.slots.get(slot) == "AMAZON.NUMBER":
            number = words_to_number(value.lower().replace("-", " ").split())
            if number is not None:
                return str(number)
        return value

    def _launch(self, text: str | None, nlu: NluResult | None) -> SimulatedTurn:
        with self._lock:
            if not self.fresh:
                self.new_session()  # a LaunchRequest always opens a new session
            return self.send(b.launch_request(**self._common()), utterance=text, nlu=nlu)

    def launch(self) -> SimulatedTurn:
        """Send a LaunchRequest ("Alexa, open <invocation name>"); it always starts a new session."""
        return self._launch(None, None)

    def intent(
        self,
        name: str,
        slots: Mapping[str, Any] | None = None,
        *,
        dialog_state: str | None = None,
        confirmation: str = "NONE",
    ) -> SimulatedTurn:
        """Send an IntentRequest with plain slot values (resolved against the skill's slot types)."""
        with self._lock:
            body = b.intent_request(name, slots, model=self.skill.model, dialog_state=dialog_state,
                                    confirmation=confirmation, **self._common())
            return self.send(body)

    def end(self, reason: str = "USER_INITIATED", *, error: Mapping[str, str] | None = None) -> SimulatedTurn:
        """Send a SessionEndedRequest; the next request starts a new session."""
        with self._lock:
            common = {**self._common(), "new": False}
            return self.send(b.session_ended_request(reason, error=error, **common))

    def event(self, request_type: str, **fields: Any) -> SimulatedTurn:
        """Send any other request type; ``token``, ``offset_ms``, ``persistence``, ``error`` fill the usual
        fields of AudioPlayer, PlaybackController, AlexaSkillEvent and System events, the rest go into
        the request block as given.

        >>> chat.event("AudioPlayer.PlaybackNearlyFinished", token="t1", offset_ms=1000)   # doctest: +SKIP
        """
        with self._lock:
            if request_type == "LaunchRequest":
                return self.launch()
            if request_type == "SessionEndedRequest":
                return self.end(fields.pop("reason", "USER_INITIATED"), error=fields.pop("error", None))
            if request_type == "IntentRequest":
                raise ValueError("Send intents with intent(name, slots) or say(text), not event('IntentRequest').")
            if request_type.startswith("AudioPlayer."):
                body = b.audio_player_request(request_type, token=fields.pop("token", None),
                                              offset_ms=fields.pop("offset_ms", 0),
                                              error=fields.pop("error", None), **self._events())
            elif request_type.startswith("PlaybackController."):
                body = b.playback_controller_request(request_type, token=fields.pop("token", None),
                                                     offset_ms=fields.pop("offset_ms", 0), **self._events())
            elif request_type.startswith("AlexaSkillEvent."):
                body = b.skill_event_request(request_type, persistence=fields.pop("persistence", "NOT_PERSISTED"),
                                             **self._events())
            elif request_type == "System.ExceptionEncountered":
                error = fields.pop("error", None) or {}
                body = b.exception_encountered_request(error.get("type", "INVALID_RESPONSE"),
                                                       error.get("message", "The skill's response failed."),
                                                       cause_request_id=fields.pop("cause_request_id", None),
                                                       **self._events())
            else:
                body = b.envelope({"type": request_type}, **self._common())
            body["request"].update(fields)
            return self.send(body)

    def send(self, body: dict[str, Any], *, utterance: str | None = None, nlu: NluResult | None = None) -> SimulatedTurn:
        """Send a whole request envelope through the host and carry the session from its answer."""
        with self._lock:
            result = self.host.handle(self.skill.name, body, utterance=utterance)
            ended = self._carry(body, result)
            return SimulatedTurn(utterance, nlu, body, result, ended)

    def _carry(self, body: dict[str, Any], result: TurnResult) -> bool:
        """Update the session from the answer; True if the session ended."""
        if body.get("session") is None:
            return False  # events come outside the session and leave it as it was
        response = result.envelope.get("response") or {}
        if body["request"]["type"] == "SessionEndedRequest" or response.get("shouldEndSession") is True:
            self.new_session()
            return True
        self.fresh = False
        self.attributes = dict(result.envelope.get("sessionAttributes") or {})
        self._pending = _pending_elicit(body, response)
        return False


def _pending_elicit(body: Mapping[str, Any], response: Mapping[str, Any]) -> _Elicit | None:
    for d in response.get("directives") or ():
        if d.get("type") != "Dialog.ElicitSlot" or not d.get("slotToElicit"):
            continue
        intent = d.get("updatedIntent") or body["request"].get("intent")
        if not intent or not intent.get("name"):
            return None
        slots = {k: v["value"] for k, v in (intent.get("slots") or {}).items()
                 if isinstance(v, Mapping) and v.get("value") is not None}
        return _Elicit(intent["name"], d["slotToElicit"], slots)
    return None


class ConversationCache:
    """A small, thread-safe, bounded map of open conversations (least recently used dropped first).

    >>> cache = ConversationCache(limit=1000)
    >>> chat = cache.get(("pizza", "user", "s1"), lambda: Conversation(host, "pizza"))   # doctest: +SKIP
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, create: Callable[[], Conversation]) -> Conversation:
        """The conversation under ``key``, made with ``create()`` when there is none."""
        with self._lock:
            chat = self._items.get(key)
            if chat is None:
                chat = self._items[key] = create()
                while len(self._items) > self.limit:
                    self._items.popitem(last=False)
            else:
                self._items.move_to_end(key)
            return chat

    def discard(self, key: Hashable) -> None:
        """Forget the conversation under ``key`` (its session ended)."""
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
