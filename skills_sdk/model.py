"""The interaction model of a skill: intents, sample utterances, slots and slot types, as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dialog import DialogSlot

#: Built-in intents every skill answers; a skill may override each one's handler.
BUILTIN_INTENTS = (
    "AMAZON.HelpIntent",
    "AMAZON.StopIntent",
    "AMAZON.CancelIntent",
    "AMAZON.FallbackIntent",
    "AMAZON.NavigateHomeIntent",
)

#: Built-in slot types understood by the local NLU without a value list.
BUILTIN_SLOT_TYPES = (
    "AMAZON.NUMBER",
    "AMAZON.SearchQuery",
    "AMAZON.FirstName",
    "AMAZON.PostalAddress",
    "AMAZON.DATE",
    "AMAZON.TIME",
    "AMAZON.Artist",
    "AMAZON.MusicAlbum",
    "AMAZON.MusicRecording",
    "AMAZON.Genre",
    "AMAZON.MusicPlaylist",
)


@dataclass(frozen=True)
class SlotValue:
    """One value of a custom slot type: its canonical name, an optional id and its synonyms."""

    name: str
    id: str | None = None
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotType:
    """A custom slot type: a name and the values a user may say for it."""

    name: str
    values: tuple[SlotValue, ...]

    @classmethod
    def of(cls, name: str, values: Iterable[str | SlotValue] | Mapping[str, Iterable[str]]) -> SlotType:
        """Build a slot type from names, ``SlotValue`` objects, or a mapping of name -> synonyms.

        >>> SlotType.of("PizzaSize", {"large": ["big"], "small": []}).values[0].synonyms
        ('big',)
        """
        if isinstance(values, Mapping):
            items = tuple(
                SlotValue(name=k, id=k.upper().replace(" ", "_"), synonyms=tuple(v)) for k, v in values.items()
            )
        else:
            items = tuple(
                v if isinstance(v, SlotValue) else SlotValue(name=v, id=v.upper().replace(" ", "_")) for v in values
            )
        return cls(name=name, values=items)


@dataclass(frozen=True)
class IntentModel:
    """One intent of the interaction model: its sample utterances, its slots (slot name -> type name),
    and its dialog rules (see :mod:`skills_sdk.dialog`)."""

    name: str
    samples: tuple[str, ...] = ()
    slots: Mapping[str, str] = field(default_factory=dict)
    dialog_slots: Mapping[str, DialogSlot] = field(default_factory=dict)
    confirm: tuple[str, ...] = ()
    delegation: str | None = None

    @property
    def has_dialog(self) -> bool:
        """True if Alexa's dialog manager has rules for this intent."""
        return bool(self.confirm) or any(ds.has_rules for ds in self.dialog_slots.values())


@dataclass(frozen=True)
class InteractionModel:
    """Everything the local NLU and the model export need to know about one skill."""

    invocation_name: str
    intents: tuple[IntentModel, ...]
    types: tuple[SlotType, ...] = ()
    delegation: str = "ALWAYS"
    locale: str | None = None

    def intent(self, name: str) -> IntentModel | None:
        """The intent called ``name``, or None."""
        for intent in self.intents:
            if intent.name == name:
                return intent
        return None

    def slot_type(self, name: str) -> SlotType | None:
        """The custom slot type called ``name``, or None."""
        for t in self.types:
            if t.name == name:
                return t
        return None
