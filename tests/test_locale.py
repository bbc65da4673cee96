"""Locales: one skill, per-locale models and replies, the fallback chain, and --locale on the CLI."""

from __future__ import annotations

import json

import pytest
import responses
from click.testing import CliRunner

from example_skills import BASE_URLS
from example_skills.pizza import create_skill
from skills_sdk import Skill, say
from skills_sdk.cli import main
from skills_sdk.errors import ModelError, RegistrationError
from skills_sdk.http import PartnerSession
from skills_sdk.locale import Catalogue, fallback_chain
from skills_sdk.model_rules import check_model
from skills_sdk.nlu import export_model
from skills_sdk.testing import SkillClient

PIZZA = BASE_URLS["pizza"]
PLACED = {"id": "pz_7", "total_cents": 1849, "currency": "USD", "status": "placed", "eta_minutes": 25}


@pytest.fixture
def partner(monkeypatch):
    monkeypatch.delenv("SKILLS_PARTNER_PIZZA_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
        yield rsps


@pytest.mark.parametrize("locale, lines, said", [
    ("en-US", ["open pizza shop", "order a large pizza with ham", "yes"],
     "Okay, one large hand tossed pizza with ham is on its way. It should arrive in about 25 minutes."),
    ("de-DE", ["öffne pizza laden", "bestelle eine große pizza mit schinken", "ja"],
     "Okay, eine große Pizza, klassischer Boden, mit Schinken ist unterwegs. Sie sollte in etwa 25 Minuten da sein."),
    ("en-GB", ["open pizza shop", "order a large pizza with ham", "yes"],  # falls back to the English model
     "Okay, one large hand tossed pizza with ham is on its way."),
])
def test_pizza_answers_in_the_users_language(partner, locale, lines, said):
    client = SkillClient(create_skill(), http=PartnerSession(), locale=locale)
    for line in lines:
        client.say(line)
    client.assert_said(said)
    # Slot values resolve to the same canonical names in every locale: the partner gets one order.
    assert json.loads(partner.calls[-1].request.body)["items"] == [{"size": "large", "toppings": ["ham"], "quantity": 1}]
    assert client.transcripts()[-1]["locale"] == locale


def test_the_german_dialog_model_asks_in_german(partner):
    client = SkillClient(create_skill(), http=PartnerSession(), locale="de-DE")
    assert client.say("bestelle eine pizza").speech == "Welche Größe möchtest du: klein, mittel oder groß?"
    assert client.say("große").speech == "Eine große Pizza. Welchen Belag möchtest du?"
    assert client.say("sardellen").speech.startswith("Diesen Belag haben wir leider nicht.")
    assert client.say("salami und pilze").speech == "Eine große Pizza mit salami. Soll ich bestellen?"
    assert client.say("nein").speech == "Okay, das bestelle ich nicht. Welche Pizza möchtest du stattdessen?"


def test_each_locale_exports_its_own_model_that_passes_every_rule():
    skill = create_skill()
    assert skill.locales == ["en-US", "de-DE"]
    german = skill.model_for("de-DE")
    assert check_model(german) == []
    data = export_model(german)["interactionModel"]
    assert data["languageModel"]["invocationName"] == "pizza laden"
    order = next(i for i in data["languageModel"]["intents"] if i["name"] == "OrderPizzaIntent")
    assert "bestelle eine {size} pizza mit {topping}" in order["samples"]
    assert "order a pizza" not in order["samples"]
    sizes = next(t for t in data["languageModel"]["types"] if t["name"] == "PizzaSize")["values"]
    assert {"id": "LARGE", "name": {"value": "large", "synonyms": ["groß", "große", "gross"]}} in sizes
    prompts = {p["id"]: p["variations"][0]["value"] for p in data["prompts"]}
    assert prompts["Confirm.Intent.OrderPizzaIntent"] == "Eine {size} Pizza mit {topping}. Soll ich bestellen?"
    assert skill.model_for("de-AT").invocation_name == "pizza laden"  # de-AT -> de -> de-DE
    assert skill.model_for("fr-FR").invocation_name == "pizza shop"  # -> the skill's own


def test_fallback_chain_and_catalogue():
    assert fallback_chain("en-GB", "en-US") == ["en-GB", "en", "en-US"]
    assert fallback_chain("de-DE", "en-US") == ["de-DE", "de", "en-US", "en"]
    texts = Catalogue("en-US")
    texts.add("en", {"hi": "Hello {name}", "only_en": "English"})
    texts.add("en-GB", {"hi": "Hiya {name}"})
    texts.add("de", {"hi": "Hallo {name}"})
    assert texts.text("en-GB", "hi", name="Jo") == "Hiya Jo"
    assert texts.text("en-AU", "hi", name="Jo") == "Hello Jo"
    assert texts.text("de-CH", "hi", name="Jo") == "Hallo Jo"
    assert texts.text("de-DE", "only_en") == "English"
    assert texts.text("de-DE", "missing", default="fallback") == "fallback"
    with pytest.raises(KeyError, match=r"No message 'missing' for locale 'de-DE' \(looked in de-DE, de, en-US, en\)"):
        texts.text("de-DE", "missing")


def test_bad_locales_are_refused_naming_the_fix():
    skill = Skill("hi", developer_id="d", invocation_name="hello there")
    with pytest.raises(RegistrationError, match="'german' is not an Alexa locale such as 'de-DE'"):
        skill.add_locale("german")
    with pytest.raises(ModelError, match=r"\[sample.digits\] de-DE sample of intent 'HiIntent'"):
        skill.add_locale("de-DE", samples={"HiIntent": ["sag 2 mal hallo"]})
    skill.add_locale("de-DE", invocation_name="hallo da")
    with pytest.raises(RegistrationError, match="declared twice"):
        skill.add_locale("de-DE")
    with pytest.raises(RegistrationError, match="locale such as 'en-US'|a language"):
        skill.messages("English", {"hi": "hello"})


def test_a_custom_intent_without_samples_in_a_locale_is_refused_on_export():
    skill = Skill("hi", developer_id="d", invocation_name="hello there")
    skill.add_intent("HiIntent", lambda ctx: say(ctx.t("hi", default="hi")), samples=["say hello"])
    skill.add_locale("de-DE", invocation_name="hallo da")
    problems = check_model(skill.model_for("de-DE"))
    assert [p.rule for p in problems] == ["intent.samples"]


def test_cli_takes_a_locale_for_export_say_and_chat(tmp_path):
    runner = CliRunner()
    exported = runner.invoke(main, ["model", "export", "pizza", "--locale", "de-DE"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["interactionModel"]["languageModel"]["invocationName"] == "pizza laden"
    unknown = runner.invoke(main, ["model", "export", "pizza", "--locale", "fr-FR"])
    assert unknown.exit_code == 2 and "has a model for en-US, de-DE, not fr-FR" in unknown.stderr
    said = runner.invoke(main, ["say", "pizza", "öffne pizza laden", "--locale", "de-DE", "--json",
                                "--db", str(tmp_path / "t.db")])
    assert said.exit_code == 0, said.output
    assert json.loads(said.stdout)["speech"].startswith("Willkommen beim Pizza Laden")
    chat = runner.invoke(main, ["chat", "pizza", "--locale", "de-DE", "--db", str(tmp_path / "t.db")],
                         input="bestelle eine kleine pizza mit ananas\n")
    assert "alexa:      Eine kleine Pizza mit ananas. Soll ich bestellen?" in chat.stdout


@pytest.mark.parametrize("locale_fields, rule, text", [
    ({"samples": {"OrderIntent": ["bestelle"]}}, "locale.unknown-intent", "OrderIntent"),
    ({"slot_values": {"Sizes": {"large": ["groß"]}}}, "locale.unknown-slot-type", "Sizes"),
    ({"slot_values": {"Size": {"huge": ["riesig"]}}}, "locale.unknown-slot-value", "huge"),
    ({"prompts": {"Elicit.Slot.HiIntent.sise": "Welche Größe?"}}, "locale.unknown-prompt", "Elicit.Slot.HiIntent.sise"),
    ({"slot_samples": {"HiIntent.sise": ["{size}"]}}, "locale.unknown-slot", "HiIntent.sise"),
])
def test_a_locale_naming_what_the_skill_lacks_is_refused_before_serving(locale_fields, rule, text):
    from skills_sdk.dialog import required

    skill = Skill("hi", developer_id="d", invocation_name="hello there")
    skill.slot_type("Size", ["large", "small"])
    skill.add_intent("HiIntent", lambda ctx, size=None: say("hi"), samples=["say hello {size}"],
                     slots={"size": required("Size", "Which size?")})
    skill.add_locale("de-DE", invocation_name="hallo da", **locale_fields)
    with pytest.raises(ModelError) as info:
        SkillClient(skill)
    assert [(p.rule, p.text) for p in info.value.problems] == [(rule, text)]


@pytest.mark.parametrize(("said", "intent"), [("stopp", "AMAZON.StopIntent"), ("hilfe", "AMAZON.HelpIntent"),
                                              ("abbrechen", "AMAZON.CancelIntent"), ("weiter", "AMAZON.ResumeIntent")])
def test_german_users_reach_the_built_in_intents_in_their_own_words(said, intent):
    skill = Skill("radio", developer_id="d", invocation_name="jingle radio")
    skill.add_locale("de-DE", samples={"PlayIntent": ["spiel das radio"]})

    @skill.intent("PlayIntent", samples=["play the radio"])
    def play(ctx):
        return say("Playing.")

    @skill.intent("AMAZON.ResumeIntent")
    def resume(ctx):
        return say("Resuming.")

    assert SkillClient(skill, locale="de-DE").say(said).intent == intent
    assert SkillClient(skill).say(said).intent == "AMAZON.FallbackIntent"   # English users say "stop"


def test_the_built_in_answers_speak_the_users_language_and_suggest_a_sample_of_their_locale():
    skill = Skill("radio", developer_id="d", invocation_name="jingle radio")
    skill.add_locale("de-DE", invocation_name="jingle funk", samples={"PlayIntent": ["spiel das radio"]})

    @skill.intent("PlayIntent", samples=["play the radio"])
    def play(ctx):
        return say("Playing.")

    german = SkillClient(skill, locale="de-DE")
    assert german.launch().speech == "Willkommen bei jingle funk. Du kannst sagen: spiel das radio."
    assert german.say("hilfe").speech == "Das ist jingle funk. Du kannst sagen: spiel das radio."
    assert german.say("wie spät ist es").speech.startswith("Leider kann jingle funk dabei nicht helfen.")
    assert german.say("stopp").speech == "Tschüss."
    assert SkillClient(skill).say("help").speech == "This is jingle radio. You can say, play the radio."
