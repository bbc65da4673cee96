"""Alexa request envelopes as typed dataclasses, and the fast loader that turns parsed JSON into them.

``load_request(data)`` turns a parsed JSON body into a :class:`RequestEnvelope`. The marshmallow
schemas in :mod:`skills_sdk.envelope_schema` are the contract: they define what is valid and produce
the error messages, keyed by dotted field path. Because a full marshmallow load costs several hundred
microseconds per envelope (and importing marshmallow about 50 ms), a hand-written loader here handles
the common, well-formed case and hands anything unusual to the schema, so the result (or the error)
is always the schema's own. ``tests/test_envelope.py`` checks, property-based, that both paths agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._frozen import NEW_DICT, RECORD, Frozen, set_field
from .errors import EnvelopeError

__all__ = [
    "MAX_JSON_DEPTH",
    "parse_body",
    "check_json_value",
    "Application",
    "User",
    "Device",
    "System",
    "Session",
    "Slot",
    "Intent",
    "Request",
    "AudioPlayerState",
    "PLAYER_ACTIVITIES",
    "RequestEnvelope",
    "load_request",
]


# --------------------------------------------------------------------------- the body

#: The deepest nesting of arrays and objects a request body may have. Alexa's envelopes stay under
#: 15; session attributes a skill stored add their own depth. Deeper bodies get 400 ``too_deep``.
MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
#: What no string of a request may hold: half of a surrogate pair, or NUL (which JSON can only
#: carry as the escape ``\u0000``: Alexa never sends one, and PostgreSQL's text cannot store it).
_UNTEXT = re.compile("[\x00\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise EnvelopeError(f"The body holds {name}, which is not JSON: numbers must be finite.",
                        {"(body)": [f"{name} is not a JSON number."]}, code="invalid_json")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        _no_constant(text)
    return value


# One decoder for every body: json.loads with hooks would build a new one (and its scanner) per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def parse_body(raw: bytes | bytearray | str) -> Any:
    """Parse a request body as strict JSON, or raise :class:`EnvelopeError` naming what is wrong.

    >>> parse_body(b'{"version": "1.0"}')
    {'version': '1.0'}

    Refused, each with its own ``code``: text that is not JSON (``invalid_json``), ``NaN``,
    ``Infinity`` and numbers too large for a float (``invalid_json``), nesting deeper than
    :data:`MAX_JSON_DEPTH` (``too_deep``), a string holding half of a UTF-16 surrogate pair,
    which no UTF-8 text can carry (``invalid_unicode``), and a string holding NUL (``\u0000``:
    ``invalid_text``), which a user id or a word never holds and PostgreSQL would cut the text at.
    """
    try:
        if not isinstance(raw, str):
            raw = bytes(raw)
            text = raw.decode("utf-8")
        else:
            text = raw
        data = _DECODER.decode(text)
    except UnicodeDecodeError as exc:
        # Alexa sends UTF-8. A lone surrogate written as raw bytes (ED A0..BF ..) lands here too.
        surrogate = raw[exc.start:exc.start + 1] == b"\xed"
        raise EnvelopeError(f"The body is not JSON: it is not UTF-8 text (byte {exc.start}: {exc.reason})"
                            f"{' (half of a UTF-16 surrogate pair)' if surrogate else ''}.",
                            {"(body)": ["Not valid UTF-8."]},
                            code="invalid_unicode" if surrogate else "invalid_json") from None
    except RecursionError:
        raise EnvelopeError(f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.",
                            {"(body)": [f"Nested deeper than {MAX_JSON_DEPTH} levels."]}, code="too_deep") from None
    except EnvelopeError:
        raise
    except ValueError as exc:
        raise EnvelopeError(f"The body is not JSON: {exc}.", {"(body)": ["Not valid JSON."]},
                            code="invalid_json") from None
    # Each escape test looks for a lone backslash first: one byte is found by memchr, two by a
    # byte-by-byte search, and most bodies hold no backslash (2.5 us of a 2.7 KB envelope, 0.2 us).
    if isinstance(raw, str):
        opens = raw.count("{") + raw.count("[")
        # An ASCII text (nearly every body) holds no surrogate: skip the scan (tens of us on 3 KB).
        odd = ("\\" in raw and "\\u" in raw) or (not raw.isascii() and _SURROGATE.search(raw) is not None)
    else:  # strict UTF-8 decoding refused raw surrogates; an escape (\\ud800) is the one way left in
        opens = raw.count(b"{") + raw.count(b"[")
        odd = b"\\" in raw and b"\\u" in raw
    if opens > MAX_JSON_DEPTH or odd:
        check_json_value(data)
    return data


def check_json_value(data: Any) -> None:
    """Raise :class:`EnvelopeError` unless ``data`` is JSON a request may carry.

    The checks of :func:`parse_body` for a body another parser read (AWS Lambda hands the skill a
    dict): nesting at most :data:`MAX_JSON_DEPTH`, finite numbers, no lone surrogates, no NUL. The
    error names the dotted path of the first offending value.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if (bad := _UNTEXT.search(value)) is not None:
                _refuse_text(path or "(body)", bad.group())
            continue
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            where = path or "(body)"
            raise EnvelopeError(f"{where} is {value}, which is not a JSON number.",
                                {where: ["Not a finite number."]}, code="invalid_json")
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise EnvelopeError(f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels "
                                    f"(at {path}).", {path: [f"Nested deeper than {MAX_JSON_DEPTH} levels."]},
                                    code="too_deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (bad := _UNTEXT.search(key)) is not None:
                    _refuse_text(path or "(body)", bad.group(), key=True)
                if isinstance(item, (dict, list, str, float)):
                    stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))


def _refuse_text(where: str, char: str, *, key: bool = False) -> None:
    """Raise the :class:`EnvelopeError` for ``char`` (NUL or half a surrogate pair) in a string at ``where``."""
    what = f"A key in {where}" if key else where
    if char == "\x00":
        raise EnvelopeError(f"{what} holds a NUL character (\\u0000), which no text of a request carries: "
                            "send the string without it.", {where: ["Holds a NUL character."]}, code="invalid_text")
    if key:
        raise EnvelopeError(f"{what} is not valid Unicode (a lone surrogate).", {where: ["A key is not valid Unicode."]},
                            code="invalid_unicode")
    raise EnvelopeError(f"{where} holds half of a UTF-16 surrogate pair, which is not valid Unicode.",
                        {where: ["Not valid Unicode (a lone surrogate)."]}, code="invalid_unicode")


# --------------------------------------------------------------------------- dataclasses

# The envelope's classes are dataclasses whose methods are written here rather than generated
# (see skills_sdk._frozen): these ten were a tenth of a serving process's cold start.


@dataclass(**RECORD)
class Application(Frozen):
    """The skill the platform thinks it is calling."""

    application_id: str | None = None

    def __init__(self, application_id: str | None = None) -> None:
        set_field(self, "application_id", application_id)


@dataclass(**RECORD)
class User(Frozen):
    """The skill user: ``user_id`` is per user and per enablement of the skill."""

    user_id: str | None = None
    access_token: str | None = None

    def __init__(self, user_id: str | None = None, access_token: str | None = None) -> None:
        set_field(self, "user_id", user_id)
        set_field(self, "access_token", access_token)


@dataclass(**RECORD)
class Device(Frozen):
    """The device the request came from and the interfaces it supports."""

    device_id: str | None = None
    supported_interfaces: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, device_id: str | None = None, supported_interfaces: Mapping[str, Any] = NEW_DICT) -> None:
        set_field(self, "device_id", device_id)
        set_field(self, "supported_interfaces", {} if supported_interfaces is NEW_DICT else supported_interfaces)


_NO_APPLICATION, _NO_USER, _NO_DEVICE = Application(), User(), Device()


@dataclass(**RECORD)
class System(Frozen):
    """``context.System``: application, user, device and the platform API endpoint."""

    application: Application = _NO_APPLICATION
    user: User = _NO_USER
    device: Device = _NO_DEVICE
    api_endpoint: str | None = None
    api_access_token: str | None = None

    def __init__(self, application: Application = _NO_APPLICATION, user: User = _NO_USER,
                 device: Device = _NO_DEVICE, api_endpoint: str | None = None,
                 api_access_token: str | None = None) -> None:
        set_field(self, "application", application)
        set_field(self, "user", user)
        set_field(self, "device", device)
        set_field(self, "api_endpoint", api_endpoint)
        set_field(self, "api_access_token", api_access_token)


@dataclass(**RECORD)
class Session(Frozen):
    """The session block of a request; ``attributes`` is what the skill stored last turn."""

    new: bool = False
    session_id: str | None = None
    application: Application = _NO_APPLICATION
    attributes: Mapping[str, Any] = field(default_factory=dict)
    user: User = _NO_USER

    def __init__(self, new: bool = False, session_id: str | None = None, application: Application = _NO_APPLICATION,
                 attributes: Mapping[str, Any] = NEW_DICT, user: User = _NO_USER) -> None:
        set_field(self, "new", new)
        set_field(self, "session_id", session_id)
        set_field(self, "application", application)
        set_field(self, "attributes", {} if attributes is NEW_DICT else attributes)
        set_field(self, "user", user)


@dataclass(**RECORD)
class Resolution(Frozen):
    """One entity-resolution authority's answer for a slot."""

    authority: str | None
    status: str | None
    values: tuple[tuple[str, str | None], ...] = ()

    def __init__(self, authority: str | None, status: str | None, values: tuple[tuple[str, str | None], ...] = ()) -> None:
        set_field(self, "authority", authority)
        set_field(self, "status", status)
        set_field(self, "values", values)


@dataclass(**RECORD)
class Slot(Frozen):
    """A slot as the platform filled it: the spoken ``value`` and its entity resolutions."""

    name: str
    value: str | None = None
    confirmation_status: str = "NONE"
    source: str | None = None
    resolutions: tuple[Resolution, ...] = ()

    def __init__(self, name: str, value: str | None = None, confirmation_status: str = "NONE",
                 source: str | None = None, resolutions: tuple[Resolution, ...] = ()) -> None:
        set_field(self, "name", name)
        set_field(self, "value", value)
        set_field(self, "confirmation_status", confirmation_status)
        set_field(self, "source", source)
        set_field(self, "resolutions", resolutions)

    @property
    def er_status(self) -> str | None:
        """``ER_SUCCESS_MATCH`` when an authority matched, else the first status, else None."""
        for r in self.resolutions:
            if r.status == "ER_SUCCESS_MATCH":
                return r.status
        return self.resolutions[0].status if self.resolutions else None

    @property
    def resolved(self) -> str | None:
        """The canonical value name of the first successful resolution, else None."""
        for r in self.resolutions:
            if r.status == "ER_SUCCESS_MATCH" and r.values:
                return r.values[0][0]
        return None

    @property
    def id(self) -> str | None:
        """The id of the first successful resolution, else None."""
        for r in self.resolutions:
            if r.status == "ER_SUCCESS_MATCH" and r.values:
                return r.values[0][1]
        return None

    @property
    def matched(self) -> bool:
        """True when entity resolution matched what was said to a declared value (``ER_SUCCESS_MATCH``)."""
        return self.er_status == "ER_SUCCESS_MATCH"

    def text(self) -> SlotText | None:
        """The value a ``str`` handler parameter receives: canonical if matched, else as said; None if empty."""
        raw = self.resolved or self.value
        return None if raw is None else SlotText(raw, spoken=self.value, id=self.id, er_status=self.er_status)


class SlotText(str):
    """A slot's value as a ``str`` that also says whether it matched a declared value.

    >>> size = SlotText("large", spoken="big", id="LARGE", er_status="ER_SUCCESS_MATCH")
    >>> size, size.matched, size.id, size.spoken
    ('large', True, 'LARGE', 'big')

    Handler parameters annotated ``str`` (or not at all) receive one: the canonical value when
    entity resolution matched, else the words as said, with ``matched`` False. Compare and format
    it as any string; test ``matched`` to refuse what your slot type does not know.
    """

    __slots__ = ("spoken", "id", "er_status")

    spoken: str | None
    id: str | None
    er_status: str | None

    def __new__(cls, value: str, *, spoken: str | None = None, id: str | None = None,  # noqa: A002
                er_status: str | None = None) -> SlotText:
        self = super().__new__(cls, value)
        self.spoken = value if spoken is None else spoken
        self.id = id
        self.er_status = er_status
        return self

    @property
    def matched(self) -> bool:
        """True when the value is one the slot type declares (``ER_SUCCESS_MATCH``)."""
        return self.er_status == "ER_SUCCESS_MATCH"

    def __reduce__(self) -> Any:
        return (str, (str(self),))  # pickles and copies as the plain string it stands for


@dataclass(**RECORD)
class Intent(Frozen):
    """The intent of an IntentRequest with its slots, keyed by slot name."""

    name: str
    confirmation_status: str = "NONE"
    slots: Mapping[str, Slot] = field(default_factory=dict)

    def __init__(self, name: str, confirmation_status: str = "NONE", slots: Mapping[str, Slot] = NEW_DICT) -> None:
        set_field(self, "name", name)
        set_field(self, "confirmation_status", confirmation_status)
        set_field(self, "slots", {} if slots is NEW_DICT else slots)

    def with_slots(self, **values: str | None) -> Intent:
        """A copy with the named slots set to new values; ``None`` empties a slot so the dialog asks for it again.

        >>> intent = Intent("OrderIntent", slots={"size": Slot("size", "big"), "topping": Slot("topping", "kale")})
        >>> kept = intent.with_slots(topping=None)
        >>> kept.slots["size"].value, kept.slots["topping"].value
        ('big', None)

        A changed slot loses its resolutions and confirmation (they were for the old value).
        """
        slots = dict(self.slots)
        for name, value in values.items():
            slots[name] = Slot(name, None if value is None else str(value))
        return Intent(self.name, self.confirmation_status, slots)

    def to_dict(self) -> dict[str, Any]:
        """The intent as Alexa's JSON, the form a Dialog directive's ``updatedIntent`` takes.

        >>> Intent("OrderIntent", slots={"size": Slot("size", "big")}).to_dict()["slots"]
        {'size': {'name': 'size', 'confirmationStatus': 'NONE', 'value': 'big'}}
        """
        slots: dict[str, Any] = {}
        for key, slot in self.slots.items():
            slots[key] = {"name": slot.name, "confirmationStatus": slot.confirmation_status}
            if slot.value is not None:
                slots[key]["value"] = slot.value
        return {"name": self.name, "confirmationStatus": self.confirmation_status, "slots": slots}


@dataclass(**RECORD)
class Request(Frozen):
    """The ``request`` block. Fields that only some types carry stay readable through ``raw``."""

    type: str
    request_id: str
    timestamp: str | None = None
    locale: str | None = None
    dialog_state: str | None = None
    intent: Intent | None = None
    reason: str | None = None
    error: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, type: str, request_id: str, timestamp: str | None = None,  # noqa: A002
                 locale: str | None = None, dialog_state: str | None = None, intent: Intent | None = None,
                 reason: str | None = None, error: Mapping[str, Any] | None = None,
                 raw: Mapping[str, Any] = NEW_DICT) -> None:
        set_field(self, "type", type)
        set_field(self, "request_id", request_id)
        set_field(self, "timestamp", timestamp)
        set_field(self, "locale", locale)
        set_field(self, "dialog_state", dialog_state)
        set_field(self, "intent", intent)
        set_field(self, "reason", reason)
        set_field(self, "error", error)
        set_field(self, "raw", {} if raw is NEW_DICT else raw)


#: The ``playerActivity`` values Alexa documents for ``context.AudioPlayer``. Another string is kept
#: as sent (sample envelopes carry placeholders), so compare with these rather than assume one of them.
PLAYER_ACTIVITIES = ("IDLE", "PAUSED", "PLAYING", "BUFFER_UNDERRUN", "FINISHED", "STOPPED")


@dataclass(**RECORD)
class AudioPlayerState(Frozen):
    """The device's audio player as the request reports it (``context.AudioPlayer``): read it as ``ctx.audio_player``.

    >>> state = AudioPlayerState("ep1", 61000, "STOPPED")
    >>> state.token, state.offset_ms, state.stopped
    ('ep1', 61000, True)

    ``token`` names the stream (None when nothing was played: ``IDLE``); ``offset_ms`` is the position
    in it, in milliseconds (0 when the request leaves it out); ``activity`` is one of
    :data:`PLAYER_ACTIVITIES` (None when left out).
    """

    token: str | None = None
    offset_ms: int = 0
    activity: str | None = None

    def __init__(self, token: str | None = None, offset_ms: int = 0, activity: str | None = None) -> None:
        set_field(self, "token", token)
        set_field(self, "offset_ms", offset_ms)
        set_field(self, "activity", activity)

    @property
    def playing(self) -> bool:
        """True while a stream plays (``PLAYING``, or ``BUFFER_UNDERRUN``: playing, waiting for data)."""
        return self.activity in ("PLAYING", "BUFFER_UNDERRUN")

    @property
    def stopped(self) -> bool:
        """True when a stream was interrupted where ``offset_ms`` says (``STOPPED`` or ``PAUSED``): resume from there."""
        return self.activity in ("STOPPED", "PAUSED") and self.token is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AudioPlayerState:
        """The state ``context.AudioPlayer`` describes (types already checked by the loader)."""
        return cls(data.get("token"), data.get("offsetInMilliseconds") or 0, data.get("playerActivity"))


def _player_types_ok(p: dict[str, Any]) -> bool:
    """True when ``context.AudioPlayer`` holds the types Alexa sends (the schema names the field otherwise)."""
    t, o, a = p.get("token"), p.get("offsetInMilliseconds"), p.get("playerActivity")
    return (t is None or type(t) is str) and (o is None or type(o) is int) and (a is None or type(a) is str)


@dataclass(**RECORD)
class RequestEnvelope(Frozen):
    """A whole Alexa request: version, session (absent for some events), context.System, request.

    ``audio_player_raw`` is ``context.AudioPlayer`` as sent (its types checked), None when the request
    has none; :attr:`audio_player` reads it.
    """

    version: str
    request: Request
    system: System
    session: Session | None = None
    audio_player_raw: Mapping[str, Any] | None = None

    def __init__(self, version: str, request: Request, system: System, session: Session | None = None,
                 audio_player_raw: Mapping[str, Any] | None = None) -> None:
        set_field(self, "version", version)
        set_field(self, "request", request)
        set_field(self, "system", system)
        set_field(self, "session", session)
        set_field(self, "audio_player_raw", audio_player_raw)

    @property
    def audio_player(self) -> AudioPlayerState | None:
        """The device's audio player (``context.AudioPlayer``), or None when the request carries none.

        Built on each read: the loader only checks the types, so requests that never read it pay
        nothing more; ``ctx.audio_player`` builds it once per turn.
        """
        raw = self.audio_player_raw
        return None if raw is None else AudioPlayerState.from_dict(raw)

    @property
    def user_id(self) -> str | None:
        """The skill user id, from context.System (preferred) or the session."""
        return self.system.user.user_id or (self.session.user.user_id if self.session else None)

    @property
    def application_id(self) -> str | None:
        """The skill id the platform addressed, from context.System or the session."""
        return self.system.application.application_id or (
            self.session.application.application_id if self.session else None
        )


# ISO-8601 date and time as Alexa writes it: 2026-11-28T09:30:00Z, with optional fraction and offset.
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?\Z")
_TIMESTAMP_MESSAGE = "Not an ISO-8601 date and time (e.g. 2026-11-28T09:30:00Z) nor epoch milliseconds."


def _timestamp(value: Any) -> str | None:
    """``request.timestamp`` as ISO-8601 text, or None when it is neither that nor epoch milliseconds.

    Alexa writes ISO-8601 UTC; some requests have carried epoch milliseconds (Alexa.NET reads
    both), so a whole number is taken as that and turned into ISO-8601.
    """
    if type(value) is str:
        if _ISO_TIMESTAMP.match(value) is None:
            return None
        try:  # the shape is right; the date must exist too (no month 13, no February 30)
            datetime.fromisoformat(value[:19])
        except ValueError:
            return None
        return value
    if type(value) is int and 0 <= value < 253402300800000:  # up to 9999-12-31
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{value % 1000:03d}Z"
    return None



# --------------------------------------------------------------------------- fast path


def _str(v: Any) -> str | None:
    if v is None or type(v) is str:
        return v
    raise _Slow


class _Slow(Exception):
    """The fast loader met something it does not handle; the schema decides."""


def _fast_app(a: Any) -> Application:
    if a is None:
        return Application()
    if type(a) is not dict:
        raise _Slow
    return Application(_str(a.get("applicationId")))


def _fast_user(u: Any) -> User:
    if u is None:
        return User()
    if type(u) is not dict:
        raise _Slow
    return User(_str(u.get("userId")), _str(u.get("accessToken")))


def _fast_slot(key: str, s: Any) -> Slot:
    if type(s) is not dict:
        raise _Slow
    res = s.get("resolutions")
    resolutions: tuple[Resolution, ...] = ()
    if res is not None:
        if type(res) is not dict:
            raise _Slow
        rpa = res.get("resolutionsPerAuthority")
        if rpa is not None:
            if type(rpa) is not list:
                raise _Slow
            out = []
            for a in rpa:
                if type(a) is not dict:
                    raise _Slow
                st = a.get("status")
                if st is not None and type(st) is not dict:
                    raise _Slow
                vals = a.get("values")
                pairs: tuple[tuple[str, str | None], ...] = ()
                if vals is not None:
                    if type(vals) is not list:
                        raise _Slow
                    pl = []
                    for w in vals:
                        if type(w) is not dict or type(w.get("value")) is not dict:
                            raise _Slow
                        v = w["value"]
                        pl.append((_str(v.get("name")), _str(v.get("id"))))
                    pairs = tuple(pl)  # type: ignore[arg-type]
                out.append(Resolution(_str(a.get("authority")), _str(st.get("code")) if st else None, pairs))
            resolutions = tuple(out)
    cs = s.get("confirmationStatus", "NONE")
    if type(cs) is not str:
        raise _Slow
    return Slot(_str(s.get("name")) or key, _str(s.get("value")), cs, _str(s.get("source")), resolutions)


def _fast_load(d: Any) -> RequestEnvelope:
    if type(d) is not dict:
        raise _Slow
    r = d.get("request")
    if type(r) is not dict:
        raise _Slow
    rtype = r.get("type")
    rid = r.get("requestId")
    if type(rtype) is not str or type(rid) is not str:
        raise _Slow
    intent = None
    i = r.get("intent")
    if i is not None:
        if type(i) is not dict or type(i.get("name")) is not str:
            raise _Slow
        slots_raw = i.get("slots")
        slots: dict[str, Slot] = {}
        if slots_raw is not None:
            if type(slots_raw) is not dict:
                raise _Slow
            for k, s in slots_raw.items():
                slots[k] = _fast_slot(k, s)
        ics = i.get("confirmationStatus", "NONE")
        if type(ics) is not str:
            raise _Slow
        intent = Intent(i["name"], ics, slots)
    elif rtype == "IntentRequest":
        raise _Slow
    err = r.get("error")
    if err is not None:
        if type(err) is not dict:
            raise _Slow
        err = {k: _str(err[k]) for k in ("type", "message") if k in err}
    ts = r.get("timestamp")
    if ts is not None:
        ts = _timestamp(ts)
        if ts is None:
            raise _Slow
    request = Request(
        rtype,
        rid,
        ts,
        _str(r.get("locale")),
        _str(r.get("dialogState")),
        intent,
        _str(r.get("reason")),
        err,
        r,
    )
    system = System()
    player = None
    ctx = d.get("context")
    if ctx is not None:
        if type(ctx) is not dict:
            raise _Slow
        player = ctx.get("AudioPlayer")
        if player is not None and (type(player) is not dict or not _player_types_ok(player)):
            raise _Slow
        s = ctx.get("System")
        if s is not None:
            if type(s) is not dict:
                raise _Slow
            dev = s.get("device")
            device = Device()
            if dev is not None:
                if type(dev) is not dict:
                    raise _Slow
                si = dev.get("supportedInterfaces")
                if si is not None and type(si) is not dict:
                    raise _Slow
                device = Device(_str(dev.get("deviceId")), si or {})
            system = System(
                _fast_app(s.get("application")),
                _fast_user(s.get("user")),
                device,
                _str(s.get("apiEndpoint")),
                _str(s.get("apiAccessToken")),
            )
    session = None
    sd = d.get("session")
    if sd is not None:
        if type(sd) is not dict:
            raise _Slow
        new = sd.get("new", False)
        attrs = sd.get("attributes")
        if type(new) is not bool or (attrs is not None and type(attrs) is not dict):
            raise _Slow
        if attrs and any(type(k) is not str for k in attrs):
            raise _Slow
        session = Session(
            new, _str(sd.get("sessionId")), _fast_app(sd.get("application")), attrs or {}, _fast_user(sd.get("user"))
        )
    version = d.get("version", "1.0")
    if type(version) is not str:
        raise _Slow
    env = RequestEnvelope(version, request, system, session, player)
    if not env.user_id:
        raise _Slow
    return _kept_clear(env)


def load_request(data: Any) -> RequestEnvelope:
    """Load a parsed JSON body into a :class:`RequestEnvelope`, or raise :class:`EnvelopeError`.

    >>> env = load_request({"request": {"type": "LaunchRequest", "requestId": "r1"},
    ...                     "session": {"user": {"userId": "u1"}}})
    >>> env.request.type, env.user_id
    ('LaunchRequest', 'u1')

    The error's ``errors`` maps dotted field paths to messages, e.g.
    ``{"request.intent.slots.size.value": ["Not a valid string."]}``.
    """
    try:
        return _fast_load(data)
    except _Slow:
        pass
    if not isinstance(data, Mapping):
        raise EnvelopeError(
            "The body is not an Alexa request envelope: expected a JSON object.",
            {"(body)": ["Expected a JSON object."]},
        )
    # The schema decides (and names the field) only for input the fast loader would not take, so
    # marshmallow is imported on the first such request, not by every process that answers turns.
    from .envelope_schema import load_with_schema

    return _kept_clear(load_with_schema(data))


def _kept_clear(env: RequestEnvelope) -> RequestEnvelope:
    """``env``, unless a string a transcript row keeps in clear holds NUL (:class:`EnvelopeError` ``invalid_text``).

    A body :func:`parse_body` read holds none (it refused them); a dict handed to
    ``SkillHost.handle`` may, and PostgreSQL would store the text cut at it: another user's id.
    """
    request, session = env.request, env.session
    for where, text in (("context.System.user.userId", env.system.user.user_id),
                        ("session.user.userId", session and session.user.user_id), ("request.requestId", request.request_id),
                        ("request.type", request.type), ("request.intent.name", request.intent and request.intent.name),
                        ("session.sessionId", session and session.session_id), ("request.locale", request.locale)):
        if text and "\x00" in text:
            _refuse_text(where, "\x00")
    return env


def __getattr__(name: str) -> Any:
    # The schemas live in envelope_schema (marshmallow is imported only when they are needed).
    if name in ("RequestEnvelopeSchema", "ResponseEnvelopeSchema"):
        from . import envelope_schema

        return getattr(envelope_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
