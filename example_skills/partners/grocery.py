"""Stand-in of FreshCart, the grocery-delivery partner: product search, delivery slots and orders.

Routes (base URL ``https://api.freshcart.example``):

- ``GET /v1/products?q=...`` → ``{"products": [product]}``, best match first (name or synonym; plurals and
  case ignored); without ``q`` the whole catalog. A product is ``{"id", "name", "unit", "price_cents",
  "currency", "synonyms"}`` with unit one of each, lb, kg, dozen, gallon, bunch, pack.
- ``GET /v1/delivery-slots`` → ``{"slots": [{"id", "start", "end"}]}``: the next six two-hour windows
  between 08:00 and 20:00 UTC starting at least an hour from now.
- ``POST /v1/orders`` ``{"user_id", "items": [{"product_id", "quantity", "unit"?}], "slot_id"?}`` → 201 order
  ``{"id", "user_id", "items": [{"product_id", "name", "quantity", "unit", "unit_price_cents",
  "line_total_cents"}], "subtotal_cents", "delivery_fee_cents", "total_cents", "currency",
  "status": "confirmed", "slot": {...}, "created_at"}``. ``unit`` defaults to the product's; lb and kg
  convert into each other. ``slot_id`` defaults to the earliest slot. Bad input → 422 naming ``field``
  (e.g. ``items[1].product_id``; ``slot_id`` with code ``slot_unavailable``).
- ``GET /v1/orders/<order_id>`` → order, or 404 ``order_not_found``.

Delivery costs 399 cents under a 3500-cent subtotal, nothing from there up.
"""

from __future__ import annotations

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

UNITS = ("each", "lb", "kg", "dozen", "gallon", "bunch", "pack")
_WEIGHT_IN_LB = {"lb": 1.0, "kg": 2.20462}
FREE_DELIVERY_FROM_CENTS = 3500
DELIVERY_FEE_CENTS = 399
MAX_QUANTITY = 50

# (name, unit, price in cents, synonyms)
_PRODUCTS = [
    ("Bananas", "lb", 69, ["banana"]),
    ("Gala Apples", "lb", 199, ["apple", "apples", "gala apple"]),
    ("Navel Oranges", "lb", 149, ["orange", "oranges"]),
    ("Strawberries", "pack", 449, ["strawberry", "berries"]),
    ("Blueberries", "pack", 399, ["blueberry"]),
    ("Lemons", "each", 79, ["lemon"]),
    ("Limes", "each", 49, ["lime"]),
    ("Avocados", "each", 129, ["avocado"]),
    ("Roma Tomatoes", "lb", 179, ["tomato", "tomatoes"]),
    ("Yellow Onions", "lb", 119, ["onion", "onions"]),
    ("Russet Potatoes", "lb", 99, ["potato", "potatoes"]),
    ("Carrots", "lb", 129, ["carrot"]),
    ("Broccoli", "bunch", 249, ["broccoli crown"]),
    ("Baby Spinach", "pack", 349, ["spinach"]),
    ("Romaine Lettuce", "each", 229, ["lettuce", "romaine"]),
    ("Cilantro", "bunch", 99, ["coriander"]),
    ("Garlic", "each", 59, ["garlic bulb"]),
    ("Cucumbers", "each", 89, ["cucumber"]),
    ("Whole Milk", "gallon", 429, ["milk", "gallon of milk"]),
    ("Skim Milk", "gallon", 409, ["nonfat milk", "fat free milk"]),
    ("Oat Milk", "each", 499, ["oat drink"]),
    ("Large Eggs", "dozen", 389, ["eggs", "egg", "dozen eggs"]),
    ("Salted Butter", "pack", 549, ["butter"]),
    ("Cheddar Cheese", "pack", 479, ["cheddar", "cheese"]),
    ("Greek Yogurt", "each", 599, ["yogurt", "yoghurt"]),
    ("Sourdough Bread", "each", 549, ["bread", "sourdough", "loaf of bread"]),
    ("Whole Wheat Bread", "each", 429, ["wheat bread", "brown bread"]),
    ("Bagels", "pack", 449, ["bagel"]),
    ("Chicken Breast", "lb", 499, ["chicken", "chicken breasts"]),
    ("Ground Beef", "lb", 599, ["beef", "mince", "hamburger meat"]),
    ("Salmon Fillet", "lb", 1299, ["salmon", "fish"]),
    ("Bacon", "pack", 699, ["streaky bacon"]),
    ("Spaghetti", "pack", 189, ["pasta", "noodles"]),
    ("Basmati Rice", "kg", 399, ["rice"]),
    ("Marinara Sauce", "each", 349, ["pasta sauce", "tomato sauce"]),
    ("Olive Oil", "each", 899, ["extra virgin olive oil"]),
    ("Ground Coffee", "pack", 999, ["coffee"]),
    ("Orange Juice", "gallon", 699, ["oj", "juice"]),
    ("Paper Towels", "pack", 1199, ["kitchen roll"]),
    ("Dish Soap", "each", 329, ["washing up liquid", "dishwashing liquid"]),
]

PRODUCTS: dict[str, dict[str, Any]] = {
    f"prd_{index:03d}": {
        "id": f"prd_{index:03d}",
        "name": name,
        "unit": unit,
        "price_cents": price,
        "currency": "USD",
        "synonyms": synonyms,
    }
    for index, (name, unit, price, synonyms) in enumerate(_PRODUCTS, start=1)
}


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("oes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _fold(text: str) -> str:
    return " ".join(_singular(word) for word in normalize(text).split())


def _score(product: dict[str, Any], query: str) -> int:
    """2 for an exact name or synonym, 1 when every query word appears, 0 for no match."""
    names = [_fold(product["name"]), *(_fold(s) for s in product["synonyms"])]
    if query in names:
        return 2
    words = set(query.split())
    return 1 if any(words <= set(name.split()) for name in names) else 0


def delivery_slots(moment: datetime, count: int = 6) -> list[dict[str, str]]:
    """The next ``count`` two-hour windows, 08:00–20:00 UTC, starting at least an hour after ``moment``."""
    start = (moment + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    if start < moment + timedelta(hours=1):
        start += timedelta(hours=1)
    start += timedelta(hours=start.hour % 2)  # windows start on even hours
    slots: list[dict[str, str]] = []
    while len(slots) < count:
        if start.hour < 8:
            start = start.replace(hour=8)
        elif start.hour >= 20:
            start = (start + timedelta(days=1)).replace(hour=8)
        end = start + timedelta(hours=2)
        slots.append({"id": "slot_" + start.strftime("%Y%m%dT%H%MZ"), "start": iso(start), "end": iso(end)})
        start = end
    return slots


def _line(index: int, item: Any) -> dict[str, Any]:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise invalid(where, "Each item must be an object with product_id and quantity.")
    product = PRODUCTS.get(str(item.get("product_id")))
    if product is None:
        raise invalid(
            f"{where}.product_id", f"No product with id {item.get('product_id')!r}.", code="unknown_product"
        )
    unit = item.get("unit") or product["unit"]
    if unit not in UNITS:
        raise invalid(f"{where}.unit", f"Unknown unit {unit!r}; expected one of {', '.join(UNITS)}.")
    both_weights = unit in _WEIGHT_IN_LB and product["unit"] in _WEIGHT_IN_LB
    if unit != product["unit"] and not both_weights:
        raise invalid(f"{where}.unit", f"{product['name']} is sold per {product['unit']}, not per {unit}.")
    quantity = item.get("quantity", 1)
    whole = isinstance(quantity, int) and not isinstance(quantity, bool)
    if (
        not (whole or (unit in _WEIGHT_IN_LB and isinstance(quantity, float)))
        or not 0 < quantity <= MAX_QUANTITY
    ):
        kind = "a number" if unit in _WEIGHT_IN_LB else "a whole number"
        raise invalid(
            f"{where}.quantity", f"Quantity must be {kind} from above 0 to {MAX_QUANTITY}, got {quantity!r}."
        )
    unit_price = (
        round(product["price_cents"] * _WEIGHT_IN_LB[unit] / _WEIGHT_IN_LB[product["unit"]])
        if both_weights
        else product["price_cents"]
    )
    return {
        "product_id": product["id"],
        "name": product["name"],
        "quantity": quantity,
        "unit": unit,
        "unit_price_cents": unit_price,
        "line_total_cents": round(unit_price * quantity),
    }


def create_app(clock: Clock | None = None) -> PartnerApp:
    """Return a FreshCart stand-in with no orders yet.

    Parameters:
        clock: returns the current aware UTC datetime (delivery slots); defaults to the real time.
    """
    app = PartnerApp("grocery")
    now = clock or utc_now
    orders: dict[str, dict[str, Any]] = Recent()

    @app.get("/v1/products")
    def search_products(request: PartnerRequest) -> tuple[int, Any]:
        query = _fold(request.params.get("q", ""))
        if not query:
            return 200, {"products": list(PRODUCTS.values())}
        scored = [(_score(p, query), p) for p in PRODUCTS.values()]
        ranked = sorted((pair for pair in scored if pair[0]), key=lambda pair: -pair[0])
        return 200, {"products": [product for _, product in ranked]}

    @app.get("/v1/delivery-slots")
    def slots(request: PartnerRequest) -> tuple[int, Any]:
        return 200, {"slots": delivery_slots(now())}

    @app.post("/v1/orders")
    def place_order(request: PartnerRequest) -> tuple[int, Any]:
        body = json_object(request)
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise invalid("user_id", "Give the ordering user's id as a string.", code="missing_field")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise invalid(
                "items", "Give at least one item: {'product_id', 'quantity', 'unit'}.", code="missing_field"
            )
        lines = [_line(index, item) for index, item in enumerate(items)]
        created = now()
        offered = delivery_slots(created)
        slot_id = body.get("slot_id") or offered[0]["id"]
        slot = next((s for s in offered if s["id"] == slot_id), None)
        if slot is None:
            raise invalid(
                "slot_id",
                f"Delivery slot {slot_id!r} is not available; ask GET /v1/delivery-slots for current ones.",
                code="slot_unavailable",
            )
        subtotal = sum(line["line_total_cents"] for line in lines)
        fee = 0 if subtotal >= FREE_DELIVERY_FROM_CENTS else DELIVERY_FEE_CENTS
        order = {
            "id": app.next_id("ord"),
            "user_id": user_id,
            "items": lines,
            "subtotal_cents": subtotal,
            "delivery_fee_cents": fee,
            "total_cents": subtotal + fee,
            "currency": "USD",
            "status": "confirmed",
            "slot": slot,
            "created_at": iso(created),
        }
        with app.lock:
            orders[order["id"]] = order
        return 201, order

    @app.get("/v1/orders/<order_id>")
    def get_order(request: PartnerRequest) -> tuple[int, Any]:
        order_id = request.path_params["order_id"]
        with app.lock:
            order = orders.get(order_id)
        if order is None:
            raise PartnerError(404, "order_not_found", f"No order with id {order_id!r}.")
        return 200, order

    return app
