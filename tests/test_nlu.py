"""Tests for the local NLU: matching, invocation routing, validation messages and the Alexa export."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.errors import ModelError
from skills_sdk.model import IntentModel, InteractionModel, SlotType, SlotValue
from skills_sdk.nlu import (
    NluResult,
    SlotMatch,
    compile_model,
    export_model,
    validate_model,
    words_to_number,
)

PIZZA = InteractionModel(
    invocation_name="pizza shop",
    intents=(
        IntentModel(
            "OrderPizzaIntent",
            samples=(
                "order a {size} pizza",
                "order a {size} {topping} pizza",
                "order a {size} pizza with {topping}",
                "order {count} {size} pizzas",
                "order a pizza",
                "a {size} {topping} pizza",
                "I'd like a {topping} pizza",
            ),
            slots={"size": "PizzaSize", "topping": "Topping", "count": "AMAZON.NUMBER"},
        ),
        IntentModel(
            "AddToppingIntent",
            samples=("add {topping}", "add {topping} to my pizza", "put {topping} on it"),
            slots={"topping": "Topping"},
        ),
        IntentModel("CheckoutIntent", samples=("check out", "that's all", "I'm done", "place my order")),
        IntentModel("MenuIntent", samples=("what's on the menu", "what do you have")),
        IntentModel(
            "DeliveryIntent",
            samples=("deliver to {address}", "deliver it to {address} for {name}"),
            slots={"address": "AMAZON.PostalAddress", "name": "AMAZON.FirstName"},
        ),
        IntentModel(
            "OrderStatusIntent",
            samples=("where is order {number}", "where is my order"),
            slots={"number": "AMAZON.NUMBER"},
        ),
        IntentModel("AMAZON.HelpIntent", samples=("how do I order",)),
        IntentModel("AMAZON.StopIntent"),
    ),
    types=(
        SlotType.of(
            "PizzaSize", {"large": ["big"], "medium": ["regular"], "small": ["little"], "extra large": ["xl"]}
        ),
        SlotType(
            "Topping",
            (
                SlotValue("pepperoni", "PEPPERONI", ("pep", "peperoni")),
                SlotValue("mushroom", "MUSHROOM", ("mushrooms", "shrooms")),
                SlotValue("extra cheese", "EXTRA_CHEESE", ("double cheese",)),
                SlotValue("ham"),
            ),
        ),
    ),
)

MUSIC = InteractionModel(
    invocation_name="music box",
    intents=(
        IntentModel(
            "PlaySongIntent",
            samples=("play {song} by {artist}",),
            slots={"song": "AMAZON.MusicRecording", "artist": "AMAZON.Artist"},
        ),
        IntentModel(
            "PlayArtistIntent", samples=("play music by {artist}",), slots={"artist": "AMAZON.Artist"}
        ),
        IntentModel(
            "PlayGenreIntent", samples=("play some {genre}", "play {genre} music"), slots={"genre": "Genre"}
        ),
        IntentModel(
            "SearchIntent",
            samples=("search for {query}", "find {query}"),
            slots={"query": "AMAZON.SearchQuery"},
        ),
        IntentModel(
            "VolumeIntent",
            samples=("set volume to {level}", "volume {level}"),
            slots={"level": "AMAZON.NUMBER"},
        ),
        IntentModel("PlayIntent", samples=("play music", "play")),
        IntentModel("GenreOnlyIntent", samples=("{genre}",), slots={"genre": "Genre"}),
        IntentModel("AMAZON.PauseIntent"),
    ),
    types=(SlotType.of("Genre", {"rock": [], "jazz": [], "hip hop": ["rap", "hiphop"], "classical": []}),),
)


@pytest.fixture(scope="module")
def pizza():
    return compile_model(PIZZA)


@pytest.fixture(scope="module")
def music():
    return compile_model(MUSIC)


def slot_view(result: NluResult) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    return {k: (s.value, s.resolved, s.id, s.status) for k, s in result.slots.items()}


M, NM = "ER_SUCCESS_MATCH", "ER_SUCCESS_NO_MATCH"


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("order a large pizza", "OrderPizzaIntent", {"size": ("large", "large", "LARGE", M)}),
        ("Order a LARGE pizza!!", "OrderPizzaIntent", {"size": ("large", "large", "LARGE", M)}),
        ("  order   a large\tpizza ", "OrderPizzaIntent", {"size": ("large", "large", "LARGE", M)}),
        ("order a big pizza", "OrderPizzaIntent", {"size": ("big", "large", "LARGE", M)}),
        ("order an XL pizza", "AMAZON.FallbackIntent", {}),
        ("order a xl pizza", "OrderPizzaIntent", {"size": ("xl", "extra large", "EXTRA_LARGE", M)}),
        (
            "order a big pep pizza",
            "OrderPizzaIntent",
            {"size": ("big", "large", "LARGE", M), "topping": ("pep", "pepperoni", "PEPPERONI", M)},
        ),
        (
            "order a extra large double cheese pizza",
            "OrderPizzaIntent",
            {
                "size": ("extra large", "extra large", "EXTRA_LARGE", M),
                "topping": ("double cheese", "extra cheese", "EXTRA_CHEESE", M),
            },
        ),
        (
            "order a small pizza with shrooms",
            "OrderPizzaIntent",
            {"size": ("small", "small", "SMALL", M), "topping": ("shrooms", "mushroom", "MUSHROOM", M)},
        ),
        ("order a pizza", "OrderPizzaIntent", {}),
        ("I'd like a ham pizza", "OrderPizzaIntent", {"topping": ("ham", "ham", None, M)}),
        ("id like a ham pizza", "OrderPizzaIntent", {"topping": ("ham", "ham", None, M)}),
        ("add pep", "AddToppingIntent", {"topping": ("pep", "pepperoni", "PEPPERONI", M)}),
        ("put mushrooms on it", "AddToppingIntent", {"topping": ("mushrooms", "mushroom", "MUSHROOM", M)}),
        ("What's on the menu?", "MenuIntent", {}),
        ("whats on the menu", "MenuIntent", {}),
        ("That's all.", "CheckoutIntent", {}),
        ("deliver to 12 Main Street", "DeliveryIntent", {"address": ("12 main street", None, None, None)}),
        (
            "deliver it to 5 elm road for Ann",
            "DeliveryIntent",
            {"address": ("5 elm road", None, None, None), "name": ("ann", None, None, None)},
        ),
        ("where is order 42", "OrderStatusIntent", {"number": ("42", None, None, None)}),
        ("where is my order", "OrderStatusIntent", {}),
        ("how do I order", "AMAZON.HelpIntent", {}),
        ("help", "AMAZON.HelpIntent", {}),
        ("What can you do?", "AMAZON.HelpIntent", {}),
        ("stop", "AMAZON.StopIntent", {}),
        ("shut up", "AMAZON.StopIntent", {}),
        ("never mind", "AMAZON.CancelIntent", {}),
        ("nevermind", "AMAZON.CancelIntent", {}),
        ("go home", "AMAZON.NavigateHomeIntent", {}),
        ("sing me a song", "AMAZON.FallbackIntent", {}),
    ],
)
def test_pizza_utterances_match_intent_and_slots(pizza, text, intent, slots):
    result = pizza.match(text)
    assert (result.kind, result.intent) == ("intent", intent)
    assert slot_view(result) == slots


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        (
            "play stand by me by ben e king",
            "PlaySongIntent",
            {"song": ("stand by me", None, None, None), "artist": ("ben e king", None, None, None)},
        ),
        ("play music by Queen", "PlayArtistIntent", {"artist": ("queen", None, None, None)}),
        ("play jazz music", "PlayGenreIntent", {"genre": ("jazz", "jazz", "JAZZ", M)}),
        ("play some rap", "PlayGenreIntent", {"genre": ("rap", "hip hop", "HIP_HOP", M)}),
        ("play polka music", "PlayGenreIntent", {"genre": ("polka", None, None, NM)}),
        ("play music", "PlayIntent", {}),
        ("Play!", "PlayIntent", {}),
        (
            "search for the best pizza in town",
            "SearchIntent",
            {"query": ("the best pizza in town", None, None, None)},
        ),
        ("set volume to twenty one", "VolumeIntent", {"level": ("21", None, None, None)}),
        ("volume 7", "VolumeIntent", {"level": ("7", None, None, None)}),
        ("volume loud", "AMAZON.FallbackIntent", {}),
        ("hip-hop", "GenreOnlyIntent", {"genre": ("hip hop", "hip hop", "HIP_HOP", M)}),
        ("pause", "AMAZON.PauseIntent", {}),
        ("cancel", "AMAZON.CancelIntent", {}),
    ],
)
def test_music_utterances_match_intent_and_slots(music, text, intent, slots):
    result = music.match(text)
    assert result.intent == intent
    assert slot_view(result) == slots


def test_slot_match_carries_name_and_type(pizza):
    result = pizza.match("order a big pizza")
    assert result.slots["size"] == SlotMatch("size", "big", "large", "LARGE", "ER_SUCCESS_MATCH", "PizzaSize")
    assert result.sample == "order a {size} pizza"


def test_unknown_custom_value_is_filled_with_no_match(pizza):
    result = pizza.match("order a purple pizza")
    assert result.intent == "OrderPizzaIntent"
    assert result.slots["size"] == SlotMatch("size", "purple", None, None, "ER_SUCCESS_NO_MATCH", "PizzaSize")


def test_multi_word_no_match_value_is_captured(pizza):
    assert slot_view(pizza.match("add pineapple and anchovies")) == {
        "topping": ("pineapple and anchovies", None, None, NM)
    }


def test_slot_only_sample_does_not_swallow_unknown_text(music):
    # "{genre}" alone would otherwise claim every utterance as a NO_MATCH genre.
    assert music.match("what a lovely day").intent == "AMAZON.FallbackIntent"


@pytest.mark.parametrize(
    ("words", "number"),
    [
        ("zero", 0),
        ("three", 3),
        ("twelve", 12),
        ("twenty", 20),
        ("twenty one", 21),
        ("ninety nine", 99),
        ("a hundred", 100),
        ("a hundred and five", 105),
        ("one hundred twenty", 120),
        ("fifteen hundred", 1500),
        ("two thousand and twenty four", 2024),
        ("a thousand", 1000),
        ("one million two hundred thousand", 1_200_000),
        ("one two", None),
        ("twenty twenty", None),
        ("hundred", None),
        ("five hundred and", None),
        ("one thousand two thousand", None),
        ("a", None),
    ],
)
def test_number_words(words, number):
    assert words_to_number(words.split()) == number


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("order 3 large pizzas", "3"),
        ("order three large pizzas", "3"),
        ("order twenty-one large pizzas", "21"),
        ("order a hundred and five large pizzas", "105"),
        ("order one hundred twenty large pizzas", "120"),
        ("order 007 large pizzas", "7"),
    ],
)
def test_number_slot_value_is_digit_string(pizza, text, count):
    result = pizza.match(text)
    assert result.intent == "OrderPizzaIntent"
    assert result.slots["count"].value == count
    assert result.slots["count"].status is None


@pytest.mark.parametrize(
    ("text", "kind", "intent", "slots"),
    [
        ("open pizza shop", "launch", None, {}),
        ("Alexa, open Pizza Shop.", "launch", None, {}),
        ("launch pizza shop", "launch", None, {}),
        ("start pizza shop", "launch", None, {}),
        ("talk to pizza shop", "launch", None, {}),
        ("ask pizza shop", "launch", None, {}),
        ("ask pizza shop to order a large pizza", "intent", "OrderPizzaIntent", {"size": "large"}),
        ("tell pizza shop to add ham", "intent", "AddToppingIntent", {"topping": "ham"}),
        (
            "ask pizza shop for a large pep pizza",
            "intent",
            "OrderPizzaIntent",
            {"size": "large", "topping": "pepperoni"},
        ),
        ("open pizza shop and check out", "intent", "CheckoutIntent", {}),
        ("ask pizza shop order a small pizza", "intent", "OrderPizzaIntent", {"size": "small"}),
        ("alexa ask pizza shop what's on the menu", "intent", "MenuIntent", {}),
        ("alexa stop", "intent", "AMAZON.StopIntent", {}),
        ("open pizza shop and sing", "intent", "AMAZON.FallbackIntent", {}),
        ("open the pod bay doors", "intent", "AMAZON.FallbackIntent", {}),
        ("pizza shop", "intent", "AMAZON.FallbackIntent", {}),
    ],
)
def test_invocation_routing(pizza, text, kind, intent, slots):
    result = pizza.match(text)
    assert (result.kind, result.intent) == (kind, intent)
    assert {k: s.resolved for k, s in result.slots.items()} == slots


def test_sample_with_more_literals_beats_generic_one(pizza, music):
    # "add {topping}" could take "ham to my pizza" as free text; the longer sample wins.
    assert pizza.match("add ham to my pizza").sample == "add {topping} to my pizza"
    # "play {song} by {artist}" also fits, but "play music by {artist}" has more literal words.
    assert music.match("play music by abba").intent == "PlayArtistIntent"


def test_more_literals_win_even_over_known_values():
    model = InteractionModel(
        "test skill",
        (
            IntentModel("Generic", ("add {item}",), {"item": "Item"}),
            IntentModel("Specific", ("add {item} to {place}",), {"item": "Item", "place": "Item"}),
        ),
        (SlotType.of("Item", ["ham", "ham to go"]),),
    )
    # "Generic" resolves "ham to go" as one known value; "Specific" matches more literal words.
    result = compile_model(model).match("add ham to go")
    assert result.intent == "Specific"
    assert slot_view(result) == {"item": ("ham", "ham", "HAM", M), "place": ("go", None, None, NM)}


def test_fewer_free_captures_beat_more():
    model = InteractionModel(
        "test skill",
        (
            IntentModel("Two", ("go {a} {b} now",), {"a": "Colour", "b": "Colour"}),
            IntentModel("One", ("go {c} now",), {"c": "Colour"}),
        ),
        (SlotType.of("Colour", ["red", "blue"]),),
    )
    # Both samples have two literals; "Two" needs two NO_MATCH captures for "sky high", "One" needs one.
    assert compile_model(model).match("go sky high now").intent == "One"
    assert compile_model(model).match("go red blue now").intent == "Two"


def test_known_value_beats_no_match_and_ties_go_to_first_registered():
    model = InteractionModel(
        "test skill",
        (
            IntentModel("SizeIntent", ("get {size} pizza",), {"size": "Size"}),
            IntentModel("ToppingIntent", ("get {topping} pizza",), {"topping": "Topping"}),
        ),
        (SlotType.of("Size", ["large"]), SlotType.of("Topping", ["ham"])),
    )
    matcher = compile_model(model)
    assert matcher.match("get ham pizza").intent == "ToppingIntent"
    assert matcher.match("get large pizza").intent == "SizeIntent"
    assert matcher.match("get purple pizza").intent == "SizeIntent"


def test_no_match_returns_fallback(pizza):
    assert pizza.match("what is the airspeed of a swallow") == NluResult(
        kind="intent", intent="AMAZON.FallbackIntent", slots={}, sample=None
    )


def test_changing_a_result_does_not_change_later_results(pizza):
    pizza.match("gibberish words").slots["size"] = SlotMatch("size", "x", None, None, None, "PizzaSize")
    pizza.match("open pizza shop").slots["size"] = SlotMatch("size", "x", None, None, None, "PizzaSize")
    assert pizza.match("gibberish words").slots == {}
    assert pizza.match("open pizza shop").slots == {}


def test_builtin_defaults_apply_without_listing_them():
    matcher = compile_model(InteractionModel("tiny skill", (IntentModel("HelloIntent", ("hello",)),)))
    assert matcher.match("hello").intent == "HelloIntent"
    assert matcher.match("help me").intent == "AMAZON.HelpIntent"
    assert matcher.match("forget it").intent == "AMAZON.CancelIntent"
    assert matcher.match("pause").intent == "AMAZON.FallbackIntent"  # optional built-in, not listed


# --- validation --------------------------------------------------------------------------------


def model_with(*intents: IntentModel, types: tuple[SlotType, ...] = (), invocation: str = "pizza shop"):
    return InteractionModel(invocation, intents, types or (SlotType.of("PizzaSize", ["large"]),))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            model_with(
                IntentModel(
                    "OrderPizza", ("order a {sise} pizza",), {"size": "PizzaSize", "topping": "PizzaSize"}
                )
            ),
            "Sample 'order a {sise} pizza' of intent 'OrderPizza' uses slot 'sise', which is not declared. "
            "Declared slots: 'size', 'topping'. Declare it in slots={...} or fix the sample.",
        ),
        (
            model_with(IntentModel("OrderPizza", ("order a {size} pizza",), {"size": "PizzaSise"})),
            "Slot 'size' of intent 'OrderPizza' has type 'PizzaSise', which is neither a custom slot type nor an "
            "AMAZON.* built-in. Custom types: 'PizzaSize'. Declare it with skill.slot_type('PizzaSise', [...])",
        ),
        (
            model_with(IntentModel("Count", ("count {n}",), {"n": "AMAZON.Number"})),
            "Slot 'n' of intent 'Count' has type 'AMAZON.Number'; the built-in is spelled 'AMAZON.NUMBER'.",
        ),
        (
            model_with(IntentModel("Count", ("count {n}",), {"n": "AMAZON.Nmber"})),
            "Slot 'n' of intent 'Count' has type 'AMAZON.Nmber', which is no built-in Alexa knows; "
            "did you mean 'AMAZON.NUMBER'?",
        ),
        (
            model_with(IntentModel("Order", ("order",)), types=(SlotType("Topping", ()),)),
            "Slot type 'Topping' has no values. Add at least one, e.g. skill.slot_type('Topping', ['first value']).",
        ),
        (
            model_with(IntentModel("Order", ("order a pizza",)), IntentModel("Buy", ("Order a pizza!",))),
            "Sample 'Order a pizza!' of intent 'Buy' is the same as sample 'order a pizza' of intent 'Order', "
            "so the two cannot be told apart. Keep it in one intent, or reword one of them.",
        ),
        (
            model_with(IntentModel("Quit", ("stop",))),
            "Sample 'stop' of intent 'Quit' is the same as the built-in sample 'stop' of intent "
            "'AMAZON.StopIntent'. Handle 'AMAZON.StopIntent' instead, or reword the sample.",
        ),
        (
            # The built-in is listed after the clashing intent: still reported against the built-in.
            model_with(IntentModel("Quit", ("Stop!",)), IntentModel("AMAZON.StopIntent", ("halt",))),
            "Sample 'Stop!' of intent 'Quit' is the same as the built-in sample 'stop' of intent "
            "'AMAZON.StopIntent'. Handle 'AMAZON.StopIntent' instead, or reword the sample.",
        ),
        (
            model_with(
                IntentModel(
                    "Find", ("find {query}{size}",), {"query": "AMAZON.SearchQuery", "size": "PizzaSize"}
                )
            ),
            "Sample 'find {query}{size}' of intent 'Find' puts slots 'query' and 'size' next to each other, and free "
            "text (AMAZON.SearchQuery) makes the split ambiguous. Put a word between them, e.g. '{query} by {size}'.",
        ),
        (
            model_with(IntentModel("Order", ("order", "   "))),
            "Intent 'Order' has an empty sample ('   '). Remove it or write the words a user says.",
        ),
        (
            model_with(IntentModel("Order", ("?!",))),
            "Sample '?!' of intent 'Order' has no words. Remove it or write the words a user says.",
        ),
        (
            model_with(IntentModel("Order", ("order a {size pizza",), {"size": "PizzaSize"})),
            "Sample 'order a {size pizza' of intent 'Order' has an unbalanced brace. Write each slot as {name}",
        ),
        (
            model_with(IntentModel("Order", ("order {size} and {size}",), {"size": "PizzaSize"})),
            "Sample 'order {size} and {size}' of intent 'Order' uses slot 'size' twice.",
        ),
        (
            model_with(IntentModel("Order", ("order",)), invocation="Pizza Shop"),
            "Invocation name 'Pizza Shop' must be lowercase words (letters, apostrophes, periods) separated by "
            "single spaces, at least 2 characters. Rename it, e.g. 'pizza shop'.",
        ),
        (
            model_with(IntentModel("Order", ("order",)), IntentModel("Order", ("buy",))),
            "Intent 'Order' is declared twice. Merge its samples and slots into one IntentModel.",
        ),
        (
            model_with(IntentModel("AMAZON.FallbackIntent", ("whatever",))),
            "Intent 'AMAZON.FallbackIntent' takes no samples",
        ),
    ],
)
def test_validation_error_names_sample_and_fix(model, expected):
    with pytest.raises(ModelError) as info:
        validate_model(model)
    assert expected in str(info.value)
    with pytest.raises(ModelError):
        compile_model(model)


@pytest.mark.parametrize("name", ["pizza_shop", "pizza  shop", "p", "pizza shop 2", " pizza shop", ""])
def test_bad_invocation_names_are_rejected(name):
    with pytest.raises(ModelError, match="Invocation name"):
        validate_model(model_with(IntentModel("Order", ("order",)), invocation=name))


def test_several_problems_are_reported_together():
    model = model_with(
        IntentModel("Order", ("order a {sise} pizza", ""), {"size": "PizzaSize"}), invocation="Pizza"
    )
    with pytest.raises(ModelError) as info:
        validate_model(model)
    message = str(info.value)
    assert message.startswith("3 problems in the interaction model of 'Pizza':")
    assert "uses slot 'sise'" in message and "empty sample" in message and "Invocation name" in message


def test_adjacent_custom_slots_are_allowed(pizza):
    validate_model(PIZZA)  # "order a {size} {topping} pizza": known values make the split clear
    validate_model(MUSIC)


# --- export ------------------------------------------------------------------------------------

REQUIRED = {
    "AMAZON.CancelIntent",
    "AMAZON.HelpIntent",
    "AMAZON.StopIntent",
    "AMAZON.NavigateHomeIntent",
    "AMAZON.FallbackIntent",
}


def check_interaction_model(doc: Any) -> list[str]:
    """Problems with ``doc`` against the documented interaction-model shape; [] when it conforms."""
    problems: list[str] = []

    def need(obj: Any, key: str, kind: type, where: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            problems.append(f"{where}: missing {key!r}")
            return kind()
        if not isinstance(obj[key], kind):
            problems.append(f"{where}.{key}: expected {kind.__name__}, got {type(obj[key]).__name__}")
            return kind()
        return obj[key]

    lm = need(need(doc, "interactionModel", dict, "$"), "languageModel", dict, "interactionModel")
    invocation = need(lm, "invocationName", str, "languageModel")
    if len(invocation) < 2 or not re.fullmatch(r"[a-z][a-z'.]*( [a-z][a-z'.]*)*", invocation):
        problems.append(f"invocationName {invocation!r} is not lowercase words")
    types = need(lm, "types", list, "languageModel")
    type_names = set()
    for t in types:
        type_names.add(need(t, "name", str, "types[]"))
        for v in need(t, "values", list, "types[]"):
            if "id" in v and not isinstance(v["id"], str):
                problems.append(f"types[].values[].id: not a string: {v['id']!r}")
            name = need(v, "name", dict, "types[].values[]")
            need(name, "value", str, "types[].values[].name")
            if not all(isinstance(s, str) for s in need(name, "synonyms", list, "types[].values[].name")):
                problems.append("types[].values[].name.synonyms: not all strings")
    names = []
    for intent in need(lm, "intents", list, "languageModel"):
        name = need(intent, "name", str, "intents[]")
        names.append(name)
        slots = {}
        for slot in need(intent, "slots", list, f"intents[{name}]"):
            slots[need(slot, "name", str, f"{name}.slots[]")] = need(slot, "type", str, f"{name}.slots[]")
            need(slot, "samples", list, f"{name}.slots[]")
        for slot, type_name in slots.items():
            if not type_name.startswith("AMAZON.") and type_name not in type_names:
                problems.append(f"{name}.{slot}: type {type_name!r} is not declared in types")
        for sample in need(intent, "samples", list, f"intents[{name}]"):
            for used in re.findall(r"\{(\w+)\}", sample):
                if used not in slots:
                    problems.append(f"{name}: sample {sample!r} uses undeclared slot {used!r}")
    if len(names) != len(set(names)):
        problems.append(f"duplicate intent names: {names}")
    problems += [f"missing required intent {r}" for r in sorted(REQUIRED - set(names))]
    return problems


def test_structural_checker_catches_bad_documents():
    assert check_interaction_model({}) == [
        "$: missing 'interactionModel'",
        "interactionModel: missing 'languageModel'",
        "languageModel: missing 'invocationName'",
        "invocationName '' is not lowercase words",
        "languageModel: missing 'types'",
        "languageModel: missing 'intents'",
        *[f"missing required intent {r}" for r in sorted(REQUIRED)],
    ]
    doc = export_model(PIZZA)
    doc["interactionModel"]["languageModel"]["intents"][0]["samples"].append("order {crust}")
    assert check_interaction_model(doc) == [
        "OrderPizzaIntent: sample 'order {crust}' uses undeclared slot 'crust'"
    ]


@pytest.mark.parametrize("model", [PIZZA, MUSIC], ids=["pizza", "music"])
def test_export_has_documented_shape(model):
    assert check_interaction_model(export_model(model)) == []


def test_export_contents():
    lm = export_model(PIZZA)["interactionModel"]["languageModel"]
    assert lm["invocationName"] == "pizza shop"
    intents = {i["name"]: i for i in lm["intents"]}
    assert intents["OrderPizzaIntent"]["slots"][0] == {"name": "size", "type": "PizzaSize", "samples": []}
    assert "I'd like a {topping} pizza" in intents["OrderPizzaIntent"]["samples"]
    # Built-ins carry only the model's own samples: Alexa supplies the defaults.
    assert intents["AMAZON.HelpIntent"]["samples"] == ["how do I order"]
    assert intents["AMAZON.StopIntent"]["samples"] == []
    assert intents["AMAZON.FallbackIntent"] == {"name": "AMAZON.FallbackIntent", "slots": [], "samples": []}
    topping = next(t for t in lm["types"] if t["name"] == "Topping")
    assert topping["values"][0] == {
        "id": "PEPPERONI",
        "name": {"value": "pepperoni", "synonyms": ["pep", "peperoni"]},
    }
    assert topping["values"][3] == {"name": {"value": "ham", "synonyms": []}}  # no id given: none exported


def test_export_refuses_symbols_rather_than_rewriting_the_sample():
    # Cleaning "!!" away silently would upload something other than what the developer wrote.
    model = model_with(IntentModel("Order", ("Order a pizza!!", "what's {size}?"), {"size": "PizzaSize"}))
    with pytest.raises(ModelError, match=r"\[sample.symbols\].*'Order a pizza!!' has !"):
        export_model(model)


def test_lenient_export_keeps_samples_as_written_once_each():
    model = model_with(IntentModel("Order", ("order a pizza", "order  a pizza", "what's {size}"), {"size": "PizzaSize"}))
    intent = export_model(model, lenient=True)["interactionModel"]["languageModel"]["intents"][0]
    assert intent["samples"] == ["order a pizza", "what's {size}"]


def test_export_refuses_invalid_model():
    with pytest.raises(ModelError, match="sise"):
        export_model(model_with(IntentModel("Order", ("order a {sise} pizza",), {"size": "PizzaSize"})))


# --- robustness and speed ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text):
    for matcher, model in ((PIZZA_MATCHER, PIZZA), (MUSIC_MATCHER, MUSIC)):
        result = matcher.match(text)
        assert result.kind in ("launch", "intent")
        if result.kind == "launch":
            assert result.intent is None and result.slots == {}
            continue
        assert result.intent is not None
        declared = model.intent(result.intent)
        allowed = dict(declared.slots) if declared else {}
        assert {k: s.type for k, s in result.slots.items()}.items() <= allowed.items()
        assert all(s.value.strip() for s in result.slots.values())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from("order a large pizza with pep to ask pizza shop play by and the 3 hundred {".split()),
        max_size=30,
    )
)
def test_word_salad_from_the_vocabulary_never_raises(words):
    result = PIZZA_MATCHER.match(" ".join(words))
    assert result.kind == "launch" or result.intent is not None


PIZZA_MATCHER = compile_model(PIZZA)
MUSIC_MATCHER = compile_model(MUSIC)


def big_model() -> InteractionModel:
    """About 20 intents and 150 samples, like a mid-sized real skill."""
    intents = list(PIZZA.intents)
    for n in range(13):
        word = f"thing{n}"
        intents.append(
            IntentModel(
                f"Thing{n}Intent",
                tuple(
                    f"{verb} {word} {tail}"
                    for verb in ("get", "show", "find", "list")
                    for tail in ("now", "please", "for {size}", "with {topping}")
                )
                + (f"{word} {{count}} times", f"tell me about {word} {{query}}"),
                {
                    "size": "PizzaSize",
                    "topping": "Topping",
                    "count": "AMAZON.NUMBER",
                    "query": "AMAZON.SearchQuery",
                },
            )
        )
    return InteractionModel("pizza shop", tuple(intents), PIZZA.types)


def test_matching_is_fast():
    model = big_model()
    matcher = compile_model(model)
    assert sum(len(i.samples) for i in model.intents) >= 150
    texts = [
        "ask pizza shop to order a large pep pizza",
        "show thing12 with double cheese",
        "thing3 twenty one times",
        "tell me about thing7 the history of cheese",
        "no idea what to say here at all",
        "add pineapple to my pizza",
    ]
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        for text in texts:
            matcher.match(text)
    per_match = (time.perf_counter() - start) / (runs * len(texts))
    # Typically ~0.05 ms; the bound only catches runaway backtracking, not a slow machine.
    assert per_match < 0.005


def test_a_synonym_several_values_share_resolves_to_each_as_alexa_does():
    from skills_sdk import Skill, say
    from skills_sdk.testing import SkillClient

    model = InteractionModel(
        "cafe",
        (IntentModel("DrinkIntent", ("a {drink} please",), {"drink": "Drink"}),),
        (SlotType.of("Drink", {"hot chocolate": ["cocoa", "chocolate"], "chocolate milk": ["cocoa"],
                               "chocolate": ["choc"]}),),
    )
    matcher = compile_model(model)
    validate_model(model)  # nothing to refuse: Alexa builds such a model
    cocoa = matcher.match("a cocoa please").slots["drink"]
    assert (cocoa.resolved, cocoa.id, cocoa.others) == ("hot chocolate", "HOT_CHOCOLATE",
                                                        (("chocolate milk", "CHOCOLATE_MILK"),))
    # A value whose own name was said comes first, then those that have it as a synonym.
    chocolate = matcher.match("a chocolate please").slots["drink"]
    assert (chocolate.resolved, chocolate.others) == ("chocolate", (("hot chocolate", "HOT_CHOCOLATE"),))

    cafe = Skill("cafe", developer_id="dev-cafe", invocation_name="corner cafe")
    cafe.slot_type("Drink", {"hot chocolate": ["cocoa"], "chocolate milk": ["cocoa"]})

    @cafe.intent("DrinkIntent", samples=["a {drink} please"], slots={"drink": "Drink"})
    def drink(ctx):
        values = ctx.slots["drink"].resolutions[0].values
        return say(f"{ctx.slot('drink')}, or any of {len(values)}: {', '.join(name for name, _ in values)}.")

    assert SkillClient(cafe).say("a cocoa please").speech == "hot chocolate, or any of 2: hot chocolate, chocolate milk."


@pytest.mark.parametrize(("locale", "name", "said"), [("de-DE", "assistent für minecraft", "öffne assistent für minecraft"),
                                                      ("en-US", "café olé", "open café olé")])
def test_an_invocation_name_in_letters_beyond_a_to_z_starts_and_is_heard(locale, name, said):
    from skills_sdk import Skill, ask
    from skills_sdk.testing import SkillClient

    skill = Skill("local", developer_id="d", invocation_name=name, locale=locale)

    @skill.launch
    def hello(ctx):
        return ask("Hallo!", "Hallo?")

    assert SkillClient(skill).say(said).speech == "Hallo!"


def test_ordinals_and_years_are_heard_as_numbers_so_they_may_sit_beside_a_list_slot():
    # Alexa's own birthday sample: "{month} {day} {year}" with AMAZON.Month, AMAZON.Ordinal and
    # AMAZON.FOUR_DIGIT_NUMBER side by side.
    model = InteractionModel(
        "cake time",
        (IntentModel("BirthdayIntent", ("{month} {day} {year}", "i was born the {day} of {month} {year}"),
                     {"month": "AMAZON.Month", "day": "AMAZON.Ordinal", "year": "AMAZON.FOUR_DIGIT_NUMBER"}),),
    )
    validate_model(model)
    matcher = compile_model(model)
    for said, want in [("march twenty first nineteen eighty four", ("march", "21", "1984")),
                       ("i was born the 3rd of july twenty twenty", ("july", "3", "2020")),
                       ("october first two thousand and five", ("october", "1", "2005")),
                       ("may thirtieth nineteen oh five", ("may", "30", "1905"))]:
        slots = matcher.match(said).slots
        assert tuple(slots[k].value for k in ("month", "day", "year")) == want, said
