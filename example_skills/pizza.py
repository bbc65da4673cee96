"""Pizza shop: a multi-turn order (size, crust, toppings, quantity) placed with the PizzaPronto partner API."""

from __future__ import annotations

import requests

from skills_sdk import Skill, Turn, ask, say

from . import partner_url

SIZES = {"small": ["little", "personal"], "medium": ["regular"], "large": ["big", "family size"]}
CRUSTS = {"thin": ["thin crust", "crispy"], "hand tossed": ["regular crust", "classic"],
          "deep dish": ["deep", "chicago style"], "stuffed": ["stuffed crust"]}
TOPPINGS = {"pepperoni": ["peperoni"], "sausage": ["italian sausage"], "bacon": [], "ham": [],
            "chicken": ["grilled chicken"], "mushrooms": ["mushroom"], "onions": ["onion", "red onions"],
            "green peppers": ["peppers", "green pepper"], "black olives": ["olives"], "pineapple": [],
            "jalapenos": ["jalapeno"], "extra cheese": ["cheese", "double cheese"]}


def create_skill() -> Skill:
    """The pizza skill, owned by the fictional developer Pronto Pizza Labs."""
    skill = Skill("pizza", developer_id="pronto-pizza-labs", invocation_name="pizza shop",
                  retention_days=90, receipt_retention_days=365,
                  description="Order pizza from PizzaPronto and track the order.")
    skill.slot_type("PizzaSize", SIZES)
    skill.slot_type("PizzaCrust", CRUSTS)
    skill.slot_type("PizzaTopping", TOPPINGS)

    @skill.launch
    def welcome(ctx: Turn):
        return ask("Welcome to Pizza Shop. What size and topping would you like?", "What pizza would you like?")

    @skill.intent(
        "OrderPizzaIntent",
        samples=["order a {size} {topping} pizza", "order a {size} pizza with {topping}",
                 "i want a {size} pizza", "get me a {topping} pizza", "order a pizza",
                 "order {quantity} {size} pizzas with {topping}", "a {size} {crust} pizza with {topping}"],
        slots={"size": "PizzaSize", "crust": "PizzaCrust", "topping": "PizzaTopping", "quantity": "AMAZON.NUMBER"},
    )
    def order(ctx: Turn, size=None, crust="hand tossed", topping=None, quantity: int = 1):
        if size is None:
            return say("What size would you like: small, medium or large?").elicit_slot("size")
        if topping is None:
            return say(f"A {size} pizza. Which topping would you like?").elicit_slot("topping")
        try:
            reply = ctx.http.post(f"{partner_url('pizza')}/v1/orders", json={
                "user_id": ctx.user_id,
                "items": [{"size": size, "crust": crust, "toppings": [topping], "quantity": quantity}],
            })
            reply.raise_for_status()
            placed = reply.json()
            order_id, total, eta = placed["id"], placed["total_cents"], placed["eta_minutes"]
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return say("Sorry, Pizza Pronto isn't taking orders right now. Please try again in a few minutes.")
        ctx.state["last_order"] = order_id
        count = "one" if quantity == 1 else str(quantity)
        return (
            say(f"Okay, {count} {size} {topping} pizza is on its way. It should arrive in about {eta} minutes.")
            .card("Pizza order", f"{quantity} x {size} {topping} ({crust})\nOrder {order_id}: ${total / 100:.2f}")
            .transaction("pizza_order", order_id, f"{total / 100:.2f}", "USD")
            .end()
        )

    @skill.intent("OrderStatusIntent", samples=["where is my pizza", "what is the status of my order",
                                                "when will my pizza arrive"])
    def status(ctx: Turn):
        order_id = ctx.state.get("last_order")
        if not order_id:
            return ask("You have no pizza on the way. Would you like to order one?")
        try:
            reply = ctx.http.get(f"{partner_url('pizza')}/v1/orders/{order_id}")
            reply.raise_for_status()
            info = reply.json()
        except (requests.RequestException, ValueError):
            return say("Sorry, I couldn't reach Pizza Pronto to check on your order. Please try again soon.")
        words = {"placed": "has been placed", "baking": "is in the oven",
                 "out_for_delivery": "is out for delivery", "delivered": "has been delivered"}
        state = words.get(info.get("status"), "is being prepared")
        eta = info.get("eta_minutes") or 0
        tail = f" It should arrive in about {eta} minutes." if eta else ""
        return say(f"Your pizza {state}.{tail}")

    return skill
