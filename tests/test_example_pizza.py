"""The pizza example skill: dialog-driven ordering, order status, built-ins and partner failures."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from example_skills import BASE_URLS
from example_skills.pizza import create_skill
from skills_sdk import SkillHost
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
    host = SkillHost([create_skill()], store=TranscriptStore(":memory:"), http=PartnerSession())
    result = host.handle("pizza", json.loads(order_pizza_body))
    speech = result.envelope["response"]["outputSpeech"]["ssml"]
    assert "pepperoni" in speech and "on its way" in speech
    assert sent(partner)["items"] == [{"size": "large", "toppings": ["pepperoni"], "quantity": 1}]
    assert result.transcript["transaction"] and json.loads(result.transcript["transaction"])["amount"] == "20.99"


def test_typed_conversation_elicits_confirms_and_places_two_toppings(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    r = client.say("order a pizza")
    assert r.directives[0] == {"type": "Dialog.ElicitSlot", "slotToElicit": "size"}
    r = client.say("large")
    assert r.directives[0]["slotToElicit"] == "topping"
    r = client.say("pepperoni and mushrooms")
    assert r.directive_types == ["Dialog.ConfirmIntent"]
    client.assert_said("one large hand tossed pizza with pepperoni and mushrooms")
    r = client.say("yes")
    assert r.transaction == {"kind": "pizza_order", "reference": "pz_1001", "amount": "20.99",
                             "currency": "USD", "status": "completed"}
    assert sent(partner)["items"][0]["toppings"] == ["pepperoni", "mushrooms"]
    assert client.transcripts()[-1]["transaction"]["reference"] == "pz_1001"


@pytest.mark.parametrize("dialog_state, slots, expected", [
    ("STARTED", {}, {"type": "Dialog.ElicitSlot", "slotToElicit": "size"}),
    ("IN_PROGRESS", {"size": "small"}, {"type": "Dialog.ElicitSlot", "slotToElicit": "topping"}),
    ("IN_PROGRESS", {"size": "small", "topping": "ham"}, {"type": "Dialog.ConfirmIntent"}),
])
def test_dialog_asks_for_what_is_missing_then_confirms(client, dialog_state, slots, expected):
    r = client.intent("OrderPizzaIntent", dialog_state=dialog_state, **slots)
    assert r.directives == [expected] and r.ended is False


def test_confirmation_denied_starts_over(client, partner):
    r = client.intent("OrderPizzaIntent", dialog_state="IN_PROGRESS", confirmation="DENIED",
                      size="small", topping="ham")
    client.assert_said("start over")
    assert r.directives[0]["slotToElicit"] == "size" and r.directives[0]["updatedIntent"]["slots"] == {}
    assert not partner.calls


def test_confirmed_intent_places_the_order_with_quantity_and_crust(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    r = client.intent("OrderPizzaIntent", dialog_state="IN_PROGRESS", confirmation="CONFIRMED",
                      size="medium", crust="thin", topping="bacon", quantity="2")
    client.assert_said("2 medium thin pizzas with bacon are on their way")
    assert sent(partner)["items"] == [{"size": "medium", "crust": "thin", "toppings": ["bacon"], "quantity": 2}]
    assert r.transaction["kind"] == "pizza_order"


def test_status_reads_the_last_order_in_a_later_session(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", json=PLACED, status=201)
    partner.add(responses.GET, f"{PIZZA}/v1/orders/pz_1001", json={**PLACED, "status": "baking", "eta_minutes": 22})
    client.intent("OrderPizzaIntent", dialog_state="COMPLETED", size="large", topping="pepperoni")
    client.new_session()
    client.say("where is my pizza")
    client.assert_said("Your pizza is in the oven. It should arrive in about 22 minutes.")


def test_partner_refusing_the_combination_asks_again(client, partner):
    partner.add(responses.POST, f"{PIZZA}/v1/orders", status=422,
                json={"error": {"code": "invalid_topping", "message": "Unknown topping", "field": "items[0]"}})
    r = client.intent("OrderPizzaIntent", dialog_state="COMPLETED", size="large", topping="anchovies")
    client.assert_said("can't make that combination")
    assert r.ended is False and r.transaction is None


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
