"""Alexa's request types: the known list, what a response to each may carry, and what Alexa reports in them.

Every request Alexa sends names its ``request.type``. A skill answers each one, with or without a
handler: the rules here decide what may leave the server for that type (``response_body``) and
what the transcript row keeps of what Alexa reported (``reported``). Nothing here does I/O.

>>> rule_for("AudioPlayer.PlaybackStarted").name
'audio'
>>> rule_for("Alexa.Brand.NewThing").name
'unknown'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._frozen import RECORD, Frozen, set_field

__all__ = [
    "Rule",
    "REQUEST_TYPES",
    "rule_for",
    "is_well_formed",
    "response_body",
    "sent_body",
    "reported",
    "known_types_text",
]


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Rule(Frozen):
    """What a response to one kind of request may carry.

    ``speech``: outputSpeech, reprompt and card; ``session``: shouldEndSession; ``directives``:
    the directive type prefixes allowed (``()`` none, ``None`` any); ``can_fulfill``: the
    ``canFulfillIntent`` answer and nothing else.
    """

    name: str
    speech: bool
    session: bool
    directives: tuple[str, ...] | None
    can_fulfill: bool = False

    def __init__(self, name: str, speech: bool, session: bool, directives: tuple[str, ...] | None,
                 can_fulfill: bool = False) -> None:
        set_field(self, "name", name)
        set_field(self, "speech", speech)
        set_field(self, "session", session)
        set_field(self, "directives", directives)
        set_field(self, "can_fulfill", can_fulfill)


#: A conversation turn: anything a response may hold.
TURN = Rule("turn", speech=True, session=True, directives=None)
#: AudioPlayer events and PlaybackController commands: AudioPlayer directives only.
AUDIO = Rule("audio", speech=False, session=False, directives=("AudioPlayer.",))
#: Notifications nobody hears (session ended, errors, skill and list events): an empty response.
SILENT = Rule("silent", speech=False, session=False, directives=())
#: CanFulfillIntentRequest: the ``canFulfillIntent`` answer only.
CAN_FULFILL = Rule("can_fulfill", speech=False, session=False, directives=(), can_fulfill=True)
#: A type this SDK does not know yet: the safe answer is an empty one.
UNKNOWN = Rule("unknown", speech=False, session=False, directives=())

#: Every request type Alexa sends that Amazon's own model library (ask-sdk-model 1.82) knows, with its rule.
REQUEST_TYPES: dict[str, Rule] = {
    "LaunchRequest": TURN,
    "IntentRequest": TURN,
    "SessionResumedRequest": TURN,
    "SessionEndedRequest": SILENT,
    "CanFulfillIntentRequest": CAN_FULFILL,
    "System.ExceptionEncountered": SILENT,
    **{f"AudioPlayer.{e}": AUDIO for e in (
        "PlaybackStarted", "PlaybackFinished", "PlaybackStopped", "PlaybackNearlyFinished", "PlaybackFailed")},
    **{f"PlaybackController.{e}CommandIssued": AUDIO for e in ("Play", "Pause", "Next", "Previous")},
    "Display.ElementSelected": TURN,
    "Alexa.Presentation.APL.UserEvent": TURN,
    "Alexa.Presentation.APL.LoadIndexListData": TURN,
    "Alexa.Presentation.APL.LoadTokenListData": TURN,
    "Alexa.Presentation.APL.RuntimeError": SILENT,
    "Alexa.Presentation.APLA.RuntimeError": SILENT,
    "Alexa.Presentation.APLT.UserEvent": TURN,
    "Alexa.Presentation.HTML.Message": TURN,
    "Alexa.Presentation.HTML.RuntimeError": SILENT,
    "Connections.Response": TURN,
    "Connections.Request": TURN,
    "Dialog.API.Invoked": TURN,
    "Dialog.InputRequest": TURN,
    "GameEngine.InputHandlerEvent": TURN,
    "CustomInterfaceController.EventsReceived": TURN,
    "CustomInterfaceController.Expired": TURN,
    "Messaging.MessageReceived": SILENT,
    **{f"AlexaSkillEvent.{e}": SILENT for e in (
        "SkillEnabled", "SkillDisabled", "SkillAccountLinked", "SkillPermissionAccepted", "SkillPermissionChanged",
        "ProactiveSubscriptionChanged", "NotificationSubscriptionChanged")},
    **{f"AlexaHouseholdListEvent.{e}": SILENT for e in (
        "ListCreated", "ListUpdated", "ListDeleted", "ItemsCreated", "ItemsUpdated", "ItemsDeleted")},
    **{f"Reminders.Reminder{e}": SILENT for e in ("Created", "Updated", "Deleted", "Started", "StatusChanged")},
    "Alexa.DataStore.Error": SILENT,
    **{f"Alexa.DataStore.PackageManager.{e}": SILENT for e in (
        "UsagesInstalled", "UsagesRemoved", "UpdateRequest", "InstallationError")},
    "Alexa.Authorization.Grant": SILENT,
    "Alexa.Advertisement.AdCompleted": TURN,
    "Alexa.Advertisement.AdNotRendered": TURN,
    "Alexa.Advertisement.ReadyToEnqueueAudio": AUDIO,
}

# Interface prefixes whose future members follow the same rule as the known ones.
_PREFIX_RULES = (("AudioPlayer.", AUDIO), ("PlaybackController.", AUDIO), ("AlexaSkillEvent.", SILENT),
                 ("AlexaHouseholdListEvent.", SILENT), ("Reminders.", SILENT))

# What Alexa puts in request.type: dotted names of letters and digits. Anything else is malformed.
_WELL_FORMED = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*\Z")


def rule_for(request_type: str) -> Rule:
    """The rule for ``request_type``: its own, its interface's, or :data:`UNKNOWN`."""
    rule = REQUEST_TYPES.get(request_type)
    if rule is not None:
        return rule
    for prefix, rule in _PREFIX_RULES:
        if request_type.startswith(prefix):
            return rule
    return UNKNOWN


def is_well_formed(request_type: str) -> bool:
    """True when ``request_type`` has the shape of a type Alexa sends (``Interface.Name``), at most 200 characters."""
    return len(request_type) <= 200 and _WELL_FORMED.match(request_type) is not None


def known_types_text() -> str:
    """The known request types as one line, for error messages."""
    return ", ".join(sorted(REQUEST_TYPES))


def response_body(request_type: str, resp: Any, *, in_session: bool = True) -> dict[str, Any]:
    """The ``response`` object Alexa receives for ``resp``, with what ``request_type`` forbids taken out.

    A request outside a session (a skill event, a list event) has nobody to speak to, so it gets
    the silent rule whatever its type.
    """
    rule = rule_for(request_type)
    if not in_session and rule is TURN:
        rule = SILENT
    if rule.can_fulfill:
        cfi = getattr(resp, "can_fulfill_intent", None)
        return {"canFulfillIntent": cfi} if cfi is not None else {}
    full = resp.to_dict()
    out: dict[str, Any] = {}
    if rule.speech:
        for key in ("outputSpeech", "reprompt", "card"):
            if key in full:
                out[key] = full[key]
    directives = full.get("directives")
    if directives and rule.directives != ():
        allowed = directives if rule.directives is None else [
            d for d in directives if str(d.get("type", "")).startswith(rule.directives)]
        if allowed:
            out["directives"] = allowed
    if rule.session and "shouldEndSession" in full:
        out["shouldEndSession"] = full["shouldEndSession"]
    return out


def sent_body(turn: Any, resp: Any) -> dict[str, Any]:
    """:func:`response_body` for ``resp`` as the answer to ``turn``, worked out once per turn.

    The server sends it and capture records it: both ask here, so the row holds what was sent.
    """
    sent = turn.meta.get("sent")
    if sent is not None and sent[0] is resp:
        return sent[1]
    body = response_body(turn.request.type, resp, in_session=turn.envelope.session is not None)
    turn.meta["sent"] = (resp, body)
    return body


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


#: The keys of a request object in which Alexa reports something (read by :func:`reported`).
_REPORTED = frozenset({"reason", "error", "errors", "cause", "status"})


def reported(request: Mapping[str, Any]) -> tuple[bool, str | None]:
    """What Alexa reported in ``request`` (the raw request object): (is it a failure, one line of text).

    >>> reported({"type": "SessionEndedRequest", "reason": "ERROR",
    ...           "error": {"type": "INVALID_RESPONSE", "message": "SSML is invalid"}})
    (True, 'reason ERROR; INVALID_RESPONSE: SSML is invalid')
    >>> reported({"type": "SessionEndedRequest", "reason": "USER_INITIATED"})
    (False, 'reason USER_INITIATED')
    """
    if request.keys().isdisjoint(_REPORTED):  # nearly every request: nothing reported (0.1 us, not 0.8)
        return False, None
    parts: list[str] = []
    failed = False
    reason = _text(request.get("reason"))
    if reason:
        parts.append(f"reason {reason}")
        failed = reason == "ERROR"
    errors = request.get("error")
    errors = [errors] if isinstance(errors, Mapping) else request.get("errors")
    for err in errors if isinstance(errors, list) else ():
        if isinstance(err, Mapping):
            kind = _text(err.get("type")) or _text(err.get("reason")) or "ERROR"
            message = _text(err.get("message"))
            parts.append(f"{kind}: {message}" if message else kind)
            failed = True
    for holder, label in ((request.get("cause"), "cause"), (request, "status")):
        if not isinstance(holder, Mapping):
            continue
        status = holder.get("status")
        if isinstance(status, Mapping):
            code = status.get("code")
            code_text = str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None
            line = " ".join(x for x in (label, _text(holder.get("type")) if holder is not request else None,
                                        code_text, _text(status.get("message"))) if x)
            parts.append(line)
            if code_text is not None and not code_text.startswith("2"):
                failed = True
        elif holder is not request and _text(holder.get("type")):
            parts.append(f"cause {holder['type']}")
            if holder["type"] == "ConnectionError":
                failed = True
    return failed, "; ".join(parts)[:1000] if parts else None
