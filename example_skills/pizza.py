"""Pizza shop: a multi-turn order (size, crust, toppings, quantity) placed with the PizzaPronto partner API."""

from __future__ import annotations

from typing import Any

from skills_sdk import Skill, Turn, ask, say

from ._common import PartnerError, answer_partner_errors, call_partner, dollars

SIZES = {"small": ["little", "personal"], "medium": ["regular"], "large": ["big", "family size"]}
CRUSTS = {"thin": ["thin crust", "crispy"], "hand tossed": ["regular crust", "classic"],
          "deep dish": ["deep", "chicago style"], "stuffed": ["stuffed crust"]}
TOPPINGS = {"pepperoni": ["peperoni"], "sausage": ["italian sausage"], "bacon": [], "ham": [],
            "chicken": ["grilled chicken"], "mushrooms": ["mushroom"], "onions": ["onion", "red onions"],
            "green peppers": ["peppers", "green pepper"], "black olives": ["olives"], "pineapple": [],
            "jalapenos": ["jalapeno"], "extra cheese": ["cheese", "double cheese"]}
SLOTS = {"size": "PizzaSize", "crust": "PizzaCrust", "topping": "PizzaTopping",
         "second_topping": "PizzaTopping", "quantity": "AMAZON.NUMBER"}
ORDER_SAMPLES = [
    "order a pizza", "i would like a pizza", "i want a {size} pizza", "get me a {topping} pizza",
    "order a {size} pizza", "a {size} {topping} pizza",
    "order a {size} {topping} pizza", "order a {size} pizza with {topping}",
    "order a {size} pizza with {topping} and {second_topping}",
    "order a {size} {crust} pizza with {topping}", "a {size} {crust} pizza with {topping}",
    "order a {size} {crust} pizza with {topping} and {second_topping}",
    "order {quantity} {size} pizzas with {topping}", "order {quantity} {size} {topping} pizzas",
    # Answers to our own questions. On a device Alexa keeps the earlier slots of the intent; the
    # order so far also lives in the session, so a typed "large" (the simulator) works the same way.
    "{size}", "{size} please", "{topping}", "{topping} and {second_topping}", "make it {crust}",
]
STATUS_WORDS = {"placed": "has been placed", "baking": "is in the oven",
                "out_for_delivery": "is out for delivery", "delivered": "has been delivered"}


def describe(order: dict[str, Any]) -> str:
    """The order read back: "two large thin pizzas with pepperoni and mushrooms"."""
    count = order.get("quantity") or 1
    number = "one" if count == 1 else str(count)
    toppings = " and ".join(order["toppings"])
    return f"{number} {order['size']} {order.get('crust') or 'hand tossed'} pizza{'s' if count > 1 else ''} with {toppings}"


def create_skill() -> Skill:
    """The pizza skill, owned by the fictional developer Pronto Pizza Labs."""
    skill = Skill("pizza", developer_id="pronto-pizza-labs", invocation_name="pizza shop",
                  retention_days=90, receipt_retention_days=365,
                  description="Order pizza from PizzaPronto and track the order.")
    skill.slot_type("PizzaSize", SIZES)
    skill.slot_type("PizzaCrust", CRUSTS)
    skill.slot_type("PizzaTopping", TOPPINGS)
    answer_partner_errors(skill, "Sorry, Pizza Pronto isn't answering right now, so nothing was ordered. "
                                 "Please try again in a few minutes.")

    @skill.launch
    def welcome(ctx: Turn):
        return ask("Welcome to Pizza Shop. What size and topping would you like?", "What pizza would you like?")

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx: Turn):
        return ask("You can say, order a large pizza with pepperoni and mushrooms, or ask, where is my pizza. "
                   "What would you like?", "What pizza would you like?")

    @skill.intent("OrderPizzaIntent", samples=ORDER_SAMPLES, slots=SLOTS)
    def order(ctx: Turn, size=None, crust=None, topping=None, second_topping=None, quantity: int = 0):
        if ctx.dialog_state == "COMPLETED" and size and topping:
            # Alexa's dialog model has already asked and confirmed: place it, no extra work.
            return place(ctx, {"size": size, "crust": crust, "quantity": quantity or 1,
                               "toppings": [t for t in (topping, second_topping) if t]})
        draft = ctx.session.setdefault("order", {"toppings": []})
        for key, value in (("size", size), ("crust", crust), ("quantity", quantity)):
            if value:
                draft[key] = value
        draft["toppings"] = [t for t in (topping, second_topping) if t] or draft["toppings"]
        confirmation = ctx.request.intent.confirmation_status
        if confirmation == "DENIED":
            return start_over(ctx)
        if not draft.get("size"):
            return say("What size would you like: small, medium or large?").elicit_slot("size")
        if not draft["toppings"]:
            return say(f"A {draft['size']} pizza. Which toppings would you like?").elicit_slot("topping")
        if confirmation == "CONFIRMED":
            return place(ctx, draft)
        return say(f"That's {describe(draft)}. Shall I place the order?").confirm_intent()

    # Without Alexa's dialog model (the simulator, a tester) a confirmation arrives as a plain yes or no.
    @skill.intent("AMAZON.YesIntent")
    def yes(ctx: Turn):
        draft = ctx.session.get("order")
        if not draft or not draft.get("size") or not draft.get("toppings"):
            return ask("What pizza would you like?")
        return place(ctx, draft)

    @skill.intent("AMAZON.NoIntent")
    def no(ctx: Turn):
        return start_over(ctx) if ctx.session.get("order") else say("Okay. Enjoy your day.")

    def start_over(ctx: Turn):
        ctx.session.pop("order", None)
        cleared = {"name": "OrderPizzaIntent", "confirmationStatus": "NONE", "slots": {}}
        return say("Okay, let's start over. What size would you like?").elicit_slot("size", cleared)

    def place(ctx: Turn, draft: dict[str, Any]):
        quantity = draft.get("quantity") or 1
        item = {"size": draft["size"], "toppings": draft["toppings"], "quantity": quantity}
        if draft.get("crust"):
            item["crust"] = draft["crust"]  # PizzaPronto defaults to hand tossed
        try:
            placed = call_partner(ctx, "pizza", "POST", "/v1/orders", json={"user_id": ctx.user_id, "items": [item]})
        except PartnerError as exc:
            if exc.status != 422:
                raise  # outages are the error handler's to answer
            ctx.session.pop("order", None)
            return ask("Pizza Pronto can't make that combination. What pizza would you like instead?")
        ctx.session.pop("order", None)
        ctx.state["last_order"] = placed["id"]
        total = dollars(placed["total_cents"])
        return (
            say(f"Okay, {describe(draft)} {'is on its' if quantity == 1 else 'are on their'} way. "
                f"It should arrive in about {placed['eta_minutes']} minutes.")
            .card("Pizza order", f"{quantity} x {draft['size']} with {', '.join(draft['toppings'])}\n"
                                 f"Order {placed['id']}: ${total}")
            .transaction("pizza_order", placed["id"], total, "USD")
            .end()
        )

    @skill.intent("OrderStatusIntent", samples=["where is my pizza", "what is the status of my order",
                                                "when will my pizza arrive", "is my pizza on its way"])
    def status(ctx: Turn):
        order_id = ctx.state.get("last_order")
        if not order_id:
            return ask("You have no pizza on the way. Would you like to order one?")
        info = call_partner(ctx, "pizza", "GET", f"/v1/orders/{order_id}")
        state = STATUS_WORDS.get(info.get("status"), "is being prepared")
        eta = info.get("eta_minutes") or 0
        tail = f" It should arrive in about {eta} minutes." if eta and info.get("status") != "delivered" else ""
        return say(f"Your pizza {state}.{tail}")

    return skill
