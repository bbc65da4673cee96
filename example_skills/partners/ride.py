"""Stand-in of ZipRide, the ride-hailing partner: quotes, bookings, ride status and cancellation.

Routes (base URL ``https://api.zipride.example``):

- ``POST /v1/quotes`` ``{"pickup": place, "dropoff": place, "ride_type": "standard"|"xl"|"premium"}`` where a
  place is ``{"address": "..."}`` or ``{"place": "..."}`` (pickup may also be ``{"lat", "lng"}``); ride_type
  defaults to standard → 201 ``{"id", "pickup", "dropoff", "ride_type", "distance_km", "price_cents",
  "currency", "eta_minutes", "created_at", "expires_at"}``. Quotes expire after five minutes.
- ``POST /v1/rides`` ``{"quote_id", "user_id"}`` → 201 ride ``{"id", "quote_id", "user_id", "status":
  "driver_assigned", "ride_type", "pickup", "dropoff", "price_cents", "currency", "driver": {"name",
  "rating"}, "car": {"make", "model", "color", "license_plate"}, "eta_minutes", "booked_at"}``.
  Unknown quote → 404 ``quote_not_found``; expired or already booked → 409 ``quote_expired`` /
  ``quote_already_used``.
- ``GET /v1/rides/<ride_id>`` → ride; status moves with the clock: driver_assigned → driver_arrived (after
  eta_minutes) → in_progress (two minutes later) → completed; ``eta_minutes`` counts down to 0.
- ``POST /v1/rides/<ride_id>/cancel`` → ride with ``"status": "cancelled"``, ``"cancellation_fee_cents"``
  (0 within two minutes of booking, else 500) and ``"cancelled_at"``; 409 ``ride_not_cancellable`` once
  the ride is under way, completed or already cancelled.

Prices and ETAs are deterministic functions of the addresses, so tests can rely on them.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from ._app import (
    Clock,
    PartnerApp,
    PartnerError,
    PartnerRequest,
    Recent,
    invalid,
    iso,
    json_object,
    normalize,
    utc_now,
)

RIDE_TYPES = {"standard": 1.0, "xl": 1.5, "premium": 2.0}
BASE_FARE_CENTS = 250
PER_KM_CENTS = 120
QUOTE_LIFETIME = timedelta(minutes=5)
FREE_CANCELLATION = timedelta(minutes=2)
CANCELLATION_FEE_CENTS = 500
BOARDING_TIME = timedelta(minutes=2)
_EXTRA_ETA = {"standard": 0, "xl": 2, "premium": 4}

_DRIVERS = [
    (
        {"name": "Priya", "rating": 4.9},
        {"make": "Toyota", "model": "Prius", "color": "silver", "license_plate": "ZIP 4821"},
    ),
    (
        {"name": "Marcus", "rating": 4.8},
        {"make": "Honda", "model": "Accord", "color": "black", "license_plate": "ZIP 1937"},
    ),
    (
        {"name": "Elena", "rating": 4.95},
        {"make": "Kia", "model": "Carnival", "color": "white", "license_plate": "ZIP 7304"},
    ),
    (
        {"name": "Tomasz", "rating": 4.7},
        {"make": "Tesla", "model": "Model 3", "color": "blue", "license_plate": "ZIP 5562"},
    ),
    (
        {"name": "Aiko", "rating": 4.85},
        {"make": "Lexus", "model": "ES", "color": "grey", "license_plate": "ZIP 2218"},
    ),
]


def _digest(*parts: str) -> int:
    # hashlib, not hash(): str hashes change per process and prices must be stable across runs.
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:4], "big")


def _place(body: dict[str, Any], key: str, allow_coordinates: bool) -> dict[str, Any]:
    place = body.get(key)
    if not isinstance(place, dict):
        raise invalid(key, f"Give {key} as an object with 'address' or 'place'.", code="missing_field")
    for name in ("address", "place"):
        value = place.get(name)
        if isinstance(value, str) and value.strip():
            return {name: value.strip()}
    if allow_coordinates and all(isinstance(place.get(c), int | float) for c in ("lat", "lng")):
        return {"lat": place["lat"], "lng": place["lng"]}
    accepted = "'address', 'place' or 'lat' and 'lng'" if allow_coordinates else "'address' or 'place'"
    raise invalid(key, f"{key.capitalize()} needs {accepted}.")


def _label(place: dict[str, Any]) -> str:
    if "lat" in place:
        return f"{place['lat']},{place['lng']}"  # normalize() would drop the minus signs
    return normalize(place.get("address") or place["place"])


def create_app(clock: Clock | None = None) -> PartnerApp:
    """Return a ZipRide stand-in with no quotes or rides yet.

    Parameters:
        clock: returns the current aware UTC datetime (quote expiry, status, cancellation fee).
    """
    app = PartnerApp("ride")
    now = clock or utc_now
    quotes: dict[str, dict[str, Any]] = Recent()
    rides: dict[str, dict[str, Any]] = Recent()
    booked_quotes: dict[str, bool] = Recent()  # quote id -> True

    def current(ride: dict[str, Any], moment: datetime) -> dict[str, Any]:
        """The ride as seen at ``moment``: status and remaining ETA worked out from the booking time."""
        view = {k: v for k, v in ride.items() if not k.startswith("_")}
        if ride["status"] == "cancelled":
            view["eta_minutes"] = 0
            return view
        arrives = ride["_booked"] + timedelta(minutes=ride["_eta"])
        boards = arrives + BOARDING_TIME
        if moment < arrives:
            view["status"] = "driver_assigned"
        elif moment < boards:
            view["status"] = "driver_arrived"
        elif moment < boards + timedelta(minutes=ride["_trip"]):
            view["status"] = "in_progress"
        else:
            view["status"] = "completed"
        view["eta_minutes"] = max(0, math.ceil((arrives - moment).total_seconds() / 60))
        return view

    @app.post("/v1/quotes")
    def quote(request: PartnerRequest) -> tuple[int, Any]:
        body = json_object(request)
        pickup = _place(body, "pickup", allow_coordinates=True)
        dropoff = _place(body, "dropoff", allow_coordinates=False)
        if _label(pickup) == _label(dropoff):
            raise invalid("dropoff", "Pickup and dropoff are the same place.", code="same_location")
        ride_type = body.get("ride_type", "standard")
        if ride_type not in RIDE_TYPES:
            raise invalid(
                "ride_type", f"Unknown ride_type {ride_type!r}; expected one of {', '.join(RIDE_TYPES)}."
            )
        distance_km = round(2 + _digest(_label(pickup), _label(dropoff)) % 240 / 10, 1)
        price = round((BASE_FARE_CENTS + PER_KM_CENTS * distance_km) * RIDE_TYPES[ride_type])
        created = now()
        record = {
            "id": app.next_id("qt"),
            "pickup": pickup,
            "dropoff": dropoff,
            "ride_type": ride_type,
            "distance_km": distance_km,
            "price_cents": price,
            "currency": "USD",
            "eta_minutes": 3 + _digest(_label(pickup)) % 7 + _EXTRA_ETA[ride_type],
            "created_at": iso(created),
            "expires_at": iso(created + QUOTE_LIFETIME),
        }
        with app.lock:
            quotes[record["id"]] = {**record, "_expires": created + QUOTE_LIFETIME}
        return 201, record

    @app.post("/v1/rides")
    def book(request: PartnerRequest) -> tuple[int, Any]:
        body = json_object(request)
        for key in ("quote_id", "user_id"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise invalid(key, f"Give {key} as a string.", code="missing_field")
        quote_id = body["quote_id"]
        moment = now()
        with app.lock:
            found = quotes.get(quote_id)
            if found is None:
                raise PartnerError(
                    404, "quote_not_found", f"No quote with id {quote_id!r}; ask POST /v1/quotes first."
                )
            if moment >= found["_expires"]:
                raise PartnerError(
                    409,
                    "quote_expired",
                    f"Quote {quote_id!r} expired at {found['expires_at']}; get a new one.",
                )
            if quote_id in booked_quotes:
                raise PartnerError(409, "quote_already_used", f"Quote {quote_id!r} was already booked.")
            booked_quotes[quote_id] = True
            ride_id = app.next_id("ride")
            driver, car = _DRIVERS[_digest(ride_id) % len(_DRIVERS)]
            ride = {
                "id": ride_id,
                "quote_id": quote_id,
                "user_id": body["user_id"],
                "status": "driver_assigned",
                "ride_type": found["ride_type"],
                "pickup": found["pickup"],
                "dropoff": found["dropoff"],
                "price_cents": found["price_cents"],
                "currency": "USD",
                "driver": driver,
                "car": car,
                "eta_minutes": found["eta_minutes"],
                "booked_at": iso(moment),
                "_booked": moment,
                "_eta": found["eta_minutes"],
                "_trip": max(5, round(found["distance_km"] * 2)),
            }
            rides[ride_id] = ride
            return 201, current(ride, moment)

    def ride_or_404(ride_id: str) -> dict[str, Any]:
        if ride_id not in rides:
            raise PartnerError(404, "ride_not_found", f"No ride with id {ride_id!r}.")
        return rides[ride_id]

    @app.get("/v1/rides/<ride_id>")
    def get_ride(request: PartnerRequest) -> tuple[int, Any]:
        with app.lock:
            return 200, current(ride_or_404(request.path_params["ride_id"]), now())

    @app.post("/v1/rides/<ride_id>/cancel")
    def cancel(request: PartnerRequest) -> tuple[int, Any]:
        moment = now()
        with app.lock:
            ride = ride_or_404(request.path_params["ride_id"])
            status = current(ride, moment)["status"]
            if status not in ("driver_assigned", "driver_arrived"):
                raise PartnerError(
                    409,
                    "ride_not_cancellable",
                    f"Ride {ride['id']!r} is {status} and can no longer be cancelled.",
                )
            late = moment - ride["_booked"] > FREE_CANCELLATION
            ride.update(
                status="cancelled",
                cancellation_fee_cents=CANCELLATION_FEE_CENTS if late else 0,
                cancelled_at=iso(moment),
            )
            return 200, current(ride, moment)

    return app
