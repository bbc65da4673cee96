"""What a right answer to a real Alexa request is: Amazon's own model classes as the oracle, plus Alexa's per-type rules."""

from __future__ import annotations

import importlib
import json
import pathlib
import xml.etree.ElementTree as ET
from typing import Any

CORPUS = pathlib.Path(__file__).parent / "fixtures" / "alexa"

#: Corpus files Alexa would never send as they are (a documentation template with placeholders, or a
#: fixture trimmed down by its project), with the field our contract refuses them for (400, no row).
REFUSED = {
    # Documentation templates: a timestamp that is the word "string"; no requestId.
    "PlaybackController.PlayCommandIssued-1.json": "request.timestamp",
    "AlexaHouseholdListEvent.ItemsDeleted-2.json": "request.requestId",
    # Trimmed fixtures without any user id: Alexa always sends context.System.user.userId.
    "CustomInterfaceController.EventsReceived-1.json": "context",
    "CustomInterfaceController.Expired-1.json": "context",
    "GameEngine.InputHandlerEvent-4.json": "context",
    "IntentRequest-33.json": "context",
}

_AUDIO_ONLY = ("AudioPlayer.", "PlaybackController.")
_NO_CONTENT = ("SessionEndedRequest", "System.ExceptionEncountered")
_OUT_OF_SESSION = ("AlexaSkillEvent.", "AlexaHouseholdListEvent.", "Reminders.", "Messaging.", "Alexa.DataStore.",
                   "Alexa.Authorization.")


def corpus() -> list[pathlib.Path]:
    """Every envelope of the corpus, sorted by file name."""
    return sorted(CORPUS.glob("*.json"))


def _class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def deserialize(data: Any, type_name: str, path: str, problems: list[str]) -> Any:
    """``data`` as ask-sdk-model's ``type_name``, noting every field the class does not declare."""
    if data is None:
        return None
    if type_name.startswith("list["):
        if not isinstance(data, list):
            problems.append(f"{path}: expected a list")
            return None
        return [deserialize(d, type_name[5:-1], f"{path}[{i}]", problems) for i, d in enumerate(data)]
    if type_name.startswith("dict("):
        return data
    if type_name in ("str", "int", "bool", "float", "object", "datetime"):
        ok = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object, "datetime": str}[type_name]
        if not isinstance(data, ok) or (type_name == "int" and isinstance(data, bool)):
            problems.append(f"{path}: expected {type_name}, got {type(data).__name__}")
        return data
    cls = _class(type_name)
    if not hasattr(cls, "deserialized_types"):  # an enum
        values = {m.value for m in cls}
        if data not in values:
            problems.append(f"{path}: {data!r} is not one of {sorted(values)}")
        return data
    if not isinstance(data, dict):
        problems.append(f"{path}: expected an object for {cls.__name__}")
        return None
    key = getattr(cls, "json_discriminator_key", None)
    if key and getattr(cls, "discriminator_value_class_map", None):
        sub = cls.discriminator_value_class_map.get(data.get(key))
        if sub is None:
            problems.append(f"{path}.{key}: {data.get(key)!r} is not a {cls.__name__} ask-sdk-model knows")
            return None
        cls = _class(sub)
    by_json = {v: k for k, v in cls.attribute_map.items()}
    kwargs = {}
    for k, v in data.items():
        attr = by_json.get(k)
        if attr is None:
            problems.append(f"{path}.{k}: not a field of ask-sdk-model's {cls.__name__}")
            continue
        kwargs[attr] = deserialize(v, cls.deserialized_types[attr], f"{path}.{k}", problems)
    kwargs.pop("object_type", None)
    return cls(**kwargs)


def _speech_text(speech: dict[str, Any] | None, where: str, problems: list[str]) -> str | None:
    if speech is None:
        return None
    if speech.get("type") == "SSML":
        try:
            root = ET.fromstring(speech["ssml"])
        except (ET.ParseError, KeyError) as exc:
            problems.append(f"{where}: the SSML does not parse: {exc}")
            return None
        if root.tag != "speak":
            problems.append(f"{where}: the SSML root is <{root.tag}>, expected <speak>")
        return " ".join(" ".join(root.itertext()).split())
    return speech.get("text")


def check_answer(request: dict[str, Any], status: int, body: bytes, row: dict[str, Any] | None) -> list[str]:
    """Everything wrong with one answer to ``request`` (an empty list when it is right)."""
    problems: list[str] = []
    if status != 200:
        return [f"status {status}: {body[:300]!r}"]
    try:
        env = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError as exc:
        return [f"the body is not valid JSON: {exc}"]
    deserialize(env, "ask_sdk_model.response_envelope.ResponseEnvelope", "(body)", problems)
    resp = env.get("response") or {}
    rtype = request["request"]["type"]
    speech = _speech_text(resp.get("outputSpeech"), "response.outputSpeech", problems)
    reprompt = _speech_text((resp.get("reprompt") or {}).get("outputSpeech"), "response.reprompt", problems)
    spoken = {k for k in ("outputSpeech", "reprompt", "card") if k in resp}
    if rtype.startswith(_NO_CONTENT) or rtype.startswith(_OUT_OF_SESSION):
        if resp:
            problems.append(f"{rtype} allows no response content, got {sorted(resp)}")
    if rtype.startswith(_AUDIO_ONLY):
        if spoken or "shouldEndSession" in resp:
            problems.append(f"{rtype} allows AudioPlayer directives only, got {sorted(resp)}")
        for d in resp.get("directives") or ():
            if not d.get("type", "").startswith("AudioPlayer."):
                problems.append(f"{rtype} allows AudioPlayer directives only, got {d.get('type')}")
    if rtype == "CanFulfillIntentRequest":
        cfi = resp.get("canFulfillIntent")
        if not cfi or cfi.get("canFulfill") not in ("YES", "NO", "MAYBE"):
            problems.append(f"CanFulfillIntentRequest needs canFulfillIntent, got {resp}")
        if set(resp) - {"canFulfillIntent"}:
            problems.append(f"CanFulfillIntentRequest allows canFulfillIntent only, got {sorted(resp)}")
    if rtype == "SessionResumedRequest" and resp.get("shouldEndSession") is True and "outputSpeech" not in resp:
        problems.append("SessionResumedRequest: the session was ended without a word")
    for d in resp.get("directives") or ():
        if d.get("type") == "AudioPlayer.Play":
            stream = ((d.get("audioItem") or {}).get("stream")) or {}
            if not stream.get("token"):
                problems.append("AudioPlayer.Play without a stream token")
            if not str(stream.get("url", "")).startswith("https://"):
                problems.append(f"AudioPlayer.Play with a non-https url {stream.get('url')!r}")
    if row is None:
        problems.append("no transcript row")
        return problems
    if row.get("capture_mode") != "metadata" and not row.get("redacted"):  # nothing was replaced: same text
        if row.get("speech") != speech:
            problems.append(f"row speech {row.get('speech')!r} but the body says {speech!r}")
        if row.get("reprompt") != reprompt:
            problems.append(f"row reprompt {row.get('reprompt')!r} but the body's is {reprompt!r}")
    end = resp.get("shouldEndSession")
    if row.get("end_session") != (None if end is None else int(end)):
        problems.append(f"row end_session {row.get('end_session')!r} but the body's shouldEndSession is {end!r}")
    sent = [d.get("type") for d in resp.get("directives") or ()] or None
    got = row.get("directives")
    if isinstance(got, str):
        got = json.loads(got)
    if got != sent:
        problems.append(f"row directives {got!r} but the body sent {sent!r}")
    if row.get("request_type") != rtype:
        problems.append(f"row request_type {row.get('request_type')!r}, expected {rtype!r}")
    return problems
