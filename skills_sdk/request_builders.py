"""Request builders: realistic Alexa request envelopes (as dicts) for every request type a skill can get.

Each builder returns the JSON object the platform would POST, ready for ``SkillHost.handle``,
``POST /alexa/<skill>`` or :func:`skills_sdk.envelope.load_request`::

    body = intent_request("OrderPizzaIntent", {"size": "large"}, model=pizza.model)
    body["request"]["intent"]["slots"]["size"]["resolutions"]   # ER_SUCCESS_MATCH, id "LARGE"

Events that arrive outside a session on a real device (AudioPlayer.*, PlaybackController.*,
AlexaSkillEvent.*, System.ExceptionEncountered) have no ``session`` block here either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from .model import InteractionModel, SlotType
from .nlu import SlotMatch

__all__ = [
    "DEFAULT_USER",
    "DEFAULT_DEVICE",
    "ECHO_INTERFACES",
    "envelope",
    "launch_request",
    "intent_request",
    "session_ended_request",
    "audio_player_request",
    "playback_controller_request",
    "skill_event_request",
    "exception_encountered_request",
    "slot_object",
    "new_session_id",
    "new_request_id",
]

#: The user every builder and the test client use unless told otherwise.
DEFAULT_USER = "amzn1.ask.account.test-user"
#: The device id requests come from.
DEFAULT_DEVICE = "amzn1.ask.device.simulator"
#: What the simulated device supports unless told otherwise: an Echo, which plays audio.
ECHO_INTERFACES: Mapping[str, Any] = {"AudioPlayer": {}}
DEFAULT_APPLICATION = "amzn1.ask.skill.00000000-0000-4000-8000-000000000000"
API_ENDPOINT = "https://api.amazonalexa.com"

MATCH = "ER_SUCCESS_MATCH"
NO_MATCH = "ER_SUCCESS_NO_MATCH"
DIALOG_STATES = ("STARTED", "IN_PROGRESS", "COMPLETED")
CONFIRMATIONS = ("NONE", "CONFIRMED", "DENIED")
END_REASONS = ("USER_INITIATED", "ERROR", "EXCEEDED_MAX_REPROMPTS")
AUDIO_EVENTS = ("PlaybackStarted", "PlaybackFinished", "PlaybackStopped", "PlaybackNearlyFinished",
                "PlaybackFailed")
CONTROLLER_COMMANDS = ("PlayCommandIssued", "PauseCommandIssued", "NextCommandIssued", "PreviousCommandIssued")
SKILL_EVENTS = ("SkillEnabled", "SkillDisabled", "SkillPermissionAccepted", "SkillPermissionChanged",
                "SkillAccountLinked")


def new_session_id() -> str:
    """A fresh session id shaped like the platform's: ``amzn1.echo-api.session.<uuid>``."""
    return f"amzn1.echo-api.session.{uuid.uuid4()}"


def new_request_id() -> str:
    """A fresh request id shaped like the platform's: ``amzn1.echo-api.request.<uuid>``."""
    return f"amzn1.echo-api.request.{uuid.uuid4()}"


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def envelope(
    request: Mapping[str, Any],
    *,
    user_id: str = DEFAULT_USER,
    session_id: str | None = None,
    new: bool = True,
    attributes: Mapping[str, Any] | None = None,
    in_session: bool = True,
    locale: str = "en-US",
    application_id: str | None = None,
    device_id: str = DEFAULT_DEVICE,
    audio_player: Mapping[str, Any] | None = None,
    interfaces: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap a ``request`` block (``{"type": ..., ...}``) in a whole envelope.

    >>> envelope({"type": "LaunchRequest"})["request"]["requestId"].startswith("amzn1.echo-api.request.")
    True

    ``requestId``, ``timestamp`` (ISO-8601, ``Z``) and ``locale`` are filled in when the request
    lacks them. ``in_session=False`` leaves the ``session`` block out, as the platform does for
    events. ``audio_player`` becomes ``context.AudioPlayer`` (token, offsetInMilliseconds,
    playerActivity). ``interfaces`` is what the device supports
    (``context.System.device.supportedInterfaces``): an Echo's ``{"AudioPlayer": {}}`` by default,
    ``{}`` for a device that plays no audio, or add ``"Alexa.Presentation.APL": {...}`` for a screen.
    """
    app_id = application_id or DEFAULT_APPLICATION
    req = {"requestId": new_request_id(), "timestamp": _now(), "locale": locale, **request}
    out: dict[str, Any] = {"version": "1.0"}
    if in_session:
        out["session"] = {
            "new": bool(new),
            "sessionId": session_id or new_session_id(),
            "application": {"applicationId": app_id},
            "attributes": dict(attributes or {}),
            "user": {"userId": user_id},
        }
    context: dict[str, Any] = {
        "System": {
            "application": {"applicationId": app_id},
            "user": {"userId": user_id},
            "device": {"deviceId": device_id, "supportedInterfaces": dict(ECHO_INTERFACES if interfaces is None else interfaces)},
            "apiEndpoint": API_ENDPOINT,
            "apiAccessToken": "simulated-api-access-token",
        }
    }
    if audio_player is not None:
        context["AudioPlayer"] = dict(audio_player)
    out["context"] = context
    out["request"] = req
    return out


def launch_request(**common: Any) -> dict[str, Any]:
    """A LaunchRequest ("Alexa, open pizza shop"); ``common`` as for :func:`envelope`.

    >>> launch_request(user_id="amzn1.ask.account.A")["session"]["new"]
    True
    """
    return envelope({"type": "LaunchRequest"}, **common)


def _resolve(value: str, slot_type: SlotType) -> list[tuple[str, str | None]]:
    """Every value ``value`` names: the one it is the name of first, then those it is a synonym of (as Alexa lists them)."""
    said = value.strip().lower()
    named = [(v.name, v.id) for v in slot_type.values if v.name.lower() == said]
    return named + [(v.name, v.id) for v in slot_type.values
                    if (v.name, v.id) not in named and any(s.lower() == said for s in v.synonyms)]


def slot_object(
    name: str,
    value: Any = None,
    *,
    match: SlotMatch | None = None,
    slot_type: SlotType | str | None = None,
    application_id: str | None = None,
    confirmation: str = "NONE",
) -> dict[str, Any]:
    """One slot as the platform sends it, with entity resolutions for custom slot types.

    >>> sizes = SlotType.of("PizzaSize", {"large": ["big"]})
    >>> slot_object("size", "big", slot_type=sizes)["resolutions"]["resolutionsPerAuthority"][0]["values"]
    [{'value': {'name': 'large', 'id': 'LARGE'}}]

    From an NLU ``match`` the value, status and canonical value come from the match. From a plain
    ``value`` and a custom ``slot_type``, a known value or synonym resolves with ER_SUCCESS_MATCH
    and its id (a synonym several values share, to each of them), anything else gets ER_SUCCESS_NO_MATCH. Built-in types (``AMAZON.NUMBER``, or a
    type given by name) carry no resolutions. ``value=None`` is a slot the user did not fill.
    """
    _choice(confirmation, CONFIRMATIONS, f"confirmation of slot {name!r}")
    slot: dict[str, Any] = {"name": name, "confirmationStatus": confirmation}
    app_id = application_id or DEFAULT_APPLICATION
    status: str | None = None
    resolved: list[tuple[str, str | None]] = []
    type_name = slot_type.name if isinstance(slot_type, SlotType) else slot_type
    if match is not None:
        value, status, type_name = match.value, match.status, match.type
        if status == MATCH and match.resolved is not None:
            resolved = [(match.resolved, match.id), *match.others]
    elif value is not None and isinstance(slot_type, SlotType):
        resolved = _resolve(str(value), slot_type)
        status = MATCH if resolved else NO_MATCH
    if value is None:
        return slot
    slot["value"] = str(value)
    slot["source"] = "USER"
    if status is not None:
        authority: dict[str, Any] = {
            "authority": f"amzn1.er-authority.echo-sdk.{app_id}.{type_name}",
            "status": {"code": status},
        }
        if resolved:
            authority["values"] = [{"value": {"name": name, "id": id_}} for name, id_ in resolved]
        slot["resolutions"] = {"resolutionsPerAuthority": [authority]}
    return slot


def _refuse_misspelled(intent: str, model: InteractionModel) -> None:
    """Raise when ``intent`` is not in ``model`` but nearly spells one that is: a typo, not a test of the fallback."""
    import difflib

    names = [i.name for i in model.intents]
    close = difflib.get_close_matches(intent, names, n=1, cutoff=0.9)  # "OderIntent", not "OrderTaxiIntent" for "OrderIntent"
    if close:
        raise ValueError(
            f"The model has no intent {intent!r}. Did you mean {close[0]!r}? Its intents: "
            f"{', '.join(map(repr, names))}. (An intent the model lacks goes to the fallback; to test that, "
            "send a name unlike any of them, or AMAZON.FallbackIntent.)"
        )


def intent_request(
    intent: str,
    slots: Mapping[str, Any] | None = None,
    *,
    model: InteractionModel | None = None,
    dialog_state: str | None = None,
    confirmation: str = "NONE",
    **common: Any,
) -> dict[str, Any]:
    """An IntentRequest for ``intent`` with ``slots`` (slot name -> said value, or an NLU ``SlotMatch``).

    >>> body = intent_request("OrderPizzaIntent", {"size": "large"}, model=skill.model)  # doctest: +SKIP

    With the skill's ``model``, values of custom slot types get entity resolutions, the intent's
    unfilled slots are sent empty (as the platform does), and a slot name the intent does not
    declare raises ``ValueError``. ``dialog_state`` is STARTED, IN_PROGRESS or COMPLETED;
    ``confirmation`` is the intent's confirmationStatus (NONE, CONFIRMED, DENIED).
    """
    _choice(confirmation, CONFIRMATIONS, "confirmation")
    if dialog_state is not None:
        _choice(dialog_state, DIALOG_STATES, "dialog_state")
    slots = dict(slots or {})
    declared: Mapping[str, str] = {}
    im = model.intent(intent) if model is not None else None
    if model is not None and im is None:
        _refuse_misspelled(intent, model)
    if im is not None:
        declared = im.slots
        unknown = sorted(set(slots) - set(declared))
        if unknown:
            raise ValueError(
                f"Intent {intent!r} has no slot {', '.join(map(repr, unknown))}. "
                f"Its slots: {', '.join(map(repr, declared)) or 'none'}. Check the name against @skill.intent(slots=...)."
            )
    app_id = common.get("application_id")
    objects: dict[str, Any] = {}
    for name in [*declared, *(s for s in slots if s not in declared)]:
        value = slots.get(name)
        type_name = declared.get(name)
        slot_type: SlotType | str | None = type_name
        if model is not None and type_name is not None:
            slot_type = model.slot_type(type_name) or type_name
        if isinstance(value, SlotMatch):
            objects[name] = slot_object(name, match=value, application_id=app_id)
        else:
            objects[name] = slot_object(name, value, slot_type=slot_type, application_id=app_id)
    request: dict[str, Any] = {
        "type": "IntentRequest",
        "intent": {"name": intent, "confirmationStatus": confirmation, "slots": objects},
    }
    if dialog_state is not None:
        request["dialogState"] = dialog_state
    return envelope(request, **common)


def session_ended_request(
    reason: str = "USER_INITIATED", *, error: Mapping[str, str] | None = None, **common: Any
) -> dict[str, Any]:
    """A SessionEndedRequest: ``reason`` USER_INITIATED, ERROR or EXCEEDED_MAX_REPROMPTS.

    >>> session_ended_request("ERROR", error={"type": "INVALID_RESPONSE", "message": "bad"})["request"]["error"]
    {'type': 'INVALID_RESPONSE', 'message': 'bad'}
    """
    request: dict[str, Any] = {"type": "SessionEndedRequest", "reason": _choice(reason, END_REASONS, "reason")}
    if error is not None:
        request["error"] = {"type": error.get("type", "INTERNAL_SERVICE_ERROR"), "message": error.get("message", "")}
    common.setdefault("new", False)
    return envelope(request, **common)


def _event_name(value: str, prefix: str, known: tuple[str, ...]) -> str:
    name = value[len(prefix):] if value.startswith(prefix) else value
    if name not in known:
        raise ValueError(f"Unknown {prefix}* request {value!r}; known: {', '.join(prefix + k for k in known)}.")
    return prefix + name


def audio_player_request(
    event: str, *, token: str | None = None, offset_ms: int = 0, **common: Any
) -> dict[str, Any]:
    """An ``AudioPlayer.*`` event (``PlaybackNearlyFinished`` or the full type), outside any session.

    >>> audio_player_request("PlaybackStarted", token="t1", offset_ms=0)["request"]["type"]
    'AudioPlayer.PlaybackStarted'

    ``PlaybackFailed`` gets an ``error`` block; pass ``error={"type": ..., "message": ...}`` to set it.
    """
    rtype = _event_name(event, "AudioPlayer.", AUDIO_EVENTS)
    request: dict[str, Any] = {"type": rtype, "token": token, "offsetInMilliseconds": int(offset_ms)}
    error = common.pop("error", None)
    if rtype == "AudioPlayer.PlaybackFailed":
        request["error"] = dict(error or {"type": "MEDIA_ERROR_UNKNOWN", "message": "Playback failed."})
        request["currentPlaybackState"] = {"token": token, "offsetInMilliseconds": int(offset_ms),
                                           "playerActivity": "STOPPED"}
    activity = {"PlaybackStarted": "PLAYING", "PlaybackNearlyFinished": "PLAYING", "PlaybackFinished": "FINISHED",
                "PlaybackStopped": "STOPPED", "PlaybackFailed": "STOPPED"}[rtype.split(".", 1)[1]]
    common.setdefault("in_session", False)
    common.setdefault("audio_player", {"token": token, "offsetInMilliseconds": int(offset_ms),
                                       "playerActivity": activity})
    return envelope(request, **common)


def playback_controller_request(command: str, *, token: str | None = None, offset_ms: int = 0,
                                **common: Any) -> dict[str, Any]:
    """A ``PlaybackController.*`` command from a device button (``PauseCommandIssued`` or the full type).

    >>> playback_controller_request("NextCommandIssued")["request"]["type"]
    'PlaybackController.NextCommandIssued'
    """
    rtype = _event_name(command, "PlaybackController.", CONTROLLER_COMMANDS)
    common.setdefault("in_session", False)
    common.setdefault("audio_player", {"token": token, "offsetInMilliseconds": int(offset_ms),
                                       "playerActivity": "PLAYING"})
    return envelope({"type": rtype}, **common)


def skill_event_request(event: str, *, persistence: str = "NOT_PERSISTED", **common: Any) -> dict[str, Any]:
    """An ``AlexaSkillEvent.*`` (``SkillDisabled``, ``SkillEnabled``, ...), outside any session.

    >>> skill_event_request("SkillDisabled", persistence="PERSISTED")["request"]["body"]
    {'userInformationPersistenceStatus': 'PERSISTED'}

    ``persistence`` is ``body.userInformationPersistenceStatus``: PERSISTED when the user's data
    is kept across re-enablement, NOT_PERSISTED otherwise.
    """
    rtype = _event_name(event, "AlexaSkillEvent.", SKILL_EVENTS)
    now = _now()
    request = {"type": rtype, "eventCreationTime": now, "eventPublishingTime": now,
               "body": {"userInformationPersistenceStatus": _choice(persistence, ("PERSISTED", "NOT_PERSISTED"),
                                                                    "persistence")}}
    common.setdefault("in_session", False)
    return envelope(request, **common)


def exception_encountered_request(
    error_type: str = "INVALID_RESPONSE",
    message: str = "The skill's response could not be processed.",
    *,
    cause_request_id: str | None = None,
    **common: Any,
) -> dict[str, Any]:
    """A ``System.ExceptionEncountered``: the platform reporting that the skill's last response failed.

    >>> exception_encountered_request("INVALID_RESPONSE", "bad directive")["request"]["error"]["type"]
    'INVALID_RESPONSE'
    """
    request = {"type": "System.ExceptionEncountered", "error": {"type": error_type, "message": message},
               "cause": {"requestId": cause_request_id or new_request_id()}}
    common.setdefault("in_session", False)
    return envelope(request, **common)
