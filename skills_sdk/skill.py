"""``Skill``: handlers registered by decorator, slot injection, built-in defaults and routing."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ._frozen import NEW_DICT, RECORD, Frozen, set_field
from ._logs import LazyLogger, traceback_without_words
from .context import Turn
from .dialog import DELEGATION_STRATEGIES, DialogSlot
from .envelope import Slot
from .errors import RegistrationError, StateError, UnknownRequestType
from .locale import Catalogue, LocaleModel, fallback_chain, localize
from .middleware import Endpoint, Middleware, compose
from .model import IntentModel, InteractionModel, SlotType, SlotValue
from .request_types import UNKNOWN, is_well_formed, known_types_text, rule_for
from .response import CanFulfill, Response, ask, empty, say

__all__ = ["Skill", "Handler", "SlotParam", "is_intent", "is_request_type"]

log = LazyLogger("skills_sdk")

F = TypeVar("F", bound=Callable[..., Any])

# What the built-in defaults say, by language; a language not listed hears English.
_DEFAULT_TEXTS = {
    "en": {"welcome": "Welcome to {name}. {hint}", "welcome_back": "Welcome back to {name}. {hint}",
           "help": "This is {name}. {hint}", "cannot_help": "Sorry, {name} can't help with that. {hint}",
           "goodbye": "Goodbye.", "what_next": "What would you like to do?", "you_can_say": "You can say, {sample}."},
    "de": {"welcome": "Willkommen bei {name}. {hint}", "welcome_back": "Willkommen zurück bei {name}. {hint}",
           "help": "Das ist {name}. {hint}", "cannot_help": "Leider kann {name} dabei nicht helfen. {hint}",
           "goodbye": "Tschüss.", "what_next": "Was möchtest du tun?", "you_can_say": "Du kannst sagen: {sample}."},
}

#: Request types whose response may carry AudioPlayer directives only.
AUDIO_ONLY_PREFIXES = ("AudioPlayer.", "PlaybackController.")
_MISSING = object()


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class SlotParam(Frozen):
    """One handler parameter filled from a slot: its name, the conversion, and its default."""

    name: str
    convert: str  # "str", "int", "float", "slot"
    default: Any = None
    slot_type: str | None = None  # the SlotType the parameter is annotated with, if any

    def __init__(self, name: str, convert: str, default: Any = None, slot_type: str | None = None) -> None:
        set_field(self, "name", name)
        set_field(self, "convert", convert)
        set_field(self, "default", default)
        set_field(self, "slot_type", slot_type)


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Handler(Frozen):
    """One registered handler: what it answers (``kind`` + ``key``) and how to call it."""

    kind: str  # "launch", "intent", "request", "session_ended", "error"
    key: str
    func: Callable[..., Any]
    params: tuple[SlotParam, ...] = ()
    model: IntentModel | None = field(default=None, compare=False)

    def __init__(self, kind: str, key: str, func: Callable[..., Any], params: tuple[SlotParam, ...] = (),
                 model: IntentModel | None = None) -> None:
        set_field(self, "kind", kind)
        set_field(self, "key", key)
        set_field(self, "func", func)
        set_field(self, "params", params)
        set_field(self, "model", model)

    def describe(self) -> str:
        """``module.function`` — how error messages name a handler."""
        return _name(self.func)


def _name(func: Any) -> str:
    """``module.function``, for a function that is not registered yet."""
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def check_callable(func: Any, where: str) -> None:
    """Refuse, naming ``where``, what cannot serve as a handler or middleware: a non-callable, an ``async def``."""
    if not callable(func):
        raise RegistrationError(
            f"{where}: got {func!r}, which is not a function. Decorate a function: "
            "@skill.intent('OrderIntent') above def order(ctx, ...)."
        )
    # A callable object's own ``__call__`` is what runs: an ``async def __call__`` is a coroutine too.
    target = func if inspect.isroutine(func) or inspect.isclass(func) else func.__call__
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func) or inspect.iscoroutinefunction(target):
        raise RegistrationError(
            f"{_name(func)} for {where} is `async def`. Handlers run synchronously on the thread that serves "
            "the request (gunicorn's sync workers, Lambda, the test client): no event loop would ever await "
            f"the coroutine it returns. Write `def {getattr(func, '__name__', 'handler')}(ctx, ...)` and call "
            "async code inside it with asyncio.run(...), or use the library's synchronous client."
        )


def _needs_name(decorator: str, example: str, func: Any) -> RegistrationError:
    """``@skill.intent`` or ``@skill.on`` given no name, bare or with empty parentheses, above ``func``."""
    what = "the intent's name" if decorator == "intent" else "the request type"
    return RegistrationError(
        f"@skill.{decorator} needs {what}: write @skill.{decorator}({example}) above "
        f"def {getattr(func, '__name__', 'handler')}(ctx, ...)."
    )


def _no_parentheses(decorator: str, signature: str) -> RegistrationError:
    """``@skill.launch()`` and the like: the decorator was called with nothing, not given the function."""
    return RegistrationError(
        f"@skill.{decorator} takes no parentheses: write @skill.{decorator} above def {signature}."
    )


def _type_name(intent: str, slot: str, declared: object) -> str:
    """A slot's type as the model names it; a :class:`SlotType` (what ``skill.slot_type`` returns) stands for its name."""
    if isinstance(declared, SlotType):
        return declared.name
    if isinstance(declared, str) and declared:
        return declared
    raise RegistrationError(
        f"Slot {slot!r} of intent {intent!r} has type {declared!r}; give the slot type's name, such as "
        f"'AMAZON.NUMBER' or one declared with skill.slot_type('Name', [...]), or the SlotType it returned."
    )


def _slot_params(func: Callable[..., Any], where: str,
                 slots: Mapping[str, str] | None = None) -> tuple[SlotParam, ...]:
    """The slot parameters of ``func``; with ``slots`` (an intent's), each must name one of them."""
    check_callable(func, where)
    try:
        try:
            # `from __future__ import annotations` makes every annotation a string: resolve them
            # so `drink: Drink` (a slot type) is seen; names only a local scope knows stay strings.
            sig = inspect.signature(func, eval_str=True)
        except (NameError, SyntaxError, AttributeError, TypeError):
            sig = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise RegistrationError(f"Cannot read the signature of {func!r} for {where}: {exc}.") from None
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise RegistrationError(
            f"Handler {_name(func)} for {where} must take the turn context as its first argument: "
            f"def {getattr(func, '__name__', 'handler')}(ctx, ...)."
        )
    if slots and params[0].name in slots:
        raise RegistrationError(
            f"Handler {_name(func)} for {where}: its first parameter {params[0].name!r} is a slot, but the "
            f"turn context comes first: def {func.__name__}(ctx, {params[0].name}, ...)."
        )
    out = []
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if slots is not None and p.name not in slots:
            import difflib  # only for this error's hint: off the cold path

            close = difflib.get_close_matches(p.name, list(slots), n=1, cutoff=0.6)
            declared = ", ".join(repr(s) for s in slots) or "none"
            fix = (f"Did you mean {close[0]!r}? Rename the parameter" if close
                   else "Rename it to one of them")
            raise RegistrationError(
                f"Handler {_name(func)} for {where} has parameter {p.name!r}, which matches no slot of the "
                f"intent (declared: {declared}), so it would always be {p.default if p.default is not p.empty else None!r}. "
                f"{fix}, or declare it: slots={{{p.name!r}: 'SlotType'}}."
            )
        ann = p.annotation
        slot_type = None
        if isinstance(ann, SlotType):
            convert, slot_type = "str", ann.name
        elif isinstance(ann, str):
            ann = ann.replace(" ", "")
            convert = {"int": "int", "float": "float", "Slot": "slot"}.get(ann.split("|")[0], "str")
        else:
            convert = {int: "int", float: "float", Slot: "slot"}.get(ann, "str")
            args = getattr(ann, "__args__", ())
            if convert == "str" and args:
                convert = {int: "int", float: "float", Slot: "slot"}.get(args[0], "str")
                if isinstance(args[0], SlotType):
                    slot_type = args[0].name
        if slot_type and slots and slots.get(p.name) != slot_type:
            raise RegistrationError(
                f"Handler {_name(func)} for {where}: parameter {p.name!r} is annotated with slot type "
                f"{slot_type!r}, but slot {p.name!r} is declared as {slots.get(p.name)!r}. "
                f"Make the two agree: slots={{{p.name!r}: {slot_type!r}}}."
            )
        default = None if p.default is p.empty else p.default
        out.append(SlotParam(p.name, convert, default, slot_type))
    return tuple(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _convert(slot: Slot | None, param: SlotParam) -> Any:
    if slot is None:
        return param.default
    if param.convert == "slot":
        return slot
    if param.convert == "str":
        text = slot.text()
        return param.default if text is None else text
    raw = slot.resolved or slot.value
    if raw is None:
        return param.default
    if param.convert == "int":
        try:
            return int(raw)
        except ValueError:
            return param.default
    try:
        return float(raw)
    except ValueError:
        return param.default


def is_intent(ctx: Turn, *names: str) -> bool:
    """True if the turn is an IntentRequest for one of ``names``."""
    return ctx.intent_name in names


def is_request_type(ctx: Turn, *types: str) -> bool:
    """True if the turn's request type is one of ``types``."""
    return ctx.request_type in types


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class LedgerPolicy(Frozen):
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

    def __init__(self, retention_days: int | None = None, receipt_retention_days: int | None = None,
                 redact_patterns: Mapping[str, str] = NEW_DICT, exempt_slots: Iterable[str] = frozenset(),
                 disable_grace_days: int = 0) -> None:
        set_field(self, "retention_days", retention_days)
        set_field(self, "receipt_retention_days", receipt_retention_days)
        set_field(self, "redact_patterns", dict(redact_patterns or {}) if redact_patterns is not NEW_DICT else {})
        set_field(self, "exempt_slots", frozenset(exempt_slots))
        set_field(self, "disable_grace_days", disable_grace_days)
        for name in ("retention_days", "receipt_retention_days"):
            days = getattr(self, name)
            if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
                raise RegistrationError(f"{name} must be a whole number of days of at least 1, or None; got {days!r}.")
        if isinstance(self.disable_grace_days, bool) or not isinstance(self.disable_grace_days, int) \
                or self.disable_grace_days < 0:
            raise RegistrationError(f"disable_grace_days must be 0 or more whole days, got {self.disable_grace_days!r}.")


#: Unknown request types a skill remembers having logged (emptied when full): the client names them,
#: so a stream of made-up types kept one entry each for the life of the process.
_WARNED_TYPES = 256

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

    :param name: the URL path segment (``POST /alexa/<name>``): letters, digits, ``-``, ``_``.
    :param developer_id: the developer who owns the skill's transcripts (their key reads them).
    :param invocation_name: what users say to open it ("Alexa, open pizza shop"); default: ``name``.
    :param application_id: the Alexa skill id; requests addressed to another one are refused.
    :param retention_days: days transcripts are kept before a purge removes them (None: kept).
    :param receipt_retention_days: days transaction receipts are kept, without their text.
    :param redact_patterns: extra PII kinds to redact before storage, name -> regular expression.
    :param exempt_slots: slots whose values are never redacted.
    :param disable_grace_days: on ``AlexaSkillEvent.SkillDisabled``, erase the user's data now (0)
        or this many days later, unless they enable the skill again meanwhile.
    :param config: your own settings, read in handlers as ``ctx.config``.
    :param description: what the skill does, in a sentence for people.
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
        delegation: str = "ALWAYS",
        locale: str = "en-US",
    ) -> None:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise RegistrationError(f"Skill name must be letters, digits, '-' or '_', got {name!r}.")
        if not developer_id:
            raise RegistrationError(f"Skill {name!r} needs a developer_id: the developer who owns its transcripts.")
        from .model_rules import check_invocation, raise_for

        if invocation_name is not None:  # a name derived from the skill's is checked on export only
            raise_for(check_invocation(invocation_name), f"skill {name!r}")
        invocation = invocation_name or name.replace("_", " ").replace("-", " ").lower()
        if delegation not in DELEGATION_STRATEGIES:
            raise RegistrationError(f"Skill {name!r}: delegation={delegation!r} is not one of "
                                    f"{', '.join(DELEGATION_STRATEGIES)} (auto-delegation is 'ALWAYS').")
        self.name = name
        self.developer_id = developer_id
        self.invocation_name = invocation
        #: Alexa's delegation strategy for intents with dialog rules: "ALWAYS" (auto) or "SKILL_RESPONSE".
        self.delegation = delegation
        #: The locale the skill's samples, slot values and prompts are written in.
        self.locale = LocaleModel.of(locale).locale
        self._locales: dict[str, LocaleModel] = {}
        #: Response texts per locale, read in handlers with ``ctx.t(key)``.
        self.catalogue = Catalogue(self.locale)
        #: What ``skills package`` writes into the manifest (``skill.publish(...)``); None until declared.
        self.publishing: Any = None
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
        self._validated: InteractionModel | None = None  # the model validate_model last passed
        self._warned_types: set[str] = set()  # unknown request types already logged once

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
        slots: Mapping[str, str | DialogSlot] | None = None,
        confirm: str | Sequence[str] = (),
        delegation: str | None = None,
    ) -> None:
        """Register ``func`` for intent ``name``, with its sample utterances and slots (slot -> type).

        Slot parameters of ``func`` are filled by name: ``def order(ctx, size, count: int = 1)``.
        A slot given as :func:`~skills_sdk.dialog.required` / :func:`~skills_sdk.dialog.optional`
        carries dialog rules; ``confirm`` are the questions that confirm the whole intent;
        ``delegation`` overrides the skill's strategy for this intent ("ALWAYS" or "SKILL_RESPONSE").
        """
        if callable(name):
            raise _needs_name("intent", "'OrderIntent', samples=[...]", name)
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"Intent name must be a non-empty string, got {name!r}.")
        if isinstance(samples, str):
            raise RegistrationError(f"samples of intent {name!r} must be a list of strings, not one string.")
        from .model_rules import check_intent, raise_for

        slots = {s: replace(t, type=_type_name(name, s, t.type)) if isinstance(t, DialogSlot) else _type_name(name, s, t)
                 for s, t in (slots or {}).items()}
        types = {s: (t.type if isinstance(t, DialogSlot) else t) for s, t in slots.items()}
        dialog_slots = {s: t for s, t in slots.items() if isinstance(t, DialogSlot)}
        model = IntentModel(name, tuple(samples), types, dialog_slots,
                            (confirm,) if isinstance(confirm, str) else tuple(confirm), delegation)
        raise_for(check_intent(model), f"intent {name!r} of skill {self.name!r}")
        # The fallback also answers intents without a handler, so its parameters may name their slots.
        declared = None if name == "AMAZON.FallbackIntent" else types
        params = _slot_params(func, f"intent {name!r}", declared)
        handler = Handler("intent", name, func, params, model)
        self._register(handler)
        try:
            self._validate_model()
        except Exception:
            del self._handlers[("intent", name)]
            raise

    def intent(
        self,
        name: str = "",
        *,
        samples: Sequence[str] = (),
        slots: Mapping[str, str | DialogSlot] | None = None,
        confirm: str | Sequence[str] = (),
        delegation: str | None = None,
    ) -> Callable[[F], F]:
        """Decorator twin of :meth:`add_intent`."""
        if callable(name):
            raise _needs_name("intent", "'OrderIntent', samples=[...]", name)

        def decorator(func: F) -> F:
            if not name:  # @skill.intent() or @skill.intent(samples=[...]): named when the function is known
                raise _needs_name("intent", "'OrderIntent', samples=[...]", func)
            self.add_intent(name, func, samples=samples, slots=slots, confirm=confirm, delegation=delegation)
            return func

        return decorator

    def add_launch(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for LaunchRequest ("open <invocation name>")."""
        self._register(Handler("request", "LaunchRequest", func, _slot_params(func, "LaunchRequest")))

    def launch(self, func: F | None = None) -> F:
        """Decorator twin of :meth:`add_launch`."""
        if func is None:
            raise _no_parentheses("launch", "welcome(ctx)")
        self.add_launch(func)
        return func

    def add_session_ended(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for SessionEndedRequest (its response body is ignored by the platform)."""
        self._register(Handler("request", "SessionEndedRequest", func, _slot_params(func, "SessionEndedRequest")))

    def session_ended(self, func: F | None = None) -> F:
        """Decorator twin of :meth:`add_session_ended`."""
        if func is None:
            raise _no_parentheses("session_ended", "goodbye(ctx)")
        self.add_session_ended(func)
        return func

    def add_fallback(self, func: Callable[..., Any]) -> None:
        """Register ``func`` for AMAZON.FallbackIntent and for any intent without a handler."""
        self.add_intent("AMAZON.FallbackIntent", func)

    def fallback(self, func: F | None = None) -> F:
        """Decorator twin of :meth:`add_fallback`."""
        if func is None:
            raise _no_parentheses("fallback", "fallback(ctx)")
        self.add_fallback(func)
        return func

    def add_request_handler(self, request_type: str, func: Callable[..., Any]) -> None:
        """Register ``func`` for any request type Alexa sends, e.g. ``SessionResumedRequest``.

        The types this SDK knows are in ``skills_sdk.request_types.REQUEST_TYPES``; a type it does
        not know yet may be registered too. What the handler returns is trimmed to what Alexa allows
        for that type (no speech for an AudioPlayer event, nothing for SessionEndedRequest).
        """
        if request_type == "IntentRequest":
            raise RegistrationError("Register intents with @skill.intent(name), not @skill.on('IntentRequest').")
        if not isinstance(request_type, str) or not is_well_formed(request_type):
            raise RegistrationError(
                f"{request_type!r} is not a request type: Alexa's look like 'SessionResumedRequest' or "
                "'AudioPlayer.PlaybackStarted'."
            )
        self._register(Handler("request", request_type, func, _slot_params(func, request_type)))

    def on(self, request_type: str = "") -> Callable[[F], F]:
        """Decorator twin of :meth:`add_request_handler`."""
        if callable(request_type):  # bare @skill.on: the function would be replaced by a decorator, registered nowhere
            raise _needs_name("on", "'SessionResumedRequest'", request_type)

        def decorator(func: F) -> F:
            if not request_type:
                raise _needs_name("on", "'SessionResumedRequest'", func)
            self.add_request_handler(request_type, func)
            return func

        return decorator

    def add_can_fulfill(self, func: Callable[..., Any]) -> None:
        """Register ``func`` to answer CanFulfillIntentRequest: may this skill take the user's request?

        ``func(ctx, **slots)`` gets the asked intent's slots by parameter name, like an intent
        handler, and returns a :class:`CanFulfill`. ``ctx.skill.default_can_fulfill(ctx)`` is the
        answer computed from the interaction model, a good start to refine. Without a handler that
        default is sent.
        """
        self._register(Handler("request", "CanFulfillIntentRequest", func,
                               _slot_params(func, "CanFulfillIntentRequest")))

    def can_fulfill(self, func: F | None = None) -> F:
        """Decorator twin of :meth:`add_can_fulfill`."""
        if func is None:
            raise _no_parentheses("can_fulfill", "can_fulfill(ctx, ...)")
        self.add_can_fulfill(func)
        return func

    def default_can_fulfill(self, ctx: Turn) -> CanFulfill:
        """The answer the interaction model gives: MAYBE for an intent and slots it knows, else NO.

        A slot value that is one of its custom slot type's values or synonyms is understood (YES);
        any other value of a known slot may be (MAYBE) and is not promised.
        """
        intent = ctx.request.intent
        model = self.model.intent(intent.name) if intent is not None else None
        if model is None or intent is None:
            return CanFulfill.no()
        answer = CanFulfill.maybe()
        for name, slot in intent.slots.items():
            if slot.value is None:
                continue
            type_name = model.slots.get(name)
            if type_name is None:
                return CanFulfill.no()
            slot_type = self.model.slot_type(type_name)
            words = {slot.value.lower()}
            if slot.resolved:
                words.add(slot.resolved.lower())
            known = slot_type is not None and any(
                w in {v.name.lower(), *(x.lower() for x in v.synonyms)} for v in slot_type.values for w in words
            )
            answer.slot(name, understand="YES" if known else "MAYBE", fulfill="YES" if known else "NO")
        return answer

    def add_error_handler(self, func: Callable[[Turn, Exception], Response]) -> None:
        """Register ``func(ctx, exc)`` to answer when a handler raises."""
        check_callable(func, "the error handler")
        self._register(Handler("error", "*", func))

    def error(self, func: F | None = None) -> F:
        """Decorator twin of :meth:`add_error_handler`."""
        if func is None:
            raise _no_parentheses("error", "on_error(ctx, exc)")
        self.add_error_handler(func)
        return func

    def add_slot_type(self, slot_type: SlotType) -> None:
        """Declare a custom slot type."""
        self._check_open(f"add slot type {slot_type.name!r}")
        from .model_rules import check_slot_type, raise_for

        raise_for(check_slot_type(slot_type), f"skill {self.name!r}")
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
        """Declare a custom slot type from names, ``SlotValue`` objects or a mapping of name -> synonyms."""
        st = SlotType.of(name, values)
        self.add_slot_type(st)
        return st

    def use(self, middleware: Middleware | None = None) -> Middleware:
        """Add a middleware for this skill (runs inside the server's middleware). Usable as decorator."""
        if middleware is None:
            raise _no_parentheses("use", "middleware(ctx, call_next)")
        self._check_open(f"add middleware {getattr(middleware, '__name__', middleware)!r}")
        check_callable(middleware, f"middleware of skill {self.name!r}")
        self._middleware.append(middleware)
        return middleware

    # -- locales ---------------------------------------------------------------------------
    def add_locale(
        self,
        locale: str,
        *,
        invocation_name: str | None = None,
        samples: Mapping[str, Sequence[str]] | None = None,
        slot_values: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        slot_samples: Mapping[str, Sequence[str]] | None = None,
        prompts: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        """Serve ``locale`` too: its invocation name, samples per intent, the words for each slot value,
        slot samples (``"Intent.slot"``) and dialog prompts by id (``"Elicit.Slot.Intent.slot"``).

        >>> skill.add_locale("de-DE", invocation_name="pizza laden",
        ...                  samples={"OrderPizzaIntent": ["bestelle eine pizza"]})   # doctest: +SKIP
        """
        self._check_open(f"add locale {locale!r}")
        loc = LocaleModel.of(locale, invocation_name=invocation_name, samples=samples, slot_values=slot_values,
                             slot_samples=slot_samples, prompts=prompts)
        if loc.locale == self.locale or loc.locale in self._locales:
            raise RegistrationError(f"Locale {locale!r} is declared twice in skill {self.name!r}; "
                                    "give all of its samples, values and prompts in one add_locale call.")
        from .model_rules import check_invocation, check_sample, raise_for

        problems = check_invocation(loc.invocation_name, loc.locale) if loc.invocation_name else []
        for intent, texts in loc.samples.items():
            problems += [p for t in texts for p in check_sample(t, f"{loc.locale} sample of intent {intent!r}")]
        raise_for(problems, f"locale {locale} of skill {self.name!r}")
        self._locales[loc.locale] = loc

    def publish(self, **fields: Any) -> None:
        """Declare the store listing per locale, category, permissions, interfaces and privacy answers
        that ``skills package`` writes into ``skill.json`` (see :mod:`skills_sdk.package`).

        >>> skill.publish(category="DELIVERY_AND_TAKEOUT", privacy_policy_url="https://pizza.example/privacy",
        ...               listings={"en-US": {"name": "Pizza Shop", "summary": "...", "description": "...",
        ...                                   "example_phrases": ["Alexa, open pizza shop"]}})   # doctest: +SKIP
        """
        from .package import Publishing

        self.publishing = Publishing.of(**fields)

    def messages(self, locale: str, texts: Mapping[str, str]) -> None:
        """Add response texts for a locale (``"de-DE"``) or a language (``"de"``); read them with ``ctx.t(key)``."""
        self.catalogue.add(locale, texts)

    @property
    def locales(self) -> list[str]:
        """Every locale the skill serves, its own first."""
        return [self.locale, *self._locales]

    def check_locales(self) -> None:
        """Raise :class:`ModelError` if a locale names an intent, slot type, value or prompt the skill lacks."""
        from .model_rules import check_locale, raise_for

        model = self.model
        raise_for([p for loc in self._locales.values() for p in check_locale(model, loc)],
                  f"the locales of skill {self.name!r}")

    def model_for(self, locale: str | None) -> InteractionModel:
        """The interaction model for ``locale``, along the fallback chain (``de-AT`` -> ``de`` -> the skill's own).

        >>> skill.model_for("de-DE").invocation_name   # doctest: +SKIP
        'pizza laden'
        """
        for candidate in fallback_chain(locale, self.locale):
            if candidate in (self.locale, self.locale.split("-")[0]):
                break  # the skill's own language beats another region's variant of it
            loc = self._locales.get(candidate) or next(
                (m for k, m in self._locales.items() if k.split("-")[0] == candidate), None)
            if loc is not None:
                return localize(self.model, loc)
        return self.model

    # -- the model ------------------------------------------------------------------------
    @property
    def model(self) -> InteractionModel:
        """The interaction model: intents with samples and slots, and the custom slot types."""
        intents = tuple(h.model for h in self._handlers.values() if h.kind == "intent" and h.model)
        return InteractionModel(self.invocation_name, intents, tuple(self._types.values()), self.delegation,
                                self.locale)

    def _validate_model(self, *, final: bool = False) -> None:
        """Check the model now if it is complete; slot types may still follow, so wait for them."""
        try:
            from .nlu import validate_model
        except ImportError:  # pragma: no cover - the NLU ships with the SDK
            return
        model = self.model
        if model == self._validated:
            return  # unchanged since it passed: serving checks what the last registration checked
        if not final:
            wanted = {t for i in model.intents for t in i.slots.values() if not t.startswith("AMAZON.")}
            if not wanted <= set(self._types):
                return
        validate_model(model)
        self._check_number_params()
        self._validated = model

    def _check_number_params(self) -> None:
        """Refuse ``n: int`` (or float) on a slot whose custom type has no value that is a number: always the default."""
        for handler in self._handlers.values():
            slots = handler.model.slots if handler.model else {}
            for p in handler.params:
                st = self._types.get(slots.get(p.name, ""))
                if p.convert not in ("int", "float") or st is None or any(_is_number(v.name) for v in st.values):
                    continue
                words = ", ".join(repr(v.name) for v in st.values[:3]) + (", ..." if len(st.values) > 3 else "")
                raise RegistrationError(
                    f"Handler {handler.describe()} for intent {handler.key!r}: parameter {p.name!r} is annotated "
                    f"{p.convert}, but slot {p.name!r} has type {st.name!r}, whose values are words ({words}), so "
                    f"it would always be {p.default!r}. Annotate it str (or {st.name}), or give the slot a number "
                    f"type: slots={{{p.name!r}: 'AMAZON.NUMBER'}}."
                )

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
            self.check_locales()
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
            if isinstance(result, CanFulfill):
                result = result.response()
            if not isinstance(result, Response):
                if result is None and ctx.request_type != "IntentRequest" and rule_for(ctx.request_type).speech is False:
                    result = empty()
                elif isinstance(result, str):
                    result = say(result)
                else:
                    what = handler.describe() if handler else "the default handler"
                    got = "None (a path through it ends without `return`)" if result is None else type(result).__name__
                    raise TypeError(
                        f"Handler {what} for {handler.key if handler else ctx.request_type!r} returned {got}, "
                        "expected a Response: return say(...), ask(...) or empty()."
                    )
            ctx.check_attributes()
            return result
        except Exception as exc:  # a handler's failure is the user's apology, never a 500
            if isinstance(exc, StateError):
                ctx.forget_unstorable()  # what was sent back and saved must be JSON
            return self._on_error(ctx, exc, handler)

    def _on_error(self, ctx: Turn, exc: Exception, handler: Handler | None) -> Response:
        where = handler.describe() if handler else "the default handler"
        custom = self._handlers.get(("error", "*"))
        resp: Response | None = None
        if custom is not None:
            try:
                resp = custom.func(ctx, exc)
            except Exception as again:
                log.error("error handler of skill %s raised too (request %s)\n%s", self.name, ctx.request.request_id,
                          traceback_without_words(again))
        if isinstance(resp, Response):
            # The skill answered for its own failure (a partner outage, say): one line, no traceback.
            log.warning("%s of skill %s raised %s; its error handler answered", where, self.name, type(exc).__name__)
        else:
            # Not the message: it may quote what the user said, which the row keeps as their capture mode says.
            log.error("%s of skill %s raised (request %s)\n%s", where, self.name, ctx.request.request_id,
                      traceback_without_words(exc))
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
                    return None, self._default_intent(ctx, name)
            slots = ctx.request.intent.slots if ctx.request.intent else {}
            return h, {p.name: _convert(slots.get(p.name), p) for p in h.params}
        h = self._handlers.get(("request", rtype))
        if h is not None:
            if rtype == "CanFulfillIntentRequest":
                slots = ctx.request.intent.slots if ctx.request.intent else {}
                return h, {p.name: _convert(slots.get(p.name), p) for p in h.params}
            return h, {p.name: p.default for p in h.params}
        if rtype == "LaunchRequest":
            return None, self._default_answer(ctx, "welcome")
        if rtype == "SessionResumedRequest":
            # The user comes back from a task another skill or Alexa ran: carry on the conversation.
            return None, self._default_answer(ctx, "welcome_back")
        if rtype == "CanFulfillIntentRequest":
            return None, self.default_can_fulfill(ctx).response()
        if rule_for(rtype) is UNKNOWN and rtype not in self._warned_types:
            if len(self._warned_types) >= _WARNED_TYPES:
                self._warned_types.clear()
            self._warned_types.add(rtype)
            log.warning("skill %s got request type %r, which this SDK does not know; it answered with an "
                        "empty response. Register @skill.on(%r) to handle it.", self.name, rtype, rtype)
        return None, empty()

    def check_request_type(self, request_type: str) -> None:
        """Raise :class:`UnknownRequestType` unless ``request_type`` has the shape of an Alexa request type.

        Every well-formed type is answered, with a handler or without: a type this SDK does not
        know yet gets an empty response. Only a malformed one (not ``Interface.Name``) is refused.
        """
        if is_well_formed(request_type):
            return
        raise UnknownRequestType(
            f"Request type {request_type[:80]!r} is not the name of an Alexa request type (letters and digits "
            f"separated by dots, e.g. 'SessionResumedRequest'). Known types: {known_types_text()}.",
            {"request.type": ["Not a request type name."]},
        )

    def _default_answer(self, ctx: Turn, key: str) -> Response:
        """A built-in answer in the language of the request, suggesting a sample of that locale's model."""
        texts = _DEFAULT_TEXTS.get((ctx.locale or self.locale).split("-")[0].lower(), _DEFAULT_TEXTS["en"])
        if key == "goodbye":
            return say(texts["goodbye"]).end()
        model = self.model_for(ctx.locale)
        hint = texts["what_next"]
        for im in model.intents:
            sample = im.samples[0] if im.samples and not im.name.startswith("AMAZON.") else "{"
            if "{" not in sample:
                hint = texts["you_can_say"].format(sample=sample)
                break
        return ask(texts[key].format(name=model.invocation_name, hint=hint), texts["what_next"])

    def _default_intent(self, ctx: Turn, name: str) -> Response:
        if name == "AMAZON.HelpIntent":
            return self._default_answer(ctx, "help")
        if name in ("AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent"):
            return self._default_answer(ctx, "goodbye")
        return self._default_answer(ctx, "cannot_help")

    def __repr__(self) -> str:
        return f"<Skill {self.name!r} developer={self.developer_id!r} intents={len(self.intents())}>"

