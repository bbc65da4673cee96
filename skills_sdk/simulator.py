"""The text simulator: typed text -> local NLU -> request envelope -> ``SkillHost.handle``, with the session carried.

One core serves ``skills say`` / ``skills chat``, ``POST /simulate/<skill>`` and the test client
(:class:`skills_sdk.testing.SkillClient`), so a typed conversation runs through exactly the same
middleware chain, capture and transcripts as a real device's::

    ledger = open_ledger(":memory:")
    host = SkillHost([pizza], state=ledger, middleware=ledger_middleware(ledger), http=partner_session())
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import request_builders as b
from .device_audio import DevicePlayer
from .dialog import SlotState, Step, fill, next_step
from .model import IntentModel, InteractionModel
from .nlu import (
    DEFAULT_SAMPLES,
    FALLBACK_INTENT,
    MATCH,
    Matcher,
    NluResult,
    _words,
    compile_model,
    words_to_number,
)
from .response import ssml_to_text

if TYPE_CHECKING:
    from .host import SkillHost, TurnResult
    from .skill import Skill

__all__ = ["Conversation", "ConversationCache", "SimulatedTurn", "matcher_for", "model_for", "slot_matcher_for",
           "MAX_TEXT"]

#: The longest text the simulator accepts (Alexa utterances are far shorter).
MAX_TEXT = 1000

_MATCHERS: weakref.WeakKeyDictionary[Skill, dict[Hashable, Matcher]] = weakref.WeakKeyDictionary()
_MATCHERS_LOCK = threading.Lock()
_ANSWER = "AnswerSlotIntent"


def model_for(skill: Skill, locale: str | None = None) -> InteractionModel:
    """The interaction model of ``skill`` in ``locale`` (its only model when it declares no locales)."""
    pick = getattr(skill, "model_for", None)
    return pick(locale) if pick is not None else skill.model


def _cached(skill: Skill, key: Hashable, build: Callable[[], Matcher]) -> Matcher:
    with _MATCHERS_LOCK:
        per_skill = _MATCHERS.setdefault(skill, {})
        matcher = per_skill.get(key)
        if matcher is None:
            matcher = per_skill[key] = build()
        return matcher


def matcher_for(skill: Skill, locale: str | None = None) -> Matcher:
    """The compiled NLU of ``skill`` in ``locale``, compiled once per skill and locale and cached.

    >>> matcher_for(pizza).match("open pizza shop").kind   # doctest: +SKIP
    'launch'
    """
    model = model_for(skill, locale)
    return _cached(skill, ("model", model.locale), lambda: compile_model(model))


def slot_matcher_for(skill: Skill, locale: str | None, intent: str, slot: str) -> Matcher:
    """The NLU for answers to the question for ``slot`` of ``intent``: the slot's own samples
    (``{slot}`` when it declares none), matched as intent ``AnswerSlotIntent``."""
    model = model_for(skill, locale)

    def build() -> Matcher:
        im = model.intent(intent)
        ds = im.dialog_slots.get(slot) if im is not None else None
        samples = (ds.samples if ds is not None and ds.samples else ()) or ("{" + slot + "}",)
        answer = IntentModel(_ANSWER, tuple(samples), dict(im.slots) if im is not None else {})
        return compile_model(InteractionModel(model.invocation_name, (answer,), model.types, locale=model.locale))

    return _cached(skill, ("slot", model.locale, intent, slot), build)


# "Yes" and "no" as the dialog model hears them when it asks for a confirmation.
_YES = {"en": {_words(t) for t in DEFAULT_SAMPLES["AMAZON.YesIntent"]} | {("yes", "please"), ("correct",)},
        "de": {("ja",), ("ja", "bitte"), ("genau",), ("richtig",), ("jawohl",)}}
_NO = {"en": {_words(t) for t in DEFAULT_SAMPLES["AMAZON.NoIntent"]} | {("no", "thank", "you")},
       "de": {("nein",), ("nein", "danke"), ("nö",)}}


@dataclass
class _Dialog:
    """A dialog the dialog model is running: the intent, the slots so far, the question it waits on."""

    intent: IntentModel
    slots: dict[str, SlotState]
    confirmation: str = "NONE"
    asking: Step | None = None
    manual: bool = False  # the skill takes every turn (SKILL_RESPONSE, or the skill asked itself)
    delegated: bool = False  # the skill's last answer was Dialog.Delegate
    turns: int = 0


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
    result: TurnResult | None
    session_ended: bool
    elicited: str | None = None
    #: What Alexa's dialog model said itself (an elicitation, a confirmation): the request above was
    #: not sent to the skill, so ``result`` is None and no transcript row was written.
    platform: dict[str, Any] | None = None
    #: The skill's own answer this turn when it delegated (``Dialog.Delegate``) to the dialog model.
    delegated: SimulatedTurn | None = None
    #: Why typed words that fell to the fallback may have been meant for an intent nothing spoken reaches.
    hint: str | None = None
    #: The AudioPlayer events the answer's directives make the device owe the skill, in order:
    #: ``(request type, token, offset_ms)`` (see :meth:`skills_sdk.device_audio.DevicePlayer.apply`).
    audio_events: list[tuple[str, str | None, int]] = field(default_factory=list)

    @property
    def envelope(self) -> dict[str, Any]:
        """The response envelope the device received (the skill's, or the dialog model's own prompt)."""
        return self.result.envelope if self.result is not None else (self.platform or {})

    @property
    def spoken_by(self) -> str:
        """``"skill"``, or ``"dialog"`` when Alexa's dialog model asked the question without the skill."""
        return "skill" if self.result is not None else "dialog"

    @property
    def dialog_state(self) -> str | None:
        """The ``dialogState`` of the IntentRequest (sent, or held by the dialog model)."""
        return self.request["request"].get("dialogState")

    @property
    def confirmation(self) -> str | None:
        """The intent's ``confirmationStatus`` in the request."""
        intent = self.request["request"].get("intent")
        return intent.get("confirmationStatus") if intent else None

    @property
    def response(self) -> dict[str, Any]:
        """The ``response`` object of the response envelope."""
        return self.envelope.get("response") or {}

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
        return dict(self.envelope.get("sessionAttributes") or {})

    @property
    def transaction(self) -> dict[str, Any] | None:
        """The transaction the response tagged (kind, reference, amount as a string, currency, status)."""
        tag = self.result.response.transaction_tag if self.result is not None else None
        return tag.to_dict() if tag is not None else None

    @property
    def transcript(self) -> dict[str, Any] | None:
        """The transcript row this turn wrote, JSON columns decoded (None when capture is off)."""
        row = self.result.transcript if self.result is not None else None
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
                "hint": self.hint,
            }
        intent = self.request["request"].get("intent") or {}
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
            "spoken_by": self.spoken_by,
            "dialog_state": self.dialog_state,
            "confirmation": {"intent": intent.get("confirmationStatus"),
                             "slots": {k: v.get("confirmationStatus") for k, v in (intent.get("slots") or {}).items()
                                       if v.get("confirmationStatus") not in (None, "NONE")}} if intent else None,
        }


def _unheard_intents(model: InteractionModel) -> str | None:
    """Name the custom intents of ``model`` with no samples (nothing said reaches them) and the fix; None if none.

    Registering one is allowed (a test may send it by name), so a line meant for it reaches the
    fallback: the turn carries this as its ``hint`` (``skills say``, ``/simulate``, the test client's log).
    """
    unheard = [im.name for im in model.intents if not im.samples and not im.name.startswith("AMAZON.")]
    if not unheard:
        return None
    one = len(unheard) == 1
    return (f"{', '.join(map(repr, unheard))} {'has' if one else 'have'} no samples, so nothing said reaches "
            f"{'it' if one else 'them'}. Give {'it' if one else 'them'} samples: @skill.intent({unheard[0]!r}, "
            f"samples=[...]); a test can still send {'it' if one else 'one'} by name: client.intent({unheard[0]!r}).")


def _not_a_reply(intent: str, directive: str) -> str:
    """Why the answer to a Dialog directive reached the fallback: the intent has no dialog model."""
    return (f"the skill answered {intent} with {directive}, but {intent!r} has no dialog model, so Alexa does not "
            "take the directive and this is not a reply to it. Declare the intent's confirmation (confirm='...') or a "
            "slot's dialog rule, with delegation='SKILL_RESPONSE' to ask yourself (docs/writing-skills.md).")


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
        locale: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        device_id: str = b.DEFAULT_DEVICE,
        interfaces: Mapping[str, Any] | None = None,
    ) -> None:
        if skill not in host:
            known = ", ".join(sorted(host.skills)) or "none"
            raise KeyError(f"No skill named {skill!r} is hosted here. Hosted: {known}.")
        self.host = host
        self.skill: Skill = host.skills[skill]
        self.user_id = user_id
        #: The request locale (the skill's own when None); the model and the replies follow it.
        self.locale = locale or getattr(self.skill, "locale", "en-US")
        self.device_id = device_id
        #: What the device supports (``supportedInterfaces``); None: an Echo's, which plays audio.
        self.interfaces = interfaces
        self.session_id = session_id or b.new_session_id()
        self.attributes: dict[str, Any] = dict(attributes or {})
        #: True until the current session's first request has been answered.
        self.fresh = True
        self._pending: _Elicit | None = None
        self._dialog: _Dialog | None = None
        #: (intent, directive) when the last answer sent a Dialog directive for an intent with no dialog model
        self._unmodelled: tuple[str, str] | None = None
        self._spoken: dict[str, int] = {}
        #: The device's audio player: every request carries its state as ``context.AudioPlayer`` (when the
        #: device plays audio), and each answer's AudioPlayer directives change it. Sessions do not reset it.
        self.player = DevicePlayer()
        self._lock = threading.RLock()

    # -- session --------------------------------------------------------------------
    def new_session(self) -> None:
        """Make the next request start a new session (same user), as when the user says "Alexa, open ..." again."""
        with self._lock:
            self.session_id = b.new_session_id()
            self.attributes = {}
            self.fresh = True
            self._pending = None
            self._dialog = None

    @property
    def elicited_slot(self) -> str | None:
        """The slot a pending ``Dialog.ElicitSlot`` (or the dialog model) asks for, else None."""
        if self._dialog is not None and self._dialog.asking is not None and self._dialog.asking.kind == "elicit":
            return self._dialog.asking.slot
        return self._pending.slot if self._pending else None

    @property
    def model(self) -> InteractionModel:
        """The interaction model of the skill in this conversation's locale."""
        return model_for(self.skill, self.locale)

    @property
    def plays_audio(self) -> bool:
        """True when the device supports the AudioPlayer interface (an Echo does: ``interfaces`` None)."""
        return self.interfaces is None or "AudioPlayer" in self.interfaces

    def _player(self) -> dict[str, Any] | None:
        return self.player.context() if self.plays_audio else None

    def _common(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "session_id": self.session_id, "new": self.fresh,
                "attributes": self.attributes, "locale": self.locale,
                "application_id": self.skill.application_id, "device_id": self.device_id,
                "interfaces": self.interfaces, "audio_player": self._player()}

    def _events(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "locale": self.locale, "application_id": self.skill.application_id,
                "device_id": self.device_id, "interfaces": self.interfaces, "audio_player": self._player()}

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
            nlu = matcher_for(self.skill, self.locale).match(text)
            if nlu.kind == "launch":
                return self._launch(text, nlu)
            if self._dialog is not None and self._dialog.asking is not None:
                answered = self._answer(self._dialog, text, nlu)
                if answered is not None:
                    return answered
            self._dialog = None
            pending = self._pending
            model = self.model
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
            im = model.intent(name)
            if im is not None and im.has_dialog and elicited is None:
                return self._start(im, slots, text, nlu)
            body = b.intent_request(name, slots, model=model, dialog_state=dialog_state, **self._common())
            unmodelled = self._unmodelled  # the answer this text may be a reply to (send() forgets it)
            turn = self.send(body, utterance=text, nlu=nlu)
            turn.elicited = elicited
            if name == FALLBACK_INTENT:
                turn.hint = _not_a_reply(*unmodelled) if unmodelled else _unheard_intents(model)
            return turn

    # -- the dialog model, played as Alexa plays it ------------------------------------
    def _delegation(self, im: IntentModel) -> str:
        return im.delegation or self.model.delegation

    def _state(self, im: IntentModel, slot: str, value: Any) -> SlotState:
        if value is None:
            return SlotState()
        said = value.value if hasattr(value, "value") else str(value)
        st = self.model.slot_type(im.slots.get(slot, ""))
        if st is None:
            return SlotState(said)
        hit = b._resolve(said, st)  # the first value it names, as the handler's slot is
        return SlotState(said, hit[0][0] if hit else None, MATCH if hit else "ER_SUCCESS_NO_MATCH")

    def _start(self, im: IntentModel, slots: Mapping[str, Any], text: str, nlu: NluResult) -> SimulatedTurn:
        """A user's utterance opened intent ``im``, which has dialog rules."""
        dialog = _Dialog(im, {k: self._state(im, k, v) for k, v in slots.items()},
                         manual=self._delegation(im) == "SKILL_RESPONSE")
        if dialog.manual:
            return self._to_skill(dialog, "STARTED", text, nlu)
        return self._advance(dialog, text, nlu)

    def _answer(self, dialog: _Dialog, text: str, nlu: NluResult) -> SimulatedTurn | None:
        """The user's answer to the dialog's question; None when they said something else entirely."""
        im, step = dialog.intent, dialog.asking
        assert step is not None
        if step.kind == "elicit":
            if nlu.intent == im.name:
                dialog.slots.update({k: self._state(im, k, v) for k, v in nlu.slots.items()})
            elif (answer := self._slot_answer(im, step.slot or "", text)) is not None:
                dialog.slots.update({k: self._state(im, k, v) for k, v in answer.items()})
            elif nlu.intent == FALLBACK_INTENT:
                dialog.slots[step.slot or ""] = self._state(im, step.slot or "",
                                                           self._spoken_value(im.name, step.slot or "", text))
            else:
                return None  # "stop", "help", another intent: Alexa leaves the dialog
        else:
            said = _words(text)
            lang = (self.locale or "en").split("-")[0]
            yes = said in _YES.get(lang, _YES["en"]) or nlu.intent == "AMAZON.YesIntent"
            no = said in _NO.get(lang, _NO["en"]) or nlu.intent == "AMAZON.NoIntent"
            if not (yes or no):
                if nlu.intent != FALLBACK_INTENT:
                    return None
                return self._ask(dialog, step, text, nlu)  # Alexa asks the same question again
            status = "CONFIRMED" if yes else "DENIED"
            if step.kind == "confirm_intent":
                dialog.confirmation = status
            elif no and not dialog.manual:
                dialog.slots[step.slot or ""] = SlotState()  # denied: the dialog model asks for it again
            else:
                dialog.slots.setdefault(step.slot or "", SlotState()).confirmation = status
        dialog.asking = None
        if dialog.manual:
            return self._to_skill(dialog, "IN_PROGRESS", text, nlu)
        return self._advance(dialog, text, nlu)

    def _slot_answer(self, im: IntentModel, slot: str, text: str) -> dict[str, Any] | None:
        """The slots an answer fills when it matches one of ``slot``'s samples ("a {size} one"), else None."""
        result = slot_matcher_for(self.skill, self.locale, im.name, slot).match(text)
        if result.intent != _ANSWER or slot not in result.slots:
            return None
        return {k: v.value for k, v in result.slots.items()}

    def _advance(self, dialog: _Dialog, text: str | None, nlu: NluResult | None,
                 after: SimulatedTurn | None = None) -> SimulatedTurn:
        """What the dialog model does next: ask a question itself, or send the skill the completed intent."""
        step = next_step(dialog.intent, dialog.slots, dialog.confirmation)
        if step.kind == "done":
            self._dialog = None
            body = self._dialog_body(dialog, "COMPLETED")
            turn = self.send(body, utterance=text if after is None else None, nlu=nlu)
            turn.delegated = after
            if after is not None:  # the words are recorded once, with the delegated request, but were said this turn
                turn.text = text
            return turn
        return self._ask(dialog, step, text, nlu, after)

    def _ask(self, dialog: _Dialog, step: Step, text: str | None, nlu: NluResult | None,
             after: SimulatedTurn | None = None) -> SimulatedTurn:
        """Alexa says the step's prompt itself; nothing reaches the skill."""
        count = self._spoken.get(step.prompt_id or "", 0)
        self._spoken[step.prompt_id or ""] = count + 1
        speech = fill(step.prompts[count % len(step.prompts)], dialog.slots) if step.prompts else ""
        if step.kind == "invalid":  # said why; the value is dropped and the slot asked for again
            dialog.slots[step.slot or ""] = SlotState()
            ds = dialog.intent.dialog_slots[step.slot or ""]
            step = Step("elicit", step.slot, ds.prompts, f"Elicit.Slot.{dialog.intent.name}.{step.slot}")
        dialog.asking = step
        dialog.delegated = False
        dialog.turns += 1
        self._dialog = dialog
        body = self._dialog_body(dialog, "STARTED" if dialog.turns == 1 and not dialog.manual else "IN_PROGRESS")
        kind = "SSML" if speech.lstrip().startswith("<speak>") else "PlainText"
        said = {"type": kind, ("ssml" if kind == "SSML" else "text"): speech}
        platform = {"version": "1.0", "sessionAttributes": dict(self.attributes),
                    "response": {"outputSpeech": said, "reprompt": {"outputSpeech": said}, "shouldEndSession": False}}
        return SimulatedTurn(text, nlu, body, None, False, platform=platform, delegated=after)

    def _to_skill(self, dialog: _Dialog, state: str, text: str | None, nlu: NluResult | None) -> SimulatedTurn:
        """Send the dialog's intent to the skill; if it delegates, let the dialog model go on."""
        turn = self.send(self._dialog_body(dialog, state), utterance=text, nlu=nlu)
        follow = self._dialog
        if follow is not None and follow.delegated:
            return self._advance(follow, text, nlu, after=turn)
        return turn

    def _dialog_body(self, dialog: _Dialog, state: str) -> dict[str, Any]:
        values = {k: s.value for k, s in dialog.slots.items() if s.value is not None}
        body = b.intent_request(dialog.intent.name, values, model=self.model, dialog_state=state,
                                confirmation=dialog.confirmation, **self._common())
        sent = body["request"]["intent"]["slots"]
        for name, slot_state in dialog.slots.items():
            if name in sent:
                sent[name]["confirmationStatus"] = slot_state.confirmation
        return body

    def _dialog_after(self, body: Mapping[str, Any], response: Mapping[str, Any]) -> _Dialog | None:
        """The dialog the skill's answer leaves open: it delegated, or asked a dialog question itself."""
        request = body["request"]
        directive = next((d for d in response.get("directives") or () if str(d.get("type", "")).startswith("Dialog.")),
                         None)
        if request.get("type") != "IntentRequest" or directive is None:
            return None
        intent = directive.get("updatedIntent") or request.get("intent") or {}
        im = self.model.intent(intent.get("name", ""))
        if im is None or not im.has_dialog:
            self._unmodelled = (intent.get("name", "?"), str(directive.get("type")))
            return None
        slots = {}
        for name, slot in (intent.get("slots") or {}).items():
            auth = ((slot.get("resolutions") or {}).get("resolutionsPerAuthority") or [{}])[0]
            value = ((auth.get("values") or [{}])[0]).get("value") or {}
            state = self._state(im, name, slot.get("value")) if slot.get("value") is not None and not auth else \
                SlotState(slot.get("value"), value.get("name"), (auth.get("status") or {}).get("code"))
            state.confirmation = slot.get("confirmationStatus") or "NONE"
            slots[name] = state
        dialog = _Dialog(im, slots, intent.get("confirmationStatus") or "NONE",
                         manual=self._delegation(im) == "SKILL_RESPONSE", turns=1)
        kind = directive["type"]
        if kind == "Dialog.Delegate":
            dialog.delegated = True
        else:
            dialog.manual = True  # the skill asked: the answer goes back to it
            dialog.asking = {"Dialog.ElicitSlot": Step("elicit", directive.get("slotToElicit")),
                             "Dialog.ConfirmSlot": Step("confirm_slot", directive.get("slotToConfirm")),
                             "Dialog.ConfirmIntent": Step("confirm_intent")}.get(kind)
            if dialog.asking is None:
                return None
        return dialog

    def _declares(self, intent: str, slot: str) -> bool:
        im = self.model.intent(intent)
        return im is not None and slot in im.slots

    def _spoken_value(self, intent: str, slot: str, text: str) -> str:
        im = self.model.intent(intent)
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
            body = b.intent_request(name, slots, model=self.model, dialog_state=dialog_state,
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
                token, offset_ms, _ = self._position(fields)
                events = self._events()
                events.pop("audio_player")  # the builder reports the player as the event leaves it
                body = b.audio_player_request(request_type, token=token, offset_ms=offset_ms,
                                              error=fields.pop("error", None), **events)
                if self.plays_audio:
                    self.player.reported(body["request"]["type"].split(".", 1)[1], token, offset_ms)
            elif request_type.startswith("PlaybackController."):
                token, offset_ms, here = self._position(fields)
                events = self._events()
                if not here or not self.plays_audio:
                    events.pop("audio_player")  # a token given: the builder reports it as playing
                body = b.playback_controller_request(request_type, token=token, offset_ms=offset_ms, **events)
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

    def _position(self, fields: dict[str, Any]) -> tuple[str | None, int, bool]:
        """The token and offset an AudioPlayer or PlaybackController event names, and whether they are the
        device player's own (the event names no token: it is about what the player holds, where it is now)."""
        here = "token" not in fields
        token = self.player.token if here else fields.pop("token")
        return token, fields.pop("offset_ms", self.player.offset_ms if here else 0), here

    def send(self, body: dict[str, Any], *, utterance: str | None = None, nlu: NluResult | None = None) -> SimulatedTurn:
        """Send a whole request envelope through the host and carry the session from its answer."""
        with self._lock:
            result = self.host.handle(self.skill.name, body, utterance=utterance)
            events = []
            if self.plays_audio:
                events = self.player.apply((result.envelope.get("response") or {}).get("directives") or (),
                                           answering=body["request"]["type"])
            ended = self._carry(body, result)
            return SimulatedTurn(utterance, nlu, body, result, ended, audio_events=events)

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
        self._unmodelled = None
        self._dialog = self._dialog_after(body, response)
        self._pending = None if self._dialog is not None else _pending_elicit(body, response)
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
