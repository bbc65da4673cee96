"""The pizza example skill: dialog-driven ordering, order status, built-ins and partner failures."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from conftest import ledger_host

from example_skills import BASE_URLS
from example_skills.pizza import create_skill
from skills_sdk.http import PartnerSession
from skills_sdk.testing import SkillClient
from skills_sdk.transcripts import TranscriptStore

PIZZA = BASE_URLS["pizza"]
PLACED = {"id": "pz_1001", "total_cents": 2099, "currency": "USD", "status": "placed", "eta_minutes": 30}


@pytest.fixture
def partner(monkeypatch):
    """PizzaPronto, mocked: register answers with ``partner.add(...)``."""
    monkeypatch.delenv("SKILLS_PARTNER_PIZZA_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client(partner):
    return SkillClient(create_skill(), http=PartnerSession())


def sent(partner, n=-1):
    return json.loads(partner.calls[n].request.body)


def test_completed_dialog_envelope_places_the_order_at_once(partner, order_pizza_body):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    host = ledger_host([create_skill()], TranscriptStore(":memory:"), http=PartnerSession())
    result = host.handle("pizza", json.loads(order_pizza_body))
    speech = result.envelope["response"]["outputSpeech"]["ssml"]
    assert "pepperoni" in speech and "on its way" in speech
    assert sent(partner)["items"] == [{"size": "large", "toppings": ["pepperoni"], "quantity": 1}]
    assert result.transcript["transaction"] and json.loads(result.transcript["transaction"])["amount"] == "20.99"


def test_typed_conversation_runs_on_the_delegated_dialog_model(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    r = client.say("order a pizza")
    # Alexa's dialog model asks; the skill sees nothing until the dialog is complete.
    assert (r.spoken_by, r.dialog_state, r.speech) == ("dialog", "STARTED", "What size would you like: small, medium or large?")
    r = client.say("a large one")
    assert (r.spoken_by, r.speech) == ("dialog", "A large pizza. Which topping would you like?")
    r = client.say("pepperoni and mushrooms")
    assert (r.spoken_by, r.speech) == ("dialog", "A large pizza with pepperoni. Shall I place the order?")
    assert client.transcripts() == [] and not partner.calls
    r = client.say("yes")
    assert (r.spoken_by, r.dialog_state, r.confirmation) == ("skill", "COMPLETED", "CONFIRMED")
    client.assert_said("one large hand tossed pizza with pepperoni and mushrooms is on its way")
    assert r.transaction == {"kind": "pizza_order", "reference": "pz_1001", "amount": "20.99",
                             "currency": "USD", "status": "completed"}
    assert sent(partner)["items"][0]["toppings"] == ["pepperoni", "mushrooms"]
    rows = client.transcripts()
    assert len(rows) == 1 and rows[0]["transaction"]["reference"] == "pz_1001"


def test_a_topping_the_shop_does_not_have_is_asked_for_again(client):
    client.say("order a large pizza with anchovies")
    client.assert_said("we don't have that topping")
    assert client.last.spoken_by == "dialog" and client.conversation.elicited_slot == "topping"
    client.say("ham")
    client.assert_said("A large pizza with ham. Shall I place the order?")


@pytest.mark.parametrize("said, answer", [
    ("order eleven large pepperoni pizzas", "at most ten pizzas"),
    ("order zero large pepperoni pizzas", "How many pizzas would you like?"),
])
def test_quantity_outside_the_validations_is_asked_again(client, partner, said, answer):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    client.say(said)
    client.assert_said(answer)
    client.say("two")
    client.assert_said("A large pizza with pepperoni. Shall I place the order?")
    client.say("yes")
    assert sent(partner)["items"] == [{"size": "large", "toppings": ["pepperoni"], "quantity": 2}]


def test_denied_confirmation_reaches_the_skill_and_orders_nothing(client, partner):
    client.say("order a small ham pizza")
    r = client.say("no")
    assert (r.spoken_by, r.dialog_state, r.confirmation) == ("skill", "COMPLETED", "DENIED")
    client.assert_said("I won't order that")
    assert r.ended is False and not partner.calls


def test_stop_in_the_middle_of_the_dialog_leaves_it(client):
    client.say("order a pizza")
    r = client.say("stop")
    assert r.intent == "AMAZON.StopIntent" and r.ended is True


def test_completed_confirmed_intent_places_the_order_with_quantity_and_crust(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    r = client.intent("OrderPizzaIntent", dialog_state="COMPLETED", confirmation="CONFIRMED",
                      size="medium", crust="thin", topping="bacon", quantity="2")
    client.assert_said("2 medium thin pizzas with bacon are on their way")
    assert sent(partner)["items"] == [{"size": "medium", "crust": "thin", "toppings": ["bacon"], "quantity": 2}]
    assert r.transaction["kind"] == "pizza_order"


@pytest.mark.parametrize("dialog_state", ["STARTED", "IN_PROGRESS"])
def test_a_mid_dialog_request_is_delegated_back_to_the_dialog_model(client, dialog_state):
    r = client.intent("OrderPizzaIntent", dialog_state=dialog_state, size="small")
    assert r.directives == [{"type": "Dialog.Delegate"}] and r.ended is False


def test_exported_model_carries_the_dialog_and_its_prompts():
    from skills_sdk.nlu import export_model

    data = export_model(create_skill().model)["interactionModel"]
    dialog = data["dialog"]
    assert dialog["delegationStrategy"] == "ALWAYS"
    order = next(i for i in dialog["intents"] if i["name"] == "OrderPizzaIntent")
    assert order["confirmationRequired"] is True and order["prompts"] == {"confirmation": "Confirm.Intent.OrderPizzaIntent"}
    size = next(s for s in order["slots"] if s["name"] == "size")
    assert size == {"name": "size", "type": "PizzaSize", "elicitationRequired": True, "confirmationRequired": False,
                    "prompts": {"elicitation": "Elicit.Slot.OrderPizzaIntent.size"}}
    quantity = next(s for s in order["slots"] if s["name"] == "quantity")
    assert quantity["validations"] == [
        {"type": "isGreaterThan", "prompt": "Slot.Validation.OrderPizzaIntent.quantity.1", "value": "0"},
        {"type": "isLessThan", "prompt": "Slot.Validation.OrderPizzaIntent.quantity.2", "value": "11"}]
    prompts = {p["id"]: p["variations"] for p in data["prompts"]}
    assert prompts["Elicit.Slot.OrderPizzaIntent.size"][1] == {"type": "PlainText",
                                                                "value": "Which size: small, medium or large?"}
    referenced = {size["prompts"]["elicitation"], order["prompts"]["confirmation"],
                  *(v["prompt"] for s in order["slots"] for v in s.get("validations", ()))}
    assert referenced <= set(prompts)
    lm_slot = next(s for i in data["languageModel"]["intents"] if i["name"] == "OrderPizzaIntent"
                   for s in i["slots"] if s["name"] == "size")
    assert "a {size} one" in lm_slot["samples"]


def test_status_reads_the_last_order_in_a_later_session(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    partner.add(responses.GET, f"{PIZZA}/v1/orders/pz_1001", json={**PLACED, "status": "baking", "eta_minutes": 22})
    client.intent("OrderPizzaIntent", dialog_state="COMPLETED", size="large", topping="pepperoni")
    client.new_session()
    client.say("where is my pizza")
    client.assert_said("Your pizza is in the oven. It should arrive in about 22 minutes.")


def test_partner_refusing_the_combination_asks_for_another_topping(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", status=422,
                json={"error": {"code": "invalid_topping", "message": "Unknown topping", "field": "items[0]"}})
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    r = client.intent("OrderPizzaIntent", dialog_state="COMPLETED", size="large", topping="pineapple")
    client.assert_said("can't make that combination")
    assert r.ended is False and r.transaction is None
    assert r.directives[0]["slotToElicit"] == "topping" and r.directives[0]["updatedIntent"]["slots"]["size"]["value"] == "large"
    # The skill asked, so the answer comes back to it; it delegates, and the dialog model confirms.
    r = client.say("ham")
    assert r.spoken_by == "dialog" and r.delegated.directives == [{"type": "Dialog.Delegate"}]
    client.assert_said("with ham")
    client.say("yes")
    assert sent(partner)["items"] == [{"size": "large", "toppings": ["ham"], "quantity": 1}]


@pytest.mark.parametrize("failure, recorded", [
    ({"status": 500, "json": {"error": {"code": "internal", "message": "boom"}}}, "HTTP 500 on POST /v1/orders"),
    ({"body": requests.Timeout()}, "timed out on POST /v1/orders"),
    ({"status": 201, "body": "{not json"}, "malformed JSON from POST /v1/orders"),
])
def test_partner_failure_gets_an_honest_answer_and_is_recorded(client, partner, failure, recorded):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", **failure)
    r = client.intent("OrderPizzaIntent", dialog_state="COMPLETED", size="large", topping="pepperoni")
    client.assert_said("Pizza Pronto isn't answering right now, so nothing was ordered")
    assert "Traceback" not in r.speech and r.transaction is None
    row = client.transcripts()[-1]
    assert row["status"] == "error" and row["error"] == f"PartnerError: pizza: {recorded}"


@pytest.mark.parametrize("locale, said", [
    ("en-US", "isn't answering right now, so I can't check on your order. It is still placed"),
    ("de-DE", "kann ich nicht nach deiner Bestellung sehen. Sie bleibt bestellt"),
])
def test_a_failed_status_lookup_does_not_say_nothing_was_ordered(partner, locale, said):
    client = SkillClient(create_skill(), http=PartnerSession(), locale=locale)
    client.set_state({"last_order": "pz_1"})
    partner.add(responses.GET, f"{PIZZA}/v1/orders/pz_1", status=503, json={"error": {"code": "down"}})
    r = client.intent("OrderStatusIntent")
    client.assert_said(said)
    assert "nothing was ordered" not in r.speech and "nichts bestellt" not in r.speech


@pytest.mark.parametrize("turn, said, ended", [
    (lambda c: c.launch(), "Welcome to Pizza Shop", False),
    (lambda c: c.intent("AMAZON.HelpIntent"), "pepperoni and mushrooms", False),
    (lambda c: c.intent("AMAZON.StopIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.CancelIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.FallbackIntent"), "can't help with that", False),
    (lambda c: c.intent("BookFlightIntent"), "can't help with that", False),
])
def test_built_in_requests_get_a_spoken_answer(client, turn, said, ended):
    r = turn(client)
    assert said in r.speech and r.ended is ended


def test_session_ended_is_answered_quietly(client):
    r = client.end()
    assert r.envelope["response"] == {}
