"""Pizza shop: a multi-turn order (size, crust, toppings, quantity) on Alexa's dialog model, placed with PizzaPronto.

It speaks English (en-US, and en-GB through the fallback) and German (de-DE): the German words and
prompts are in ``pizza_texts.py``, and every reply goes through the message catalogue (``ctx.t``).
"""

from __future__ import annotations

from typing import Any

from skills_sdk import Skill, Turn, ask, empty, say
from skills_sdk.dialog import has_entity_resolution_match, is_greater_than, is_less_than, optional, required

from ._common import PartnerError, answer_partner_errors, call_partner, dollars
from .pizza_texts import GERMAN, GERMAN_LISTING, MESSAGES

SIZES = {"small": ["little", "personal"], "medium": ["regular"], "large": ["big", "family size"]}
CRUSTS = {"thin": ["thin crust", "crispy"], "hand tossed": ["regular crust", "classic"],
          "deep dish": ["deep", "chicago style"], "stuffed": ["stuffed crust"]}
TOPPINGS = {"pepperoni": ["peperoni"], "sausage": ["italian sausage"], "bacon": [], "ham": [],
            "chicken": ["grilled chicken"], "mushrooms": ["mushroom"], "onions": ["onion", "red onions"],
            "green peppers": ["peppers", "green pepper"], "black olives": ["olives"], "pineapple": [],
            "jalapenos": ["jalapeno"], "extra cheese": ["cheese", "double cheese"]}
NO_SUCH_TOPPING = "Sorry, we don't have that topping. Pepperoni, mushrooms, ham or extra cheese, for example?"
# The dialog model: Alexa asks for the size and the topping until it has them, checks the topping and
# the quantity, and confirms the order before the handler runs.
SLOTS = {
    "size": required("PizzaSize", "What size would you like: small, medium or large?",
                     "Which size: small, medium or large?",
                     samples=["{size}", "{size} please", "a {size} one", "make it {size}", "{size} with {topping}"]),
    "topping": required("PizzaTopping", "A {size} pizza. Which topping would you like?",
                        "Which topping would you like on your {size} pizza?",
                        samples=["{topping}", "{topping} please", "with {topping}", "{topping} and {second_topping}",
                                 "with {topping} and {second_topping}"],
                        validations=[has_entity_resolution_match(NO_SUCH_TOPPING)]),
    "second_topping": optional("PizzaTopping", validations=[has_entity_resolution_match(NO_SUCH_TOPPING)]),
    "crust": optional("PizzaCrust"),
    "quantity": optional("AMAZON.NUMBER", validations=[
        is_greater_than(0, "How many pizzas would you like?"),
        is_less_than(11, "We can bake at most ten pizzas per order. How many would you like?")]),
}
CONFIRM = ["A {size} pizza with {topping}. Shall I place the order?",
           "Your {size} pizza with {topping}: shall I order it?"]
ORDER_SAMPLES = [
    "order a pizza", "i would like a pizza", "i want a {size} pizza", "get me a {topping} pizza",
    "order a {size} pizza", "a {size} {topping} pizza",
    "order a {size} {topping} pizza", "order a {size} pizza with {topping}",
    "order a {size} pizza with {topping} and {second_topping}",
    "order a {size} {crust} pizza with {topping}", "a {size} {crust} pizza with {topping}",
    "order a {size} {crust} pizza with {topping} and {second_topping}",
    "order {quantity} {size} pizzas with {topping}", "order {quantity} {size} {topping} pizzas",
]


def describe(ctx: Turn, order: dict[str, Any]) -> str:
    """The order read back in the request's language: "two large thin pizzas with pepperoni and mushrooms"."""
    count = order.get("quantity") or 1

    def word(kind: str, value: str) -> str:
        return ctx.t(f"{kind}.{value}", default=value)

    toppings = ctx.t("and").join(word("topping", t) for t in order["toppings"])
    return ctx.t("order_one" if count == 1 else "order_many", count=count, size=word("size", order["size"]),
                 crust=word("crust", order.get("crust") or "hand tossed"), toppings=toppings)


def create_skill() -> Skill:
    """The pizza skill, owned by the fictional developer Pronto Pizza Labs."""
    skill = Skill("pizza", developer_id="pronto-pizza-labs", invocation_name="pizza shop",
                  retention_days=90, receipt_retention_days=365,
                  description="Order pizza from PizzaPronto and track the order.")
    skill.slot_type("PizzaSize", SIZES)
    skill.slot_type("PizzaCrust", CRUSTS)
    skill.slot_type("PizzaTopping", TOPPINGS)
    for language, texts in MESSAGES.items():
        skill.messages(language, texts)
    # Only a failed order means nothing was ordered: a failed status lookup leaves the order placed.
    answer_partner_errors(skill, lambda ctx: ctx.t("status_down" if ctx.intent_name == "OrderStatusIntent"
                                                   else "partner_down"))

    @skill.launch
    def welcome(ctx: Turn):
        return ask(ctx.t("welcome"), ctx.t("which_pizza"))

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx: Turn):
        return ask(ctx.t("help"), ctx.t("which_pizza"))

    @skill.intent("OrderPizzaIntent", samples=ORDER_SAMPLES, slots=SLOTS, confirm=CONFIRM)
    def order(ctx: Turn, size=None, crust=None, topping=None, second_topping=None, quantity: int = 1):
        # Auto-delegation: Alexa has asked, checked and confirmed before this runs. A request that
        # comes in mid-dialog anyway (a model built with delegation off) goes back to the dialog model.
        if ctx.dialog_state in ("STARTED", "IN_PROGRESS"):
            return empty().delegate()
        if ctx.request.intent.confirmation_status == "DENIED":
            return ask(ctx.t("declined"), ctx.t("which_pizza"))
        return place(ctx, {"size": size, "crust": crust, "quantity": quantity or 1,
                           "toppings": [t for t in (topping, second_topping) if t]})

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
            # Back into the dialog: ask for the topping again, keeping the size the user gave.
            kept = {name: {"name": name, "value": ctx.slots[name].value, "confirmationStatus": "NONE"}
                    for name in ("size", "crust", "quantity") if name in ctx.slots and ctx.slots[name].value}
            updated = {"name": "OrderPizzaIntent", "confirmationStatus": "NONE", "slots": kept}
            return say(ctx.t("no_combination")).elicit_slot("topping", updated)
        ctx.state["last_order"] = placed["id"]
        total = dollars(placed["total_cents"])
        return (
            say(ctx.t("placed_one" if quantity == 1 else "placed_many", order=describe(ctx, draft),
                      eta=placed["eta_minutes"]))
            .card(ctx.t("card_title"), f"{quantity} x {draft['size']} with {', '.join(draft['toppings'])}\n"
                                       f"Order {placed['id']}: ${total}")
            .transaction("pizza_order", placed["id"], total, "USD")
            .end()
        )

    @skill.intent("OrderStatusIntent", samples=["where is my pizza", "what is the status of my order",
                                                "when will my pizza arrive", "is my pizza on its way"])
    def status(ctx: Turn):
        order_id = ctx.state.get("last_order")
        if not order_id:
            return ask(ctx.t("no_order"))
        info = call_partner(ctx, "pizza", "GET", f"/v1/orders/{order_id}")
        state = ctx.t(f"status.{info.get('status')}", default=ctx.t("status.other"))
        eta = info.get("eta_minutes") or 0
        tail = ctx.t("arrives", eta=eta) if eta and info.get("status") != "delivered" else ""
        return say(ctx.t("status", state=state) + tail)

    skill.add_locale("de-DE", **GERMAN)
    skill.publish(
        category="DELIVERY_AND_TAKEOUT", allows_purchases=True,
        privacy_policy_url="https://pronto-pizza-labs.example/privacy",
        listings={"en-US": {"name": "Pizza Shop", "summary": "Order pizza from PizzaPronto by voice.",
                            "description": "Choose a size, a crust and toppings; Pizza Shop confirms the order, "
                                           "places it with PizzaPronto and tells you when it arrives.",
                            "example_phrases": ["Alexa, open pizza shop", "Alexa, ask pizza shop to order a large pizza",
                                                "Alexa, ask pizza shop where is my pizza"],
                            "keywords": ["pizza", "delivery", "food"]},
                  "de-DE": GERMAN_LISTING},
    )
    return skill
