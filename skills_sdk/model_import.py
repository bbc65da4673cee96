"""Read an Alexa interaction model (an ask-sdk project's ``<locale>.json``) and write the skill module that declares it.

``skills model import MODEL.json`` is the only caller: nothing on the request path imports this module.
:func:`read_model` turns the JSON into the SDK's own records, checked by the same rules registration
applies; :func:`render` writes them as ``@skill.intent(...)`` declarations with a stub handler each.
Whatever the SDK cannot declare is never dropped silently: each piece is a :class:`LeftOut` with
its place in the JSON and the reason, said on stderr and written as a comment where it would be.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dialog import DialogSlot, Validation
from .errors import ModelError, ModelImportError
from .locale import LOCALE
from .model import IntentModel, InteractionModel, SlotType, SlotValue, _default_id
from .model_rules import check_intent, check_invocation, check_model, check_sample, check_slot_type

__all__ = ["LeftOut", "Imported", "read_model", "render", "locale_of", "skill_name_for"]

#: Validation rules :mod:`skills_sdk.dialog` declares, with the keys each carries besides its prompt.
VALIDATIONS = {"isInSet": ("values",), "isNotInSet": ("values",), "isGreaterThan": ("value",),
               "isGreaterThanOrEqualTo": ("value",), "isLessThan": ("value",), "isLessThanOrEqualTo": ("value",),
               "isInDuration": ("start", "end"), "isNotInDuration": ("start", "end"),
               "hasEntityResolutionMatch": ()}
_HELPERS = {"isInSet": "is_in_set", "isNotInSet": "is_not_in_set", "isGreaterThan": "is_greater_than",
            "isGreaterThanOrEqualTo": "is_greater_than_or_equal_to", "isLessThan": "is_less_than",
            "isLessThanOrEqualTo": "is_less_than_or_equal_to", "isInDuration": "is_in_duration",
            "isNotInDuration": "is_not_in_duration", "hasEntityResolutionMatch": "has_entity_resolution_match"}
# Why a key the SDK does not declare is left out; any other unknown key gets the generic reason.
_WHY = {
    "modelConfiguration": "the SDK declares no model configuration (fallback intent sensitivity); set it in the "
                          "developer console after deploying",
    "multipleValues": "the SDK declares no multiple-value slots; each slot takes one value",
    "valueSupplier": "the SDK declares no slot types filled from a catalog or a catalog reference; list the values "
                     "with skill.slot_type(...)",
    "valueSelectionStrategy": "the SDK declares no value selection strategy",
    "dialog.delegationStrategy": "",
    "version": "a revision number of the file, not part of the model the SDK exports",
}


@dataclass
class LeftOut:
    """One piece of the model the SDK cannot declare (or a rule it breaks): where it is in the JSON, and why."""

    where: str
    why: str
    kept: bool = False  # kept as written: only ``skills model export --lenient`` exports it
    owner: str | None = None  # the intent or slot type it belongs to; None for the whole model

    def __str__(self) -> str:
        return f"{'kept' if self.kept else 'left out'}: {self.where}: {self.why}"


@dataclass
class Imported:
    """The model as the SDK declares it, and what had to be left out of it."""

    invocation_name: str
    locale: str
    delegation: str
    intents: list[IntentModel]
    types: list[SlotType]
    left_out: list[LeftOut] = field(default_factory=list)

    def model(self) -> InteractionModel:
        """The SDK's interaction model of what was imported."""
        return InteractionModel(self.invocation_name, tuple(self.intents), tuple(self.types), self.delegation,
                                self.locale)


def locale_of(path: str) -> str | None:
    """The locale an ASK project's file name gives (``.../custom/de-DE.json`` -> ``de-DE``), or None."""
    stem = re.split(r"[\\/]", path)[-1].rsplit(".", 1)[0]
    return stem[-5:] if LOCALE.fullmatch(stem[-5:]) and (len(stem) == 5 or stem[-6] in "_.-") else None


def _need(value: Any, kind: type, where: str, fix: str) -> Any:
    if not isinstance(value, kind):
        got = "nothing" if value is None else f"a {type(value).__name__}"
        raise ModelImportError(f"{where}: expected {'an object' if kind is dict else 'a list' if kind is list else 'a string'}, "
                               f"got {got}. {fix}")
    return value


class _Reader:
    """One reading of one model; collects what is left out as it goes."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.left_out: list[LeftOut] = []
        self.refused: list[str] = []
        self.used_prompts: set[str] = set()

    def leave(self, where: str, why: str, owner: str | None = None) -> None:
        self.left_out.append(LeftOut(where, why, owner=owner))

    def refuse(self, where: str, problem: str, owner: str | None = None) -> None:
        """A piece our rules refuse: an error, or (lenient) left out with the rule's words."""
        if self.lenient:
            self.leave(where, f"the SDK refuses it: {problem}", owner)
        else:
            self.refused.append(f"{where}: {problem}")

    def unknown_keys(self, obj: Mapping[str, Any], known: Sequence[str], where: str, owner: str | None = None) -> None:
        for key in obj:
            if key not in known:
                self.leave(f"{where}.{key}", _WHY.get(key) or "the SDK has no way to declare it", owner)


def read_model(data: Any, *, locale: str = "en-US", lenient: bool = False) -> Imported:
    """The SDK's records of the interaction model ``data`` (the parsed JSON of an ASK ``<locale>.json``).

    >>> read_model({"interactionModel": {"languageModel": {"invocationName": "pizza shop", "intents": [
    ...     {"name": "OrderIntent", "samples": ["order a pizza"]}]}}}).intents[0].samples
    ('order a pizza',)

    :param data: the parsed JSON.
    :param locale: the model's locale (the file's name gives it in an ASK project).
    :param lenient: leave out (and list) what the SDK's rules refuse, instead of raising.
    :raises ModelImportError: naming the field and the fix, when ``data`` is not an interaction model,
        or (not lenient) when a piece breaks the SDK's rules.
    """
    r = _Reader(lenient)
    root = _need(data, dict, "the file", "An interaction model is a JSON object holding 'interactionModel' "
                 "(ASK keeps it in skill-package/interactionModels/custom/<locale>.json).")
    if "interactionModel" not in root:
        raise ModelImportError("interactionModel: missing. An interaction model is a JSON object holding "
                               "'interactionModel' with its 'languageModel' (ASK keeps it in "
                               "skill-package/interactionModels/custom/<locale>.json); "
                               f"this one holds {', '.join(map(repr, root)) or 'nothing'}.")
    r.unknown_keys(root, ("interactionModel",), "")
    im = _need(root["interactionModel"], dict, "interactionModel", "Give it 'languageModel'.")
    r.unknown_keys(im, ("languageModel", "dialog", "prompts"), "interactionModel")
    lm = _need(im.get("languageModel"), dict, "interactionModel.languageModel",
               "Give it 'invocationName' and 'intents'.")
    r.unknown_keys(lm, ("invocationName", "intents", "types"), "interactionModel.languageModel")
    where_lm = "interactionModel.languageModel"
    invocation = _need(lm.get("invocationName"), str, f"{where_lm}.invocationName",
                       "Give the words users say to open the skill, e.g. \"pizza shop\".")
    for p in check_invocation(invocation, locale):
        raise ModelImportError(f"{where_lm}.invocationName: {p}")
    types = _read_types(r, lm.get("types") or [], f"{where_lm}.types")
    intents = _read_intents(r, _need(lm.get("intents"), list, f"{where_lm}.intents",
                                     "List the skill's intents: [{\"name\": ..., \"samples\": [...]}]."),
                            {t.name for t in types}, f"{where_lm}.intents")
    delegation = "ALWAYS"
    if "dialog" in im:
        prompts = _read_prompts(r, im.get("prompts") or [])
        delegation = _read_dialog(r, _need(im["dialog"], dict, "interactionModel.dialog", "Give it 'intents'."),
                                  intents, prompts)
        for pid in prompts:
            if pid not in r.used_prompts:
                r.leave(f"interactionModel.prompts[{pid}]", "no dialog rule of the model says it; the SDK writes a "
                        "prompt only with the rule that says it")
    elif im.get("prompts"):
        r.leave("interactionModel.prompts", "no dialog model says them; the SDK writes prompts only with the "
                "dialog rules that say them")
    result = Imported(invocation, locale, delegation, [], types)
    _settle(r, result, intents)
    if r.refused:
        listed = "\n".join(f"  {n}. {p}" for n, p in enumerate(r.refused, 1))
        raise ModelImportError(f"{len(r.refused)} piece(s) of the model break the SDK's rules:\n{listed}\n"
                               "Fix them in the file, or pass --lenient to leave them out (each is listed).")
    result.left_out = r.left_out
    for p in check_model(result.model()):
        if p.rule in ("invocation-name.words", "invocation-name.article", "intent.samples"):
            owner = p.text if p.rule == "intent.samples" else None
            result.left_out.append(LeftOut(p.where, f"{p} (kept as written: `skills model export` needs "
                                           "--lenient for it)", kept=True, owner=owner))
    return result


def _read_types(r: _Reader, raw: Any, where: str) -> list[SlotType]:
    out: list[SlotType] = []
    for n, t in enumerate(_need(raw, list, where, "List the custom slot types.")):
        tw = f"{where}[{n}]"
        _need(t, dict, tw, "A slot type is {\"name\": ..., \"values\": [...]}.")
        name = _need(t.get("name"), str, f"{tw}.name", "Name the slot type.")
        tw = f"{where}[{name}]"
        r.unknown_keys(t, ("name", "values"), tw, name)
        values: list[SlotValue] = []
        for k, v in enumerate(t.get("values") or []):
            vw = f"{tw}.values[{k}]"
            _need(v, dict, vw, "A value is {\"id\": ..., \"name\": {\"value\": ..., \"synonyms\": [...]}}.")
            r.unknown_keys(v, ("id", "name"), vw, name)
            body = _need(v.get("name"), dict, f"{vw}.name", "Give {\"value\": ..., \"synonyms\": [...]}.")
            r.unknown_keys(body, ("value", "synonyms"), f"{vw}.name", name)
            text = _need(body.get("value"), str, f"{vw}.name.value", "Give the value's words.")
            synonyms = tuple(_need(s, str, f"{vw}.name.synonyms", "Synonyms are strings.")
                             for s in body.get("synonyms") or ())
            values.append(SlotValue(text, v.get("id") or None, synonyms))
        values = _checked_values(r, name, values, tw)
        if not values:
            r.refuse(tw, "has no values the SDK can declare (skill.slot_type needs at least one)", name)
            continue
        out.append(SlotType(name, tuple(values)))
    return out


def _checked_values(r: _Reader, name: str, values: list[SlotValue], where: str) -> list[SlotValue]:
    problems = check_slot_type(SlotType(name, tuple(values)))
    for p in problems:
        if p.rule == "slot-type-name":
            r.refuse(where, str(p), name)
            return []
    bad = {p.text: p for p in problems if p.rule != "slot-value.duplicate"}
    kept: list[SlotValue] = []
    seen: set[str] = set()
    for n, v in enumerate(values):
        if v.name in bad or v.name in seen:
            why = str(bad[v.name]) if v.name in bad else f"[slot-value.duplicate] {v.name!r} is declared before"
            r.refuse(f"{where}.values[{n}]", why, name)
            continue
        seen.add(v.name)
        synonyms = tuple(s for s in v.synonyms if s not in bad)
        for s in v.synonyms:
            if s in bad:
                r.refuse(f"{where}.values[{v.name}].synonyms[{s}]", str(bad[s]), name)
        kept.append(SlotValue(v.name, v.id, synonyms))
    return kept


@dataclass
class _Intent:
    name: str
    samples: list[str]
    slots: dict[str, str]
    slot_samples: dict[str, list[str]]
    dialog_slots: dict[str, DialogSlot] = field(default_factory=dict)
    confirm: tuple[str, ...] = ()
    delegation: str | None = None


def _read_intents(r: _Reader, raw: list[Any], type_names: set[str], where: str) -> list[_Intent]:
    out: list[_Intent] = []
    for n, i in enumerate(raw):
        _need(i, dict, f"{where}[{n}]", "An intent is {\"name\": ..., \"samples\": [...], \"slots\": [...]}.")
        name = _need(i.get("name"), str, f"{where}[{n}].name", "Name the intent.")
        iw = f"{where}[{name}]"
        r.unknown_keys(i, ("name", "samples", "slots"), iw, name)
        bad_name = [p for p in check_intent(IntentModel(name)) if p.rule == "intent-name"]
        if bad_name:
            r.refuse(iw, str(bad_name[0]))
            continue
        slots: dict[str, str] = {}
        slot_samples: dict[str, list[str]] = {}
        for k, s in enumerate(_need(i.get("slots") or [], list, f"{iw}.slots", "List the intent's slots.")):
            _need(s, dict, f"{iw}.slots[{k}]", "A slot is {\"name\": ..., \"type\": ...}.")
            sname = _need(s.get("name"), str, f"{iw}.slots[{k}].name", "Name the slot.")
            sw = f"{iw}.slots[{sname}]"
            stype = _need(s.get("type"), str, f"{sw}.type", "Give the slot's type, e.g. \"AMAZON.NUMBER\".")
            r.unknown_keys(s, ("name", "type", "samples"), sw, name)
            problems = [p for p in check_intent(IntentModel(name, (), {sname: stype})) if p.rule == "slot-name"]
            if problems:
                r.refuse(sw, str(problems[0]), name)
                continue
            if not stype.startswith("AMAZON.") and stype not in type_names:
                r.refuse(sw, f"its type {stype!r} is not a slot type the SDK could declare "
                         f"(declared: {', '.join(sorted(type_names)) or 'none'})", name)
                continue
            slots[sname] = stype
            slot_samples[sname] = [" ".join(x.split()) for x in s.get("samples") or ()]
        samples = []
        for text in _need(i.get("samples") or [], list, f"{iw}.samples", "List the intent's samples."):
            text = " ".join(_need(text, str, f"{iw}.samples", "Samples are strings.").split())
            refs = set(re.findall(r"\{(\w+)\}", text))
            problems = check_sample(text, f"sample of intent {name!r}", slots or ["\0"])
            if refs - set(slots):
                r.refuse(f"{iw}.samples[{text!r}]", f"uses slot(s) {', '.join(sorted(refs - set(slots)))} the "
                         "intent does not declare (or that were left out)", name)
            elif problems:
                r.refuse(f"{iw}.samples[{text!r}]", "; ".join(str(p) for p in problems), name)
            elif text not in samples:
                samples.append(text)
        out.append(_Intent(name, samples, slots, slot_samples))
    return out


def _read_prompts(r: _Reader, raw: Any) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for n, p in enumerate(_need(raw, list, "interactionModel.prompts", "List the dialog's prompts.")):
        pw = f"interactionModel.prompts[{n}]"
        _need(p, dict, pw, "A prompt is {\"id\": ..., \"variations\": [...]}.")
        pid = _need(p.get("id"), str, f"{pw}.id", "Give the prompt's id.")
        r.unknown_keys(p, ("id", "variations"), f"interactionModel.prompts[{pid}]")
        texts = []
        for v in p.get("variations") or ():
            text = " ".join(str(v.get("value") or "").split())
            is_ssml = text.startswith("<speak>")
            if (v.get("type") == "SSML") != is_ssml:
                r.leave(f"interactionModel.prompts[{pid}].variations[{text!r}].type",
                        "the SDK says a variation starting with <speak> as SSML and any other as plain text; "
                        f"this one's type {v.get('type')!r} becomes {'SSML' if is_ssml else 'PlainText'}")
            texts.append(text)
        out[pid] = tuple(texts)
    return out


def _read_dialog(r: _Reader, dialog: dict, intents: list[_Intent], prompts: dict[str, tuple[str, ...]]) -> str:
    dw = "interactionModel.dialog"
    r.unknown_keys(dialog, ("delegationStrategy", "intents"), dw)
    delegation = dialog.get("delegationStrategy") or "ALWAYS"
    if delegation not in ("ALWAYS", "SKILL_RESPONSE"):
        r.refuse(f"{dw}.delegationStrategy", f"{delegation!r} is not ALWAYS or SKILL_RESPONSE")
        delegation = "ALWAYS"
    by_name = {i.name: i for i in intents}

    def prompt(pid: Any, where: str, owner: str) -> tuple[str, ...] | None:
        if pid is None:
            return None
        r.used_prompts.add(pid)
        if pid not in prompts or not prompts[pid]:
            r.refuse(where, f"names prompt {pid!r}, which interactionModel.prompts does not hold", owner)
            return None
        return prompts[pid]

    for n, d in enumerate(_need(dialog.get("intents") or [], list, f"{dw}.intents", "List the dialog's intents.")):
        name = _need(d.get("name"), str, f"{dw}.intents[{n}].name", "Name the intent.")
        iw = f"{dw}.intents[{name}]"
        intent = by_name.get(name)
        if intent is None:
            r.leave(iw, "names an intent the language model does not declare (or that was left out)")
            continue
        r.unknown_keys(d, ("name", "delegationStrategy", "confirmationRequired", "prompts", "slots"), iw, name)
        if d.get("delegationStrategy") is not None:
            if d["delegationStrategy"] in ("ALWAYS", "SKILL_RESPONSE"):
                intent.delegation = d["delegationStrategy"]
            else:
                r.refuse(f"{iw}.delegationStrategy", f"{d['delegationStrategy']!r} is not ALWAYS or SKILL_RESPONSE",
                         name)
        confirm = prompt((d.get("prompts") or {}).get("confirmation"), f"{iw}.prompts.confirmation", name)
        if confirm and d.get("confirmationRequired"):
            intent.confirm = confirm
        elif confirm:
            r.leave(f"{iw}.prompts.confirmation", "the intent does not require confirmation, and the SDK writes an "
                    "intent's confirmation prompt only with confirm=...; say it in the handler with "
                    ".confirm_intent()", name)
        for k, s in enumerate(d.get("slots") or ()):
            sname = _need(s.get("name"), str, f"{iw}.slots[{k}].name", "Name the slot.")
            _dialog_slot(r, intent, s, f"{iw}.slots[{sname}]", prompt)
        if not (intent.confirm or any(ds.has_rules for ds in intent.dialog_slots.values())):
            r.leave(iw, "it has no dialog rule (nothing to elicit, confirm or validate), so the SDK writes no "
                    "dialog entry for it" + (f" and its delegationStrategy {intent.delegation} goes with it"
                                             if intent.delegation else ""), name)
    return delegation


def _dialog_slot(r: _Reader, intent: _Intent, s: dict, where: str, prompt: Any) -> None:
    name = s["name"]
    if name not in intent.slots:
        r.leave(where, "names a slot the intent does not declare (or that was left out)", intent.name)
        return
    r.unknown_keys(s, ("name", "type", "elicitationRequired", "confirmationRequired", "prompts", "validations"),
                   where, intent.name)
    ps = s.get("prompts") or {}
    elicit = prompt(ps.get("elicitation"), f"{where}.prompts.elicitation", intent.name)
    confirm = prompt(ps.get("confirmation"), f"{where}.prompts.confirmation", intent.name)
    required = bool(s.get("elicitationRequired"))
    if required and not elicit:
        r.refuse(f"{where}.elicitationRequired", "the slot is required but has no elicitation prompt", intent.name)
        required = False
    elif elicit and not required:
        r.leave(f"{where}.prompts.elicitation", "Alexa does not elicit this slot itself (elicitationRequired is "
                "false), and the SDK writes an elicitation prompt only for a required(...) slot; ask for it in the "
                "handler with .elicit_slot(...)", intent.name)
    if confirm and not s.get("confirmationRequired"):
        r.leave(f"{where}.prompts.confirmation", "the slot does not require confirmation, and the SDK writes a "
                "slot's confirmation prompt only with confirm=...; ask it in the handler with .confirm_slot(...)",
                intent.name)
        confirm = None
    validations = []
    for k, v in enumerate(s.get("validations") or ()):
        vw = f"{where}.validations[{k}]"
        kind = v.get("type")
        if kind not in VALIDATIONS:
            r.leave(vw, f"the SDK declares no {kind!r} validation (it has {', '.join(VALIDATIONS)})", intent.name)
            continue
        extra = [key for key in v if key not in ("type", "prompt", *VALIDATIONS[kind])]
        for key in extra:
            r.leave(f"{vw}.{key}", "the SDK has no way to declare it", intent.name)
        texts = prompt(v.get("prompt"), f"{vw}.prompt", intent.name)
        if not texts:
            continue
        params = {key: ([str(x) for x in v[key]] if key == "values" else str(v[key])) for key in VALIDATIONS[kind]
                  if key in v}
        rule = Validation(kind, texts, params)
        problems = check_intent(IntentModel(intent.name, (), intent.slots,
                                            {name: DialogSlot(intent.slots[name], validations=(rule,))}))
        if problems:
            r.refuse(vw, "; ".join(map(str, problems)), intent.name)
            continue
        validations.append(rule)
    ds = DialogSlot(intent.slots[name], required, elicit if required else (), confirm or (), tuple(validations),
                    _slot_samples(r, intent, name, f"{where}"))
    problems = check_intent(IntentModel(intent.name, (), intent.slots, {name: ds}))
    if problems:
        r.refuse(where, "; ".join(map(str, problems)), intent.name)
        return
    intent.dialog_slots[name] = ds


def _slot_samples(r: _Reader, intent: _Intent, name: str, where: str) -> tuple[str, ...]:
    """The slot's samples the SDK takes; each one it refuses is left out on its own."""
    kept = []
    for text in intent.slot_samples.get(name) or ():
        problems = check_intent(IntentModel(intent.name, (), intent.slots,
                                            {name: DialogSlot(intent.slots[name], samples=(text,))}))
        if problems:
            r.refuse(f"interactionModel.languageModel.intents[{intent.name}].slots[{name}].samples[{text!r}]",
                     "; ".join(map(str, problems)), intent.name)
        else:
            kept.append(text)
    intent.slot_samples[name] = []  # read once, here or in _settle
    return tuple(kept)


def _settle(r: _Reader, result: Imported, intents: list[_Intent]) -> None:
    """Build the SDK's intents; slot samples without dialog rules become optional(...) slots; NLU checks last."""
    for i in intents:
        for sname, texts in i.slot_samples.items():
            if texts and sname not in i.dialog_slots:
                kept = _slot_samples(r, i, sname, "")
                if kept:
                    i.dialog_slots[sname] = DialogSlot(i.slots[sname], samples=kept)
        if i.dialog_slots:
            i.dialog_slots = {s: i.dialog_slots[s] for s in i.slots if s in i.dialog_slots}  # the slots' order
    result.intents = [IntentModel(i.name, tuple(i.samples), dict(i.slots), dict(i.dialog_slots), i.confirm,
                                  i.delegation) for i in intents]
    # What only the whole model shows (two intents sharing a sample, a sample equal to a built-in's, two
    # slots side by side with free text): the NLU's own check, until it passes.
    from .nlu import validate_model

    for _ in range(len(result.intents) * 50 + 10):
        try:
            validate_model(result.model())
            return
        except ModelError as exc:
            if not _drop_named(r, result, exc.problems):
                r.refuse("interactionModel.languageModel", str(exc))
                return


def _drop_named(r: _Reader, result: Imported, problems: Sequence[Any]) -> bool:
    """Leave out the samples (or slots) ``problems`` name; False when they name none."""
    dropped = False
    for p in problems:
        name = getattr(p, "intent", None)
        if getattr(p, "sample", None) is not None:
            text = p.sample
            for n, im in enumerate(result.intents):
                if im.name == name and text in im.samples:
                    result.intents[n] = IntentModel(im.name, tuple(s for s in im.samples if s != text), im.slots,
                                                    im.dialog_slots, im.confirm, im.delegation)
                    r.refuse(f"interactionModel.languageModel.intents[{name}].samples[{text!r}]", str(p), name)
                    dropped = True
        elif getattr(p, "slot", None) is not None:
            slot = p.slot
            for n, im in enumerate(result.intents):
                if im.name == name and slot in im.slots:
                    result.intents[n] = IntentModel(
                        im.name, tuple(s for s in im.samples if f"{{{slot}}}" not in s),
                        {k: v for k, v in im.slots.items() if k != slot},
                        {k: v for k, v in im.dialog_slots.items() if k != slot}, im.confirm, im.delegation)
                    r.refuse(f"interactionModel.languageModel.intents[{name}].slots[{slot}]",
                             f"{p} (its samples go with it)", name)
                    dropped = True
    return dropped


# --- the module ----------------------------------------------------------------------------------


def _identifier(name: str, taken: set[str]) -> str:
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.removeprefix("AMAZON.")).lower()
    base = re.sub(r"\W+", "_", base).strip("_") or "intent"
    if base[0].isdigit() or keyword.iskeyword(base) or base in ("skill", "say", "ask", "ctx"):
        base = f"{base}_"
    out, n = base, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    taken.add(out)
    return out


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.removeprefix("AMAZON.").removesuffix("Intent")).lower()


def _texts(texts: Sequence[str]) -> str:
    return repr(texts[0]) if len(texts) == 1 else "[" + ", ".join(map(repr, texts)) + "]"


def _number(text: str) -> str:
    return text if re.fullmatch(r"-?\d+", text) else repr(float(text)) if re.fullmatch(r"-?\d*\.\d+", text) else repr(text)


def _validation(v: Validation) -> str:
    helper, p = _HELPERS[v.type], v.params
    args = {"values": lambda: "[" + ", ".join(map(repr, p["values"])) + "]",
            "value": lambda: _number(p["value"]),
            "start": lambda: repr(p["start"]), "end": lambda: repr(p["end"])}
    return f"{helper}({', '.join([*(args[k]() for k in VALIDATIONS[v.type]), _texts(v.prompts)])})"


def _slot(ds: DialogSlot) -> str:
    parts = [repr(ds.type)]
    if ds.required:
        parts += [repr(p) for p in ds.prompts]
    if ds.confirm:
        parts.append(f"confirm={_texts(ds.confirm)}")
    if ds.validations:
        parts.append("validations=[" + ", ".join(_validation(v) for v in ds.validations) + "]")
    if ds.samples:
        parts.append("samples=[" + ", ".join(map(repr, ds.samples)) + "]")
    return f"{'required' if ds.required else 'optional'}({', '.join(parts)})"


_BUILTIN_ANSWERS = {
    "AMAZON.HelpIntent": "ask({help!r}, 'What would you like to do?')",
    "AMAZON.StopIntent": "say('Goodbye.')",
    "AMAZON.CancelIntent": "say('Goodbye.')",
    "AMAZON.NavigateHomeIntent": "say('Goodbye.')",
    "AMAZON.FallbackIntent": "ask({fallback!r}, 'What would you like to do?')",
}


def render(imported: Imported, *, skill_name: str, source: str = "", developer_id: str = "CHANGE-ME") -> str:
    """The Python module that declares ``imported``: the skill, its slot types, one stub handler per intent.

    >>> print(render(read_model(model), skill_name="pizza"))   # doctest: +SKIP
    """
    first = next((s for i in imported.intents if not i.name.startswith("AMAZON.") for s in i.samples
                  if "{" not in s), None)
    help_text = f"You can say: {first}." if first else "Tell me what you would like to do."
    fallback = "Sorry, I can't help with that." + (f" You can say: {first}." if first else "")
    used = sorted({"required" if ds.required else "optional" for i in imported.intents for ds in i.dialog_slots.values()}
                  | {_HELPERS[v.type] for i in imported.intents for ds in i.dialog_slots.values() for v in ds.validations})
    names = {i.name for i in imported.intents} | {t.name for t in imported.types}
    value_ids = any(any(v.id not in (None, _default_id(v.name)) for v in t.values) for t in imported.types)
    out = [f'"""The {imported.invocation_name} skill ({imported.locale}), imported{f" from {source}" if source else ""} '
           'by `skills model import`.', "",
           "Each intent answers with a stub: replace it with what the skill does. `skills model export "
           f"{skill_name}` prints", 'the model this module declares."""', "", "from __future__ import annotations", "",
           f"from skills_sdk import {'Skill, SlotValue' if value_ids else 'Skill'}, ask, say"]
    if used:
        out.append(f"from skills_sdk.dialog import {', '.join(used)}")
    out += ["", ""]
    notes: dict[str | None, list[str]] = {}
    for item in imported.left_out:
        notes.setdefault(item.owner if item.owner in names else None, []).append(f"# {item}")
    out += [*notes.get(None, ()), *([""] if None in notes else [])]
    options = [repr(skill_name), f"developer_id={developer_id!r}", f"invocation_name={imported.invocation_name!r}"]
    if imported.locale != "en-US":
        options.append(f"locale={imported.locale!r}")
    if imported.delegation != "ALWAYS":
        options.append(f"delegation={imported.delegation!r}")
    out += [f"skill = Skill({', '.join(options)})", ""]
    for t in imported.types:
        out += notes.get(t.name, [])
        if any(v.id not in (None, _default_id(v.name)) for v in t.values):
            values = ",\n".join(f"    SlotValue({v.name!r}, id={v.id!r}" + (f", synonyms={tuple(v.synonyms)!r})"
                                                                           if v.synonyms else ")") for v in t.values)
            out.append(f"skill.slot_type({t.name!r}, [\n{values},\n])")
        else:
            values = ",\n".join(f"    {v.name!r}: {list(v.synonyms)!r}" for v in t.values)
            out.append(f"skill.slot_type({t.name!r}, {{\n{values},\n}})")
    taken: set[str] = set()
    for im in imported.intents:
        out += ["", ""]
        out += notes.get(im.name, [])
        args = [repr(im.name)]
        if im.samples:
            args.append("samples=[\n" + "".join(f"        {s!r},\n" for s in im.samples) + "    ]")
        if im.slots:
            entries = [f"{s!r}: {_slot(im.dialog_slots[s]) if s in im.dialog_slots else repr(t)}"
                       for s, t in im.slots.items()]
            one_line = f"slots={{{', '.join(entries)}}}"
            args.append(one_line if len(one_line) <= 80 else "slots={\n" + "".join(f"        {e},\n" for e in entries)
                        + "    }")
        if im.confirm:
            args.append(f"confirm={_texts(im.confirm)}")
        if im.delegation is not None:
            args.append(f"delegation={im.delegation!r}")
        func = _identifier(im.name, taken)
        params = [s for s in im.slots if s.isidentifier() and not keyword.iskeyword(s) and s != "ctx"]
        out.append(f"@skill.intent({', '.join(args)})")
        out.append(f"def {func}(ctx{''.join(f', {p}=None' for p in params)}):")
        if im.name in _BUILTIN_ANSWERS:
            out.append(f"    return {_BUILTIN_ANSWERS[im.name].format(help=help_text, fallback=fallback)}")
        elif im.name.startswith("AMAZON."):
            out.append(f"    return ask({f'You said {_words(im.name)}. What would you like to do next?'!r})")
        else:
            said = ", ".join(f"{p} {{{p}}}" for p in params)
            text = f"{_words(im.name).capitalize()}{f': {said}' if said else ''}. This is not built yet."
            out.append(f"    return say({'f' if params else ''}{text!r})")
    return _double_quoted("\n".join(out).rstrip() + "\n")


def _double_quoted(source: str) -> str:
    """``source`` with its plain single-quoted strings in double quotes, as the project's formatter writes them.

    >>> print(_double_quoted("say('Hi.', \\"it's\\")"))
    say("Hi.", "it's")
    """
    import ast
    import io
    import json
    import tokenize

    lines = source.splitlines(keepends=True)
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(source).readline))):
        if tok.type == tokenize.STRING and tok.string.startswith("'") and not tok.string.startswith("'''"):
            (row, col), (end_row, end_col) = tok.start, tok.end
            if row == end_row:
                text = json.dumps(ast.literal_eval(tok.string), ensure_ascii=False)
                line = lines[row - 1]
                lines[row - 1] = line[:col] + text + line[end_col:]
    return "".join(lines)



def skill_name_for(invocation_name: str) -> str:
    """A skill name (the URL path segment) from the invocation name: ``"pizza shop"`` -> ``pizza_shop``."""
    words = re.findall(r"[a-z0-9]+", invocation_name.lower())
    return "_".join(words)[:40] or "imported_skill"
