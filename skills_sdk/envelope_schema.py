"""marshmallow schemas of Alexa's request and response envelopes: the contract that decides what is valid.

The hand-written loader in :mod:`skills_sdk.envelope` takes well-formed envelopes without them (a full
marshmallow load costs several hundred microseconds); anything it does not take comes here, so the
result, or the error naming each field, is always the schema's own. Importing this module costs
marshmallow's import (about 50 ms), so nothing on the request path imports it until it is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validates_schema

from .envelope import (
    _TIMESTAMP_MESSAGE,
    Application,
    Device,
    Intent,
    Request,
    RequestEnvelope,
    Resolution,
    Session,
    Slot,
    System,
    User,
    _timestamp,
)
from .errors import EnvelopeError

__all__ = ["RequestEnvelopeSchema", "ResponseEnvelopeSchema", "load_with_schema"]

class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # platforms add fields over time: ignore what we do not know


class _ApplicationSchema(_Base):
    applicationId = fields.Str(allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> Application:
        return Application(d.get("applicationId"))


class _UserSchema(_Base):
    userId = fields.Str(allow_none=True)
    accessToken = fields.Str(allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> User:
        return User(d.get("userId"), d.get("accessToken"))


class _DeviceSchema(_Base):
    deviceId = fields.Str(allow_none=True)
    supportedInterfaces = fields.Dict(allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> Device:
        return Device(d.get("deviceId"), d.get("supportedInterfaces") or {})


class _SystemSchema(_Base):
    application = fields.Nested(_ApplicationSchema, allow_none=True)
    user = fields.Nested(_UserSchema, allow_none=True)
    device = fields.Nested(_DeviceSchema, allow_none=True)
    apiEndpoint = fields.Str(allow_none=True)
    apiAccessToken = fields.Str(allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> System:
        return System(
            d.get("application") or Application(),
            d.get("user") or User(),
            d.get("device") or Device(),
            d.get("apiEndpoint"),
            d.get("apiAccessToken"),
        )


class _AudioPlayerSchema(_Base):
    token = fields.Str(allow_none=True)
    offsetInMilliseconds = fields.Int(strict=True, allow_none=True)  # "8940" or 8940.0: not what Alexa sends
    playerActivity = fields.Str(allow_none=True)


class _ContextSchema(_Base):
    System = fields.Nested(_SystemSchema, allow_none=True)
    AudioPlayer = fields.Nested(_AudioPlayerSchema, allow_none=True)


class _SessionSchema(_Base):
    new = fields.Bool(load_default=False)
    sessionId = fields.Str(allow_none=True)
    application = fields.Nested(_ApplicationSchema, allow_none=True)
    attributes = fields.Dict(keys=fields.Str(), allow_none=True)
    user = fields.Nested(_UserSchema, allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> Session:
        return Session(
            d["new"],
            d.get("sessionId"),
            d.get("application") or Application(),
            d.get("attributes") or {},
            d.get("user") or User(),
        )


class _ValueSchema(_Base):
    name = fields.Str(allow_none=True)
    id = fields.Str(allow_none=True)


class _ValueWrapperSchema(_Base):
    value = fields.Nested(_ValueSchema, required=True)


class _StatusSchema(_Base):
    code = fields.Str(allow_none=True)


class _AuthoritySchema(_Base):
    authority = fields.Str(allow_none=True)
    status = fields.Nested(_StatusSchema, allow_none=True)
    values = fields.List(fields.Nested(_ValueWrapperSchema), allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> Resolution:
        return Resolution(
            d.get("authority"),
            (d.get("status") or {}).get("code"),
            tuple((v["value"].get("name"), v["value"].get("id")) for v in d.get("values") or ()),
        )


class _ResolutionsSchema(_Base):
    resolutionsPerAuthority = fields.List(fields.Nested(_AuthoritySchema), allow_none=True)


class _SlotSchema(_Base):
    name = fields.Str(allow_none=True)
    value = fields.Str(allow_none=True)
    confirmationStatus = fields.Str(load_default="NONE")
    source = fields.Str(allow_none=True)
    resolutions = fields.Nested(_ResolutionsSchema, allow_none=True)


class _SlotsField(fields.Field):
    """A mapping of slot name -> slot whose errors are keyed by slot name (no marshmallow wrapper level)."""

    _schema = _SlotSchema()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Slot]:
        if not isinstance(value, Mapping):
            raise ValidationError("Not a valid mapping type.")
        slots: dict[str, Slot] = {}
        errors: dict[str, Any] = {}
        for key, raw in value.items():
            if not isinstance(raw, Mapping):
                errors[str(key)] = ["Not a valid slot object."]
                continue
            try:
                d = self._schema.load(raw)
            except ValidationError as exc:
                errors[str(key)] = exc.messages
                continue
            slots[str(key)] = Slot(
                d.get("name") or str(key),
                d.get("value"),
                d["confirmationStatus"],
                d.get("source"),
                tuple((d.get("resolutions") or {}).get("resolutionsPerAuthority") or ()),
            )
        if errors:
            raise ValidationError(errors)
        return slots


class _IntentSchema(_Base):
    name = fields.Str(required=True)
    confirmationStatus = fields.Str(load_default="NONE")
    slots = _SlotsField(allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> Intent:
        return Intent(d["name"], d["confirmationStatus"], d.get("slots") or {})


class _TimestampField(fields.Field):
    """``request.timestamp``: ISO-8601 text or epoch milliseconds, loaded as ISO-8601 text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        out = _timestamp(value)
        if out is None:
            raise ValidationError(_TIMESTAMP_MESSAGE)
        return out


class _ErrorSchema(_Base):
    type = fields.Str(allow_none=True)
    message = fields.Str(allow_none=True)


class _RequestSchema(_Base):
    type = fields.Str(required=True)
    requestId = fields.Str(required=True)
    timestamp = _TimestampField(allow_none=True)
    locale = fields.Str(allow_none=True)
    dialogState = fields.Str(allow_none=True)
    intent = fields.Nested(_IntentSchema, allow_none=True)
    reason = fields.Str(allow_none=True)
    error = fields.Nested(_ErrorSchema, allow_none=True)

    @validates_schema
    def _intent_request_has_intent(self, d: dict, **_: Any) -> None:
        if d.get("type") == "IntentRequest" and not d.get("intent"):
            raise ValidationError("An IntentRequest needs an intent.", "intent")


class RequestEnvelopeSchema(_Base):
    """The Alexa request envelope (what the platform POSTs to a skill)."""

    version = fields.Str(load_default="1.0")
    session = fields.Nested(_SessionSchema, allow_none=True)
    context = fields.Nested(_ContextSchema, allow_none=True)
    request = fields.Nested(_RequestSchema, required=True)

    @validates_schema(skip_on_field_errors=True)
    def _has_user(self, d: dict, **_: Any) -> None:
        system = (d.get("context") or {}).get("System")
        session = d.get("session")
        if not ((system and system.user.user_id) or (session and session.user.user_id)):
            raise ValidationError(
                "No user id: expected context.System.user.userId or session.user.userId.", "context"
            )


_ENVELOPE_SCHEMA = RequestEnvelopeSchema()


def _envelope_from_schema(d: dict, raw: Mapping[str, Any]) -> RequestEnvelope:
    r = d["request"]
    request = Request(
        r["type"],
        r["requestId"],
        r.get("timestamp"),
        r.get("locale"),
        r.get("dialogState"),
        r.get("intent"),
        r.get("reason"),
        r.get("error"),
        raw["request"],
    )
    system = (d.get("context") or {}).get("System") or System()
    # As the fast loader keeps it: the object as sent, unknown fields included (the schema checked the types).
    player = raw["context"]["AudioPlayer"] if (d.get("context") or {}).get("AudioPlayer") is not None else None
    return RequestEnvelope(d["version"], request, system, d.get("session"), player)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for k, v in messages.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if k == "_schema":
                path = prefix or "(body)"
            for p, msgs in _flatten(v, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "(body)"] = list(messages)
    elif isinstance(messages, list):
        for m in messages:
            for p, msgs in _flatten(m, prefix).items():
                out.setdefault(p, []).extend(msgs)
    else:
        out[prefix or "(body)"] = [str(messages)]
    return out



def load_with_schema(data: Any) -> RequestEnvelope:
    """Load ``data`` through the schema, or raise :class:`EnvelopeError` naming every bad field."""
    if not isinstance(data, Mapping):
        raise EnvelopeError(
            "The body is not an Alexa request envelope: expected a JSON object.",
            {"(body)": ["Expected a JSON object."]},
        )
    try:
        d = _ENVELOPE_SCHEMA.load(data)
    except ValidationError as exc:
        errors = _flatten(exc.messages)
        detail = "; ".join(f"{p}: {' '.join(m)}" for p, m in sorted(errors.items()))
        raise EnvelopeError(f"Invalid request envelope: {detail}", errors) from None
    return _envelope_from_schema(d, data)

# --------------------------------------------------------------------------- response schema


class _OutputSpeechSchema(_Base):
    type = fields.Str(required=True)
    text = fields.Str()
    ssml = fields.Str()
    playBehavior = fields.Str()


class _RepromptSchema(_Base):
    outputSpeech = fields.Nested(_OutputSpeechSchema, required=True)


class _CardSchema(_Base):
    type = fields.Str(required=True)
    title = fields.Str()
    content = fields.Str()
    text = fields.Str()
    image = fields.Dict()


class _ResponseSchema(_Base):
    outputSpeech = fields.Nested(_OutputSpeechSchema)
    reprompt = fields.Nested(_RepromptSchema)
    card = fields.Nested(_CardSchema)
    directives = fields.List(fields.Dict())
    shouldEndSession = fields.Bool(allow_none=True)


class ResponseEnvelopeSchema(_Base):
    """The Alexa response envelope. The server builds it as plain dicts; tests validate with this."""

    version = fields.Str(required=True)
    sessionAttributes = fields.Dict(keys=fields.Str())
    userAgent = fields.Str()
    response = fields.Nested(_ResponseSchema, required=True)
