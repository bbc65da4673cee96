"""The grocery example skill: a persistent cart, units, checkout with a delivery slot, partner failures."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from example_skills import BASE_URLS
from example_skills.grocery import create_skill, slot_hour
from skills_sdk.http import PartnerSession
from skills_sdk.testing import SkillClient

GROCERY = BASE_URLS["grocery"]
PRODUCTS = {
    "bananas": {"id": "prd_001", "name": "Bananas", "unit": "lb", "price_cents": 69},
    "milk": {"id": "prd_019", "name": "Whole Milk", "unit": "gallon", "price_cents": 429},
    "lemons": {"id": "prd_006", "name": "Lemons", "unit": "each", "price_cents": 79},
}
SLOTS = [{"id": "slot_20260301T1000Z", "start": "2026-03-01T10:00:00Z", "end": "2026-03-01T12:00:00Z"},
         {"id": "slot_20260301T1400Z", "start": "2026-03-01T14:00:00Z", "end": "2026-03-01T16:00:00Z"}]
ORDER = {"id": "ord_1001", "subtotal_cents": 1065, "delivery_fee_cents": 399, "total_cents": 1464,
         "currency": "USD", "status": "confirmed"}


def products(request):
    """The catalog search: the product named by ``q``, or nothing."""
    found = PRODUCTS.get(request.params.get("q", ""))
    return 200, {}, json.dumps({"products": [found] if found else []})


@pytest.fixture
def partner(monkeypatch):
    """FreshCart, mocked: a three-product catalog, two delivery slots, an order that always succeeds."""
    monkeypatch.delenv("SKILLS_PARTNER_GROCERY_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{GROCERY}/v1/products", callback=products)
        rsps.add(responses.GET, f"{GROCERY}/v1/delivery-slots", json={"slots": SLOTS})
        rsps.add(responses.POST, f"{GROCERY}/v1/orders", json=ORDER, status=201)
        yield rsps


@pytest.fixture
def client(partner):
    return SkillClient(create_skill(), http=PartnerSession())


def order_sent(partner):
    (call,) = [c for c in partner.calls if c.request.method == "POST"]
    return json.loads(call.request.body)


@pytest.mark.parametrize("utterance, said", [
    ("add two pounds of bananas", "Added 2 pounds of bananas."),
    ("add bananas", "Added 1 pound of bananas."),
    ("add 3 lemons", "Added 3 lemons."),
    ("add a gallon of milk", "Added 1 gallon of whole milk."),
    ("add 2 bags of milk", "Added 2 gallons of whole milk. Whole Milk is sold by the gallon."),
    ("add 1 kilo of bananas", "Added 1 kilo of bananas."),
])
def test_add_items_with_quantity_and_unit(client, utterance, said):
    r = client.say(utterance)
    assert r.speech.startswith(said) and r.ended is False


def test_an_item_the_partner_does_not_sell_is_not_added(client):
    client.say("add kale to my cart")
    client.assert_said("FreshCart doesn't sell kale")
    client.say("what's in my cart")
    client.assert_said("Your cart is empty")


def test_cart_persists_across_sessions_and_adds_up(client):
    client.say("add two pounds of bananas")
    client.say("add 3 lemons")
    client.end()
    client.new_session()
    r = client.launch()
    assert "You have 2 items in your cart" in r.speech
    client.say("add one pound of bananas")
    client.say("what's in my cart")
    client.assert_said("You have 3 pounds of bananas and 3 lemons, about $4.44.")


def test_remove_and_clear(client):
    client.say("add bananas")
    client.say("add milk")
    client.say("remove milk")
    client.assert_said("Removed whole milk")
    client.say("remove milk")
    client.assert_said("There's no milk in your cart")
    client.say("clear my cart")
    client.say("read my cart")
    client.assert_said("Your cart is empty")


def test_checkout_confirms_then_places_the_order_and_tags_the_total(client, partner):
    client.say("add two pounds of bananas")
    client.say("add a gallon of milk")
    r = client.say("check out")
    client.assert_said("That's 2 pounds of bananas and 1 gallon of whole milk, delivered between 10:00 and 12:00")
    assert r.ended is False and not any(c.request.method == "POST" for c in partner.calls)
    r = client.say("yes")
    client.assert_said("Your order is placed: $14.64 including delivery")
    assert order_sent(partner) == {"user_id": client.user_id, "slot_id": SLOTS[0]["id"], "items": [
        {"product_id": "prd_001", "quantity": 2, "unit": "lb"},
        {"product_id": "prd_019", "quantity": 1, "unit": "gallon"}]}
    assert r.transaction == {"kind": "grocery_order", "reference": "ord_1001", "amount": "14.64",
                             "currency": "USD", "status": "completed"}
    assert client.transcripts()[-1]["transaction"]["amount"] == "14.64"
    client.new_session()
    client.say("what's in my cart")
    client.assert_said("Your cart is empty")


@pytest.mark.parametrize("time, hour", [("14:00", 14), ("2 pm", 14), ("10", 10), ("noonish", None), (None, None)])
def test_slot_hour_reads_alexa_times_and_typed_ones(time, hour):
    assert slot_hour(time) == hour


def test_checkout_for_an_asked_time_picks_that_slot(client, partner):
    client.say("add bananas")
    client.intent("CheckoutIntent", time="14:00")
    client.assert_said("between 14:00 and 16:00")
    client.say("yes")
    assert order_sent(partner)["slot_id"] == SLOTS[1]["id"]


def test_checkout_for_a_time_without_a_slot_offers_the_first(client):
    client.say("add bananas")
    client.intent("CheckoutIntent", time="19:00")
    client.assert_said("There's no delivery slot at 19:00. The first one starts at 10:00.")


def test_saying_no_at_checkout_keeps_the_cart(client, partner):
    client.say("add bananas")
    client.say("check out")
    client.say("no")
    client.assert_said("I haven't placed the order. Your cart is saved.")
    client.say("read my cart")
    client.assert_said("1 pound of bananas")
    assert not any(c.request.method == "POST" for c in partner.calls)


def test_checkout_with_an_empty_cart(client):
    client.say("check out")
    client.assert_said("Your cart is empty")


@pytest.mark.parametrize("failure, recorded", [
    ({"status": 500, "json": {"error": {"code": "internal", "message": "boom"}}}, "HTTP 500 on POST /v1/orders"),
    ({"body": requests.Timeout()}, "timed out on POST /v1/orders"),
    ({"status": 201, "body": "[1, 2"}, "malformed JSON from POST /v1/orders"),
])
def test_partner_failure_at_checkout_is_honest_and_keeps_the_cart(client, partner, failure, recorded):
    partner.replace(responses.POST, f"{GROCERY}/v1/orders", **failure)
    client.say("add bananas")
    client.say("check out")
    r = client.say("yes")
    client.assert_said("FreshCart isn't answering right now. Your cart is as it was")
    assert r.transaction is None
    assert client.transcripts()[-1]["error"] == f"PartnerError: grocery: {recorded}"
    client.say("read my cart")
    client.assert_said("1 pound of bananas")


def test_partner_failure_while_adding_changes_nothing(client, partner):
    partner.replace(responses.GET, f"{GROCERY}/v1/products", status=500, json={"error": {"code": "x", "message": "y"}})
    client.say("add bananas")
    client.assert_said("FreshCart isn't answering right now")
    assert client.transcripts()[-1]["status"] == "error"


@pytest.mark.parametrize("turn, said, ended", [
    (lambda c: c.launch(), "Welcome to Fresh Cart. What would you like to add?", False),
    (lambda c: c.intent("AMAZON.HelpIntent"), "add two pounds of bananas", False),
    (lambda c: c.intent("AMAZON.StopIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.CancelIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.FallbackIntent"), "can't help with that", False),
    (lambda c: c.intent("PlayMusicIntent"), "can't help with that", False),
])
def test_built_in_requests_get_a_spoken_answer(client, turn, said, ended):
    r = turn(client)
    assert said in r.speech and r.ended is ended


def test_session_ended_is_answered_quietly(client):
    assert client.end().envelope["response"] == {}
