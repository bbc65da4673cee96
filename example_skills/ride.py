"""Ride hailing: quote, book, track and cancel ZipRide rides to saved places or spoken addresses."""

from __future__ import annotations

from typing import Any

from skills_sdk import Skill, Turn, ask, say

from ._common import PartnerError, answer_partner_errors, call_partner, dollars, spoken_price

PLACES = {"home": ["my house", "house", "my place"], "work": ["the office", "office", "my office", "my work"]}
RIDE_TYPES = {"standard": ["regular", "normal", "cheap"], "xl": ["x l", "extra large", "big", "large"],
              "premium": ["luxury", "black", "fancy"]}
# Pick-up is where the device is. A production skill asks for the device-address permission; the
# example leaves it to the partner, which accepts a named place.
PICKUP = {"place": "current location"}
RIDE_NAMES = {"standard": "A standard", "xl": "An XL", "premium": "A premium"}
STATUS_WORDS = {"driver_assigned": "is on the way", "driver_arrived": "is waiting outside",
                "in_progress": "is under way", "completed": "is complete", "cancelled": "was cancelled"}


def ride_samples() -> list[str]:
    """Each way to ask, with a spoken address first and a saved place second.

    Both forms take any words; the NLU prefers a saved place's known names ("work"), and among equal
    matches the address sample, listed first, wins.
    """
    stems = ["get me a ride to", "book a ride to", "i need a ride to", "get me a {ride_type} to",
             "get me a {ride_type} ride to", "get me an {ride_type} ride to", "book a {ride_type} ride to",
             "book an {ride_type} ride to"]
    return [f"{stem} {{{slot}}}" for stem in stems for slot in ("address", "place")] + ["take me {place}"]


def create_skill() -> Skill:
    """The ride skill, owned by the fictional developer ZipRide Mobility."""
    skill = Skill("ride", developer_id="zipride-mobility", invocation_name="zip ride",
                  retention_days=30, receipt_retention_days=365, exempt_slots=("place", "ride_type"),
                  description="Book ZipRide rides home, to work or to any address.")
    skill.slot_type("SavedPlace", PLACES)
    skill.slot_type("RideType", RIDE_TYPES)
    answer_partner_errors(skill, "Sorry, ZipRide isn't answering right now, so nothing was booked or changed. "
                                 "Please try again in a minute.")

    def places(ctx: Turn) -> dict[str, str]:
        return ctx.state.setdefault("places", {})  # saved per user, across sessions

    @skill.launch
    def welcome(ctx: Turn):
        return ask("Welcome to Zip Ride. Where would you like to go?", "Where to?")

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx: Turn):
        return ask("You can say, get me a ride to work, book an XL ride to 1 Market Street, where is my ride, "
                   "or set my home to, and your address. Where would you like to go?", "Where to?")

    @skill.intent("SetPlaceIntent", samples=["set my {place} to {address}", "set my {place} address to {address}",
                                             "save {address} as my {place}", "my {place} address is {address}"],
                  slots={"place": "SavedPlace", "address": "AMAZON.PostalAddress"})
    def set_place(ctx: Turn, place=None, address=None):
        if place not in PLACES or not address:
            return ask("Say, set my home to, or set my work to, and then the address.", "Which place?")
        places(ctx)[place] = address
        return ask(f"Saved. Your {place} is {address}. Where would you like to go?", "Where to?")

    @skill.intent("RequestRideIntent", samples=ride_samples(),
                  slots={"place": "SavedPlace", "address": "AMAZON.PostalAddress", "ride_type": "RideType"})
    def request_ride(ctx: Turn, place=None, address=None, ride_type="standard"):
        if place in PLACES:
            address = places(ctx).get(place)
            if not address:
                return ask(f"I don't know your {place} address yet. Say, set my {place} to, and the address.",
                           f"What is your {place} address?")
        address = address or place  # an unknown place name is an address the user spoke
        if not address:
            return ask("Where would you like to go?", "Where to?")
        quote = call_partner(ctx, "ride", "POST", "/v1/quotes",
                             json={"pickup": PICKUP, "dropoff": {"address": address}, "ride_type": ride_type})
        # The quote waits in the session for the yes; it expires with the partner after five minutes.
        where = place if place in PLACES else address
        ctx.session["quote"] = {"id": quote["id"], "price_cents": quote["price_cents"], "to": where,
                                "ride_type": quote["ride_type"]}
        return ask(f"{RIDE_NAMES[quote['ride_type']]} ride to {where} is {spoken_price(quote['price_cents'])}, and a driver "
                   f"can be there in {quote['eta_minutes']} minutes. Shall I book it?", "Shall I book the ride?")

    @skill.intent("AMAZON.YesIntent")
    def yes(ctx: Turn):
        quote = ctx.session.pop("quote", None)
        if quote is None:
            return ask("Where would you like to go?", "Where to?")
        try:
            ride = call_partner(ctx, "ride", "POST", "/v1/rides", json={"quote_id": quote["id"], "user_id": ctx.user_id})
        except PartnerError as exc:
            if exc.code not in ("quote_expired", "quote_already_used", "quote_not_found"):
                raise
            return ask("That price has expired. Ask for the ride again and I'll get a fresh quote.", "Where to?")
        ctx.state["ride_id"] = ride["id"]
        driver, car = ride["driver"], ride["car"]
        return (say(f"Booked. {driver['name']} is coming in a {car['color']} {car['make']} {car['model']}, "
                    f"plate {car['license_plate']}, in about {ride['eta_minutes']} minutes.")
                .card("ZipRide", f"{quote['ride_type'].title()} ride to {quote['to']}\n"
                                 f"{driver['name']}, {car['license_plate']}\n${dollars(ride['price_cents'])}")
                .transaction("ride", ride["id"], dollars(ride["price_cents"]), "USD"))

    @skill.intent("AMAZON.NoIntent")
    def no(ctx: Turn):
        ctx.session.pop("quote", None)
        return say("Okay, I haven't booked anything.")

    def current_ride(ctx: Turn) -> dict[str, Any] | None:
        ride_id = ctx.state.get("ride_id")
        return call_partner(ctx, "ride", "GET", f"/v1/rides/{ride_id}") if ride_id else None

    @skill.intent("RideStatusIntent", samples=["where is my ride", "where's my driver", "where is my driver",
                                               "how far away is my ride", "what's the status of my ride"])
    def status(ctx: Turn):
        ride = current_ride(ctx)
        if ride is None:
            return ask("You have no ride booked. Where would you like to go?", "Where to?")
        eta = f" It will be there in about {ride['eta_minutes']} minutes." if ride["status"] == "driver_assigned" else ""
        return say(f"Your ride with {ride['driver']['name']} {STATUS_WORDS.get(ride['status'], 'is booked')}.{eta}")

    @skill.intent("CancelRideIntent", samples=["cancel my ride", "cancel the ride", "cancel my booking"])
    def cancel_ride(ctx: Turn):
        ride_id = ctx.state.get("ride_id")
        if not ride_id:
            return say("You have no ride to cancel.")
        try:
            ride = call_partner(ctx, "ride", "POST", f"/v1/rides/{ride_id}/cancel")
        except PartnerError as exc:
            if exc.code != "ride_not_cancellable":
                raise
            return say("That ride can't be cancelled any more: it is under way or finished.")
        ctx.state.pop("ride_id")
        fee = ride.get("cancellation_fee_cents") or 0
        if not fee:
            return say("Your ride is cancelled, free of charge.")
        # A fee is money moving, so it is a transaction like the booking was.
        return (say(f"Your ride is cancelled. Because the driver was already on the way, there is a "
                    f"{spoken_price(fee)} cancellation fee.")
                .transaction("cancellation_fee", ride_id, dollars(fee), "USD"))

    skill.publish(
        category="TAXI_AND_RIDESHARING", allows_purchases=True,
        privacy_policy_url="https://zipride-mobility.example/privacy",
        listings={"en-US": {"name": "Zip Ride", "summary": "Book a ride home, to work or to any address.",
                            "description": "Get a quote, book a ZipRide, hear where your driver is, and cancel "
                                           "if plans change.",
                            "example_phrases": ["Alexa, open zip ride", "Alexa, ask zip ride to get me a ride to work"],
                            "keywords": ["taxi", "ride", "car"]}},
    )
    return skill
