"""The ride example skill: saved places, quote and book, status, cancellation fees, partner failures."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from example_skills import BASE_URLS
from example_skills.ride import create_skill
from skills_sdk.http import PartnerSession
from skills_sdk.testing import SkillClient

RIDE = BASE_URLS["ride"]
QUOTE = {"id": "qt_1001", "ride_type": "standard", "price_cents": 1234, "currency": "USD", "eta_minutes": 5,
         "distance_km": 8.2}
BOOKED = {"id": "ride_1001", "quote_id": "qt_1001", "status": "driver_assigned", "ride_type": "standard",
          "price_cents": 1234, "currency": "USD", "eta_minutes": 5, "driver": {"name": "Priya", "rating": 4.9},
          "car": {"make": "Toyota", "model": "Prius", "color": "silver", "license_plate": "ZIP 4821"}}


def quote(request):
    """Quotes echo the ride type asked for, as ZipRide does."""
    asked = json.loads(request.body)
    return 201, {}, json.dumps({**QUOTE, "ride_type": asked.get("ride_type", "standard")})


@pytest.fixture
def partner(monkeypatch):
    """ZipRide, mocked: quotes for any address, a booking with Priya, her ride's status."""
    monkeypatch.delenv("SKILLS_PARTNER_RIDE_URL", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.POST, f"{RIDE}/v1/quotes", callback=quote)
        rsps.add(responses.POST, f"{RIDE}/v1/rides", json=BOOKED, status=201)
        rsps.add(responses.GET, f"{RIDE}/v1/rides/ride_1001", json={**BOOKED, "eta_minutes": 3})
        yield rsps


@pytest.fixture
def client(partner):
    return SkillClient(create_skill(), http=PartnerSession())


def posted(partner, path):
    return [json.loads(c.request.body or "{}") for c in partner.calls if c.request.url.endswith(path)]


def test_set_home_then_ride_there_in_a_later_session(client, partner):
    client.say("set my home to 742 evergreen terrace springfield")
    client.assert_said("Saved. Your home is 742 evergreen terrace springfield.")
    client.new_session()
    r = client.say("take me home")
    client.assert_said("A standard ride to home is $12.34, and a driver can be there in 5 minutes. Shall I book it?")
    assert r.ended is False
    assert posted(partner, "/v1/quotes")[0]["dropoff"] == {"address": "742 evergreen terrace springfield"}


def test_unsaved_place_asks_for_its_address(client, partner):
    client.say("get me a ride to work")
    client.assert_said("I don't know your work address yet")
    assert not partner.calls


def test_spoken_address_with_a_ride_type_quotes_books_and_tags_the_fare(client, partner):
    client.say("book an xl ride to 1 market street")
    client.assert_said("An XL ride to 1 market street is $12.34")
    assert posted(partner, "/v1/quotes")[0]["ride_type"] == "xl"
    r = client.say("yes")
    client.assert_said("Booked. Priya is coming in a silver Toyota Prius, plate ZIP 4821, in about 5 minutes.")
    assert posted(partner, "/v1/rides")[0] == {"quote_id": "qt_1001", "user_id": client.user_id}
    assert r.transaction == {"kind": "ride", "reference": "ride_1001", "amount": "12.34",
                             "currency": "USD", "status": "completed"}
    assert client.transcripts()[-1]["transaction"]["kind"] == "ride"


def test_saying_no_books_nothing(client, partner):
    client.say("get me a ride to 1 market street")
    client.say("no")
    client.assert_said("I haven't booked anything")
    assert posted(partner, "/v1/rides") == []


def test_an_expired_quote_asks_to_try_again(client, partner):
    partner.replace(responses.POST, f"{RIDE}/v1/rides", status=409,
                    json={"error": {"code": "quote_expired", "message": "expired"}})
    client.say("get me a ride to 1 market street")
    r = client.say("yes")
    client.assert_said("That price has expired")
    assert r.transaction is None and r.error is None


def test_status_of_the_booked_ride(client):
    client.say("get me a ride to 1 market street")
    client.say("yes")
    client.new_session()
    client.say("where is my ride")
    client.assert_said("Your ride with Priya is on the way. It will be there in about 3 minutes.")


def test_status_without_a_ride(client):
    client.say("where is my ride")
    client.assert_said("You have no ride booked")


@pytest.mark.parametrize("fee_cents, said, transaction", [
    (0, "Your ride is cancelled, free of charge.", None),
    (500, "there is a $5 cancellation fee",
     {"kind": "cancellation_fee", "reference": "ride_1001", "amount": "5.00", "currency": "USD", "status": "completed"}),
])
def test_cancel_a_ride_tags_a_fee_as_a_transaction(client, partner, fee_cents, said, transaction):
    partner.add(responses.POST, f"{RIDE}/v1/rides/ride_1001/cancel",
                json={**BOOKED, "status": "cancelled", "cancellation_fee_cents": fee_cents})
    client.say("get me a ride to 1 market street")
    client.say("yes")
    r = client.say("cancel my ride")
    client.assert_said(said)
    assert r.transaction == transaction
    client.say("cancel my ride")
    client.assert_said("You have no ride to cancel")


def test_a_ride_under_way_cannot_be_cancelled(client, partner):
    partner.add(responses.POST, f"{RIDE}/v1/rides/ride_1001/cancel", status=409,
                json={"error": {"code": "ride_not_cancellable", "message": "in progress"}})
    client.say("get me a ride to 1 market street")
    client.say("yes")
    client.say("cancel my ride")
    client.assert_said("can't be cancelled any more")


@pytest.mark.parametrize("failure, recorded", [
    ({"status": 500, "json": {"error": {"code": "internal", "message": "boom"}}}, "HTTP 500 on POST /v1/rides"),
    ({"body": requests.Timeout()}, "timed out on POST /v1/rides"),
    ({"status": 201, "body": "not json"}, "malformed JSON from POST /v1/rides"),
])
def test_partner_failure_while_booking_is_honest_and_recorded(client, partner, failure, recorded):
    partner.replace(responses.POST, f"{RIDE}/v1/rides", **failure)
    client.say("get me a ride to 1 market street")
    r = client.say("yes")
    client.assert_said("ZipRide isn't answering right now, so nothing was booked or changed")
    assert r.transaction is None
    row = client.transcripts()[-1]
    assert row["status"] == "error" and row["error"] == f"PartnerError: ride: {recorded}"


@pytest.mark.parametrize("turn, said, ended", [
    (lambda c: c.launch(), "Welcome to Zip Ride. Where would you like to go?", False),
    (lambda c: c.intent("AMAZON.HelpIntent"), "set my home to", False),
    (lambda c: c.intent("AMAZON.StopIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.CancelIntent"), "Goodbye", True),
    (lambda c: c.intent("AMAZON.FallbackIntent"), "can't help with that", False),
    (lambda c: c.intent("OrderPizzaIntent"), "can't help with that", False),
    (lambda c: c.say("yes"), "Where would you like to go?", False),
])
def test_built_in_requests_get_a_spoken_answer(client, turn, said, ended):
    r = turn(client)
    assert said in r.speech and r.ended is ended


def test_session_ended_is_answered_quietly(client):
    assert client.end().envelope["response"] == {}
