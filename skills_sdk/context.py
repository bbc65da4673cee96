"""The turn context: everything a handler and a middleware know about one request."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .envelope import AudioPlayerState, Request, RequestEnvelope, Slot

if TYPE_CHECKING:
    import requests

    from .skill import Skill

__all__ = ["Turn", "StateBackend", "Attributes", "find_unstorable", "LoadedState", "StateChange"]

_PLAIN = (str, int, float, bool, type(None))
_HINTS = {
    "set": "store a list instead: sorted(value)",
    "frozenset": "store a list instead: sorted(value)",
    "datetime": "store a string instead: value.isoformat()",
    "date": "store a string instead: value.isoformat()",
    "time": "store a string instead: value.isoformat()",
    "timedelta": "store a number instead: value.total_seconds()",
    "Decimal": "store a string instead: str(value) (money stays exact)",
    "bytes": "store text instead: value.decode() or base64",
    "UUID": "store a string instead: str(value)",
}


def find_unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """The first place in ``value`` that JSON cannot hold, as (path, problem), or None if all of it can.

    >>> find_unstorable({"when": {1, 2}}, "ctx.session")
    ("ctx.session['when']", 'a set cannot be stored as JSON; store a list instead: sorted(value)')
    """
    if isinstance(value, _PLAIN):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (f"{path}[{key!r}]", f"a {type(key).__name__} key would come back as the string "
                                            f"{str(key)!r}; use string keys")
            found = find_unstorable(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = find_unstorable(item, f"{path}[{i}]")
            if found:
                return found
        return None
    kind = type(value).__name__
    hint = _HINTS.get(kind, "store str, int, float, bool, None, or lists and dicts of them "
                            "(for a dataclass: dataclasses.asdict(value))")
    return path, f"a {kind} cannot be stored as JSON; {hint}"


class Attributes(dict[str, Any]):
    """``ctx.session`` and ``ctx.state``: a dict that refuses, where it is set, a value JSON cannot hold.

    >>> session = Attributes(label="ctx.session")
    >>> session["toppings"] = {"ham"}
    Traceback (most recent call last):
    ...
    skills_sdk.errors.StateError: ctx.session['toppings']: a set cannot be stored as JSON; store a list instead: sorted(value).

    Values nested inside a list or dict you change later are checked when the handler returns.
    """

    __slots__ = ("label",)

    def __init__(self, data: Mapping[str, Any] = {}, *, label: str) -> None:  # noqa: B006 - never mutated
        super().__init__(data)
        self.label = label

    def _check(self, key: Any, value: Any) -> None:
        found = find_unstorable({key: value}, self.label)
        if found:
            from .errors import StateError

            raise StateError(f"{found[0]}: {found[1]}.")

    def __setitem__(self, key: str, value: Any) -> None:
        self._check(key, value)
        super().__setitem__(key, value)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Attributes:  # type: ignore[override]
        self.update(other)
        return self

    def problem(self) -> str | None:
        """What JSON cannot hold anywhere inside (values changed in place included), or None."""
        found = find_unstorable(self, self.label)
        return f"{found[0]}: {found[1]}." if found else None


class LoadedState(dict[str, Any]):
    """A user's state as a backend loaded it, with ``token``: what identifies the stored version (None: none stored).

    A turn hands the token back with its changes (:class:`StateChange`), so the backend can tell
    whether another turn of the same user stored a state in between.
    """

    __slots__ = ("token",)

    def __init__(self, state: Mapping[str, Any], token: Any) -> None:
        super().__init__(state)
        self.token = token


class StateChange(str):
    """A turn's new state as JSON (what a backend stores), with what the turn loaded and what it changed.

    Two turns of one user at once (two devices, an audio event beside an intent) both load the same
    state; stored whole, the second would undo the first's changes. A backend that finds another
    version stored than ``token`` stores :meth:`merged` instead: this turn's changes, key by key,
    over what is stored now.

    >>> change = StateChange('{"a":1,"b":3}', token="v1", base={"a": 1, "b": 2, "c": 0}, mine={"a": 1, "b": 3})
    >>> change.merged({"a": 5, "b": 2, "c": 0, "d": 4})   # another turn set a=5 and d=4 meanwhile
    {'a': 5, 'b': 3, 'd': 4}
    """

    token: Any
    #: True once a spool took the change with its turn's row: the replay saves it, not the turn.
    spooled: bool = False

    def __new__(cls, text: str, *, token: Any, base: Mapping[str, Any] | None = None,
                mine: Mapping[str, Any] | None = None, base_json: str | None = None) -> StateChange:
        """``base`` (what was loaded) may come as its JSON, ``base_json``: both it and ``mine`` (this
        text's own) are read only when needed, by a merge or a spool, not by the common save."""
        change = super().__new__(cls, text)
        change.token, change._base, change._mine, change._base_json = token, base, mine, base_json
        return change

    @property
    def base(self) -> Mapping[str, Any]:
        """The state as the turn loaded it."""
        if self._base is None:
            self._base = json.loads(self._base_json or "{}")
        return self._base

    @property
    def mine(self) -> Mapping[str, Any]:
        """The state as the turn left it."""
        if self._mine is None:
            self._mine = json.loads(self)
        return self._mine

    def merged(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """``current`` with every key this turn set, changed or removed taken from this turn (others kept)."""
        out = dict(current)
        for key in self.base.keys() | self.mine.keys():
            if key not in self.mine:
                if key in self.base:
                    out.pop(key, None)  # removed by this turn
            elif key not in self.base or self.base[key] != self.mine[key]:
                out[key] = self.mine[key]
        return out

    def delta(self) -> dict[str, Any]:
        """This turn's changes alone, as JSON can hold them: ``{"set": {key: value}, "unset": [key]}``.

        What a spool keeps beside a turn's row when the ledger cannot take either, so the change
        is merged over the state stored when the row is replayed (:meth:`from_delta`).

        >>> StateChange('{"a":1,"b":3}', token="v1", base={"a": 1, "b": 2, "c": 0}, mine={"a": 1, "b": 3}).delta()
        {'set': {'b': 3}, 'unset': ['c']}
        """
        base, mine = self.base, self.mine
        return {"set": {k: v for k, v in mine.items() if k not in base or base[k] != v},
                "unset": sorted(k for k in base if k not in mine)}

    @classmethod
    def from_delta(cls, delta: Any) -> StateChange:
        """The change :meth:`delta` described, to merge over whatever is stored then; ValueError when it is not one.

        >>> StateChange.from_delta({"set": {"b": 3}, "unset": ["c"]}).merged({"a": 5, "b": 2, "c": 0})
        {'a': 5, 'b': 3}
        """
        if not isinstance(delta, Mapping):
            raise ValueError(f"a state change must be an object with 'set' and 'unset', got {type(delta).__name__}.")
        put, unset = delta.get("set", {}), delta.get("unset", [])
        if not isinstance(put, Mapping) or not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
            raise ValueError("a state change's 'set' must be an object and its 'unset' a list of keys.")
        mine = dict(put)
        return cls(json.dumps(mine, sort_keys=True, separators=(",", ":")), token=None,
                   base={k: None for k in unset if k not in mine}, mine=mine)


class StateBackend(Protocol):
    """Where per-user persistent attributes live (the transcript store implements it)."""

    def load_state(self, developer_id: str, skill: str, user_id: str) -> dict[str, Any]: ...

    def save_state(self, developer_id: str, skill: str, user_id: str, state: Mapping[str, Any]) -> None: ...


class Turn:
    """One request on its way through a skill: read it in handlers as ``ctx``.

    ``ctx.session`` is this session's attributes (a dict you may change; it goes back in the
    response). ``ctx.state`` is the user's persistent attributes for this skill, kept across
    sessions (loaded on first use, saved after the turn if changed). ``ctx.http`` is the
    ``requests.Session`` to reach partner APIs with. ``ctx.meta`` is scratch space for middleware.
    """

    __slots__ = (
        "envelope",
        "request",
        "skill",
        "session",
        "utterance",
        "_http",
        "_http_factory",
        "config",
        "meta",
        "started",
        "_state",
        "_state_json",
        "_state_backend",
        "_state_token",
        "_consent",
        "_audio_player",  # set on the first read of ctx.audio_player, not in __init__ (most turns never read it)
    )

    def __init__(
        self,
        envelope: RequestEnvelope,
        skill: Skill,
        *,
        utterance: str | None = None,
        http: requests.Session | None = None,
        http_factory: Callable[[], requests.Session] | None = None,
        state_backend: StateBackend | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.envelope = envelope
        self.request: Request = envelope.request
        self.skill = skill
        sess = envelope.session
        self.session: dict[str, Any] = Attributes(sess.attributes if sess is not None else {}, label="ctx.session")
        self.utterance = utterance
        self._http = http
        self._http_factory = http_factory  # called on the first use of ctx.http (importing requests is slow)
        self.config: Mapping[str, Any] = config if config is not None else skill.config
        self.meta: dict[str, Any] = {}
        self.started = time.perf_counter()
        self._state: dict[str, Any] | None = None
        self._state_json: str | None = None
        self._state_token: Any = None  # the stored version the state was loaded from (LoadedState.token)
        self._state_backend = state_backend
        self._consent: tuple[str, int] | None = None  # the capture mode read with the state, if it was

    @property
    def http(self) -> requests.Session | None:
        """The ``requests.Session`` to reach partner APIs with (made on first use when the host supplies one)."""
        if self._http is None and self._http_factory is not None:
            self._http = self._http_factory()
        return self._http

    @http.setter
    def http(self, session: requests.Session | None) -> None:
        self._http = session

    # -- what came in ---------------------------------------------------------------
    @property
    def user_id(self) -> str:
        """The skill user id (``amzn1.ask.account...``)."""
        return self.envelope.user_id or ""

    @property
    def session_id(self) -> str | None:
        """The session id, or None for requests outside a session (AudioPlayer events)."""
        return self.envelope.session.session_id if self.envelope.session else None

    @property
    def new_session(self) -> bool:
        """True on the first request of a session."""
        return bool(self.envelope.session and self.envelope.session.new)

    @property
    def locale(self) -> str | None:
        """The request locale, e.g. ``en-US``."""
        return self.request.locale

    @property
    def request_type(self) -> str:
        """The request type, e.g. ``IntentRequest``."""
        return self.request.type

    @property
    def intent_name(self) -> str | None:
        """The intent name for an IntentRequest, else None."""
        return self.request.intent.name if self.request.intent else None

    @property
    def slots(self) -> Mapping[str, Slot]:
        """The intent's slots by name (empty outside IntentRequests)."""
        return self.request.intent.slots if self.request.intent else {}

    @property
    def audio_player(self) -> AudioPlayerState | None:
        """The device's audio player as this request reports it (``context.AudioPlayer``); None when it reports none.

        >>> ctx.audio_player            # doctest: +SKIP
        AudioPlayerState(token='0:trk_1', offset_ms=42000, activity='PLAYING')

        Where the listener was when they said "Alexa, pause": remember ``token`` and ``offset_ms``,
        and play the same token from that offset on ``AMAZON.ResumeIntent``. Read once per turn.
        """
        try:
            return self._audio_player
        except AttributeError:
            self._audio_player: AudioPlayerState | None = self.envelope.audio_player
            return self._audio_player

    @property
    def dialog_state(self) -> str | None:
        """``STARTED``, ``IN_PROGRESS`` or ``COMPLETED`` when the skill has a dialog model."""
        return self.request.dialog_state

    def t(self, key: str, default: str | None = None, **values: Any) -> str:
        """The response text ``key`` in the request's locale, formatted with ``values``.

        >>> ctx.t("placed", count=2)   # "2 pizzas are on their way." or "2 Pizzen sind unterwegs."  # doctest: +SKIP

        The skill's catalogue (``skill.messages(...)``) is searched along the fallback chain
        ``de-AT`` -> ``de`` -> the skill's own locale; ``default`` answers when no locale has the key.
        """
        return self.skill.catalogue.text(self.locale, key, default, **values)

    def slot(self, name: str, default: Any = None) -> Any:
        """The resolved value of slot ``name`` (canonical name if matched, else what was said)."""
        s = self.slots.get(name)
        if s is None:
            return default
        return s.resolved or s.value or default

    # -- persistent per-user state ---------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        """This user's persistent attributes for this skill (a dict; changes are saved after the turn)."""
        if self._state is None:
            if self._state_backend is None or not self.user_id:
                self._state = Attributes(label="ctx.state")
                self._state_json = "{}"
            else:
                # A backend that reads the user's capture mode in the same statement saves the
                # capture its own read (one read transaction a turn, not two: see consent_read).
                both = getattr(self._state_backend, "load_state_and_mode", None)
                if both is None:
                    loaded = self._state_backend.load_state(self.skill.developer_id, self.skill.name, self.user_id)
                else:
                    seen = self._state_backend.consent_changes  # type: ignore[attr-defined]  # before the read
                    loaded, mode = both(self.skill.developer_id, self.skill.name, self.user_id)
                    self._consent = (mode, seen)
                self._state_json = json.dumps(loaded, sort_keys=True, separators=(",", ":"))
                self._state_token = getattr(loaded, "token", None)
                self._state = Attributes(loaded, label="ctx.state")
        return self._state

    def consent_read(self, store: object) -> str | None:
        """The user's capture mode ``store`` read with this turn's state, or None when it read none.

        Read during the turn, after it began, so a choice set before the turn applies to it (the
        mode applies from the next turn on). A choice set in this process since, the turn's own
        included, makes it None: the capture reads the mode again.
        """
        if store is not self._state_backend or self._consent is None:
            return None
        mode, seen = self._consent
        return mode if store.consent_changes == seen else None  # type: ignore[attr-defined]

    def check_attributes(self) -> None:
        """Raise :class:`~skills_sdk.errors.StateError` naming the first session or state value JSON cannot hold."""
        from .errors import StateError

        for attrs in (self.session, self._state):
            problem = attrs.problem() if isinstance(attrs, Attributes) else None
            if problem is None and attrs is not None and not isinstance(attrs, Attributes):
                found = find_unstorable(attrs, "ctx.session" if attrs is self.session else "ctx.state")
                problem = f"{found[0]}: {found[1]}." if found else None
            if problem:
                raise StateError(problem)

    def forget_unstorable(self) -> None:
        """Put back the session as it came in and drop this turn's state changes (after a :class:`StateError`)."""
        sess = self.envelope.session
        self.session = Attributes(sess.attributes if sess is not None else {}, label="ctx.session")
        if self._state is not None:
            self._state = Attributes(json.loads(self._state_json or "{}"), label="ctx.state")

    def changed_state(self) -> StateChange | None:
        """``state`` as JSON if it was read and changed this turn, else None.

        A :class:`StateChange`: the JSON, and what was loaded, so the backend stores only this turn's
        changes over a state another turn of the user stored meanwhile.
        """
        if self._state is None or self._state_backend is None or not self.user_id:
            return None
        now = json.dumps(self._state, sort_keys=True, separators=(",", ":"))
        if now == self._state_json:
            return None
        return StateChange(now, token=self._state_token, base_json=self._state_json)

    def state_saved(self, saved_json: str) -> None:
        """Note that ``saved_json`` is now what the backend holds (called by whoever saved it)."""
        self._state_json = saved_json

    def save_state(self) -> bool:
        """Save ``state`` if it was read and changed; True if something was written."""
        now = self.changed_state()
        if now is None:
            return False
        # A ledger takes the change itself (StateChange: it merges over a state stored meanwhile);
        # any other backend the whole state, as the protocol says.
        merges = getattr(self._state_backend, "merges_state", False)
        self._state_backend.save_state(self.skill.developer_id, self.skill.name, self.user_id,
                                       now if merges else self._state)  # type: ignore[arg-type]
        self._state_json = now
        return True

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the turn began."""
        return (time.perf_counter() - self.started) * 1000.0

    def __repr__(self) -> str:
        what = self.intent_name or self.request_type
        return f"<Turn {self.skill.name}:{what} user={self.user_id[-8:]!r}>"
