"""``Skill``: handlers registered by decorator, slot injection, built-in defaults and routing."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .context import Turn
from .envelope import Slot
from .errors import RegistrationError, UnknownRequestType
from .middleware import Endpoint, Middleware, compose
from .model import IntentModel, InteractionModel, SlotType, SlotValue
from .response import Response, ask, empty, say

__all__ = ["Skill", "Handler", "SlotParam", "is_intent", "is_request_type"]

log = logging.getLogger("skills_sdk")

F = TypeVar("F", bound=Callable[..., Any])

#: Request types the platform may send; those without a handler get an empty answer.
QUIET_REQUEST_PREFIXES = ("AudioPlayer.", "PlaybackController.", "AlexaSkillEvent.", "System.", "Display.",
                          "Alexa.Presentation.", "Connections.", "Messaging.", "Reminders.", "Dialog.")
#: Request types whose response may carry AudioPlayer directives only.
AUDIO_ONLY_PREFIXES = ("AudioPlayer.", "PlaybackController.")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class SlotParam:
    """One handler parameter filled from a slot: its name, the conversion, and its default."""

    name: str
    convert: str  # "str", "int", "float", "slot"
    default: Any = None


@dataclass(frozen=True, slots=True)
class Handler:
    """One registered handler: what it answers (``kind`` + ``key``) and how to call it."""

    kind: str  # "launch", "intent", "request", "session_ended", "error"
    key: str
    func: Callable[..., Any]
    params: tuple[SlotParam, ...] = ()
    model: IntentModel | None = field(default=None, compare=False)

    def describe(self) -> str:
        """``module.function`` — how error messages name a handler."""
        return f"{getattr(self.func, '__module__', '?')}.{getattr(self.func, '__qualname__', repr(self.func))}"


def _slot_params(func: Callable[..., Any], where: str) -> tuple[SlotParam, ...]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise RegistrationError(f"Cannot read the signature of {func!r} for {where}: {exc}.") from None
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise RegistrationError(
            f"Handler {func.__qualname__} for {where} must take the turn context as its first argument: "
            f"def {func.__name__}(ctx, ...)."
        )
    out = []
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation
        if isinstance(ann, str):
            ann = ann.replace(" ", "")
            convert = {"int": "int", "float": "float", "Slot": "slot"}.get(ann.split("|")[0], "str")
        else:
            convert = {int: "int", float: "float", Slot: "slot"}.get(ann, "str")
            args = getattr(ann, "__args__", ())
            if convert == "str" and args:
                convert = {int: "int", float: "float", Slot: "slot"}.get(args[0], "str")
        default = None if p.default is p.empty else p.default
        out.append(SlotParam(p.name, convert, default))
    return tuple(out)


def _convert(slot: Slot | None, param: SlotParam) -> Any:
    if slot is None:
        return param.default
    if param.convert == "slot":
        return slot
    raw = slot.resolved or slot.value
    if raw is None:
        return param.default
    if param.convert == "int":
        try:
            return int(raw)
        except ValueError:
            return param.default
    if param.convert == "float":
        try:
            return float(raw)
        except ValueError:
            return param.default
    return raw


def is_intent(ctx: Turn, *names: str) -> bool:
    """True if the turn is an IntentRequest for one of ``names``."""
    return ctx.intent_name in names


def is_request_type(ctx: Turn, *types: str) -> bool:
    """True if the turn's request type is one of ``types``."""
    return ctx.request_type in types


@dataclass(frozen=True, slots=True)
class LedgerPolicy:
    """What the ledger keeps of a skill's turns, and for how long: one object instead of five keywords.

    >>> Skill("pizza", developer_id="acme", ledger=LedgerPolicy(retention_days=30, exempt_slots={"size"}))
    <Skill 'pizza' ...>

    ``retention_days``: transcripts are purged after this (None: the server's default, or kept).
    ``receipt_retention_days``: turns with a transaction keep a receipt-only row this long.
    ``redact_patterns``: extra PII kinds, ``{"ORDER_NO": r"ORD-\\d+"}``. ``exempt_slots``: slots
    never redacted. ``disable_grace_days``: how long after SkillDisabled the user is forgotten.
    """

    retention_days: int | None = None
    receipt_retention_days: int | None = None
    redact_patterns: Mapping[str, str] = field(default_factory=dict)
    exempt_slots: frozenset[str] = frozenset()
    disable_grace_days: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "redact_patterns", dict(self.redact_patterns or {}))
        object.__setattr__(self, "exempt_slots", frozenset(self.exempt_slots))
        for name in ("retention_days", "receipt_retention_days"):
            days = getattr(self, name)
            if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
                raise RegistrationError(f"{name} must be a whole number of days of at least 1, or None; got {days!r}.")
        if isinstance(self.disable_grace_days, bool) or not isinstance(self.disable_grace_days, int) \
                or self.disable_grace_days < 0:
            raise RegistrationError(f"disable_grace_days must be 0 or more whole days, got {self.disable_grace_days!r}.")


_DEFAULTS: dict[str, Any] = dict(retention_days=None, receipt_retention_days=None, redact_patterns={},
                                 exempt_slots=frozenset(), disable_grace_days=0)


class Skill:
    """A voice skill: a name, the developer who owns it, and its handlers.

    >>> pizza = Skill("pizza", developer_id="acme-pizza", invocation_name="pizza shop")
    >>> @pizza.intent("OrderPizzaIntent", samples=["order a {size} pizza"], slots={"size": "PizzaSize"})
    ... def order(ctx, size="medium"):
    ...     return say(f"One {size} pizza coming up.")

    Each decorator returns the function unchanged and has a plain-method twin
    (``intent`` / ``add_intent``). Registration raises at once on a duplicate or after the skill
    started serving.
    """

    def __init__(
        self,
        name: str,
        *,
        developer_id: str,
        invocation_name: str | None = None,
        application_id: str | None = None,
        retention_days: int | None = None,
        receipt_retention_days: int | None = None,
        redact_patterns: Mapping[str, str] | None = None,
        exempt_slots: Iterable[str] = (),
        disable_grace_days: int = 0,
        ledger: LedgerPolicy | None = None,
        config: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> None:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise RegistrationError(f"Skill name must be letters, digits, '-' or '_', got {name!r}.")
        if not developer_id:
            raise RegistrationError(f"Skill {name!r} needs a developer_id: the developer who owns its transcripts.")
        self.name = name
        self.developer_id = developer_id
        self.invocation_name = (invocation_name or name.replace("_", " ")).lower()
        self.application_id = application_id
        loose = dict(retention_days=retention_days, receipt_retention_days=receipt_retention_days,
                     redact_patterns=redact_patterns or {}, exempt_slots=frozenset(exempt_slots),
                     disable_grace_days=disable_grace_days)
        if ledger is not None and loose != _DEFAULTS:
            named = ", ".join(k for k, v in loose.items() if v != _DEFAULTS[k])
            raise RegistrationError(f"Skill {name!r} got ledger=LedgerPolicy(...) and also {named}; "
                                    "put them all in the LedgerPolicy.")
        #: What the ledger keeps of this skill's turns (the five keywords are its short form).
        self.ledger: LedgerPolicy = ledger if ledger is not None else LedgerPolicy(**loose)
        self.config: dict[str, Any] = dict(config or {})
        self.description = description
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._types: dict[str, SlotType] = {}
        self._middleware: list[Middleware] = []
        self._started = False

    # The ledger keywords, read through the policy (code written before it reads them here).
    retention_days = property(lambda self: self.ledger.retention_days)
    receipt_retention_days = property(lambda self: self.ledger.receipt_retention_days)
    redact_patterns = property(lambda self: self.ledger.redact_patterns)
    exempt_slots = property(lambda self: self.ledger.exempt_slots)
    disable_grace_days = property(lambda self: self.ledger.disable_grace_days)

    # -- registration -------------------------------------------------------------------
    def _check_open(self, what: str) -> None:
        if self._started:
            raise RegistrationError(
                f"Cannot {what} on skill {self.name!r}: it has already started serving requests. "
                "Register every handler, slot type and middleware before the first request."
            )

    def _register(self, handler: Handler) -> None:
        self._check_open(f"register {handler.describe()}")
        key = (handler.kind, handler.key)
        old = self._handlers.get(key)
        if old is not None:
            label = handler.key if handler.kind in ("intent", "request") else handler.kind
            raise RegistrationError(
                f"Duplicate handler for {label!r} in skill {self.name!r}: {handler.describe()} would replace "
                f"{old.describe()}. Keep one of them, or register the other under a different name."
            )
        self._handlers[key] = handler

    def add_intent(
        self,
        name: str,
        func: Callable[..., Any],
        *,
        samples: Sequence[str] = (),
        slots: Mapping[str, str] | None = None,
    ) -> None:
        """Register ``func`` for intent ``name``, with its sample utterances and slots (slot -> type).

        Slot parameters of ``func`` are filled by name: ``def order(ctx, size, count: int = 1)``.
        """
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"Intent name must be a non-empty string, got {name!r}.")
        if isinstance(samples, str):
            raise RegistrationError(f"samples of intent {name!r} must be a list of strings, not one string.")
        model = IntentModel(name, tuple(samples), dict(slots or {}))
        params = _slot_params(func, f"intent {name!r}")
        handler = Handler("intent", name, func, params, model)
        self._register(handler)
        try:
            self._validate_model()
        except Exception:
            del self._handlers[("intent", name)]
            raise

    def intent(
        self, name: str, *, samples: Sequence[str] = (), slots: Mapping[str, str] | None = None
    ) -> Callable[[F], F]:
        """Decorator twin of :meth:`add_intent`."""

        def decorator(func: F) -> F:
            self.add_intent(name, func, samples=samples, slots=slots)
            return func

        return decorator

    def add_launch(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for LaunchRequest ("open <invocation name>")."""
        self._register(Handler("request", "LaunchRequest", func, _slot_params(func, "LaunchRequest")))

    def launch(self, func: F) -> F:
        """Decorator twin of :meth:`add_launch`."""
        self.add_launch(func)
        return func

    def add_session_ended(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for SessionEndedRequest (its response body is ignored by the platform)."""
        self._register(Handler("request", "SessionEndedRequest", func, _slot_params(func, "SessionEndedRequest")))

    def session_ended(self, func: F) -> F:
        """Decorator twin of :meth:`add_session_ended`."""
        self.add_session_ended(func)
        return func

    def add_fallback(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for AMAZON.FallbackIntent and for any intent without a handler."""
        self.add_intent("AMAZON.FallbackIntent", func)

    def fallback(self, func: F) -> F:
        """Decorator twin of :meth:`add_fallback`."""
        self.add_fallback(func)
        return func

    def add_request_handler(self, request_type: str, func: Callable[..., Any]) -> None:
        """Register ``func`` for another request type, e.g. ``AudioPlayer.PlaybackNearlyFinished``."""
        if request_type == "IntentRequest":
            raise RegistrationError("Register intents with @skill.intent(name), not @skill.on('IntentRequest').")
        self._register(Handler("request", request_type, func, _slot_params(func, request_type)))

    def on(self, request_type: str) -> Callable[[F], F]:
        """Decorator twin of :meth:`add_request_handler`."""

        def decorator(func: F) -> F:
            self.add_request_handler(request_type, func)
            return func

        return decorator

    def add_error_handler(self, func: Callable[[Turn, Exception], Response]) -> None:
        """Register ``func(ctx, exc)`` to answer when a handler raises."""
        self._register(Handler("error", "*", func))

    def error(self, func: F) -> F:
        """Decorator twin of :meth:`add_error_handler`."""
        self.add_error_handler(func)
        return func

    def add_slot_type(self, slot_type: SlotType) -> None:
        """Declare a custom slot type."""
        self._check_open(f"add slot type {slot_type.name!r}")
        if slot_type.name in self._types:
            raise RegistrationError(f"Slot type {slot_type.name!r} is declared twice in skill {self.name!r}.")
        self._types[slot_type.name] = slot_type
        try:
            self._validate_model()
        except Exception:
            del self._types[slot_type.name]
            raise

    def slot_type(
        self, name: str, values: Iterable[str | SlotValue] | Mapping[str, Iterable[str]]
    ) -> SlotType:
        """Declare a custom slot type from names, ``SlotValue``s or a mapping of name -> synonyms."""
        st = SlotType.of(name, values)
        self.add_slot_type(st)
        return st

    def use(self, middleware: Middleware) -> Middleware:
        """Add a middleware for this skill (runs inside the server's middleware). Usable as decorator."""
        self._check_open(f"add middleware {getattr(middleware, '__name__', middleware)!r}")
        self._middleware.append(middleware)
        return middleware

    # -- the model ------------------------------------------------------------------------
    @property
    def model(self) -> InteractionModel:
        """The interaction model: intents with samples and slots, and the custom slot types."""
        intents = tuple(h.model for h in self._handlers.values() if h.kind == "intent" and h.model)
        return InteractionModel(self.invocation_name, intents, tuple(self._types.values()))

    def _validate_model(self, *, final: bool = False) -> None:
        """Check the model now if it is complete; slot types may still follow, so wait for them."""
        try:
            from .nlu import validate_model
        except ImportError:  # pragma: no cover - the NLU ships with the SDK
            return
        model = self.model
        if not final:
            wanted = {t for i in model.intents for t in i.slots.values() if not t.startswith("AMAZON.")}
            if not wanted <= set(self._types):
                return
        validate_model(model)

    def intents(self) -> list[str]:
        """The names of the intents with a registered handler."""
        return [k for (kind, k) in self._handlers if kind == "intent"]

    # -- dispatch ------------------------------------------------------------------------
    def pipeline(self, outer: Sequence[Middleware] = ()) -> Endpoint:
        """Freeze the skill and compose ``outer`` + the skill's middleware + the router.

        Called once by the server (and the test client) before the first request.
        """
        if not self._started:
            self._validate_model(final=True)
            self._started = True
        return compose([*outer, *self._middleware], self.route)

    def route(self, ctx: Turn) -> Response:
        """Find the handler for the turn, call it with its slots, and answer for it if it fails."""
        handler, args = self._resolve(ctx)
        try:
            if handler is None:
                result = args  # the default answer
            else:
                result = handler.func(ctx, **args)
            if not isinstance(result, Response):
                if result is None and ctx.request_type == "SessionEndedRequest":
                    result = empty()
                elif isinstance(result, str):
                    result = say(result)
                else:
                    what = handler.describe() if handler else "the default handler"
                    raise TypeError(
                        f"{what} returned {type(result).__name__}, expected a Response: "
                        "return say(...), ask(...) or empty()."
                    )
            return result
        except Exception as exc:  # a handler's failure is the user's apology, never a 500
            return self._on_error(ctx, exc, handler)

    def _on_error(self, ctx: Turn, exc: Exception, handler: Handler | None) -> Response:
        where = handler.describe() if handler else "the default handler"
        custom = self._handlers.get(("error", "*"))
        resp: Response | None = None
        if custom is not None:
            try:
                resp = custom.func(ctx, exc)
            except Exception:
                log.exception("error handler of skill %s raised too", self.name)
        if isinstance(resp, Response):
            # The skill answered for its own failure (a partner outage, say): one line, no traceback.
            log.warning("%s of skill %s raised %s; its error handler answered", where, self.name, type(exc).__name__)
        else:
            log.error("%s of skill %s raised", where, self.name, exc_info=exc)
            resp = ask("Sorry, something went wrong on my side. Please try again.", "What would you like to do?")
        resp.error = (type(exc).__name__, str(exc)[:500])
        return resp

    def _resolve(self, ctx: Turn) -> tuple[Handler | None, Any]:
        rtype = ctx.request.type
        if rtype == "IntentRequest":
            name = ctx.request.intent.name if ctx.request.intent else ""
            h = self._handlers.get(("intent", name))
            if h is None:
                h = self._handlers.get(("intent", "AMAZON.FallbackIntent"))
                if h is None:
                    return None, self._default_intent(name)
            slots = ctx.request.intent.slots if ctx.request.intent else {}
            return h, {p.name: _convert(slots.get(p.name), p) for p in h.params}
        h = self._handlers.get(("request", rtype))
        if h is not None:
            return h, {p.name: p.default for p in h.params}
        if rtype == "LaunchRequest":
            return None, ask(
                f"Welcome to {self.invocation_name}. {self._hint()}", "What would you like to do?"
            )
        if rtype == "SessionEndedRequest" or rtype.startswith(QUIET_REQUEST_PREFIXES):
            return None, empty()
        self.check_request_type(rtype)
        return None, empty()  # pragma: no cover - check_request_type raised

    def check_request_type(self, request_type: str) -> None:
        """Raise :class:`UnknownRequestType` unless this skill can answer ``request_type``."""
        if (
            request_type in ("IntentRequest", "LaunchRequest", "SessionEndedRequest")
            or ("request", request_type) in self._handlers
            or request_type.startswith(QUIET_REQUEST_PREFIXES)
        ):
            return
        raise UnknownRequestType(
            f"Request type {request_type!r} is not one skill {self.name!r} can answer. "
            "Known: LaunchRequest, IntentRequest, SessionEndedRequest, AudioPlayer.*, PlaybackController.*, "
            f"AlexaSkillEvent.*; register @skill.on({request_type!r}) to handle it.",
            {"request.type": [f"Unknown request type {request_type!r}."]},
        )

    def _hint(self) -> str:
        for h in self._handlers.values():
            if h.kind == "intent" and h.model and h.model.samples and not h.key.startswith("AMAZON."):
                sample = h.model.samples[0]
                for slot in h.model.slots:
                    sample = sample.replace("{" + slot + "}", "…")
                if "{" not in sample and "…" not in sample:
                    return f"You can say, {sample}."
        return "What would you like to do?"

    def _default_intent(self, name: str) -> Response:
        if name == "AMAZON.HelpIntent":
            return ask(f"This is {self.invocation_name}. {self._hint()}", "What would you like to do?")
        if name in ("AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent"):
            return say("Goodbye.").end()
        return ask(
            f"Sorry, {self.invocation_name} can't help with that. {self._hint()}",
            "What would you like to do?",
        )

    def __repr__(self) -> str:
        return f"<Skill {self.name!r} developer={self.developer_id!r} intents={len(self.intents())}>"

