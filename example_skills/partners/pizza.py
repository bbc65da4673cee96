"""Stand-in of PizzaPronto, the pizza partner: the menu, placing orders and tracking them.

Routes (base URL ``https://api.pizzapronto.example``):

- ``GET /v1/menu`` → ``{"currency": "USD", "sizes": [{"id", "name", "diameter_in", "price_cents"}],
  "crusts": [{"id", "name", "price_cents"}], "toppings": [{"id", "name", "price_cents", "synonyms"}]}``.
  Ids are snake_case (``hand_tossed``, ``green_peppers``).
- ``POST /v1/orders`` ``{"user_id", "items": [{"size", "crust"?, "toppings"?: [...], "quantity"?}]}`` → 201
  ``{"id", "user_id", "items": [{"size", "crust", "toppings", "quantity", "unit_price_cents",
  "line_total_cents"}], "total_cents", "currency", "status": "placed", "eta_minutes", "placed_at",
  "estimated_delivery_at"}``. Sizes, crusts and toppings may be given by id, name or synonym, any case
  (``"Deep Dish"``, ``"mushroom"``); the answer uses ids. crust defaults to hand_tossed, quantity to 1.
  An unknown value → 422 naming ``field`` (``items[0].size``, ``items[0].toppings[2]``).
- ``GET /v1/orders/<order_id>`` → order; status moves with the clock: placed → baking (5 min) →
  out_for_delivery (15 min before the ETA) → delivered (at the ETA); ``eta_minutes`` counts down to 0.
"""

from __future__ import annotations

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

SIZES = [
    {"id": "small", "name": "Small", "diameter_in": 10, "price_cents": 1099},
    {"id": "medium", "name": "Medium", "diameter_in": 12, "price_cents": 1399},
    {"id": "large", "name": "Large", "diameter_in": 14, "price_cents": 1699},
]
CRUSTS = [
    {"id": "thin", "name": "Thin", "price_cents": 0},
    {"id": "hand_tossed", "name": "Hand Tossed", "price_cents": 0},
    {"id": "deep_dish", "name": "Deep Dish", "price_cents": 200},
    {"id": "stuffed", "name": "Stuffed", "price_cents": 300},
]
TOPPINGS = [
    {"id": "pepperoni", "name": "Pepperoni", "price_cents": 150, "synonyms": ["peperoni"]},
    {"id": "sausage", "name": "Italian Sausage", "price_cents": 150, "synonyms": ["sausage", "sausages"]},
    {"id": "bacon", "name": "Bacon", "price_cents": 175, "synonyms": []},
    {"id": "ham", "name": "Ham", "price_cents": 150, "synonyms": []},
    {"id": "chicken", "name": "Grilled Chicken", "price_cents": 200, "synonyms": ["chicken"]},
    {"id": "mushrooms", "name": "Mushrooms", "price_cents": 100, "synonyms": ["mushroom"]},
    {"id": "onions", "name": "Red Onions", "price_cents": 100, "synonyms": ["onion", "onions", "red onion"]},
    {
        "id": "green_peppers",
        "name": "Green Peppers",
        "price_cents": 100,
        "synonyms": ["green pepper", "peppers", "pepper"],
    },
    {
        "id": "black_olives",
        "name": "Black Olives",
        "price_cents": 100,
        "synonyms": ["olives", "olive", "black olive"],
    },
    {"id": "pineapple", "name": "Pineapple", "price_cents": 125, "synonyms": []},
    {
        "id": "jalapenos",
        "name": "Jalapeños",
        "price_cents": 100,
        "synonyms": ["jalapeno", "jalapenos", "jalapeño"],
    },
    {
        "id": "extra_cheese",
        "name": "Extra Cheese",
        "price_cents": 125,
        "synonyms": ["cheese", "double cheese"],
    },
]
DEFAULT_CRUST = "hand_tossed"
MAX_QUANTITY = 20
BAKING_AFTER = timedelta(minutes=5)
DRIVE_TIME = timedelta(minutes=15)


def _index(options: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Map every folded id, name and synonym to its option, for lenient lookups of spoken values."""
    found: dict[str, dict[str, Any]] = {}
    for option in options:
        for spelling in (option["id"], option["name"], *option.get("synonyms", ())):
            found[normalize(spelling)] = option
    return found


_SIZE_INDEX, _CRUST_INDEX, _TOPPING_INDEX = _index(SIZES), _index(CRUSTS), _index(TOPPINGS)


def _lookup(
    index: dict[str, dict[str, Any]], value: Any, field: str, kind: str, options: list[dict[str, Any]]
) -> dict[str, Any]:
    option = index.get(normalize(value)) if isinstance(value, str) else None
    if option is None:
        choices = ", ".join(o["id"] for o in options)
        raise invalid(field, f"Unknown {kind} {value!r}; expected one of {choices}.", code=f"invalid_{kind}")
    return option


def _line(index: int, item: Any) -> dict[str, Any]:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise invalid(where, "Each item must be an object with at least a size.")
    size = _lookup(_SIZE_INDEX, item.get("size"), f"{where}.size", "size", SIZES)
    crust = _lookup(_CRUST_INDEX, item.get("crust", DEFAULT_CRUST), f"{where}.crust", "crust", CRUSTS)
    toppings = item.get("toppings", [])
    if not isinstance(toppings, list):
        raise invalid(f"{where}.toppings", "Toppings must be a list of topping names.")
    chosen = [
        _lookup(_TOPPING_INDEX, value, f"{where}.toppings[{n}]", "topping", TOPPINGS)
        for n, value in enumerate(toppings)
    ]
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise invalid(
            f"{where}.quantity",
            f"Quantity must be a whole number from 1 to {MAX_QUANTITY}, got {quantity!r}.",
        )
    unit_price = size["price_cents"] + crust["price_cents"] + sum(t["price_cents"] for t in chosen)
    return {
        "size": size["id"],
        "crust": crust["id"],
        "toppings": [t["id"] for t in chosen],
        "quantity": quantity,
        "unit_price_cents": unit_price,
        "line_total_cents": unit_price * quantity,
    }


def _status(placed: datetime, delivered: datetime, moment: datetime) -> str:
    if moment >= delivered:
        return "delivered"
    if moment >= delivered - DRIVE_TIME:
        return "out_for_delivery"
    if moment >= placed + BAKING_AFTER:
        return "baking"
    return "placed"


def create_app(clock: Clock | None = None) -> PartnerApp:
    """Return a PizzaPronto stand-in with no orders yet.

    Parameters:
        clock: returns the current aware UTC datetime (order progress); defaults to the real time.
    """
    app = PartnerApp("pizza")
    now = clock or utc_now
    orders: dict[str, dict[str, Any]] = Recent()

    def current(order: dict[str, Any], moment: datetime) -> dict[str, Any]:
        view = {k: v for k, v in order.items() if not k.startswith("_")}
        view["status"] = _status(order["_placed"], order["_delivered"], moment)
        view["eta_minutes"] = max(0, math.ceil((order["_delivered"] - moment).total_seconds() / 60))
        return view

    @app.get("/v1/menu")
    def menu(request: PartnerRequest) -> tuple[int, Any]:
        return 200, {"currency": "USD", "sizes": SIZES, "crusts": CRUSTS, "toppings": TOPPINGS}

    @app.post("/v1/orders")
    def place_order(request: PartnerRequest) -> tuple[int, Any]:
        body = json_object(request)
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise invalid("user_id", "Give the ordering user's id as a string.", code="missing_field")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise invalid(
                "items",
                "Give at least one pizza: {'size', 'crust', 'toppings', 'quantity'}.",
                code="missing_field",
            )
        lines = [_line(index, item) for index, item in enumerate(items)]
        pizzas = sum(line["quantity"] for line in lines)
        eta = min(60, 30 + 5 * (pizzas - 1))  # five more minutes per extra pizza, capped at an hour
        placed = now()
        delivered = placed + timedelta(minutes=eta)
        order = {
            "id": app.next_id("pz"),
            "user_id": user_id,
            "items": lines,
            "total_cents": sum(line["line_total_cents"] for line in lines),
            "currency": "USD",
            "placed_at": iso(placed),
            "estimated_delivery_at": iso(delivered),
            "_placed": placed,
            "_delivered": delivered,
        }
        with app.lock:
            orders[order["id"]] = order
        return 201, current(order, placed)

    @app.get("/v1/orders/<order_id>")
    def get_order(request: PartnerRequest) -> tuple[int, Any]:
        order_id = request.path_params["order_id"]
        with app.lock:
            order = orders.get(order_id)
        if order is None:
            raise PartnerError(404, "order_not_found", f"No order with id {order_id!r}.")
        return 200, current(order, now())

    return app
