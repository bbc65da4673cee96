"""The interaction model of a skill: intents, sample utterances, slots and slot types, as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._frozen import NEW_DICT, RECORD, Frozen, set_field

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


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class SlotValue(Frozen):
    """One value of a custom slot type: its canonical name, an optional id and its synonyms."""

    name: str
    id: str | None = None
    synonyms: tuple[str, ...] = ()

    def __init__(self, name: str, id: str | None = None, synonyms: tuple[str, ...] = ()) -> None:  # noqa: A002
        set_field(self, "name", name)
        set_field(self, "id", id)
        set_field(self, "synonyms", synonyms)


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class SlotType(Frozen):
    """A custom slot type: a name and the values a user may say for it."""

    name: str
    values: tuple[SlotValue, ...]

    def __init__(self, name: str, values: tuple[SlotValue, ...]) -> None:
        set_field(self, "name", name)
        set_field(self, "values", values)

    @classmethod
    def of(cls, name: str, values: Iterable[str | SlotValue] | Mapping[str, Iterable[str]]) -> SlotType:
        """Build a slot type from names, ``SlotValue`` objects, or a mapping of name -> synonyms.

        >>> SlotType.of("PizzaSize", {"large": ["big"], "small": []}).values[0].synonyms
        ('big',)

        A value given without an id gets its name in capitals, whichever form it came in:

        >>> SlotType.of("Crust", [SlotValue("hand tossed", synonyms=("classic",)), "thin"]).values[0].id
        'HAND_TOSSED'
        """
        if isinstance(values, Mapping):
            items = tuple(SlotValue(name=k, id=_default_id(k), synonyms=tuple(v)) for k, v in values.items())
        else:
            items = tuple(
                SlotValue(name=v, id=_default_id(v)) if not isinstance(v, SlotValue)
                else v if v.id is not None else SlotValue(v.name, _default_id(v.name), v.synonyms)
                for v in values
            )
        return cls(name=name, values=items)


def _default_id(name: str) -> str:
    """The id a value declared without one gets: ``"hand tossed"`` -> ``HAND_TOSSED``."""
    return name.upper().replace(" ", "_")


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class IntentModel(Frozen):
    """One intent of the interaction model: its sample utterances, its slots (slot name -> type name),
    and its dialog rules (see :mod:`skills_sdk.dialog`)."""

    name: str
    samples: tuple[str, ...] = ()
    slots: Mapping[str, str] = field(default_factory=dict)
    dialog_slots: Mapping[str, DialogSlot] = field(default_factory=dict)
    confirm: tuple[str, ...] = ()
    delegation: str | None = None

    def __init__(self, name: str, samples: tuple[str, ...] = (), slots: Mapping[str, str] = NEW_DICT,
                 dialog_slots: Mapping[str, DialogSlot] = NEW_DICT, confirm: tuple[str, ...] = (),
                 delegation: str | None = None) -> None:
        set_field(self, "name", name)
        set_field(self, "samples", samples)
        set_field(self, "slots", {} if slots is NEW_DICT else slots)
        set_field(self, "dialog_slots", {} if dialog_slots is NEW_DICT else dialog_slots)
        set_field(self, "confirm", confirm)
        set_field(self, "delegation", delegation)

    @property
    def has_dialog(self) -> bool:
        """True if Alexa's dialog manager has rules for this intent."""
        return bool(self.confirm) or any(ds.has_rules for ds in self.dialog_slots.values())


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class InteractionModel(Frozen):
    """Everything the local NLU and the model export need to know about one skill."""

    invocation_name: str
    intents: tuple[IntentModel, ...]
    types: tuple[SlotType, ...] = ()
    delegation: str = "ALWAYS"
    locale: str | None = None

    def __init__(self, invocation_name: str, intents: tuple[IntentModel, ...], types: tuple[SlotType, ...] = (),
                 delegation: str = "ALWAYS", locale: str | None = None) -> None:
        set_field(self, "invocation_name", invocation_name)
        set_field(self, "intents", intents)
        set_field(self, "types", types)
        set_field(self, "delegation", delegation)
        set_field(self, "locale", locale)

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
