"""Locales: per-locale invocation names, samples, slot synonyms and prompts, and the message catalogue.

A skill is written in one locale (``Skill(..., locale="en-US")``); each other locale adds what
changes in it::

    skill.add_locale("de-DE", invocation_name="pizza laden",
                     samples={"OrderPizzaIntent": ["bestelle eine {size} pizza", ...]},
                     slot_values={"PizzaSize": {"large": ["groß", "große"], ...}},
                     prompts={"Elicit.Slot.OrderPizzaIntent.size": ["Welche Größe möchtest du?"]})
    skill.messages("en", {"welcome": "Welcome to Pizza Shop."})
    skill.messages("de", {"welcome": "Willkommen beim Pizza Laden."})

    @skill.launch
    def welcome(ctx):
        return ask(ctx.t("welcome"))

Slot values keep their canonical names (and ids) in every locale; a locale gives the words its
users say for them. So a handler reads ``size == "large"`` whatever the user's language, and only
what it says goes through the catalogue. A locale is looked up along a fallback chain: the exact
locale (``en-GB``), its language (``en``), then the skill's own locale and its language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._frozen import NEW_DICT, RECORD, Frozen, set_field
from .errors import RegistrationError

if TYPE_CHECKING:
    from .model import InteractionModel

__all__ = ["LocaleModel", "Catalogue", "fallback_chain", "localize", "LOCALE"]

#: A locale as Alexa names them: language, hyphen, region (``en-US``, ``de-DE``, ``pt-BR``).
LOCALE = re.compile(r"[a-z]{2}-[A-Z]{2}")


def fallback_chain(locale: str | None, default: str) -> list[str]:
    """Where to look for ``locale``, best first: ``en-GB`` -> ``en`` -> the default locale -> its language.

    >>> fallback_chain("en-GB", "en-US")
    ['en-GB', 'en', 'en-US']
    """
    out: list[str] = []
    for loc in (locale, default):
        if not loc:
            continue
        for candidate in (loc, loc.split("-")[0]):
            if candidate not in out:
                out.append(candidate)
    return out


def _texts(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class LocaleModel(Frozen):
    """What one locale changes in a skill's interaction model."""

    locale: str
    invocation_name: str | None = None
    samples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    slot_values: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    slot_samples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    prompts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __init__(self, locale: str, invocation_name: str | None = None,
                 samples: Mapping[str, tuple[str, ...]] = NEW_DICT,
                 slot_values: Mapping[str, Mapping[str, tuple[str, ...]]] = NEW_DICT,
                 slot_samples: Mapping[str, tuple[str, ...]] = NEW_DICT,
                 prompts: Mapping[str, tuple[str, ...]] = NEW_DICT) -> None:
        set_field(self, "locale", locale)
        set_field(self, "invocation_name", invocation_name)
        set_field(self, "samples", {} if samples is NEW_DICT else samples)
        set_field(self, "slot_values", {} if slot_values is NEW_DICT else slot_values)
        set_field(self, "slot_samples", {} if slot_samples is NEW_DICT else slot_samples)
        set_field(self, "prompts", {} if prompts is NEW_DICT else prompts)

    @classmethod
    def of(cls, locale: str, *, invocation_name: str | None = None,
           samples: Mapping[str, Iterable[str]] | None = None,
           slot_values: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
           slot_samples: Mapping[str, Iterable[str]] | None = None,
           prompts: Mapping[str, str | Iterable[str]] | None = None) -> LocaleModel:
        """Build a locale from plain dicts and lists (see :meth:`skills_sdk.Skill.add_locale`)."""
        if not isinstance(locale, str) or not LOCALE.fullmatch(locale):
            raise RegistrationError(f"Locale {locale!r} is not an Alexa locale such as 'de-DE' or 'en-GB'.")
        for what, value in (("samples", samples), ("slot_samples", slot_samples)):
            for key, texts in (value or {}).items():
                if isinstance(texts, str):
                    raise RegistrationError(f"{what}[{key!r}] of locale {locale} must be a list of strings, "
                                            "not one string.")
        return cls(
            locale,
            invocation_name,
            {k: tuple(v) for k, v in (samples or {}).items()},
            {t: {name: _texts(syn) for name, syn in values.items()} for t, values in (slot_values or {}).items()},
            {k: tuple(v) for k, v in (slot_samples or {}).items()},
            {k: _texts(v) for k, v in (prompts or {}).items()},
        )


def localize(model: InteractionModel, loc: LocaleModel) -> InteractionModel:
    """``model`` (the skill's own locale) as ``loc`` changes it.

    Custom intents take only the locale's samples (an intent it leaves out has none there, which
    the model rules refuse); built-ins keep none unless given. Prompts and slot samples are
    replaced by id (``Elicit.Slot.OrderPizzaIntent.size``, ``OrderPizzaIntent.size``); those the
    locale leaves out keep the skill's own text. Slot values keep their names and ids, with the
    locale's synonyms.
    """
    from .model import SlotType, SlotValue

    intents = []
    for im in model.intents:
        dialog_slots = {}
        for name, ds in im.dialog_slots.items():
            base = f"{im.name}.{name}"
            validations = tuple(
                replace(v, prompts=loc.prompts.get(f"Slot.Validation.{base}.{n}", v.prompts))
                for n, v in enumerate(ds.validations, 1)
            )
            dialog_slots[name] = replace(
                ds,
                prompts=loc.prompts.get(f"Elicit.Slot.{base}", ds.prompts),
                confirm=loc.prompts.get(f"Confirm.Slot.{base}", ds.confirm),
                validations=validations,
                samples=loc.slot_samples.get(base, ds.samples),
            )
        intents.append(replace(
            im,
            samples=loc.samples.get(im.name, ()),
            dialog_slots=dialog_slots,
            confirm=loc.prompts.get(f"Confirm.Intent.{im.name}", im.confirm),
        ))
    types = []
    for st in model.types:
        words = loc.slot_values.get(st.name)
        if words is None:
            types.append(st)
            continue
        types.append(SlotType(st.name, tuple(
            SlotValue(v.name, v.id, words.get(v.name, ())) for v in st.values
        )))
    return replace(model, invocation_name=loc.invocation_name or model.invocation_name, intents=tuple(intents),
                   types=tuple(types), locale=loc.locale)


class Catalogue:
    """Response texts per locale (or language), looked up along :func:`fallback_chain`.

    >>> texts = Catalogue("en-US")
    >>> texts.add("en", {"bye": "Goodbye, {name}."}); texts.add("de", {"bye": "Tschüss, {name}."})
    >>> texts.text("de-AT", "bye", name="Ana"), texts.text("en-GB", "bye", name="Ana")
    ('Tschüss, Ana.', 'Goodbye, Ana.')
    """

    def __init__(self, default_locale: str) -> None:
        self.default_locale = default_locale
        self._texts: dict[str, dict[str, str]] = {}

    def add(self, locale: str, texts: Mapping[str, str]) -> None:
        """Add ``texts`` (key -> text with ``{placeholders}``) for a locale (``de-DE``) or a language (``de``)."""
        if not (LOCALE.fullmatch(locale) or re.fullmatch(r"[a-z]{2}", locale)):
            raise RegistrationError(f"Messages are for a locale ('de-DE') or a language ('de'), got {locale!r}.")
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        if bad:
            raise RegistrationError(f"Messages {bad!r} of {locale} are not strings.")
        self._texts.setdefault(locale, {}).update(texts)

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, locale: str | None, key: str, default: str | None = None, **values: Any) -> str:
        """The text for ``key`` in ``locale`` (along the fallback chain), formatted with ``values``."""
        chain = fallback_chain(locale, self.default_locale)
        for loc in chain:
            found = self._texts.get(loc, {}).get(key)
            if found is not None:
                return found.format(**values)
        if default is not None:
            return default.format(**values)
        raise KeyError(f"No message {key!r} for locale {locale!r} (looked in {', '.join(chain)}). "
                       f"Add it with skill.messages({chain[0]!r}, {{{key!r}: '...'}}).")

    def locales(self) -> list[str]:
        """The locales and languages that have messages."""
        return sorted(self._texts)
