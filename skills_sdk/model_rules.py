"""Alexa's interaction model rules: each failure names the rule, the offending text and the fix.

Two moments check them. What is wrong in one piece of text (an intent named "Order Coffee", the
sample "order 2 lattes", the invocation name "Alexa Coffee") is refused when it is registered, by
:func:`check_invocation`, :func:`check_intent` and :func:`check_slot_type`. What only the whole
skill shows (a one-word invocation name, a custom intent without samples, a sample that two
intents share) is refused by :func:`check_model`, which ``skills model export`` and
``skills package`` run before they write anything.

>>> [p.rule for p in check_invocation("Alexa Coffee")]
['invocation-name.characters', 'invocation-name.wake-word']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._frozen import RECORD, Frozen, set_field
from .dialog import DELEGATION_STRATEGIES, DialogSlot, parse_duration, slot_refs
from .errors import ModelError
from .locale import LocaleModel
from .model import IntentModel, InteractionModel, SlotType

__all__ = ["Problem", "ModelRuleError", "check_invocation", "check_intent", "check_slot_type", "check_model",
           "check_export", "check_locale", "raise_for", "LIMITS", "REQUIRED_BUILTINS"]

#: Sizes Alexa limits (from the custom interaction model reference).
LIMITS = {
    "sample_chars": 200,  # one sample utterance
    "slot_value_chars": 140,  # one slot value or synonym
    "slot_type_values": 50_000,  # values and synonyms of one custom slot type
    "intents": 250,  # intents of one skill, built-ins included
}
#: Built-in intents every custom skill's model must hold (the export adds those a skill leaves out).
REQUIRED_BUILTINS = ("AMAZON.CancelIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.NavigateHomeIntent")

_WAKE_WORDS = ("alexa", "amazon", "echo", "computer", "skill", "app")
_LAUNCH_WORDS = ("launch", "ask", "tell", "load", "begin", "enable", "open", "start")
_ARTICLES = ("the", "a", "an", "for", "to", "of")
# Letters (any script: German has ä, ö, ü, ß), single spaces, periods, possessive apostrophes.
_INVOCATION_CHARS = re.compile(r"[^\W\d_]+(?:[.']?[^\W\d_]*)*(?: [^\W\d_]+(?:[.']?[^\W\d_]*)*)*")
_NAME = re.compile(r"[A-Za-z][A-Za-z_]*")
_BUILTIN_NAME = re.compile(r"AMAZON\.[A-Za-z][A-Za-z_.]*")
#: Built-in slot types that are not lists of values, which Alexa does not let a skill extend.
NOT_EXTENSIBLE = ("AMAZON.NUMBER", "AMAZON.FOUR_DIGIT_NUMBER", "AMAZON.Ordinal", "AMAZON.DATE", "AMAZON.TIME",
                  "AMAZON.DURATION", "AMAZON.PhoneNumber", "AMAZON.SearchQuery")
_SLOT_REF = re.compile(r"\{(\w+)\}")
_DIGITS = re.compile(r"\d+")
# Alexa takes letters, spaces, periods (abbreviations), possessive apostrophes and hyphens; braces hold slots.
_SAMPLE_SYMBOL = re.compile(r"[^\w\s.'\-{}’]|_")
_SPOKEN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Problem(Frozen):
    """One broken rule: its ``rule`` code, where it is, the offending ``text``, why, and the ``fix``."""

    rule: str
    where: str
    text: str
    why: str
    fix: str

    def __init__(self, rule: str, where: str, text: str, why: str, fix: str) -> None:
        set_field(self, "rule", rule)
        set_field(self, "where", where)
        set_field(self, "text", text)
        set_field(self, "why", why)
        set_field(self, "fix", fix)

    def __str__(self) -> str:
        if not self.why:  # a consistency check of the local NLU: its message says it all
            return f"[{self.rule}] {self.fix}"
        return f"[{self.rule}] {self.where}: {self.text!r} {self.why}. Fix: {self.fix}"


class ModelRuleError(ModelError):
    """The interaction model breaks Alexa's rules; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[Problem], subject: str = "the interaction model") -> None:
        if len(problems) == 1:
            message = str(problems[0])
        else:
            listed = "\n".join(f"  {n}. {p}" for n, p in enumerate(problems, 1))
            message = f"{len(problems)} problems in {subject}:\n{listed}"
        super().__init__(message, problems)


def raise_for(problems: Sequence[Problem], subject: str = "the interaction model") -> None:
    """Raise :class:`ModelRuleError` if there are ``problems``."""
    if problems:
        raise ModelRuleError(problems, subject)


# --- one piece of text ----------------------------------------------------------------------


def check_invocation(name: str, locale: str | None = None, *, whole: bool = False) -> list[Problem]:
    """Problems with invocation ``name``; ``whole`` adds the rules that may wait for export (word count).

    German invocation names may be one word (compounds such as "wetterbericht"); others need two.
    """
    where = f"invocation name{f' ({locale})' if locale else ''}"
    out: list[Problem] = []
    if name != name.lower() or not _INVOCATION_CHARS.fullmatch(name):
        fixed = " ".join(re.sub(r"[^\w\s.']|\d|_", " ", name.lower()).split()) or "pizza shop"
        out.append(Problem("invocation-name.characters", where, name,
                           "may hold only lowercase letters, single spaces, periods and possessive apostrophes",
                           f"write it as {fixed!r}"))
    words = re.findall(r"[^\s.']+", name.lower())
    if banned := [w for w in words if w in _WAKE_WORDS]:
        out.append(Problem("invocation-name.wake-word", where, name,
                           f"contains {', '.join(map(repr, banned))}: wake words and the words 'skill' and 'app' "
                           "are not allowed", "drop them: name what the skill does, e.g. 'coffee corner'"))
    if launch := [w for w in words if w in _LAUNCH_WORDS]:
        out.append(Problem("invocation-name.launch-phrase", where, name,
                           f"contains the launch phrase {', '.join(map(repr, launch))}",
                           "drop it: users say it before the name ('ask coffee corner ...')"))
    if whole and words:
        german = (locale or "").lower().startswith("de")
        if len(words) < 2 and not german:
            out.append(Problem("invocation-name.words", where, name, "is one word; Alexa needs two or more "
                               "(one word only for a brand you own)", f"add a word, e.g. '{name} shop'"))
        if len(words) == 2 and any(w in _ARTICLES for w in words):
            out.append(Problem("invocation-name.article", where, name,
                               "has two words, one of them an article or connecting word",
                               "use a third word or drop the article"))
    return out


def _check_name(kind: str, name: str, where: str) -> list[Problem]:
    if kind == "slot type" and name.upper() in {n.upper() for n in NOT_EXTENSIBLE}:
        return [Problem("slot-type-name", where, name, "is a built-in that is not a list of values, which Alexa "
                        "does not let a skill extend", "declare a custom type with a name of your own, e.g. "
                        f"{name.split('.', 1)[1].title().replace('_', '') + 'Value'!r}")]
    if kind in ("intent", "slot type") and name.startswith("AMAZON."):
        # A slot type named for a built-in list type (AMAZON.Animal) extends it with the values given.
        ok = _BUILTIN_NAME.fullmatch(name) is not None
    else:
        ok = _NAME.fullmatch(name) is not None and not name.upper().startswith("AMAZON")
    if ok:
        return []
    fixed = re.sub(r"[^A-Za-z_]", "", "".join(w[:1].upper() + w[1:] for w in re.split(r"[\s\-]+", name)))
    fixed = fixed.lstrip("_") or f"My{kind.title().replace(' ', '')}"
    return [Problem(f"{kind.replace(' ', '-')}-name", where, name,
                    "may hold only letters and underscores, starting with a letter (AMAZON. is for built-ins)",
                    f"rename it, e.g. {fixed!r}")]


def check_sample(text: str, where: str, slots: Iterable[str] = ()) -> list[Problem]:
    """Problems with one sample utterance (also slot samples and dialog prompts' slot references)."""
    out: list[Problem] = []
    spoken = _SLOT_REF.sub(" ", text)
    if digits := _DIGITS.findall(spoken):
        spelled = ", ".join(f"{d} as {_SPOKEN[int(d)]!r}" if int(d) < len(_SPOKEN) else f"{d} in words"
                            for d in dict.fromkeys(digits))
        out.append(Problem("sample.digits", where, text, "has digits; Alexa hears numbers as words",
                           f"spell them out ({spelled}), or use an AMAZON.NUMBER slot"))
    if symbols := sorted(set(_SAMPLE_SYMBOL.findall(spoken))):
        out.append(Problem("sample.symbols", where, text,
                           f"has {' '.join(symbols)}: only letters, spaces, periods, apostrophes and hyphens are spoken",
                           "remove the symbols (write '&' as 'and')"))
    if len(text) > LIMITS["sample_chars"]:
        out.append(Problem("sample.length", where, text[:60] + "...",
                           f"is {len(text)} characters; Alexa takes at most {LIMITS['sample_chars']}",
                           "shorten it or split it into several samples"))
    declared = set(slots)
    for ref in _SLOT_REF.findall(text):
        if declared and ref not in declared:
            out.append(Problem("sample.undeclared-slot", where, text, f"uses slot {{{ref}}}, which is not declared",
                               f"declare it in slots={{...}} or use one of {sorted(declared)}"))
    return out


def check_intent(im: IntentModel) -> list[Problem]:
    """Problems with one intent: its name, its slots' names, its samples and its dialog rules."""
    where = f"intent {im.name!r}"
    out = _check_name("intent", im.name, where)
    for slot in im.slots:
        out += _check_name("slot", slot, f"slot of {where}")
    for sample in im.samples:
        out += check_sample(sample, f"sample of {where}", im.slots)
    out += _check_dialog(im)
    return out


def _check_dialog(im: IntentModel) -> list[Problem]:
    where = f"dialog of intent {im.name!r}"
    out: list[Problem] = []
    if im.delegation is not None and im.delegation not in DELEGATION_STRATEGIES:
        out.append(Problem("dialog.delegation", where, im.delegation, "is not a delegation strategy",
                           f"use one of {', '.join(DELEGATION_STRATEGIES)}"))
    for prompt in im.confirm:
        out += _prompt_refs(prompt, f"confirmation prompt of {where}", im.slots)
    for name, ds in im.dialog_slots.items():
        out += _check_dialog_slot(im, name, ds)
    return out


def _prompt_refs(prompt: str, where: str, slots: Iterable[str]) -> list[Problem]:
    declared = set(slots)
    out = [Problem("dialog.prompt-slot", where, prompt, f"refers to {{{r}}}, which is not a slot of the intent",
                   f"use one of {sorted(declared)}") for r in slot_refs(prompt) if r not in declared]
    if not prompt.strip():
        out.append(Problem("dialog.prompt-empty", where, prompt, "is empty", "write what Alexa should say"))
    return out


def _check_dialog_slot(im: IntentModel, name: str, ds: DialogSlot) -> list[Problem]:
    where = f"slot {name!r} of intent {im.name!r}"
    out: list[Problem] = []
    if ds.required and not ds.prompts:
        out.append(Problem("dialog.elicitation-prompt", where, name, "is required but has no question to ask",
                           f"required({ds.type!r}, 'What {name} would you like?')"))
    for prompt in (*ds.prompts, *ds.confirm, *(p for v in ds.validations for p in v.prompts)):
        out += _prompt_refs(prompt, f"prompt of {where}", im.slots)
    for sample in ds.samples:
        out += check_sample(sample, f"slot sample of {where}", im.slots)
        if f"{{{name}}}" not in sample:
            out.append(Problem("dialog.slot-sample", f"slot sample of {where}", sample,
                               f"does not hold {{{name}}}: a slot sample is how a user says this slot's value",
                               f"include {{{name}}}, e.g. 'a {{{name}}} one'"))
    for rule in ds.validations:
        out += _check_validation(rule.type, rule.params, rule.prompts, ds.type, where)
    return out


def _check_validation(kind: str, params: Mapping[str, Any], prompts: Sequence[str], slot_type: str,
                      where: str) -> list[Problem]:
    numbers = ("AMAZON.NUMBER", "AMAZON.FOUR_DIGIT_NUMBER")  # a year's bounds: Alexa's own birthday sample
    fits = {
        "isGreaterThan": numbers, "isGreaterThanOrEqualTo": numbers, "isLessThan": numbers, "isLessThanOrEqualTo": numbers,
        "isInDuration": ("AMAZON.DATE", "AMAZON.TIME"), "isNotInDuration": ("AMAZON.DATE", "AMAZON.TIME"),
    }
    out: list[Problem] = []
    if not prompts:
        out.append(Problem("dialog.validation-prompt", where, kind, "has no prompt to say when a value breaks it",
                           "give the rule a prompt"))
    if kind in fits and slot_type not in fits[kind]:
        out.append(Problem("dialog.validation-type", where, kind, f"does not apply to a slot of type {slot_type}",
                           f"use it on {' or '.join(fits[kind])} slots, or isInSet for a custom type"))
    # Entity resolution runs for custom types and for built-in list types (their own entities, or
    # the values a skill extends them with); numbers, dates and the like are never resolved.
    if kind == "hasEntityResolutionMatch" and slot_type in NOT_EXTENSIBLE:
        out.append(Problem("dialog.validation-type", where, kind, f"needs a slot type Alexa resolves, not {slot_type}",
                           "use it on a custom type (skill.slot_type(...)) or a built-in list type you extend"))
    for key in ("start", "end"):
        if key in params and parse_duration(params[key]) is None:
            out.append(Problem("dialog.validation-duration", where, params[key], "is not an ISO-8601 duration",
                               "write it like 'P7D' (seven days) or 'PT2H' (two hours)"))
    return out


def check_slot_type(st: SlotType) -> list[Problem]:
    """Problems with one custom slot type: its name, its values and synonyms, its size."""
    where = f"slot type {st.name!r}"
    out = _check_name("slot type", st.name, where)
    seen: dict[str, str] = {}
    count = 0
    for v in st.values:
        for text in (v.name, *v.synonyms):
            count += 1
            if not text.strip():
                out.append(Problem("slot-value.empty", where, text, "is an empty value or synonym", "remove it"))
            elif len(text) > LIMITS["slot_value_chars"]:
                out.append(Problem("slot-value.length", where, text[:60] + "...",
                                   f"is {len(text)} characters; Alexa takes at most {LIMITS['slot_value_chars']}",
                                   "shorten it"))
        # A synonym several values share is Alexa's to resolve to all of them ("multiple possible
        # matches can be returned"); a value declared twice is not.
        key = " ".join(v.name.lower().split())
        if key in seen:
            out.append(Problem("slot-value.duplicate", where, v.name, f"is declared twice (as {seen[key]!r} too)",
                               "declare it once, with the synonyms of both"))
        seen.setdefault(key, v.name)
    if count > LIMITS["slot_type_values"]:
        out.append(Problem("slot-type.size", where, st.name, f"has {count} values and synonyms; Alexa takes at most "
                           f"{LIMITS['slot_type_values']}", "split it, or use AMAZON.SearchQuery"))
    return out


# --- the whole skill ------------------------------------------------------------------------


def check_model(model: InteractionModel) -> list[Problem]:
    """Every rule over the whole model: the per-text rules again, and those only the whole shows."""
    from .nlu import _analyse  # the consistency checks the local NLU needs as well

    out = check_invocation(model.invocation_name, model.locale, whole=True)
    if model.delegation not in DELEGATION_STRATEGIES:
        out.append(Problem("dialog.delegation", "skill", model.delegation, "is not a delegation strategy",
                           f"use one of {', '.join(DELEGATION_STRATEGIES)}"))
    for im in model.intents:
        out += check_intent(im)
        if not im.name.startswith("AMAZON.") and not im.samples:
            out.append(Problem("intent.samples", f"intent {im.name!r}", im.name,
                               "is a custom intent without sample utterances, so no user can reach it",
                               f"add samples=[...] to @skill.intent({im.name!r}, ...)"))
    for st in model.types:
        out += check_slot_type(st)
    count = len({*(i.name for i in model.intents), *REQUIRED_BUILTINS})
    if count > LIMITS["intents"]:
        out.append(Problem("intents.count", "skill", str(count), f"intents; Alexa takes at most {LIMITS['intents']}",
                           "merge intents that differ only in a slot value"))
    for message in _analyse(model)[0]:
        rule = ("sample.duplicate" if "is the same as" in message else
                "sample.undeclared-slot" if "not declared" in message else "model.consistency")
        if rule == "sample.undeclared-slot" and any(p.rule == rule for p in out):
            continue
        out.append(Problem(rule, "model", message.split("'")[1] if "'" in message else "", "", message))
    return out


def check_export(data: dict) -> list[Problem]:
    """Rules checked on exported JSON itself: the built-in intents every custom skill must hold."""
    lm = (data.get("interactionModel") or {}).get("languageModel") or {}
    names = {i.get("name") for i in lm.get("intents") or ()}
    return [Problem("builtins.required", "intents", name, "is missing; Alexa refuses a custom model without it",
                    f"add {{'name': {name!r}, 'samples': []}} (skills model export adds it for you)")
            for name in REQUIRED_BUILTINS if name not in names]


def check_locale(model: InteractionModel, loc: LocaleModel) -> list[Problem]:
    """What a locale names that the skill does not have: an intent, a slot type or value, a prompt id.

    Such a name is a typo that would otherwise leave the skill's own text in the locale's model.
    """
    out: list[Problem] = []
    where = f"locale {loc.locale}"
    intents = {im.name: im for im in model.intents}
    for name in loc.samples:
        if name not in intents:
            out.append(Problem("locale.unknown-intent", where, name, "has samples but the skill has no such intent",
                               f"use one of {sorted(intents)}"))
    types = {t.name: t for t in model.types}
    for type_name, values in loc.slot_values.items():
        if type_name not in types:
            out.append(Problem("locale.unknown-slot-type", where, type_name, "is not a slot type of the skill",
                               f"use one of {sorted(types)}"))
            continue
        names = {v.name for v in types[type_name].values}
        for value in values:
            if value not in names:
                out.append(Problem("locale.unknown-slot-value", f"{where}, slot type {type_name!r}", value,
                                   "is not a value of the type; a locale gives words for the skill's own values",
                                   f"use one of {sorted(names)}"))
    prompt_ids = set()
    slot_keys = set()
    for im in model.intents:
        if im.confirm:
            prompt_ids.add(f"Confirm.Intent.{im.name}")
        for name, ds in im.dialog_slots.items():
            slot_keys.add(f"{im.name}.{name}")
            if ds.required:
                prompt_ids.add(f"Elicit.Slot.{im.name}.{name}")
            if ds.confirm:
                prompt_ids.add(f"Confirm.Slot.{im.name}.{name}")
            prompt_ids.update(f"Slot.Validation.{im.name}.{name}.{n}" for n in range(1, len(ds.validations) + 1))
    for pid in loc.prompts:
        if pid not in prompt_ids:
            out.append(Problem("locale.unknown-prompt", where, pid, "is not a prompt id of the skill's dialog model",
                               f"use one of {sorted(prompt_ids)}"))
    for key in loc.slot_samples:
        if key not in slot_keys:
            out.append(Problem("locale.unknown-slot", where, key, "names no slot with dialog rules",
                               f"use one of {sorted(slot_keys)} (intent.slot)"))
    return out
