"""The dialog model: declared beside the intent, exported as Alexa's schema, played by the simulator as Alexa plays it."""

from __future__ import annotations

import datetime as dt

import pytest

from skills_sdk import Skill, empty, say
from skills_sdk.dialog import (
    SlotState,
    add_duration,
    has_entity_resolution_match,
    is_greater_than_or_equal_to,
    is_in_duration,
    is_in_set,
    is_less_than_or_equal_to,
    is_not_in_duration,
    is_not_in_set,
    next_step,
    optional,
    parse_duration,
    required,
)
from skills_sdk.nlu import export_model
from skills_sdk.testing import SkillClient


def booking(delegation: str = "ALWAYS", seen: list | None = None) -> Skill:
    """A table-booking skill: party size (validated), day (confirmed), intent confirmation."""
    skill = Skill("tables", developer_id="dev-tables", invocation_name="table finder", delegation=delegation)
    skill.slot_type("Area", {"terrace": ["outside"], "window": [], "bar": []})

    @skill.intent("BookIntent", samples=["book a table", "book a table for {people}", "book a table on the {area}"],
                  slots={"people": required("AMAZON.NUMBER", "For how many people?", "How many of you are coming?",
                                            samples=["{people}", "{people} people", "we are {people}"],
                                            validations=[is_greater_than_or_equal_to(1, "At least one, please."),
                                                         is_less_than_or_equal_to(8, "We seat at most eight. How many?")]),
                         "area": required("Area", "Terrace, window or bar?", confirm="The {area}, is that right?",
                                          validations=[is_not_in_set(["bar"], "The bar is full tonight. Terrace or window?")])},
                  confirm="A table for {people} on the {area}. Shall I book it?")
    def book(ctx, people: int = 0, area=None):
        if seen is not None:
            seen.append((ctx.dialog_state, ctx.request.intent.confirmation_status,
                         {k: (s.value, s.confirmation_status) for k, s in ctx.slots.items() if s.value}))
        if ctx.dialog_state != "COMPLETED":
            return empty().delegate()
        if ctx.request.intent.confirmation_status == "DENIED":
            return say("No booking made.")
        return say(f"Booked a table for {people} on the {area}.")

    return skill


def test_auto_delegation_asks_validates_and_confirms_before_the_skill_hears_anything():
    seen: list = []
    client = SkillClient(booking(seen=seen))
    assert client.say("book a table").speech == "For how many people?"
    assert client.say("we are twelve").speech == "We seat at most eight. How many?"
    assert client.say("four").speech == "Terrace, window or bar?"
    assert client.say("bar").speech == "The bar is full tonight. Terrace or window?"
    assert client.say("outside").speech == "The outside, is that right?"  # Alexa reads back what was said
    assert client.say("yes").speech == "A table for 4 on the outside. Shall I book it?"
    assert seen == [] and client.transcripts() == []
    r = client.say("yes")
    assert r.speech == "Booked a table for 4 on the terrace."
    assert seen == [("COMPLETED", "CONFIRMED", {"people": ("4", "NONE"), "area": ("outside", "CONFIRMED")})]
    assert [row["utterance"] for row in client.transcripts()] == ["yes"]


def test_denied_slot_is_asked_for_again_and_denied_intent_completes_denied():
    seen: list = []
    client = SkillClient(booking(seen=seen))
    client.say("book a table for two")
    client.say("window")
    assert client.say("no").speech == "Terrace, window or bar?"
    client.say("terrace")
    client.say("yes")
    r = client.say("no")
    assert r.speech == "No booking made." and seen[-1][:2] == ("COMPLETED", "DENIED")


def test_prompt_variations_are_said_in_turn():
    client = SkillClient(booking())
    assert client.say("book a table").speech == "For how many people?"
    client.say("stop")
    assert client.say("book a table").speech == "How many of you are coming?"


def test_skill_response_delegation_sends_every_turn_to_the_skill():
    seen: list = []
    client = SkillClient(booking("SKILL_RESPONSE", seen))
    r = client.say("book a table")
    assert r.spoken_by == "dialog" and r.speech == "For how many people?"
    assert r.delegated.directive_types == ["Dialog.Delegate"]
    client.say("three")
    client.say("window")
    client.say("yes")
    r = client.say("yes")
    assert r.speech == "Booked a table for 3 on the window."
    assert [s[0] for s in seen] == ["STARTED", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert seen[-2][2] == {"people": ("3", "NONE"), "area": ("window", "CONFIRMED")}
    assert seen[-1][1] == "CONFIRMED"
    assert len(client.transcripts()) == 6


def test_a_skill_delegates_with_the_request_intent_changed_and_the_dialog_continues_from_it():
    skill = Skill("tables", developer_id="d", invocation_name="table finder", delegation="SKILL_RESPONSE")
    skill.slot_type("Area", {"terrace": ["outside"], "window": []})

    @skill.intent("BookIntent", samples=["book a table on the {area}"],
                  slots={"area": required("Area", "Terrace or window?"), "people": required("AMAZON.NUMBER", "How many?")})
    def book(ctx, area=None, people: int = 0):
        if ctx.dialog_state == "STARTED" and area == "terrace":   # the terrace is closed: ask again
            return say("The terrace is closed tonight.").elicit_slot("area", ctx.request.intent.with_slots(area=None))
        if ctx.dialog_state != "COMPLETED":
            return empty().delegate(ctx.request.intent)
        return say(f"Booked {people} at the {area}.")

    client = SkillClient(skill)
    r = client.say("book a table on the terrace")
    assert r.directives[0]["updatedIntent"] == {"name": "BookIntent", "confirmationStatus": "NONE", "slots": {
        "area": {"name": "area", "confirmationStatus": "NONE"},
        "people": {"name": "people", "confirmationStatus": "NONE"}}}
    assert client.say("window").speech == "How many?"
    assert client.say("two").speech == "Booked 2 at the window."
    assert client.last.error is None


def test_an_updated_intent_that_is_no_intent_is_refused_saying_what_to_pass():
    with pytest.raises(TypeError, match=r"ctx\.request\.intent.*with_slots"):
        empty().delegate(["size"])


def test_per_intent_delegation_overrides_the_skill_and_both_are_exported():
    skill = Skill("tables", developer_id="d", invocation_name="table finder", delegation="SKILL_RESPONSE")
    skill.add_intent("BookIntent", lambda ctx, people=None: say("ok"), samples=["book for {people}"],
                     slots={"people": required("AMAZON.NUMBER", "How many?")}, delegation="ALWAYS")
    data = export_model(skill.model)["interactionModel"]
    assert data["dialog"]["delegationStrategy"] == "SKILL_RESPONSE"
    assert data["dialog"]["intents"][0]["delegationStrategy"] == "ALWAYS"
    assert data["prompts"] == [{"id": "Elicit.Slot.BookIntent.people",
                                "variations": [{"type": "PlainText", "value": "How many?"}]}]
    assert data["languageModel"]["intents"][0]["slots"] == [
        {"name": "people", "type": "AMAZON.NUMBER", "samples": ["{people}"]}]


def test_a_skill_without_dialog_rules_exports_no_dialog():
    skill = Skill("plain", developer_id="d", invocation_name="plain talk")
    skill.add_intent("HiIntent", lambda ctx: say("hi"), samples=["say hi"])
    assert set(export_model(skill.model)["interactionModel"]) == {"languageModel"}


def test_exported_dialog_follows_alexas_schema():
    data = export_model(booking().model)["interactionModel"]
    intent = data["dialog"]["intents"][0]
    assert list(intent) == ["name", "confirmationRequired", "prompts", "slots"]
    area = intent["slots"][1]
    assert area == {"name": "area", "type": "Area", "elicitationRequired": True, "confirmationRequired": True,
                    "prompts": {"elicitation": "Elicit.Slot.BookIntent.area", "confirmation": "Confirm.Slot.BookIntent.area"},
                    "validations": [{"type": "isNotInSet", "prompt": "Slot.Validation.BookIntent.area.1",
                                     "values": ["bar"]}]}
    ids = [p["id"] for p in data["prompts"]]
    assert len(ids) == len(set(ids)) and "Confirm.Intent.BookIntent" in ids


TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize("rule, slot_type, state, ok", [
    (is_in_set(["large", "small"], "p"), "Size", SlotState("big", "large", "ER_SUCCESS_MATCH"), True),
    (is_in_set(["large"], "p"), "Size", SlotState("tiny", None, "ER_SUCCESS_NO_MATCH"), False),
    (is_not_in_set(["bar"], "p"), "Area", SlotState("Bar"), False),
    (is_greater_than_or_equal_to(1, "p"), "AMAZON.NUMBER", SlotState("1"), True),
    (is_less_than_or_equal_to(8, "p"), "AMAZON.NUMBER", SlotState("9"), False),
    (is_less_than_or_equal_to(8, "p"), "AMAZON.NUMBER", SlotState("?"), False),
    (is_in_duration("P0D", "P7D", "p"), "AMAZON.DATE", SlotState("2026-12-08"), True),
    (is_in_duration("P0D", "P7D", "p"), "AMAZON.DATE", SlotState("2026-12-09"), False),
    (is_in_duration("-P1M", "P0D", "p"), "AMAZON.DATE", SlotState("2026-11-01"), True),
    (is_not_in_duration("P0D", "P1D", "p"), "AMAZON.DATE", SlotState("2026-12-01"), False),
    (has_entity_resolution_match("p"), "Size", SlotState("huge", None, "ER_SUCCESS_NO_MATCH"), False),
    (has_entity_resolution_match("p"), "Size", SlotState("big", "large", "ER_SUCCESS_MATCH"), True),
])
def test_validations_judge_values_as_alexa_does(rule, slot_type, state, ok):
    skill = Skill("v", developer_id="d", invocation_name="value check")
    if not slot_type.startswith("AMAZON."):
        skill.slot_type(slot_type, ["large", "small", "bar", "terrace"])
    skill.add_intent("SetIntent", lambda ctx, x=None: say("ok"), samples=["set {x}"],
                     slots={"x": optional(slot_type, validations=[rule])})
    im = skill.model.intent("SetIntent")
    step = next_step(im, {"x": state}, "NONE", today=TODAY)
    assert (step.kind == "done") is ok
    if not ok:
        assert step == next_step(im, {"x": state}, "NONE", today=TODAY) and step.slot == "x"


def test_durations_move_by_the_calendar():
    assert parse_duration("P1Y2M3DT4H") == (1, 2, dt.timedelta(days=3, hours=4))
    assert parse_duration("P") is None and parse_duration("7D") is None
    assert add_duration(dt.datetime(2026, 1, 31), "P1M") == dt.datetime(2026, 2, 28)
    assert add_duration(dt.datetime(2026, 12, 1), "-P1Y") == dt.datetime(2025, 12, 1)
