"""The turn context: everything a handler and a middleware know about one request."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .envelope import Request, RequestEnvelope, Slot

if TYPE_CHECKING:
    import requests

    from .skill import Skill

__all__ = ["Turn", "StateBackend"]


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
        "http",
        "config",
        "meta",
        "started",
        "_state",
        "_state_json",
        "_state_backend",
    )

    def __init__(
        self,
        envelope: RequestEnvelope,
        skill: Skill,
        *,
        utterance: str | None = None,
        http: requests.Session | None = None,
        state_backend: StateBackend | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.envelope = envelope
        self.request: Request = envelope.request
        self.skill = skill
        sess = envelope.session
        self.session: dict[str, Any] = dict(sess.attributes) if sess is not None else {}
        self.utterance = utterance
        self.http = http
        self.config: Mapping[str, Any] = config if config is not None else skill.config
        self.meta: dict[str, Any] = {}
        self.started = time.perf_counter()
        self._state: dict[str, Any] | None = None
        self._state_json: str | None = None
        self._state_backend = state_backend

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
                self._state = {}
                self._state_json = "{}"
            else:
                self._state = self._state_backend.load_state(self.skill.developer_id, self.skill.name, self.user_id)
                self._state_json = json.dumps(self._state, sort_keys=True, separators=(",", ":"))
        return self._state

    def changed_state(self) -> str | None:
        """``state`` as JSON if it was read and changed this turn, else None."""
        if self._state is None or self._state_backend is None or not self.user_id:
            return None
        now = json.dumps(self._state, sort_keys=True, separators=(",", ":"))
        return None if now == self._state_json else now

    def state_saved(self, saved_json: str) -> None:
        """Note that ``saved_json`` is now what the backend holds (called by whoever saved it)."""
        self._state_json = saved_json

    def save_state(self) -> bool:
        """Save ``state`` if it was read and changed; True if something was written."""
        now = self.changed_state()
        if now is None:
            return False
        self._state_backend.save_state(self.skill.developer_id, self.skill.name, self.user_id, self._state)
        self._state_json = now
        return True

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the turn began."""
        return (time.perf_counter() - self.started) * 1000.0

    def __repr__(self) -> str:
        what = self.intent_name or self.request_type
        return f"<Turn {self.skill.name}:{what} user={self.user_id[-8:]!r}>"
