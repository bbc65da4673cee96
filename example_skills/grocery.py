"""Grocery cart: add and remove items, read the cart, and check out for a FreshCart delivery slot."""

from __future__ import annotations

import re
from typing import Any

from skills_sdk import Skill, Turn, ask, say

from ._common import PartnerError, answer_partner_errors, call_partner, dollars, spoken_price

# Spoken names for the catalog. They help Alexa hear the items; FreshCart's /v1/products search is
# what resolves them, so an item missing here still works when the partner knows it.
ITEMS = {"bananas": ["banana"], "apples": ["apple", "gala apples"], "oranges": ["orange"],
         "strawberries": ["strawberry"], "lemons": ["lemon"], "avocados": ["avocado"],
         "tomatoes": ["tomato"], "onions": ["onion"], "potatoes": ["potato"], "carrots": ["carrot"],
         "spinach": ["baby spinach"], "milk": ["whole milk", "a gallon of milk"], "oat milk": [],
         "eggs": ["egg", "large eggs"], "butter": [], "cheese": ["cheddar"], "yogurt": ["greek yogurt"],
         "bread": ["sourdough", "a loaf of bread"], "chicken": ["chicken breast"], "salmon": ["fish"],
         "ground beef": ["beef", "mince"], "pasta": ["spaghetti"], "rice": ["basmati rice"],
         "coffee": ["ground coffee"], "orange juice": ["juice", "o j"], "paper towels": ["kitchen roll"]}
# FreshCart's unit ids, with what people say for them.
UNITS = {"lb": ["pound", "pounds", "lbs"], "kg": ["kilo", "kilos", "kilogram", "kilograms"],
         "each": ["piece", "pieces", "item", "items"], "dozen": ["dozens"], "gallon": ["gallons"],
         "bunch": ["bunches"], "pack": ["packs", "package", "packages", "bag", "bags"]}
SPOKEN_UNITS = {"lb": ("pound", "pounds"), "kg": ("kilo", "kilos"), "dozen": ("dozen", "dozen"),
                "gallon": ("gallon", "gallons"), "bunch": ("bunch", "bunches"), "pack": ("pack", "packs")}
WEIGHTS = ("lb", "kg")  # FreshCart converts between these two; any other unit must match the product's
ADD_SAMPLES = ["add {item}", "add {item} to my cart", "add {quantity} {item}", "add {quantity} {item} to my cart",
               "add {quantity} {unit} of {item}", "add {quantity} {unit} of {item} to my cart",
               "i need {quantity} {unit} of {item}", "put {item} in my cart", "buy {quantity} {item}"]


def line_text(line: dict[str, Any]) -> str:
    """A cart line as spoken: "2 pounds of bananas", "3 lemons"."""
    count, name = line["quantity"], line["name"].lower()
    if line["unit"] == "each":
        return f"{count} {name}"
    singular, plural = SPOKEN_UNITS[line["unit"]]
    return f"{count} {singular if count == 1 else plural} of {name}"


def cart_text(cart: list[dict[str, Any]]) -> str:
    """The whole cart as one phrase: "2 pounds of bananas, 1 gallon of whole milk and 3 lemons"."""
    parts = [line_text(line) for line in cart]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def slot_hour(time: str | None) -> int | None:
    """The hour of an AMAZON.TIME value ("14:00") or a typed "2 pm"; None when there is none."""
    match = re.fullmatch(r"\s*(\d{1,2})(?::\d\d)?\s*(am|pm|a m|p m)?\s*", time or "")
    if not match:
        return None
    hour = int(match.group(1)) % 12 if match.group(2) else int(match.group(1))
    return hour + 12 if (match.group(2) or "").startswith("p") else hour


def create_skill() -> Skill:
    """The grocery skill, owned by the fictional developer FreshCart Labs."""
    skill = Skill("grocery", developer_id="freshcart-labs", invocation_name="fresh cart",
                  retention_days=30, receipt_retention_days=365, exempt_slots=("item", "unit"),
                  description="Fill a grocery cart by voice and have FreshCart deliver it.")
    skill.slot_type("GroceryItem", ITEMS)
    skill.slot_type("GroceryUnit", UNITS)
    answer_partner_errors(skill, "Sorry, FreshCart isn't answering right now. Your cart is as it was; "
                                 "please try again in a few minutes.")

    # The cart is the user's, not the session's: it lives in ctx.state and survives to the next visit.
    def cart(ctx: Turn) -> list[dict[str, Any]]:
        return ctx.state.setdefault("cart", [])

    @skill.launch
    def welcome(ctx: Turn):
        items = len(cart(ctx))
        have = f" You have {items} item{'s' if items != 1 else ''} in your cart." if items else ""
        return ask(f"Welcome to Fresh Cart.{have} What would you like to add?", "What would you like to add?")

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx: Turn):
        return ask("You can say, add two pounds of bananas, remove milk, what's in my cart, or check out. "
                   "What would you like to do?", "What would you like to do?")

    @skill.intent("AddItemIntent", samples=ADD_SAMPLES,
                  slots={"item": "GroceryItem", "quantity": "AMAZON.NUMBER", "unit": "GroceryUnit"})
    def add(ctx: Turn, item=None, quantity: int = 1, unit=None):
        if not item:
            return ask("What would you like to add?")
        found = call_partner(ctx, "grocery", "GET", "/v1/products", params={"q": item})["products"]
        if not found:
            return ask(f"FreshCart doesn't sell {item}. What else would you like?")
        product = found[0]
        note = ""
        if unit and unit != product["unit"] and not (unit in WEIGHTS and product["unit"] in WEIGHTS):
            # Asked for "a bag of milk": add it the way it is sold, and say so rather than fail at checkout.
            note = f" {product['name']} is sold by the {SPOKEN_UNITS.get(product['unit'], ('item',))[0]}."
            unit = None
        unit = unit or product["unit"]
        quantity = max(1, quantity)
        lines = cart(ctx)
        line = next((x for x in lines if x["product_id"] == product["id"] and x["unit"] == unit), None)
        if line is None:
            line = {"product_id": product["id"], "name": product["name"], "unit": unit, "quantity": 0,
                    "price_cents": product["price_cents"]}
            lines.append(line)
        line["quantity"] += quantity
        added = dict(line, quantity=quantity)
        return ask(f"Added {line_text(added)}.{note} Anything else?", "Would you like to add anything else?")

    @skill.intent("RemoveItemIntent", samples=["remove {item}", "remove {item} from my cart", "delete {item}",
                                               "take {item} out of my cart"], slots={"item": "GroceryItem"})
    def remove(ctx: Turn, item=None):
        lines = cart(ctx)
        wanted = (item or "").lower().rstrip("s")  # "bananas" and "banana" both find "Bananas"
        matches = [x for x in lines if wanted and wanted in x["name"].lower()]
        if not matches:
            return ask(f"There's no {item or 'such item'} in your cart. What else can I do?", "Anything else?")
        gone = matches[-1]  # the latest match: "remove milk" takes back the milk just added
        lines.remove(gone)
        return ask(f"Removed {gone['name'].lower()} from your cart. Anything else?", "Anything else?")

    @skill.intent("ReadCartIntent", samples=["what's in my cart", "what is in my cart", "read my cart",
                                             "read me my cart", "what's on my list"])
    def read(ctx: Turn):
        lines = cart(ctx)
        if not lines:
            return ask("Your cart is empty. What would you like to add?")
        estimate = sum(round(x["price_cents"] * x["quantity"]) for x in lines)
        return ask(f"You have {cart_text(lines)}, about {spoken_price(estimate)}. Anything else?", "Anything else?")

    @skill.intent("ClearCartIntent", samples=["clear my cart", "empty my cart", "start a new cart"])
    def clear(ctx: Turn):
        ctx.state["cart"] = []
        return ask("Your cart is empty now. What would you like to add?", "What would you like to add?")

    @skill.intent("CheckoutIntent", samples=["check out", "checkout", "place my order", "check out for {time}",
                                             "deliver at {time}", "check out for delivery at {time}"],
                  slots={"time": "AMAZON.TIME"})
    def checkout(ctx: Turn, time=None):
        lines = cart(ctx)
        if not lines:
            return ask("Your cart is empty. What would you like to add?")
        slots = call_partner(ctx, "grocery", "GET", "/v1/delivery-slots")["slots"]
        hour = slot_hour(time)
        chosen = next((s for s in slots if int(s["start"][11:13]) == hour), None) if hour is not None else None
        if chosen is None and hour is not None:
            return ask(f"There's no delivery slot at {time}. The first one starts at {slots[0]['start'][11:16]}. "
                       "Say check out to take it.", "Would you like to check out?")
        chosen = chosen or slots[0]
        window = f"between {chosen['start'][11:16]} and {chosen['end'][11:16]} UTC on {chosen['start'][:10]}"
        # A yes/no turn before money moves: the slot waits in the session for the answer.
        ctx.session["checkout"] = {"slot_id": chosen["id"], "window": window}
        return ask(f"That's {cart_text(lines)}, delivered {window}. Shall I place the order?",
                   "Shall I place the order?")

    @skill.intent("AMAZON.YesIntent")
    def yes(ctx: Turn):
        pending = ctx.session.pop("checkout", None)
        lines = cart(ctx)
        if pending is None or not lines:
            return ask("What would you like to add?")
        items = [{"product_id": x["product_id"], "quantity": x["quantity"], "unit": x["unit"]} for x in lines]
        try:
            order = call_partner(ctx, "grocery", "POST", "/v1/orders",
                                 json={"user_id": ctx.user_id, "items": items, "slot_id": pending["slot_id"]})
        except PartnerError as exc:
            if exc.code != "slot_unavailable":
                raise
            return ask("That delivery slot was just taken. Say check out to pick another.", "Shall I check out?")
        ctx.state["cart"] = []
        ctx.state["last_order"] = order["id"]
        total = order["total_cents"]
        fee = " including delivery" if order.get("delivery_fee_cents") else ""
        return (say(f"Your order is placed: {spoken_price(total)}{fee}, delivered {pending['window']}.")
                .card("FreshCart order", f"Order {order['id']}\n{cart_text(lines)}\nTotal ${dollars(total)}")
                .transaction("grocery_order", order["id"], dollars(total), "USD"))

    @skill.intent("AMAZON.NoIntent")
    def no(ctx: Turn):
        if ctx.session.pop("checkout", None) is None:
            return say("Okay. Your cart is saved for next time.")
        return ask("Okay, I haven't placed the order. Your cart is saved. What else can I do?", "Anything else?")

    skill.publish(
        category="SHOPPING", allows_purchases=True, privacy_policy_url="https://freshcart-labs.example/privacy",
        listings={"en-US": {"name": "Fresh Cart", "summary": "Fill a grocery cart by voice.",
                            "description": "Add and remove groceries, hear your cart, and check out for a "
                                           "FreshCart delivery slot.",
                            "example_phrases": ["Alexa, open fresh cart", "Alexa, ask fresh cart to add bananas",
                                                "Alexa, ask fresh cart what's in my cart"],
                            "keywords": ["grocery", "shopping", "delivery"]}},
    )
    return skill
