"""``SkillHost``: runs turns of hosted skills through one middleware chain, whatever the edge (HTTP, text, tests)."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from ._frozen import RECORD, Mutable
from ._logs import LazyLogger
from ._version import __version__
from .context import Turn
from .envelope import RequestEnvelope, load_request, parse_body
from .errors import EnvelopeError, RegistrationError
from .middleware import Endpoint, Middleware
from .request_types import sent_body
from .response import MAX_SPEECH_CHARS, Response, limit_problems
from .skill import Skill

if TYPE_CHECKING:
    import requests

    from .transcripts.ledger import Ledger

__all__ = ["SkillHost", "TurnResult", "USER_AGENT", "load_skills", "load_partner_session"]

log = LazyLogger("skills_sdk")

USER_AGENT = f"skills_sdk/{__version__}"
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False).encode
if c_make_encoder is not None:
    # The C encoder _DUMPS builds on every call, built once: the same text for a fraction of the
    # instructions (see record.compact_json). Without the circular-reference check (markers None),
    # a cycle raises RecursionError, as it did after _DUMPS's ValueError sent it to _finite_only.
    _ENVELOPE_ENCODER = c_make_encoder(None, str, encode_basestring, None, ":", ",", False, False, False)

    def _dumps(envelope: dict[str, Any]) -> str:
        return "".join(_ENVELOPE_ENCODER(envelope, 0))
else:  # pragma: no cover - CPython always builds the C encoder
    _dumps = _DUMPS


def _finite_only(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(v) for v in value]
    return value


@dataclass(**RECORD)  # see skills_sdk._frozen
class TurnResult(Mutable):
    """One answered turn: the response envelope, what the skill built, and the turn context."""

    envelope: dict[str, Any]
    response: Response
    turn: Turn

    def __init__(self, envelope: dict[str, Any], response: Response, turn: Turn) -> None:
        self.envelope = envelope
        self.response = response
        self.turn = turn

    @property
    def transcript(self) -> dict[str, Any] | None:
        """The transcript row this turn wrote (None when capture is off)."""
        return self.turn.meta.get("transcript")

    def json(self) -> str:
        """The response envelope as compact JSON (always valid JSON: a non-finite number becomes null).

        An answer past Alexa's limits (:func:`~skills_sdk.response.limit_problems`) is logged as a
        warning naming the limit: Alexa would not speak it.
        """
        try:
            text = _dumps(self.envelope)
        except ValueError:  # NaN or Infinity a handler put in the session: JSON has no word for it
            log.warning("skill %s put a non-finite number in its response; it was sent as null",
                        self.turn.skill.name)
            text = _DUMPS(_finite_only(self.envelope))
        if len(text) > MAX_SPEECH_CHARS and (problems := self.limit_problems(text)):
            log.warning("skill %s answered request %s past Alexa's limits, so Alexa will not speak it: %s",
                        self.turn.skill.name, self.turn.request.request_id, "; ".join(problems))
        return text

    def limit_problems(self, text: str | None = None) -> list[str]:
        """What in this answer is past Alexa's limits ([] when nothing is); ``text``: its JSON, if made."""
        size = len((text if text is not None else _DUMPS(_finite_only(self.envelope))).encode())
        return limit_problems(self.envelope, size)


#: What ``SkillHost(store=...)`` warns: the replacement, written out.
STORE_DEPRECATED = (
    "SkillHost(store=ledger) is deprecated; compose the ledger's middleware yourself: "
    "SkillHost(skills, state=ledger, middleware=[*ledger_middleware(ledger), *middleware]) "
    "with `from skills_sdk.transcripts.compose import ledger_middleware` "
    "(capture=, guard= and spool= go to ledger_middleware, not to SkillHost)."
)


class SkillHost:
    """The skills a server hosts, each with its middleware chain composed once.

    >>> from skills_sdk import Skill, say
    >>> from skills_sdk.testing import intent_request
    >>> from skills_sdk.transcripts import open_ledger
    >>> from skills_sdk.transcripts.compose import ledger_middleware
    >>> pizza = Skill("pizza", developer_id="pronto-pizza-labs")
    >>> @pizza.intent("WhereIsMyPizza")
    ... def where(ctx):
    ...     return say("It is in the oven.")
    >>> ledger = open_ledger(":memory:")
    >>> host = SkillHost([pizza], state=ledger, middleware=ledger_middleware(ledger))
    >>> host.handle("pizza", intent_request("WhereIsMyPizza")).envelope["response"]
    {'outputSpeech': {'type': 'SSML', 'ssml': '<speak>It is in the oven.</speak>'}, 'shouldEndSession': True}

    ``middleware`` runs around every skill's own middleware, first outermost: the edge that
    serves the host puts the ledger's there
    (:func:`~skills_sdk.transcripts.compose.ledger_middleware`: forget-on-disable, capture).
    ``state`` keeps each user's saved attributes (a ledger); ``http`` is the ``requests.Session``
    handlers reach partner APIs through (when None, a
    :meth:`~skills_sdk.http.PartnerSession.from_env` session made on the first request, so every
    way of serving gives handlers the same ``ctx.http``).

    ``store`` is the older spelling, deprecated (a :class:`DeprecationWarning` says what to write)
    and still working: it is ``state`` and composes
    ``ledger_middleware(store, capture=capture, guard=guard, spool=spool)`` before ``middleware``.
    New code composes the ledger's middleware itself, as ``create_app`` does; ``capture``, ``guard``
    and ``spool`` without ``store`` raise :class:`TypeError` (they belong to ``ledger_middleware``).
    """

    def __init__(
        self,
        skills: Iterable[Skill] = (),
        *,
        state: Ledger | None = None,
        middleware: Sequence[Middleware] = (),
        http: requests.Session | None = None,
        store: Ledger | None = None,
        capture: bool = True,
        spool: Any = None,
        guard: Any = None,
    ) -> None:
        outer = list(middleware)
        if store is not None:
            if state is not None:
                raise TypeError("SkillHost takes state= (with the ledger's middleware composed by the caller) or "
                                "the older store=, not both.")
            from .transcripts.compose import ledger_middleware

            warnings.warn(STORE_DEPRECATED, DeprecationWarning, stacklevel=2)
            state = store
            outer[:0] = ledger_middleware(store, capture=capture, guard=guard, spool=spool)
        elif capture is not True or guard is not None or spool is not None:
            # Without store= they would be silently ignored: the caller composes the ledger's middleware.
            raise TypeError("SkillHost's capture=, guard= and spool= go with the deprecated store= only; "
                            "pass them to ledger_middleware(ledger, capture=..., guard=..., spool=...) "
                            "and that to SkillHost(middleware=...).")
        self.store = state
        self._http = http
        self._outer = outer
        # The capture in the chain, if any (tests reach its clock); no Capture exists before its module is imported.
        captures = sys.modules.get("skills_sdk.transcripts.capture")
        self.capture = next((m for m in outer if isinstance(m, captures.Capture)), None) if captures else None
        self.skills: dict[str, Skill] = {}
        self._chains: dict[str, Endpoint] = {}
        for skill in skills:
            self.add(skill)

    @property
    def http(self) -> requests.Session:
        """The session handlers get as ``ctx.http``."""
        if self._http is None:
            # Made on first use: importing requests is a good part of a cold start, and a host
            # built for a test or a CLI command may never answer a turn.
            from .http import PartnerSession

            self._http = PartnerSession.from_env()
        return self._http

    def add(self, skill: Skill) -> None:
        """Host ``skill`` (its name must be unique on this host)."""
        if skill.name in self.skills:
            raise RegistrationError(
                f"Two skills are named {skill.name!r} ({self.skills[skill.name]!r} and {skill!r}); names must be unique."
            )
        self.skills[skill.name] = skill
        self._chains[skill.name] = skill.pipeline(self._outer)

    def __contains__(self, name: str) -> bool:
        return name in self.skills

    def handle(
        self, skill_name: str, data: Mapping[str, Any] | RequestEnvelope, *, utterance: str | None = None
    ) -> TurnResult:
        """Answer one request envelope (a parsed JSON dict or a loaded envelope) for ``skill_name``.

        Raises :class:`KeyError` for an unknown skill and :class:`EnvelopeError` for bad input,
        before any handler runs.
        """
        skill = self.skills[skill_name]
        envelope = data if isinstance(data, RequestEnvelope) else load_request(data)
        if skill.application_id and envelope.application_id and envelope.application_id != skill.application_id:
            raise EnvelopeError(
                f"This request is for application {envelope.application_id!r}, but skill {skill.name!r} "
                f"is configured for {skill.application_id!r}.",
                {"context.System.application.applicationId": ["Does not match the skill's application id."]},
            )
        # Unknown request types are refused before the chain, so nothing is recorded for garbage.
        skill.check_request_type(envelope.request.type)
        # ctx.http is made on its first use: a skill that never calls a partner never imports requests.
        turn = Turn(envelope, skill, utterance=utterance, http=self._http,
                    http_factory=None if self._http is not None else lambda: self.http, state_backend=self.store)
        resp = self._chains[skill_name](turn)
        if resp.error is None and turn.changed_state() is not None:
            # Capture saves state with the transcript in one commit; this covers capture=False
            # and a failed capture write.
            try:
                turn.save_state()
            except Exception:
                log.exception("could not save a user's state in skill %s", skill_name)  # no user id in logs
        return TurnResult(self.envelope_for(turn, resp), resp, turn)

    def handle_json(self, skill_name: str, body: str | bytes) -> str:
        """Bytes or text in, response JSON out: the whole round trip without HTTP.

        The body is checked as the HTTP endpoint checks it (:func:`~skills_sdk.envelope.parse_body`).
        """
        return self.handle(skill_name, parse_body(body)).json()

    @staticmethod
    def envelope_for(turn: Turn, resp: Response) -> dict[str, Any]:
        """The Alexa response envelope for ``resp``, after the request type's rules.

        Capture recorded the same ``response`` object (:func:`~skills_sdk.request_types.sent_body`),
        so the transcript holds what was sent, not what the handler built.
        """
        body = sent_body(turn, resp)
        out: dict[str, Any] = {"version": "1.0"}
        if turn.envelope.session is not None:
            out["sessionAttributes"] = turn.session
        out["response"] = body
        out["userAgent"] = USER_AGENT
        return out


#: What ``skills serve`` and ``skills_sdk.wsgi`` serve when no skills are named: the four example
#: skills that ship beside the SDK.
DEFAULT_SKILLS = "example_skills:all_skills"


def load_skills(spec: str) -> list[Skill]:
    """The skills named by ``module:attr``: a Skill, a list of skills, or a factory returning either.

    >>> load_skills("hello_skill:skill")      # doctest: +SKIP
    [<Skill 'hello' ...>]

    Like ``flask --app``, the current directory is searched first. Raises :class:`RegistrationError`
    naming the spec when the module or attribute is missing.
    """
    import importlib
    import os

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    mod_name, _, attr = spec.partition(":")
    if not mod_name.strip():
        raise RegistrationError(f"{spec!r} names no module: give module:attr, as in --skills hello_skill:skill.")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        top = mod_name.partition(".")[0]
        parent, _, last = mod_name.rpartition(".")
        if not attr and parent and isinstance(exc, ModuleNotFoundError) and exc.name == mod_name:
            try:  # module.attr for module:attr
                held = hasattr(importlib.import_module(parent), last)
            except ImportError:
                held = False
            if held:
                raise RegistrationError(f"{spec!r}: no module {mod_name!r}; {parent!r} holds {last!r}: "
                                        f"write --skills {parent}:{last} (a colon before the attribute).") from None
        if isinstance(exc, ModuleNotFoundError) and exc.name in (mod_name, top):
            raise RegistrationError(
                f"{spec!r}: cannot import {mod_name!r}: {exc}. It is looked for in the current folder "
                f"({os.getcwd()}) and on this Python's path ({sys.executable}): run the command from the folder "
                f"that holds {top}.py or {top}/, set PYTHONPATH to that folder, or activate the virtualenv "
                f"where {top} is installed."
            ) from None
        raise RegistrationError(
            f"{spec!r}: importing {mod_name!r} failed: {exc}. If a package it imports is missing, install it "
            f"into the Python that runs skills ({sys.executable})."
        ) from None
    obj = getattr(module, attr or "skill", None)

    def hint() -> str:  # for the errors only: the module's skills, and the spec naming the first
        held = [n for n, v in vars(module).items() if isinstance(v, Skill)]
        return f" It holds {', '.join(map(repr, held))}: --skills {mod_name}:{held[0]}." if held else ""

    folders = list(getattr(module, "__path__", ())) if getattr(module, "__file__", None) is None else []
    if obj is None and folders:
        # A folder without __init__.py imports as an empty namespace package: typically the folder
        # above a project made by `skills new NAME`, whose package is NAME/NAME/.
        name = mod_name.rpartition(".")[2]
        raise RegistrationError(
            f"{spec!r}: {mod_name!r} is the folder {folders[0]}, which has no __init__.py, so it holds no skill. "
            f"If your package is inside it (`skills new {name}` makes {name}/{name}/), run the command from "
            f"{folders[0]}, or set PYTHONPATH to that folder.")
    if obj is None:
        raise RegistrationError(f"{spec!r}: {mod_name!r} has no attribute {attr or 'skill'!r}; "
                                f"expected module:attr naming a Skill, a list of skills, or a factory.{hint()}")
    made = obj() if callable(obj) and not isinstance(obj, (Skill, type)) else obj
    skills = list(made) if isinstance(made, (list, tuple)) else [made]
    wrong = next((s for s in skills if not isinstance(s, Skill)), None)
    if wrong is not None or not skills:
        kind = type(wrong).__name__
        what = "an empty list" if not skills else f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind}"
        source = f"{mod_name}:{attr or 'skill'}" + ("()" if made is not obj else "")
        raise RegistrationError(f"{spec!r}: {source} is {what}, not a Skill; --skills names a Skill, a list of "
                                f"skills, or a factory returning either.{hint()}")
    return skills


def load_partner_session(spec: str) -> requests.Session | None:
    """The ``requests`` session the skills named by ``module:attr`` want: their module's ``partner_session()``.

    >>> load_partner_session("example_skills:all_skills")      # doctest: +SKIP
    <PartnerSession ...>   (with the example partners' stand-ins mounted)

    A skills module that reaches partner APIs may define ``partner_session()`` returning the
    session its handlers use (mounted stand-ins, timeouts, retries); None when it defines none.
    """
    import importlib

    load_skills(spec)  # the same import, with the same errors
    factory = getattr(importlib.import_module(spec.partition(":")[0]), "partner_session", None)
    return factory() if callable(factory) else None

