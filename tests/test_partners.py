"""Tests of the partner stand-ins, driven through a real requests.Session with the in-process adapter."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from example_skills.partners import (
    BASE_URLS,
    PartnerAdapter,
    PartnerApp,
    make_partner,
    make_server,
    mount_partners,
    partner_app,
)
from example_skills.partners import _app as partners_app

MUSIC, GROCERY, RIDE, PIZZA = (BASE_URLS[name] for name in ("music", "grocery", "ride", "pizza"))


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(clock: FakeClock) -> requests.Session:
    return mount_partners(requests.Session(), clock=clock)


def error_of(response: requests.Response) -> dict:
    return response.json()["error"]


# -- the adapter and router -------------------------------------------------------------------


def test_adapter_returns_a_real_requests_response(session):
    response = session.get(f"{PIZZA}/v1/menu", timeout=5)

    assert isinstance(response, requests.Response)
    assert response.status_code == 200
    assert response.ok and response.reason == "OK"
    response.raise_for_status()
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.encoding == "utf-8"
    assert response.url == f"{PIZZA}/v1/menu"
    assert response.request.method == "GET"
    assert response.elapsed >= timedelta(0)
    assert response.json()["currency"] == "USD"


def test_unknown_route_is_a_json_404_listing_the_routes(session):
    response = session.get(f"{PIZZA}/v1/menus")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert "GET /v1/menu" in error_of(response)["message"]
    with pytest.raises(requests.HTTPError):
        response.raise_for_status()


def test_wrong_method_is_a_405_with_allow_header(session):
    response = session.delete(f"{PIZZA}/v1/orders")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert error_of(response)["code"] == "method_not_allowed"


def test_bad_json_body_is_a_400(session):
    response = session.post(
        f"{PIZZA}/v1/orders", data=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_json"


def test_a_body_that_is_not_an_object_is_a_422(session):
    response = session.post(f"{GROCERY}/v1/orders", json=["prd_001"])

    assert response.status_code == 422
    assert error_of(response)["field"] == "body"


def test_a_crashing_handler_answers_500_json():
    app = PartnerApp("flaky")

    @app.get("/v1/boom")
    def boom(request):
        raise KeyError("missing")

    session = requests.Session()
    session.mount("https://flaky.example/", PartnerAdapter(app))
    response = session.get("https://flaky.example/v1/boom")

    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "boom()" in error_of(response)["message"]


def test_a_handler_answering_something_not_json_answers_500():
    app = PartnerApp("flaky")
    app.add_route("GET", "/v1/when", lambda request: (200, {"at": object()}))

    answer = app.handle("GET", "/v1/when")

    assert (answer.status, answer.body["error"]["code"]) == (500, "internal_error")


def test_route_decorator_returns_the_function_and_fills_path_params():
    app = PartnerApp("demo")

    def show(request):
        return 200, dict(request.path_params, q=request.params.get("q"))

    assert app.get("/v1/things/<thing_id>")(show) is show
    answer = app.handle("GET", "/v1/things/a b/", {"q": "x"})
    assert (answer.status, answer.body) == (200, {"thing_id": "a b", "q": "x"})


def test_duplicate_route_raises_naming_both_handlers():
    app = PartnerApp("demo")
    app.add_route("GET", "/v1/x", lambda request: (200, {}))

    def second(request):
        return 200, {}

    with pytest.raises(ValueError, match=r"GET /v1/x.*<lambda>.*second"):
        app.add_route("get", "/v1/x", second)


def test_mount_partners_mounts_only_the_named_partners_with_fresh_state():
    first = mount_partners(requests.Session(), ["pizza"])
    second = mount_partners(requests.Session(), ["pizza"])
    order = {"user_id": "u1", "items": [{"size": "small"}]}

    placed = first.post(f"{PIZZA}/v1/orders", json=order).json()

    assert second.get(f"{PIZZA}/v1/orders/{placed['id']}").status_code == 404
    assert partner_app(first, "pizza") is not partner_app(second, "pizza")
    with pytest.raises(LookupError, match="mount_partners"):
        partner_app(first, "music")


def test_unknown_partner_name_raises():
    with pytest.raises(ValueError, match="Known: grocery, music, pizza, ride"):
        mount_partners(requests.Session(), ["taxi"])
    with pytest.raises(ValueError, match="taxi"):
        make_partner("taxi")


# -- faults -----------------------------------------------------------------------------------


def test_fail_next_answers_the_status_then_recovers(session):
    partner_app(session, "music").fail_next(503, times=2)

    first = session.get(f"{MUSIC}/v1/offers")
    second = session.get(f"{MUSIC}/v1/tracks/trk_001")
    third = session.get(f"{MUSIC}/v1/offers")

    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert error_of(first)["code"] == "service_unavailable"
    assert first.headers["Retry-After"] == "1"


def test_fail_next_defaults_to_a_500_only_on_that_partner(session):
    partner_app(session, "ride").fail_next()

    assert session.get(f"{MUSIC}/v1/offers").status_code == 200
    response = session.post(f"{RIDE}/v1/quotes", json={})
    assert response.status_code == 500
    with pytest.raises(requests.HTTPError):
        response.raise_for_status()


def test_latency_beyond_the_read_timeout_raises_read_timeout(session):
    app = partner_app(session, "grocery")
    app.set_latency(0.3)

    with pytest.raises(requests.ReadTimeout, match="grocery"):
        session.get(f"{GROCERY}/v1/products", timeout=(1, 0.05))
    app.clear_faults()
    assert session.get(f"{GROCERY}/v1/products", timeout=0.05).status_code == 200


def test_latency_within_the_timeout_delays_the_answer(session):
    partner_app(session, "grocery").set_latency(0.05)

    response = session.get(f"{GROCERY}/v1/delivery-slots", timeout=2)

    assert response.status_code == 200
    assert response.elapsed >= timedelta(seconds=0.05)


# -- music ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kind", "expected"),
    [
        (
            "velvet hours",
            "artist",
            {"Midnight Engines", "Gasoline Moon", "Steel and Static", "Last Exit Lights"},
        ),
        ("blue hour sessions", "album", {"Blue Hour", "Rain on Lenox", "Slow Brass", "Cafe Noir"}),
        ("hip-hop", "genre", {"Crown Heights", "No Days Off", "Sol Rising"}),
        ("night shift", "track", {"Night Shift"}),
        (
            "chill evening",
            "playlist",
            {"Rain on Lenox", "Lantern Light", "Golden Hour", "Cafe Noir", "Harvest Song"},
        ),
        ("golden", None, {"Golden Hour"}),
    ],
)
def test_music_search_by_type(session, query, kind, expected):
    params = {"q": query} if kind is None else {"q": query, "type": kind}
    body = session.get(f"{MUSIC}/v1/search", params=params).json()

    assert {track["title"] for track in body["tracks"]} == expected
    track = body["tracks"][0]
    assert set(track) == {"id", "title", "artist", "album", "genre", "duration_ms", "stream_url"}
    assert track["stream_url"] == f"https://cdn.tunestream.example/stream/{track['id']}.mp3"


@pytest.mark.parametrize(("params", "field"), [({}, "q"), ({"q": "rock", "type": "podcast"}, "type")])
def test_music_search_rejects_bad_parameters(session, params, field):
    response = session.get(f"{MUSIC}/v1/search", params=params)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_music_catalog_has_the_promised_breadth():
    from example_skills.partners.music import PLAYLISTS, TRACKS

    assert len(TRACKS) == 30
    assert len({t["artist"] for t in TRACKS.values()}) == 8
    assert len({t["genre"] for t in TRACKS.values()}) == 6
    assert len({t["album"] for t in TRACKS.values()} - {None}) == 6
    assert len(PLAYLISTS) == 4


def test_music_track_lookup_and_404(session):
    assert session.get(f"{MUSIC}/v1/tracks/trk_017").json()["title"] == "Blue Hour"
    missing = session.get(f"{MUSIC}/v1/tracks/trk_999")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "track_not_found"


def test_music_playlist_by_spoken_name_and_404(session):
    body = session.get(f"{MUSIC}/v1/playlists/road trip/tracks").json()

    assert body["playlist"] == {"id": "pl_road_trip", "name": "Road Trip"}
    assert body["tracks"][0]["title"] == "Open Road"
    assert session.get(f"{MUSIC}/v1/playlists/Sleep/tracks").status_code == 404


def test_music_offer_and_subscription_purchase(session, clock):
    offer = session.get(f"{MUSIC}/v1/offers").json()["offers"][0]
    assert (offer["plan"], offer["price_cents"], offer["currency"]) == ("premium", 999, "USD")
    assert session.get(f"{MUSIC}/v1/users/amzn1.u1/subscription").json() == {
        "user_id": "amzn1.u1",
        "active": False,
        "plan": "free",
        "renews_at": None,
    }

    bought = session.post(f"{MUSIC}/v1/users/amzn1.u1/subscription", json={"plan": "premium"})

    assert bought.status_code == 201
    purchase = bought.json()
    assert purchase["id"].startswith("pur_")
    assert (purchase["amount_cents"], purchase["currency"], purchase["status"]) == (999, "USD", "active")
    assert purchase["renews_at"] == "2026-04-01T09:17:00Z"
    assert session.get(f"{MUSIC}/v1/users/amzn1.u1/subscription").json()["active"] is True


def test_music_premium_users_start_subscribed_and_cannot_buy_twice(session):
    assert session.get(f"{MUSIC}/v1/users/test-premium-1/subscription").json()["active"] is True

    again = session.post(f"{MUSIC}/v1/users/test-premium-1/subscription", json={"plan": "premium"})
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_subscribed"
    wrong_plan = session.post(f"{MUSIC}/v1/users/u2/subscription", json={"plan": "family"})
    assert (wrong_plan.status_code, error_of(wrong_plan)["field"]) == (422, "plan")


# -- grocery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("tomatoes", "Roma Tomatoes"),
        ("Eggs", "Large Eggs"),
        ("milk", "Whole Milk"),
        ("strawberries", "Strawberries"),
    ],
)
def test_grocery_product_search_matches_names_synonyms_and_plurals(session, query, first):
    products = session.get(f"{GROCERY}/v1/products", params={"q": query}).json()["products"]

    assert products[0]["name"] == first
    assert set(products[0]) == {"id", "name", "unit", "price_cents", "currency", "synonyms"}


def test_grocery_catalog_without_query_and_no_match(session):
    everything = session.get(f"{GROCERY}/v1/products").json()["products"]

    assert len(everything) == 40
    assert {p["unit"] for p in everything} == {"each", "lb", "kg", "dozen", "gallon", "bunch", "pack"}
    assert session.get(f"{GROCERY}/v1/products", params={"q": "caviar"}).json()["products"] == []


def test_grocery_delivery_slots_follow_the_clock(session, clock):
    slots = session.get(f"{GROCERY}/v1/delivery-slots").json()["slots"]

    assert [s["id"] for s in slots] == [
        "slot_20260302T1200Z",
        "slot_20260302T1400Z",
        "slot_20260302T1600Z",
        "slot_20260302T1800Z",
        "slot_20260303T0800Z",
        "slot_20260303T1000Z",
    ]
    assert (slots[0]["start"], slots[0]["end"]) == ("2026-03-02T12:00:00Z", "2026-03-02T14:00:00Z")


def test_grocery_order_totals_fee_and_lookup(session):
    order = {
        "user_id": "u1",
        "items": [
            {"product_id": "prd_001", "quantity": 2, "unit": "lb"},
            {"product_id": "prd_022", "quantity": 1},
        ],
        "slot_id": "slot_20260302T1400Z",
    }
    response = session.post(f"{GROCERY}/v1/orders", json=order)

    assert response.status_code == 201
    placed = response.json()
    assert [line["line_total_cents"] for line in placed["items"]] == [138, 389]
    assert (placed["subtotal_cents"], placed["delivery_fee_cents"], placed["total_cents"]) == (527, 399, 926)
    assert (placed["currency"], placed["status"], placed["slot"]["id"]) == (
        "USD",
        "confirmed",
        "slot_20260302T1400Z",
    )
    assert session.get(f"{GROCERY}/v1/orders/{placed['id']}").json() == placed
    assert error_of(session.get(f"{GROCERY}/v1/orders/ord_0"))["code"] == "order_not_found"


def test_grocery_big_order_delivers_free_and_converts_kg(session):
    order = {"user_id": "u1", "items": [{"product_id": "prd_031", "quantity": 1.5, "unit": "kg"}]}

    placed = session.post(f"{GROCERY}/v1/orders", json=order).json()

    assert placed["items"][0]["unit_price_cents"] == round(1299 * 2.20462)
    assert placed["delivery_fee_cents"] == 0
    assert placed["slot"]["id"] == "slot_20260302T1200Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"product_id": "prd_001", "quantity": 1}]}, "user_id"),
        ({"user_id": "u1", "items": []}, "items"),
        (
            {"user_id": "u1", "items": [{"product_id": "prd_001"}, {"product_id": "nope"}]},
            "items[1].product_id",
        ),
        ({"user_id": "u1", "items": [{"product_id": "prd_022", "unit": "lb"}]}, "items[0].unit"),
        ({"user_id": "u1", "items": [{"product_id": "prd_022", "quantity": 0}]}, "items[0].quantity"),
        ({"user_id": "u1", "items": [{"product_id": "prd_022", "quantity": 1.5}]}, "items[0].quantity"),
        (
            {"user_id": "u1", "items": [{"product_id": "prd_022"}], "slot_id": "slot_19990101T0800Z"},
            "slot_id",
        ),
    ],
)
def test_grocery_order_validation_names_the_field(session, body, field):
    response = session.post(f"{GROCERY}/v1/orders", json=body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_orders_from_many_threads_get_unique_ids(session):
    ids: list[str] = []
    failures: list[int] = []

    def place() -> None:
        for _ in range(10):
            response = session.post(
                f"{GROCERY}/v1/orders", json={"user_id": "u1", "items": [{"product_id": "prd_006"}]}
            )
            if response.status_code == 201:
                ids.append(response.json()["id"])
            else:
                failures.append(response.status_code)

    threads = [threading.Thread(target=place) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(ids) == len(set(ids)) == 80
    assert all(session.get(f"{GROCERY}/v1/orders/{order_id}").status_code == 200 for order_id in ids)


# -- ride -------------------------------------------------------------------------------------


def quote(session, ride_type="standard"):
    body = {
        "pickup": {"address": "12 Elm Street"},
        "dropoff": {"place": "the airport"},
        "ride_type": ride_type,
    }
    response = session.post(f"{RIDE}/v1/quotes", json=body)
    assert response.status_code == 201
    return response.json()


def book(session, quote_id):
    return session.post(f"{RIDE}/v1/rides", json={"quote_id": quote_id, "user_id": "u1"})


def test_ride_quotes_are_deterministic_and_scale_by_type(session, clock):
    standard, again, xl = quote(session), quote(session), quote(session, "xl")

    assert standard["price_cents"] == again["price_cents"]
    assert xl["price_cents"] == round(standard["price_cents"] * 1.5)
    assert standard["expires_at"] == "2026-03-02T09:22:00Z"
    assert standard["currency"] == "USD" and standard["id"] != again["id"]


def test_ride_booking_and_status_over_time(session, clock):
    offer = quote(session)
    booked = book(session, offer["id"])

    assert booked.status_code == 201
    ride = booked.json()
    assert ride["status"] == "driver_assigned"
    assert ride["driver"]["name"] and ride["car"]["license_plate"]
    assert ride["eta_minutes"] == offer["eta_minutes"]
    clock.advance(minutes=ride["eta_minutes"])
    assert session.get(f"{RIDE}/v1/rides/{ride['id']}").json()["status"] == "driver_arrived"
    clock.advance(minutes=2)
    assert session.get(f"{RIDE}/v1/rides/{ride['id']}").json()["status"] == "in_progress"
    clock.advance(hours=3)
    assert session.get(f"{RIDE}/v1/rides/{ride['id']}").json()["status"] == "completed"
    late = session.post(f"{RIDE}/v1/rides/{ride['id']}/cancel")
    assert (late.status_code, error_of(late)["code"]) == (409, "ride_not_cancellable")


@pytest.mark.parametrize(("minutes", "fee"), [(0, 0), (2, 0), (3, 500)])
def test_ride_cancellation_fee_depends_on_time_since_booking(session, clock, minutes, fee):
    ride = book(session, quote(session, "premium")["id"]).json()
    clock.advance(minutes=minutes)

    cancelled = session.post(f"{RIDE}/v1/rides/{ride['id']}/cancel").json()

    assert (cancelled["status"], cancelled["cancellation_fee_cents"]) == ("cancelled", fee)
    assert session.get(f"{RIDE}/v1/rides/{ride['id']}").json()["status"] == "cancelled"


def test_ride_unknown_expired_and_reused_quotes(session, clock):
    unknown = book(session, "qt_0")
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "quote_not_found")

    used = quote(session)
    assert book(session, used["id"]).status_code == 201
    reused = book(session, used["id"])
    assert (reused.status_code, error_of(reused)["code"]) == (409, "quote_already_used")

    stale = quote(session)
    clock.advance(minutes=5)
    expired = book(session, stale["id"])
    assert (expired.status_code, error_of(expired)["code"]) == (409, "quote_expired")
    assert session.get(f"{RIDE}/v1/rides/ride_0").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dropoff": {"address": "1 Main St"}}, "pickup"),
        ({"pickup": {"lat": 40.7, "lng": -74.0}, "dropoff": {"lat": 40.8, "lng": -74.1}}, "dropoff"),
        ({"pickup": {"place": "home"}, "dropoff": {"place": "Home"}}, "dropoff"),
        ({"pickup": {"place": "home"}, "dropoff": {"place": "work"}, "ride_type": "helicopter"}, "ride_type"),
    ],
)
def test_ride_quote_validation_names_the_field(session, body, field):
    response = session.post(f"{RIDE}/v1/quotes", json=body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


# -- pizza ------------------------------------------------------------------------------------


def test_pizza_menu_shape(session):
    menu = session.get(f"{PIZZA}/v1/menu").json()

    assert [s["id"] for s in menu["sizes"]] == ["small", "medium", "large"]
    assert [c["id"] for c in menu["crusts"]] == ["thin", "hand_tossed", "deep_dish", "stuffed"]
    assert len(menu["toppings"]) == 12
    assert all(isinstance(t["price_cents"], int) for t in menu["toppings"])


def test_pizza_order_accepts_spoken_names_and_prices_the_lines(session):
    order = {
        "user_id": "u1",
        "items": [
            {"size": "Large", "crust": "deep dish", "toppings": ["mushroom", "Pepperoni"], "quantity": 2},
            {"size": "small"},
        ],
    }
    response = session.post(f"{PIZZA}/v1/orders", json=order)

    assert response.status_code == 201
    placed = response.json()
    assert placed["items"][0] == {
        "size": "large",
        "crust": "deep_dish",
        "toppings": ["mushrooms", "pepperoni"],
        "quantity": 2,
        "unit_price_cents": 1699 + 200 + 100 + 150,
        "line_total_cents": 2 * 2149,
    }
    assert placed["items"][1]["crust"] == "hand_tossed"
    assert (placed["total_cents"], placed["currency"]) == (2 * 2149 + 1099, "USD")
    assert (placed["status"], placed["eta_minutes"]) == ("placed", 40)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"size": "huge"}, "items[0].size"),
        ({"size": "small", "crust": "cauliflower"}, "items[0].crust"),
        ({"size": "small", "toppings": ["ham", "anchovies"]}, "items[0].toppings[1]"),
        ({"size": "small", "quantity": 0}, "items[0].quantity"),
    ],
)
def test_pizza_order_validation_names_the_field(session, item, field):
    response = session.post(f"{PIZZA}/v1/orders", json={"user_id": "u1", "items": [item]})

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_pizza_status_advances_with_the_clock(session, clock):
    placed = session.post(f"{PIZZA}/v1/orders", json={"user_id": "u1", "items": [{"size": "medium"}]}).json()
    seen = []
    for minutes in (0, 5, 15, 30):
        clock.now = datetime(2026, 3, 2, 9, 17, tzinfo=UTC) + timedelta(minutes=minutes)
        order = session.get(f"{PIZZA}/v1/orders/{placed['id']}").json()
        seen.append((order["status"], order["eta_minutes"]))

    assert seen == [("placed", 30), ("baking", 25), ("out_for_delivery", 15), ("delivered", 0)]
    assert session.get(f"{PIZZA}/v1/orders/pz_0").status_code == 404


# -- a port of its own ------------------------------------------------------------------------


def test_a_stand_in_serves_on_a_loopback_port():
    server = make_server(make_partner("pizza"), port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        menu = requests.get(f"{base}/v1/menu", timeout=5)
        placed = requests.post(
            f"{base}/v1/orders", json={"user_id": "u1", "items": [{"size": "small"}]}, timeout=5
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert menu.status_code == 200 and menu.headers["Content-Type"] == "application/json"
    assert len(menu.json()["toppings"]) == 12
    assert (placed.status_code, placed.json()["status"]) == (201, "placed")


def test_stand_ins_forget_their_oldest_orders_past_their_room(monkeypatch, clock):
    monkeypatch.setattr(partners_app, "REMEMBERED", 3)
    session = mount_partners(requests.Session(), clock=clock)  # made after: its stores take the small room
    order = {"user_id": "u1", "items": [{"size": "large", "toppings": ["pepperoni"]}]}
    ids = [session.post(f"{PIZZA}/v1/orders", json={**order, "user_id": f"u{n}"}).json()["id"] for n in range(5)]

    found = [session.get(f"{PIZZA}/v1/orders/{i}").status_code for i in ids]

    assert found == [404, 404, 200, 200, 200]


def test_music_stand_in_keeps_subscriptions_of_the_latest_users_only(monkeypatch, clock):
    monkeypatch.setattr(partners_app, "REMEMBERED", 2)
    session = mount_partners(requests.Session(), clock=clock)
    for user in ("amzn1.u1", "amzn1.u2", "amzn1.u3"):
        session.post(f"{MUSIC}/v1/users/{user}/subscription", json={"plan": "premium"})

    plans = [session.get(f"{MUSIC}/v1/users/{user}/subscription").json()["plan"]
             for user in ("amzn1.u3", "amzn1.u2", "amzn1.u1")]  # newest first: a forgotten user is made anew

    assert plans == ["premium", "premium", "free"]
