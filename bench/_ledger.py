"""A cheap generator of realistic transcript rows: 4 developers, 8 skills, long-tailed users, sessions."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from skills_sdk.transcripts.record import encode_json

# JSON columns arrive encoded by the store's own encoder, as Capture hands them to record().
_DUMPS = encode_json

#: skill -> developer; two skills per developer.
SKILLS = {
    "pizza": "pronto-pizza-labs", "pasta": "pronto-pizza-labs",
    "grocery": "freshcart-inc", "recipes": "freshcart-inc",
    "ride": "swiftride-co", "parking": "swiftride-co",
    "music": "tunestream-media", "podcasts": "tunestream-media",
}
DEVELOPERS = sorted(set(SKILLS.values()))
_SKILL_WEIGHTS = {"pizza": 14, "pasta": 4, "grocery": 16, "recipes": 6, "ride": 12, "parking": 3,
                  "music": 35, "podcasts": 10}

#: Users seeded with an exact number of transcripts, for the erasure measurement.
HEAVY_PREFIX = "amzn1.ask.account.HEAVY"

_SLOT_VALUES = {
    "size": ["small", "medium", "large", "extra large"],
    "topping": ["pepperoni", "mushrooms", "olives", "ham", "pineapple", "onions", "sausage", "basil",
                "anchovies", "peppers", "spinach", "bacon", "jalapenos", "extra cheese"],
    "pasta": ["penne", "spaghetti", "rigatoni", "fettuccine", "linguine", "lasagna", "gnocchi"],
    "sauce": ["marinara", "alfredo", "pesto", "bolognese", "carbonara", "arrabbiata"],
    "item": ["milk", "eggs", "bread", "bananas", "apples", "chicken breast", "rice", "pasta", "coffee",
             "orange juice", "yogurt", "butter", "cheddar", "tomatoes", "avocados", "spinach", "oat milk",
             "cereal", "salmon", "ground beef", "potatoes", "carrots", "lemons", "olive oil", "flour"],
    "unit": ["a carton of", "a dozen", "a loaf of", "two pounds of", "a bag of", "three", "a jar of", "a pack of"],
    "window": ["this evening between six and eight", "tomorrow morning", "tomorrow between noon and two",
               "Saturday afternoon", "tonight after nine"],
    "dish": ["chicken curry", "banana bread", "vegetable lasagna", "beef stew", "pad thai", "tomato soup",
             "chocolate chip cookies", "caesar salad", "fish tacos", "mushroom risotto"],
    "place": ["home", "work", "the airport", "the train station", "downtown", "the gym", "Main Street",
              "the stadium", "Union Square", "the hospital", "Central Park", "the mall"],
    "ride": ["standard", "XL", "comfort", "shared"],
    "garage": ["Fifth Street garage", "City Center lot", "Harbor parking", "Airport long term"],
    "artist": ["Taylor Swift", "The Beatles", "Miles Davis", "Beyonce", "Radiohead", "Daft Punk", "Adele",
               "Kendrick Lamar", "Billie Eilish", "Coldplay", "Nina Simone", "Queen", "Bad Bunny", "Mozart",
               "Fleetwood Mac", "Drake", "Norah Jones", "Arctic Monkeys", "Bach", "Dua Lipa"],
    "genre": ["jazz", "classical", "rock", "hip hop", "lo-fi", "country", "pop", "ambient", "blues"],
    "show": ["the daily news briefing", "a history podcast", "the science hour", "true crime weekly",
             "the comedy roundtable", "the cooking show", "tech talk", "the morning market update"],
    "minutes": ["five", "ten", "fifteen", "twenty", "twenty five", "thirty", "forty"],
}

# Per skill: launch speech, intent templates (intent, utterance, speech, slot names, directive), the
# closing turn, and the purchase that 10% of sessions end with (kind, amount range).
_SCRIPTS: dict[str, dict[str, Any]] = {
    "pizza": {
        "launch": "Welcome to Pizza Shop. What size and topping would you like?",
        "intents": [
            ("OrderPizzaIntent", "order a {size} pizza with {topping}",
             "That's one {size} pizza with {topping}. Shall I place the order?", ("size", "topping"), None),
            ("AddToppingIntent", "add {topping}", "Okay, {topping} added. Anything else?", ("topping",), None),
            ("OrderStatusIntent", "where is my pizza", "Your pizza is in the oven. It should arrive in about "
             "{minutes} minutes.", ("minutes",), None),
        ],
        "close": "Okay, your {size} {topping} pizza is on its way. It should arrive in about {minutes} minutes.",
        "purchase": ("order", 9, 32),
    },
    "pasta": {
        "launch": "Welcome to Pasta Place. What would you like tonight?",
        "intents": [
            ("OrderPastaIntent", "I'd like {pasta} with {sauce}", "One {pasta} with {sauce} sauce. Shall I order it?",
             ("pasta", "sauce"), None),
            ("MenuIntent", "what sauces do you have", "Tonight we have {sauce}, marinara and pesto.", ("sauce",),
             None),
        ],
        "close": "Your {pasta} with {sauce} is on its way, about {minutes} minutes.",
        "purchase": ("order", 11, 28),
    },
    "grocery": {
        "launch": "Welcome to FreshCart. You have items in your cart. What would you like to add?",
        "intents": [
            ("AddItemIntent", "add {unit} {item} to my cart", "Added {unit} {item}. Your cart now has {minutes} "
             "items.", ("unit", "item", "minutes"), None),
            ("RemoveItemIntent", "remove the {item}", "Okay, I removed the {item}.", ("item",), None),
            ("CheckoutIntent", "check out", "I can deliver {window}. Shall I place the order?", ("window",), None),
        ],
        "close": "Your groceries will arrive {window}. The order number is on its way to your phone.",
        "purchase": ("order", 15, 160),
    },
    "recipes": {
        "launch": "Welcome to Recipe Box. What would you like to cook?",
        "intents": [
            ("FindRecipeIntent", "how do I make {dish}", "Here's a recipe for {dish}. It takes about {minutes} "
             "minutes. Shall I read the ingredients?", ("dish", "minutes"), None),
            ("NextStepIntent", "next step", "Next, add the {item} and stir for {minutes} minutes.",
             ("item", "minutes"), None),
        ],
        "close": "Enjoy your {dish}!",
        "purchase": ("subscription", 3, 8),
    },
    "ride": {
        "launch": "Welcome to SwiftRide. Where would you like to go?",
        "intents": [
            ("GetQuoteIntent", "get me an {ride} ride to {place}", "An {ride} ride to {place} is about {minutes} "
             "dollars and arrives in {minutes} minutes. Shall I book it?", ("ride", "place", "minutes"), None),
            ("RideStatusIntent", "where is my ride", "Your driver is {minutes} minutes away, near {place}.",
             ("minutes", "place"), None),
        ],
        "close": "Your {ride} ride to {place} is booked. The driver arrives in {minutes} minutes.",
        "purchase": ("booking", 6, 75),
    },
    "parking": {
        "launch": "Welcome to ParkSpot. Where do you need parking?",
        "intents": [
            ("FindParkingIntent", "find parking near {place}", "The {garage} near {place} has spaces for "
             "{minutes} dollars a day.", ("garage", "place", "minutes"), None),
        ],
        "close": "Your space at the {garage} is reserved.",
        "purchase": ("booking", 8, 40),
    },
    "music": {
        "launch": "Welcome to TuneStream. What would you like to hear?",
        "intents": [
            ("PlayArtistIntent", "play {artist}", "Playing songs by {artist}.", ("artist",), "AudioPlayer.Play"),
            ("PlayGenreIntent", "play some {genre}", "Here's a {genre} station.", ("genre",), "AudioPlayer.Play"),
            ("AMAZON.NextIntent", "next", None, (), "AudioPlayer.Play"),
            ("AMAZON.PauseIntent", "pause", None, (), "AudioPlayer.Stop"),
        ],
        "close": "Enjoy {artist}. Goodbye.",
        "purchase": ("purchase", 5, 15),
    },
    "podcasts": {
        "launch": "Welcome to TuneStream Podcasts. Which show would you like?",
        "intents": [
            ("PlayShowIntent", "play {show}", "Here's the latest episode of {show}.", ("show",), "AudioPlayer.Play"),
            ("ResumeIntent", "resume {show}", "Resuming {show} where you left off.", ("show",), "AudioPlayer.Play"),
        ],
        "close": "Enjoy {show}.",
        "purchase": ("purchase", 2, 9),
    },
}

#: Row keys, in the order the turn tuples below carry them.
_TURN_KEYS = ("request_type", "intent", "slots", "utterance", "speech", "reprompt", "card", "directives",
              "end_session")


def _fill(rng: random.Random, names: tuple[str, ...] | None = None) -> dict[str, str]:
    return {k: rng.choice(v) for k, v in _SLOT_VALUES.items() if names is None or k in names}


def _turn_pool(rng: random.Random, skill: str, variants: int) -> dict[str, list[tuple[Any, ...]]]:
    """Rendered turns for one skill: launch, middle (intents) and closing turns, many variants each."""
    script = _SCRIPTS[skill]
    launch = [("LaunchRequest", None, None, None, script["launch"], "What would you like?", None, None, 0)]
    middle, close = [], []
    for _ in range(variants):
        intent, utt, speech, names, directive = rng.choice(script["intents"])
        vals = _fill(rng)
        slots = {k: vals[k] for k in names if "{" + k + "}" in utt} or None
        said = speech.format(**vals) if speech else None
        middle.append(("IntentRequest", intent, _DUMPS(slots) if slots else None, utt.format(**vals), said,
                       "Anything else?" if said else None, None,
                       _DUMPS([directive]) if directive else None, None if directive else 0))
        text = script["close"].format(**vals)
        close.append(("IntentRequest", "AMAZON.YesIntent", None, "yes", text, None,
                      _DUMPS({"type": "Simple", "title": skill.title(), "content": text}), None, 1))
    return {"launch": launch, "middle": middle, "close": close}


def _iso_factory() -> Any:
    cache: dict[int, str] = {}

    def iso(ms: int) -> str:
        minute, rest = divmod(ms, 60_000)
        prefix = cache.get(minute)
        if prefix is None:
            if len(cache) > 4096:
                cache.clear()
            prefix = cache[minute] = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
        return f"{prefix}{rest // 1000:02d}.{rest % 1000:03d}Z"

    return iso


def user_ids(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct user ids shaped like Alexa's (a prefix and a long random tail)."""
    return [f"amzn1.ask.account.{i:06d}{rng.getrandbits(232):058X}" for i in range(n)]


def developers_of(n: int) -> list[tuple[str, float, tuple[str, str]]]:
    """``n`` developers as ``(id, share of traffic, their two skill templates)``, a few big and many small.

    ``n == 4`` is the four example companies (two skills each, the skills' own traffic weights); for
    any other ``n`` the shares follow Zipf's law with exponent 1.1 (of 1,000 developers the biggest
    gets about 18% of the turns, the median one 0.02%, the smallest a handful of turns in 100,000),
    and each developer runs two of the eight skill templates under its own skill names.
    """
    if n == 4:
        return [(d, sum(w for s, w in _SKILL_WEIGHTS.items() if SKILLS[s] == d) / sum(_SKILL_WEIGHTS.values()),
                 tuple(s for s in SKILLS if SKILLS[s] == d)) for d in DEVELOPERS]  # type: ignore[misc]
    templates = list(_SKILL_WEIGHTS)
    return [(f"dev-{k:04d}", 1 / (k + 1) ** 1.1, (templates[k % 8], templates[(k * 3 + 1) % 8])) for k in range(n)]


def generate(rows: int, *, users: int = 100_000, days: int = 90, heavy_users: int = 10,
             heavy_rows: int = 1000, end_ms: int | None = None, seed: int = 7,
             batch: int = 10_000, developers: int = 4) -> Iterator[list[dict[str, Any]]]:
    """Yield batches of transcript row dicts, oldest first, ``rows`` in all.

    Sessions of 1-8 turns; users long-tailed (Pareto); 10% of sessions end with a transaction.
    ``developers`` spreads the sessions over that many developers (see :func:`developers_of`).
    ``heavy_users`` users named ``HEAVY_PREFIX + k`` get exactly ``heavy_rows`` rows each, spread over
    the newer half of the time span (so a retention purge of the oldest days never touches them).
    """
    rng = random.Random(seed)
    uids = user_ids(users, rng)
    weights = [rng.paretovariate(1.1) for _ in uids]
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    skills = list(_SKILL_WEIGHTS)
    pools = {s: _turn_pool(rng, s, 600) for s in skills}
    # What a session picks: (developer, skill name, template, weight).
    if developers == 4:  # the four companies as before, so earlier figures stay comparable
        owners = [(SKILLS[s], s, s, float(_SKILL_WEIGHTS[s])) for s in skills]
    else:  # each developer's two skills split its share 3:1
        owners = [(dev, f"{t}-{dev[4:]}", t, share * part) for dev, share, (first, second) in developers_of(developers)
                  for t, part in ((first, 0.75), (second, 0.25))]
    skill_cum, acc = [], 0.0
    for *_, w in owners:
        acc += w
        skill_cum.append(acc)
    locales = ["en-US"] * 8 + ["en-GB", "en-CA"]
    heavy_rows = min(heavy_rows, max(1, rows // (4 * max(heavy_users, 1))))
    heavy_total = heavy_users * heavy_rows
    heavy_start = rows // 2
    heavy_every = max(1, (rows - heavy_start) // max(heavy_total, 1))
    heavy_ids = [f"{HEAVY_PREFIX}{k:04d}" for k in range(heavy_users)]
    end_ms = end_ms if end_ms is not None else (int(time.time()) // 86400) * 86_400_000
    start_ms = end_ms - days * 86_400_000
    step = days * 86_400_000 / max(rows, 1)
    iso = _iso_factory()
    run = f"{rng.getrandbits(32):08x}"
    req = f"amzn1.echo-api.request.{run}-"
    out: list[dict[str, Any]] = []
    i = 0
    heavy_done = 0
    session_no = 0
    tx_no = 0
    while i < rows:
        # Draw sessions in blocks: the random calls are what costs, so make them with k=.
        block = 512
        who = rng.choices(uids, cum_weights=cum, k=block)
        which = rng.choices(owners, cum_weights=skill_cum, k=block)
        lengths = rng.choices(range(1, 9), weights=(30, 22, 16, 11, 8, 6, 4, 3), k=block)
        for user, (dev, skill, template, _), turns in zip(who, which, lengths, strict=False):
            session_no += 1
            sid = f"amzn1.echo-api.session.{run}-{session_no:010d}"
            pool = pools[template]
            locale = locales[session_no % 10]
            buy = rng.random() < 0.10
            plan = ([pool["launch"][0]] + rng.choices(pool["middle"], k=turns - 1)) if turns > 1 else \
                rng.choices(pool["middle"], k=1)
            if turns > 2 or (turns == 2 and buy):
                plan[-1] = rng.choice(pool["close"])
            for t, turn in enumerate(plan):
                if i >= rows:
                    break
                uid = user
                if i >= heavy_start and heavy_done < heavy_total and (i - heavy_start) % heavy_every == 0:
                    uid = heavy_ids[heavy_done % heavy_users]
                    heavy_done += 1
                rtype, intent, slots, utt, speech, reprompt, card, directives, end = turn
                row = {"created_at": iso(int(start_ms + i * step)), "developer_id": dev, "skill": skill,
                       "user_id": uid, "session_id": sid, "request_id": f"{req}{i:011d}",
                       "request_type": rtype, "intent": intent, "slots": slots, "utterance": utt,
                       "speech": speech, "reprompt": reprompt, "card": card, "directives": directives,
                       "end_session": end, "locale": locale, "latency_ms": round(3.0 + (i % 97) * 0.41, 3),
                       "status": "ok", "capture_mode": "redacted"}
                if buy and t == len(plan) - 1:
                    tx_no += 1
                    kind, lo, hi = _SCRIPTS[template]["purchase"]
                    row["transaction"] = _DUMPS({"kind": kind, "reference": f"{template[:3].upper()}-{tx_no:09d}",
                                                 "amount": f"{rng.randint(lo * 100, hi * 100) / 100:.2f}",
                                                 "currency": "USD", "status": "completed"})
                out.append(row)
                i += 1
                if len(out) >= batch:
                    yield out
                    out = []
            if i >= rows:
                break
    if out:
        yield out
