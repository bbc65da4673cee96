"""What the pizza skill says, in English and German, and what German users say to it."""

from __future__ import annotations

#: Response texts by language; the handlers read them with ``ctx.t(key, ...)``.
MESSAGES = {
    "en": {
        "welcome": "Welcome to Pizza Shop. What size and topping would you like?",
        "which_pizza": "What pizza would you like?",
        "help": "You can say, order a large pizza with pepperoni and mushrooms, or ask, where is my pizza. "
                "What would you like?",
        "declined": "Okay, I won't order that. What pizza would you like instead?",
        "no_combination": "Pizza Pronto can't make that combination. Which topping would you like instead?",
        "placed_one": "Okay, {order} is on its way. It should arrive in about {eta} minutes.",
        "placed_many": "Okay, {order} are on their way. It should arrive in about {eta} minutes.",
        "order_one": "one {size} {crust} pizza with {toppings}",
        "order_many": "{count} {size} {crust} pizzas with {toppings}",
        "and": " and ",
        "card_title": "Pizza order",
        "no_order": "You have no pizza on the way. Would you like to order one?",
        "status": "Your pizza {state}.",
        "arrives": " It should arrive in about {eta} minutes.",
        "status.placed": "has been placed", "status.baking": "is in the oven",
        "status.out_for_delivery": "is out for delivery", "status.delivered": "has been delivered",
        "status.other": "is being prepared",
        "partner_down": "Sorry, Pizza Pronto isn't answering right now, so nothing was ordered. "
                        "Please try again in a few minutes.",
        "status_down": "Sorry, Pizza Pronto isn't answering right now, so I can't check on your order. "
                       "It is still placed; please ask again in a few minutes.",
    },
    "de": {
        "welcome": "Willkommen beim Pizza Laden. Welche Größe und welchen Belag möchtest du?",
        "which_pizza": "Welche Pizza möchtest du?",
        "help": "Du kannst sagen: bestelle eine große Pizza mit Salami und Pilzen, oder fragen: wo ist meine "
                "Pizza. Was möchtest du?",
        "declined": "Okay, das bestelle ich nicht. Welche Pizza möchtest du stattdessen?",
        "no_combination": "Pizza Pronto kann diese Kombination nicht backen. Welchen Belag möchtest du stattdessen?",
        "placed_one": "Okay, {order} ist unterwegs. Sie sollte in etwa {eta} Minuten da sein.",
        "placed_many": "Okay, {order} sind unterwegs. Sie sollten in etwa {eta} Minuten da sein.",
        "order_one": "eine {size} Pizza, {crust}, mit {toppings}",
        "order_many": "{count} {size} Pizzen, {crust}, mit {toppings}",
        "and": " und ",
        "card_title": "Pizzabestellung",
        "no_order": "Du hast keine Pizza unterwegs. Möchtest du eine bestellen?",
        "status": "Deine Pizza {state}.",
        "arrives": " Sie sollte in etwa {eta} Minuten da sein.",
        "status.placed": "ist bestellt", "status.baking": "ist im Ofen",
        "status.out_for_delivery": "ist unterwegs zu dir", "status.delivered": "wurde geliefert",
        "status.other": "wird zubereitet",
        "partner_down": "Entschuldige, Pizza Pronto antwortet gerade nicht, also wurde nichts bestellt. "
                        "Bitte versuche es in ein paar Minuten noch einmal.",
        "status_down": "Entschuldige, Pizza Pronto antwortet gerade nicht, deshalb kann ich nicht nach deiner "
                       "Bestellung sehen. Sie bleibt bestellt; frag in ein paar Minuten noch einmal.",
        # The canonical slot values, as a German sentence says them.
        "size.small": "kleine", "size.medium": "mittlere", "size.large": "große",
        "crust.thin": "dünner Boden", "crust.hand tossed": "klassischer Boden", "crust.deep dish": "dicker Boden",
        "crust.stuffed": "gefüllter Rand",
        "topping.pepperoni": "Salami", "topping.sausage": "Wurst", "topping.bacon": "Speck", "topping.ham": "Schinken",
        "topping.chicken": "Hähnchen", "topping.mushrooms": "Pilzen", "topping.onions": "Zwiebeln",
        "topping.green peppers": "Paprika", "topping.black olives": "Oliven", "topping.pineapple": "Ananas",
        "topping.jalapenos": "Jalapeños", "topping.extra cheese": "extra Käse",
    },
}

NO_SUCH_TOPPING_DE = "Diesen Belag haben wir leider nicht. Salami, Pilze, Schinken oder extra Käse zum Beispiel?"

#: The German model: what de-DE users say, and what the dialog model asks them.
GERMAN = {
    "invocation_name": "pizza laden",
    "samples": {
        "OrderPizzaIntent": [
            "bestelle eine pizza", "ich möchte eine pizza", "ich möchte eine {size} pizza",
            "bestelle eine {size} pizza", "eine {size} pizza mit {topping}", "bestelle eine {size} pizza mit {topping}",
            "bestelle eine {size} pizza mit {topping} und {second_topping}",
            "bestelle eine {size} pizza mit {crust} und {topping}",
            "bestelle {quantity} {size} pizzen mit {topping}",
        ],
        "OrderStatusIntent": ["wo ist meine pizza", "wann kommt meine pizza", "wie ist der status meiner bestellung",
                              "ist meine pizza unterwegs"],
    },
    "slot_values": {
        "PizzaSize": {"small": ["klein", "kleine"], "medium": ["mittel", "mittlere", "normale"],
                      "large": ["groß", "große", "gross"]},
        "PizzaCrust": {"thin": ["dünnem boden", "dünner boden"], "hand tossed": ["klassischem boden"],
                       "deep dish": ["dickem boden"], "stuffed": ["gefülltem rand"]},
        "PizzaTopping": {"pepperoni": ["salami"], "sausage": ["wurst"], "bacon": ["speck"], "ham": ["schinken"],
                         "chicken": ["hähnchen", "huhn"], "mushrooms": ["pilzen", "pilze", "champignons"],
                         "onions": ["zwiebeln"], "green peppers": ["paprika"], "black olives": ["oliven"],
                         "pineapple": ["ananas"], "jalapenos": ["jalapeños", "peperoni"],
                         "extra cheese": ["extra käse", "käse"]},
    },
    "slot_samples": {
        "OrderPizzaIntent.size": ["{size}", "{size} bitte", "eine {size}", "{size} mit {topping}"],
        "OrderPizzaIntent.topping": ["{topping}", "{topping} bitte", "mit {topping}", "{topping} und {second_topping}",
                                     "mit {topping} und {second_topping}"],
    },
    "prompts": {
        "Elicit.Slot.OrderPizzaIntent.size": ["Welche Größe möchtest du: klein, mittel oder groß?",
                                              "Welche Größe: klein, mittel oder groß?"],
        "Elicit.Slot.OrderPizzaIntent.topping": ["Eine {size} Pizza. Welchen Belag möchtest du?",
                                                 "Welchen Belag möchtest du auf deiner {size} Pizza?"],
        "Slot.Validation.OrderPizzaIntent.topping.1": NO_SUCH_TOPPING_DE,
        "Slot.Validation.OrderPizzaIntent.second_topping.1": NO_SUCH_TOPPING_DE,
        "Slot.Validation.OrderPizzaIntent.quantity.1": "Wie viele Pizzen möchtest du?",
        "Slot.Validation.OrderPizzaIntent.quantity.2": "Wir backen höchstens zehn Pizzen pro Bestellung. "
                                                       "Wie viele möchtest du?",
        "Confirm.Intent.OrderPizzaIntent": ["Eine {size} Pizza mit {topping}. Soll ich bestellen?",
                                            "Deine {size} Pizza mit {topping}: soll ich sie bestellen?"],
    },
}

#: What the German skill store shows.
GERMAN_LISTING = {
    "name": "Pizza Laden",
    "summary": "Pizza bei PizzaPronto per Sprache bestellen.",
    "description": "Wähle Größe, Boden und Belag; Pizza Laden bestätigt die Bestellung, gibt sie an PizzaPronto "
                   "weiter und sagt dir, wann sie ankommt.",
    "example_phrases": ["Alexa, öffne pizza laden", "Alexa, frage pizza laden wo ist meine pizza"],
    "keywords": ["pizza", "lieferung", "essen"],
}
