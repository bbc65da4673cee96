"""The dialog model: required slots and their prompts, confirmations, validations, delegation; its export and its play.

Declare it beside the intent::

    @skill.intent("OrderPizzaIntent", samples=["order a {size} pizza"],
                  slots={"size": required("PizzaSize", "What size would you like?",
                                          "Small, medium or large?", samples=["{size}", "a {size} one"]),
                         "quantity": optional("AMAZON.NUMBER", validations=[
                             is_greater_than(0, "You need at least one pizza. How many?"),
                             is_less_than(11, "We deliver at most ten. How many?")])},
                  confirm=["That's a {size} pizza. Shall I order it?"])
    def order(ctx, size, quantity: int = 1): ...

With auto-delegation (the default, Alexa's ``ALWAYS``) the handler is called once the dialog is
``COMPLETED``; with ``delegation="SKILL_RESPONSE"`` it gets every turn (``STARTED``,
``IN_PROGRESS``) and answers ``.delegate()`` to let the dialog model ask the next question.
:func:`export` writes the ``dialog`` and ``prompts`` sections of Alexa's interaction model;
:func:`next_step` is what Alexa's dialog manager does next, which the simulator plays.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._frozen import NEW_DICT, RECORD, Frozen, Mutable, set_field

if TYPE_CHECKING:
    from .model import IntentModel, InteractionModel

__all__ = [
    "DialogSlot",
    "Validation",
    "Step",
    "required",
    "optional",
    "is_in_set",
    "is_not_in_set",
    "is_greater_than",
    "is_greater_than_or_equal_to",
    "is_less_than",
    "is_less_than_or_equal_to",
    "is_in_duration",
    "is_not_in_duration",
    "has_entity_resolution_match",
    "export",
    "next_step",
    "DELEGATION_STRATEGIES",
]

#: Alexa's delegation strategies: ``ALWAYS`` (auto-delegation) or ``SKILL_RESPONSE``.
DELEGATION_STRATEGIES = ("ALWAYS", "SKILL_RESPONSE")

_SLOT_REF = re.compile(r"\{(\w+)\}")


def _variations(prompts: str | Iterable[str]) -> tuple[str, ...]:
    return (prompts,) if isinstance(prompts, str) else tuple(prompts)


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Validation(Frozen):
    """One of Alexa's slot validation rules, with the prompt Alexa says when a value breaks it."""

    type: str
    prompts: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, type: str, prompts: tuple[str, ...], params: Mapping[str, Any] = NEW_DICT) -> None:  # noqa: A002
        set_field(self, "type", type)
        set_field(self, "prompts", prompts)
        set_field(self, "params", {} if params is NEW_DICT else params)

    def to_dict(self, prompt_id: str) -> dict[str, Any]:
        """The rule as the interaction model's ``validations`` entry."""
        return {"type": self.type, "prompt": prompt_id, **self.params}


def is_in_set(values: Iterable[str], prompt: str | Iterable[str]) -> Validation:
    """The value must be one of ``values`` (compared with the canonical value and with what was said)."""
    return Validation("isInSet", _variations(prompt), {"values": [str(v) for v in values]})


def is_not_in_set(values: Iterable[str], prompt: str | Iterable[str]) -> Validation:
    """The value must not be one of ``values``."""
    return Validation("isNotInSet", _variations(prompt), {"values": [str(v) for v in values]})


def is_greater_than(value: int | float, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.NUMBER`` value must be greater than ``value``."""
    return Validation("isGreaterThan", _variations(prompt), {"value": str(value)})


def is_greater_than_or_equal_to(value: int | float, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.NUMBER`` value must be at least ``value``."""
    return Validation("isGreaterThanOrEqualTo", _variations(prompt), {"value": str(value)})


def is_less_than(value: int | float, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.NUMBER`` value must be less than ``value``."""
    return Validation("isLessThan", _variations(prompt), {"value": str(value)})


def is_less_than_or_equal_to(value: int | float, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.NUMBER`` value must be at most ``value``."""
    return Validation("isLessThanOrEqualTo", _variations(prompt), {"value": str(value)})


def is_in_duration(start: str, end: str, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.DATE`` or ``AMAZON.TIME`` value must lie between now + ``start`` and now + ``end``
    (ISO-8601 durations, e.g. ``"P0D"`` and ``"P7D"``; a leading ``-`` looks back)."""
    return Validation("isInDuration", _variations(prompt), {"start": start, "end": end})


def is_not_in_duration(start: str, end: str, prompt: str | Iterable[str]) -> Validation:
    """An ``AMAZON.DATE`` or ``AMAZON.TIME`` value must lie outside now + ``start`` .. now + ``end``."""
    return Validation("isNotInDuration", _variations(prompt), {"start": start, "end": end})


def has_entity_resolution_match(prompt: str | Iterable[str]) -> Validation:
    """A custom slot type's value must resolve to one of its values or synonyms."""
    return Validation("hasEntityResolutionMatch", _variations(prompt))


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class DialogSlot(Frozen):
    """A slot with dialog rules: its type, whether Alexa must ask for it, the questions, the checks."""

    type: str
    required: bool = False
    prompts: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    validations: tuple[Validation, ...] = ()
    samples: tuple[str, ...] = ()

    def __init__(self, type: str, required: bool = False, prompts: tuple[str, ...] = (),  # noqa: A002
                 confirm: tuple[str, ...] = (), validations: tuple[Validation, ...] = (),
                 samples: tuple[str, ...] = ()) -> None:
        set_field(self, "type", type)
        set_field(self, "required", required)
        set_field(self, "prompts", prompts)
        set_field(self, "confirm", confirm)
        set_field(self, "validations", validations)
        set_field(self, "samples", samples)

    @property
    def has_rules(self) -> bool:
        """True if Alexa's dialog manager has anything to do for this slot."""
        return self.required or bool(self.confirm) or bool(self.validations)


def required(type: str, *prompts: str, confirm: str | Iterable[str] = (),
             validations: Iterable[Validation] = (), samples: Iterable[str] = ()) -> DialogSlot:
    """A slot Alexa asks for until it is filled; ``prompts`` are the questions (variations of one).

    >>> required("PizzaSize", "What size?", "Small, medium or large?").prompts
    ('What size?', 'Small, medium or large?')

    ``confirm``: questions that read the value back (the slot then needs a yes); ``validations``:
    rules such as :func:`is_in_set`; ``samples``: what a user says to answer (default ``{slot}``).
    """
    return DialogSlot(type, True, tuple(prompts), _variations(confirm), tuple(validations), tuple(samples))


def optional(type: str, *, confirm: str | Iterable[str] = (), validations: Iterable[Validation] = (),
             samples: Iterable[str] = ()) -> DialogSlot:
    """A slot Alexa does not ask for, but confirms and validates when the user fills it."""
    return DialogSlot(type, False, (), _variations(confirm), tuple(validations), tuple(samples))


# --- export ------------------------------------------------------------------------------------


def _prompt(prompts: list[dict[str, Any]], pid: str, variations: Sequence[str]) -> str:
    prompts.append({"id": pid, "variations": [
        {"type": "SSML", "value": v} if v.lstrip().startswith("<speak>") else {"type": "PlainText", "value": v}
        for v in variations
    ]})
    return pid


def export(model: InteractionModel) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The ``dialog`` and ``prompts`` sections of the interaction model, or None when no intent has dialog rules.

    Prompt ids are readable and stable (``Elicit.Slot.OrderPizzaIntent.size``), so a re-export
    changes nothing that did not change.
    """
    intents: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []
    for im in model.intents:
        if not im.has_dialog:
            continue
        slots = []
        for name, ds in im.dialog_slots.items():
            entry: dict[str, Any] = {"name": name, "type": ds.type, "elicitationRequired": ds.required,
                                     "confirmationRequired": bool(ds.confirm), "prompts": {}}
            if ds.required:
                entry["prompts"]["elicitation"] = _prompt(prompts, f"Elicit.Slot.{im.name}.{name}", ds.prompts)
            if ds.confirm:
                entry["prompts"]["confirmation"] = _prompt(prompts, f"Confirm.Slot.{im.name}.{name}", ds.confirm)
            if ds.validations:
                entry["validations"] = [
                    v.to_dict(_prompt(prompts, f"Slot.Validation.{im.name}.{name}.{n}", v.prompts))
                    for n, v in enumerate(ds.validations, 1)
                ]
            slots.append(entry)
        intent: dict[str, Any] = {"name": im.name}
        if im.delegation is not None:
            intent["delegationStrategy"] = im.delegation
        intent["confirmationRequired"] = bool(im.confirm)
        intent["prompts"] = {}
        if im.confirm:
            intent["prompts"]["confirmation"] = _prompt(prompts, f"Confirm.Intent.{im.name}", im.confirm)
        intent["slots"] = slots
        intents.append(intent)
    if not intents:
        return None
    return {"delegationStrategy": model.delegation, "intents": intents}, prompts


# --- play: what Alexa's dialog manager does next ---------------------------------------------


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Step(Frozen):
    """What the dialog manager does next.

    ``kind`` is ``elicit`` (ask for ``slot``), ``invalid`` (``slot``'s value broke a validation: say
    ``prompts`` and ask again), ``confirm_slot``, ``confirm_intent`` or ``done``.
    """

    kind: str
    slot: str | None = None
    prompts: tuple[str, ...] = ()
    prompt_id: str | None = None

    def __init__(self, kind: str, slot: str | None = None, prompts: tuple[str, ...] = (),
                 prompt_id: str | None = None) -> None:
        set_field(self, "kind", kind)
        set_field(self, "slot", slot)
        set_field(self, "prompts", prompts)
        set_field(self, "prompt_id", prompt_id)


@dataclass(**RECORD)  # see skills_sdk._frozen
class SlotState(Mutable):
    """A slot during a dialog: what was said, what it resolved to, its confirmation."""

    value: str | None = None
    resolved: str | None = None
    status: str | None = None  # entity resolution status
    confirmation: str = "NONE"

    def __init__(self, value: str | None = None, resolved: str | None = None, status: str | None = None,
                 confirmation: str = "NONE") -> None:
        self.value = value
        self.resolved = resolved
        self.status = status
        self.confirmation = confirmation


def next_step(im: IntentModel, slots: Mapping[str, SlotState], confirmation: str,
              today: dt.date | None = None) -> Step:
    """Alexa's next move for intent ``im`` with ``slots`` filled so far and the intent's ``confirmation``.

    >>> next_step(im, {"size": SlotState()}, "NONE").kind   # doctest: +SKIP
    'elicit'

    Slots are taken in their declared order: a filled value is validated first (a broken rule is
    said and the slot asked again), a required empty slot is asked for, a value that needs
    confirming is read back; then the whole intent is confirmed; then the dialog is done.
    """
    for name, ds in im.dialog_slots.items():
        state = slots.get(name) or SlotState()
        if state.value is not None:
            for n, rule in enumerate(ds.validations, 1):
                if not _passes(rule, ds.type, state, today or dt.date.today()):
                    return Step("invalid", name, rule.prompts, f"Slot.Validation.{im.name}.{name}.{n}")
        elif ds.required:
            return Step("elicit", name, ds.prompts, f"Elicit.Slot.{im.name}.{name}")
        if state.value is not None and ds.confirm and state.confirmation == "NONE":
            return Step("confirm_slot", name, ds.confirm, f"Confirm.Slot.{im.name}.{name}")
    if im.confirm and confirmation == "NONE":
        return Step("confirm_intent", None, im.confirm, f"Confirm.Intent.{im.name}")
    return Step("done")


def fill(prompt: str, slots: Mapping[str, SlotState]) -> str:
    """``prompt`` with each ``{slot}`` replaced by what the user said for it, as Alexa says it."""
    return _SLOT_REF.sub(lambda m: (slots.get(m.group(1)) or SlotState()).value or "", prompt)


def slot_refs(prompt: str) -> list[str]:
    """The slot names a prompt refers to."""
    return _SLOT_REF.findall(prompt)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _passes(rule: Validation, slot_type: str, state: SlotState, today: dt.date) -> bool:
    kind, p = rule.type, rule.params
    if kind in ("isInSet", "isNotInSet"):
        said = {x.lower() for x in (state.value, state.resolved) if x}
        inside = bool(said & {v.lower() for v in p["values"]})
        return inside if kind == "isInSet" else not inside
    if kind == "hasEntityResolutionMatch":
        return state.status == "ER_SUCCESS_MATCH"
    if kind.startswith(("isGreaterThan", "isLessThan")):
        value, bound = _number(state.value), float(p["value"])
        if value is None:
            return False
        return {"isGreaterThan": value > bound, "isGreaterThanOrEqualTo": value >= bound,
                "isLessThan": value < bound, "isLessThanOrEqualTo": value <= bound}[kind]
    if kind in ("isInDuration", "isNotInDuration"):
        when = _when(state.value, slot_type, today)
        if when is None:
            return False
        now = dt.datetime.combine(today, dt.time()) if slot_type == "AMAZON.DATE" else _now(today)
        inside = add_duration(now, p["start"]) <= when <= add_duration(now, p["end"])
        return inside if kind == "isInDuration" else not inside
    return True  # a rule this version does not know: Alexa checks it on the device


def _now(today: dt.date) -> dt.datetime:
    clock = dt.datetime.now()
    return dt.datetime.combine(today, clock.time().replace(second=0, microsecond=0))


def _when(value: str | None, slot_type: str, today: dt.date) -> dt.datetime | None:
    if not value:
        return None
    try:
        if slot_type == "AMAZON.TIME":
            return dt.datetime.combine(today, dt.time.fromisoformat(value))
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
    except ValueError:
        return None  # "2026-W49", "XXXX-12-25": Alexa's wider date forms; only exact dates are checked here


_DURATION = re.compile(r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def parse_duration(text: str) -> tuple[int, int, dt.timedelta] | None:
    """An ISO-8601 duration as (years, months, the rest), signed; None if it is not one.

    >>> parse_duration("P1Y2M3DT4H")
    (1, 2, datetime.timedelta(days=3, seconds=14400))
    """
    m = _DURATION.fullmatch(text or "")
    if not m or text.strip("-") in ("P", "PT") or text.endswith("T"):
        return None
    sign = -1 if m.group(1) else 1
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in m.groups()[1:])
    return sign * y, sign * mo, sign * dt.timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def add_duration(when: dt.datetime, duration: str) -> dt.datetime:
    """``when`` moved by an ISO-8601 ``duration`` (months and years by the calendar)."""
    parsed = parse_duration(duration)
    if parsed is None:
        raise ValueError(f"{duration!r} is not an ISO-8601 duration such as 'P7D' or 'PT2H'.")
    years, months, rest = parsed
    month0 = when.month - 1 + months + 12 * years
    year, month = when.year + month0 // 12, month0 % 12 + 1
    import calendar  # here: calendar (and locale, which it loads) is off every turn that adds no duration

    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day) + rest
