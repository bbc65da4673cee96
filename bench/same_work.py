"""The peer benchmark's pizza skill written with skills_sdk, for the in-process and the HTTP targets.

Its own module so that ``wsgi_pizza`` (each gunicorn worker) imports the skill and nothing of
``inproc_target``, which builds a started ledger of its own at import.
"""

from __future__ import annotations

from skills_sdk import Skill, say

__all__ = ["same_work_skill"]


def same_work_skill() -> Skill:
    """The peer benchmark's pizza skill, written with skills_sdk: two slots, speech and a card."""
    skill = Skill("pizza", developer_id="acme-pizza-inc", invocation_name="pizza shop")

    @skill.launch
    def launch(ctx):
        return say("Welcome to Pizza Shop. What size and topping would you like?").ask("What pizza would you like?")

    @skill.intent("OrderPizzaIntent", samples=["order a {size} pizza with {topping}"],
                  slots={"size": "AMAZON.SearchQuery", "topping": "AMAZON.SearchQuery"})
    def order(ctx, size="medium", topping="cheese"):
        return (
            say(f"Okay, one {size} {topping} pizza is on its way. It should arrive in about thirty minutes.")
            .card("Pizza order", f"1 x {size} {topping}")
            .end()
        )

    return skill
