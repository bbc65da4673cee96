"""End to end: all four example skills under ``skills serve`` (embedded partners), then their transactions in ``export``."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest
from _server import SKILLS, serving
from conftest import make_envelope


@pytest.fixture
def served(tmp_path):
    """``skills serve`` on a free loopback port with a fresh database; always terminated."""
    db = tmp_path / "examples.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLS_PARTNER_")}  # embedded partners
    with serving(db, env=env) as base:
        yield base, db


class Conversation:
    """One user talking to one skill over HTTP, carrying session attributes as the platform does."""

    def __init__(self, base: str, skill: str, user_id: str) -> None:
        self.url, self.user_id, self.sessions, self.attributes = f"{base}/alexa/{skill}", user_id, 0, {}
        self.new_session()

    def new_session(self) -> None:
        self.sessions += 1
        self.session_id, self.attributes, self.new = f"amzn1.echo-api.session.{self.user_id}-{self.sessions}", {}, True

    def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.url, data=json.dumps(envelope).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
            body = json.loads(resp.read())
        self.attributes, self.new = body.get("sessionAttributes") or {}, False
        return body

    def intent(self, name: str, **slots: str) -> dict[str, Any]:
        return self.send(make_envelope(intent=name, slots=slots, user_id=self.user_id, session_id=self.session_id,
                                       attributes=self.attributes, new=self.new))

    def event(self, request_type: str, **fields: Any) -> dict[str, Any]:
        envelope = make_envelope(request_type, user_id=self.user_id, **fields)
        del envelope["session"]  # AudioPlayer events come without a session
        return self.send(envelope)


def speech(body: dict[str, Any]) -> str:
    return body["response"]["outputSpeech"]["ssml"]


def test_all_four_examples_complete_their_purchases_and_export_shows_them(served, order_pizza_body):
    base, db = served

    pizza = Conversation(base, "pizza", "amzn1.ask.account.e2e-pizza")
    pizza.send(json.loads(order_pizza_body))  # the platform's own envelope: dialog completed
    assert "pepperoni" in speech(pizza.send(json.loads(order_pizza_body)))

    ride = Conversation(base, "ride", "amzn1.ask.account.e2e-rider")
    ride.intent("SetPlaceIntent", place="work", address="500 Howard Street")
    ride.new_session()
    assert "Shall I book it?" in speech(ride.intent("RequestRideIntent", place="work", ride_type="xl"))
    assert "Booked." in speech(ride.intent("AMAZON.YesIntent"))

    grocery = Conversation(base, "grocery", "amzn1.ask.account.e2e-shopper")
    grocery.intent("AddItemIntent", item="bananas", quantity="2", unit="lb")
    grocery.intent("AddItemIntent", item="milk")
    grocery.new_session()  # the cart waits for the user in the next session
    assert "2 pounds of bananas and 1 gallon of whole milk" in speech(grocery.intent("CheckoutIntent"))
    assert "Your order is placed" in speech(grocery.intent("AMAZON.YesIntent"))

    music = Conversation(base, "music", "amzn1.ask.account.e2e-listener")
    assert "TuneStream Premium" in speech(music.intent("PlayIntent", genre="jazz"))
    body = music.intent("AMAZON.YesIntent")
    (play,) = body["response"]["directives"]
    token = play["audioItem"]["stream"]["token"]
    body = music.event("AudioPlayer.PlaybackNearlyFinished", token=token, offsetInMilliseconds=200000)
    (enqueue,) = body["response"]["directives"]
    assert enqueue["playBehavior"] == "ENQUEUE" and enqueue["audioItem"]["stream"]["expectedPreviousToken"] == token

    out = subprocess.run([SKILLS, "transcripts", "export", "--db", str(db), "--format", "jsonl"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    tagged = {(r["skill"], r["transaction"]["kind"]) for r in rows if r.get("transaction")}
    assert tagged == {("pizza", "pizza_order"), ("ride", "ride"), ("grocery", "grocery_order"),
                      ("music", "subscription")}
    pizza_orders = [r for r in rows if r.get("transaction") and r["skill"] == "pizza"]
    assert len(pizza_orders) == 2 and {r["transaction"]["reference"] for r in pizza_orders} == {"pz_1001", "pz_1002"}
    assert all(r["status"] == "ok" for r in rows)
    by_skill = {r["skill"]: r["developer_id"] for r in rows}
    assert by_skill == {"pizza": "pronto-pizza-labs", "ride": "zipride-mobility", "grocery": "freshcart-labs",
                        "music": "tunestream-audio"}
