"""The testing toolkit: request builders for every type, SkillClient conversations, assertions that show the chat."""

from __future__ import annotations

import json
import re

import pytest
import responses
from conftest import DELEGATING_SKILL, make_envelope

from example_skills import partner_session, pizza
from skills_sdk import Skill, ask, empty, say
from skills_sdk.envelope import load_request
from skills_sdk.testing import (
    SkillClient,
    audio_player_request,
    exception_encountered_request,
    intent_request,
    launch_request,
    playback_controller_request,
    session_ended_request,
    skill_event_request,
    slot_object,
)
from skills_sdk.transcripts import TranscriptStore

PIZZA_ORDERS = "https://api.pizzapronto.example/v1/orders"


def build_barista() -> Skill:
    """A small coffee skill: a slot type, a dialog that elicits, session attributes, a transaction."""
    skill = Skill("barista", developer_id="dev-barista", invocation_name="corner cafe")
    skill.slot_type("Drink", {"latte": ["cafe latte"], "espresso": [], "flat white": []})
    skill.slot_type("Size", {"small": [], "large": ["big"]})

    @skill.launch
    def hello(ctx):
        ctx.session["visits"] = ctx.session.get("visits", 0) + 1
        return ask("Welcome to the corner cafe. What can I get you?", "What would you like?")

    @skill.intent("OrderIntent", samples=["a {size} {drink}", "order a {drink}", "i want a {drink}"],
                  slots={"drink": "Drink", "size": "Size"})
    def order(ctx, drink=None, size=None):
        if not drink:
            return say("Which drink?").elicit_slot("drink")
        if not size:
            ctx.session["drink"] = drink
            return say(f"What size of {drink}?").elicit_slot("size")
        return (say(f"One {size} {drink}, that's 4 dollars.").card("Your order", f"{size} {drink}")
                .transaction("coffee", "C-1", "4.00").end())

    @skill.intent("CountIntent", samples=["{n} shots"], slots={"n": "AMAZON.NUMBER"})
    def count(ctx, n: int = 1):
        return ask(f"{n} shots it is. Anything else?")

    @skill.intent("MenuIntent", samples=["what is on the menu"])
    def menu(ctx):
        data = ctx.http.get("https://api.cafe.example/v1/menu", timeout=2).json()
        return ask("Today we have " + " and ".join(data["drinks"]) + ".")

    @skill.on("AudioPlayer.PlaybackNearlyFinished")
    def nearly(ctx):
        ctx.state["nearly"] = ctx.request.raw.get("token")
        return empty()

    @skill.intent("BoomIntent", samples=["break it"])
    def boom(ctx):
        raise RuntimeError("kaput")

    return skill


@pytest.fixture
def client():
    return SkillClient(build_barista())


# -- builders -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "rtype", "has_session"),
    [
        (launch_request(), "LaunchRequest", True),
        (intent_request("OrderIntent", {"drink": "latte"}, dialog_state="IN_PROGRESS"), "IntentRequest", True),
        (session_ended_request("ERROR", error={"type": "INVALID_RESPONSE", "message": "x"}), "SessionEndedRequest",
         True),
        (audio_player_request("PlaybackStarted", token="t1"), "AudioPlayer.PlaybackStarted", False),
        (audio_player_request("AudioPlayer.PlaybackFailed", token="t1", offset_ms=5), "AudioPlayer.PlaybackFailed",
         False),
        (playback_controller_request("PauseCommandIssued"), "PlaybackController.PauseCommandIssued", False),
        (skill_event_request("SkillDisabled", persistence="PERSISTED"), "AlexaSkillEvent.SkillDisabled", False),
        (skill_event_request("AlexaSkillEvent.SkillEnabled"), "AlexaSkillEvent.SkillEnabled", False),
        (exception_encountered_request(), "System.ExceptionEncountered", False),
    ],
)
def test_every_builder_makes_an_envelope_that_loads(body, rtype, has_session):
    env = load_request(body)
    assert env.request.type == rtype
    assert (env.session is not None) is has_session
    assert env.user_id == "amzn1.ask.account.test-user"
    assert env.system.device.device_id and env.system.api_endpoint == "https://api.amazonalexa.com"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", env.request.timestamp)
    assert env.request.locale == "en-US" and env.request.request_id.startswith("amzn1.echo-api.request.")


def test_session_builders_fill_the_session_block():
    body = launch_request(user_id="amzn1.ask.account.A", session_id="S1", attributes={"k": 1})
    env = load_request(body)
    assert env.session.new and env.session.session_id == "S1" and env.session.attributes == {"k": 1}
    assert env.session.user.user_id == "amzn1.ask.account.A"


def test_skill_event_carries_the_persistence_status():
    body = skill_event_request("SkillDisabled", persistence="PERSISTED")
    assert body["request"]["body"] == {"userInformationPersistenceStatus": "PERSISTED"}
    assert "session" not in body


@pytest.mark.parametrize(
    ("said", "status", "resolved", "slot_id"),
    [("big", "ER_SUCCESS_MATCH", "large", "LARGE"), ("Large", "ER_SUCCESS_MATCH", "large", "LARGE"),
     ("gigantic", "ER_SUCCESS_NO_MATCH", None, None)],
)
def test_plain_slot_values_resolve_against_the_skills_slot_types(said, status, resolved, slot_id):
    model = build_barista().model
    env = load_request(intent_request("OrderIntent", {"size": said, "drink": "latte"}, model=model))
    slot = env.request.intent.slots["size"]
    assert (slot.value, slot.er_status, slot.resolved, slot.id) == (said, status, resolved, slot_id)


def test_unfilled_slots_are_sent_empty_and_builtin_types_carry_no_resolutions():
    model = build_barista().model
    body = intent_request("OrderIntent", {"drink": "espresso"}, model=model)
    assert body["request"]["intent"]["slots"]["size"] == {"name": "size", "confirmationStatus": "NONE"}
    number = intent_request("CountIntent", {"n": 2}, model=model)["request"]["intent"]["slots"]["n"]
    assert number["value"] == "2" and "resolutions" not in number


def test_a_slot_the_intent_does_not_declare_is_refused_with_its_real_slots():
    with pytest.raises(ValueError, match=r"no slot 'colour'.*'drink', 'size'"):
        intent_request("OrderIntent", {"colour": "red"}, model=build_barista().model)


def test_a_misspelled_intent_is_refused_naming_the_one_meant():
    with pytest.raises(ValueError, match=r"no intent 'OderIntent'\. Did you mean 'OrderIntent'\?"):
        intent_request("OderIntent", {"drink": "latte"}, model=build_barista().model)
    # A name unlike any of the model's is how a test sends an intent the skill lacks (to its fallback).
    assert intent_request("BookFlightIntent", model=build_barista().model)["request"]["intent"]["name"] == "BookFlightIntent"


def test_a_line_that_falls_to_the_fallback_names_the_intents_nothing_said_reaches():
    skill = Skill("coffee", developer_id="d", invocation_name="brew bar")

    @skill.intent("OrderIntent")  # no samples: allowed, a test may send it by name
    def order(ctx):
        return say("One coffee.")

    client = SkillClient(skill)
    client.say("order a coffee")
    with pytest.raises(AssertionError) as info:
        client.assert_said("One coffee.")
    assert "hint: 'OrderIntent' has no samples, so nothing said reaches it." in str(info.value)
    assert "@skill.intent('OrderIntent', samples=[...])" in str(info.value)
    client.intent("OrderIntent")
    client.assert_said("One coffee.")
    assert "hint" not in client.conversation_log().splitlines()[-1]  # sent by name: no hint on that turn


def test_no_hint_when_every_custom_intent_has_samples(client):
    client.say("book me a flight")
    assert client.last.intent == "AMAZON.FallbackIntent" and client.last.turn.hint is None


@pytest.mark.parametrize("bad", [{"dialog_state": "DONE"}, {"confirmation": "MAYBE"}])
def test_builders_reject_values_the_platform_never_sends(bad):
    with pytest.raises(ValueError, match="must be one of"):
        intent_request("OrderIntent", **bad)


def test_slot_object_from_an_nlu_match_keeps_its_resolution():
    from skills_sdk.simulator import matcher_for

    match = matcher_for(pizza.create_skill()).match("order a big pepperoni pizza").slots["size"]
    slot = slot_object("size", match=match)
    assert slot["value"] == "big"
    assert slot["resolutions"]["resolutionsPerAuthority"][0]["values"] == [{"value": {"name": "large", "id": "LARGE"}}]


# -- conversations --------------------------------------------------------------------------------


def test_open_invocation_name_is_a_launch_in_a_new_session(client):
    reply = client.say("open corner cafe")
    assert reply.request["request"]["type"] == "LaunchRequest"
    assert reply.request["session"]["new"] is True
    assert reply.speech == "Welcome to the corner cafe. What can I get you?" and reply.ended is False


def test_session_attributes_and_id_carry_until_the_session_ends(client):
    first = client.say("open corner cafe")
    second = client.say("order a latte")
    assert second.request["session"]["new"] is False
    assert second.request["session"]["sessionId"] == first.request["session"]["sessionId"]
    assert second.request["session"]["attributes"] == {"visits": 1}
    assert client.session == {"visits": 1, "drink": "latte"}
    third = client.say("big")  # answers the ElicitSlot: not a sample, so the text fills 'size'
    assert third.intent == "OrderIntent" and third.slots["size"]["resolved"] == "large"
    assert third.slots["drink"]["value"] == "latte"  # the slots gathered so far are sent again
    assert third.request["request"]["dialogState"] == "IN_PROGRESS"
    assert third.ended is True
    fourth = client.say("open corner cafe")
    assert fourth.request["session"]["new"] is True
    assert fourth.request["session"]["sessionId"] != first.request["session"]["sessionId"]
    assert fourth.request["session"]["attributes"] == {}


def test_text_is_matched_normally_even_while_a_slot_is_elicited(client):
    client.say("order a latte")
    reply = client.say("3 shots")
    assert reply.intent == "CountIntent" and reply.slots["n"]["value"] == "3"


def test_an_elicited_number_slot_takes_spoken_numbers():
    skill = Skill("counter", developer_id="d", invocation_name="counter")

    @skill.intent("SetIntent", samples=["set it to {n}"], slots={"n": "AMAZON.NUMBER"})
    def set_(ctx, n: int = 0):
        return say(f"Set to {n}.") if n else say("To what?").elicit_slot("n")

    client = SkillClient(skill)
    client.intent("SetIntent")
    client.say("twenty two")
    client.assert_said("Set to 22.")


def test_new_session_and_end_start_a_fresh_session(client):
    client.launch()
    assert client.end().request["request"]["reason"] == "USER_INITIATED"
    again = client.intent("OrderIntent", drink="espresso", size="small")
    assert again.request["session"]["new"] is True and again.request["session"]["attributes"] == {}
    client.new_session()
    assert client.intent("CountIntent", n=2).request["session"]["new"] is True


def test_events_go_outside_the_session_and_reach_their_handler(client):
    client.launch()
    reply = client.request("AudioPlayer.PlaybackNearlyFinished", token="t1", offset_ms=1000)
    assert "session" not in reply.request and reply.request["request"]["offsetInMilliseconds"] == 1000
    assert reply.speech is None
    assert client.host.store.load_state("dev-barista", "barista", client.user_id) == {"nearly": "t1"}
    assert client.say("order a latte").request["session"]["new"] is False  # the session went on


def test_the_utterance_is_recorded_in_the_transcript(client):
    reply = client.say("open corner cafe")
    assert reply.transcript["utterance"] == "open corner cafe"
    rows = client.transcripts()
    assert [r["utterance"] for r in rows] == ["open corner cafe"]
    assert rows[0]["developer_id"] == "dev-barista"


def test_a_handler_that_raises_is_an_apology_with_the_error_recorded(client):
    reply = client.say("break it")
    assert reply.error == "RuntimeError: kaput"
    assert reply.transcript["status"] == "error"


def test_clients_share_a_store_but_see_only_their_own_users_rows():
    store = TranscriptStore(":memory:")
    alice = SkillClient(build_barista(), store=store, user_id="amzn1.ask.account.alice")
    bob = SkillClient(build_barista(), store=store, user_id="amzn1.ask.account.bob")
    alice.launch()
    bob.launch()
    bob.say("order a latte")
    assert len(alice.transcripts()) == 1 and len(bob.transcripts()) == 2


# -- assertions -----------------------------------------------------------------------------------


def test_assertions_pass_on_a_completed_order(client):
    client.say("a big flat white")
    client.assert_said("one large flat white")
    client.assert_said(re.compile(r"\d dollars"))
    client.assert_card("Your order", "large flat white")
    client.assert_transaction("coffee", "4.0", currency="USD", reference="C-1")
    client.assert_ended()


def test_assert_directive_matches_type_and_fields(client):
    client.say("order a latte")
    client.assert_directive("Dialog.ElicitSlot", slotToElicit="size")
    client.assert_ended(False)
    with pytest.raises(AssertionError, match="slotToElicit='drink'"):
        client.assert_directive("Dialog.ElicitSlot", slotToElicit="drink")


@pytest.mark.parametrize(
    ("check", "needle"),
    [
        (lambda c: c.assert_said("cappuccino"), "Expected the skill to say 'cappuccino'"),
        (lambda c: c.assert_card("Receipt"), "the reply has no card"),
        (lambda c: c.assert_directive("AudioPlayer.Play"), "Expected a AudioPlayer.Play directive"),
        (lambda c: c.assert_ended(), "Expected the session to end"),
        (lambda c: c.assert_transaction("coffee"), "the reply has no transaction"),
    ],
)
def test_a_failed_assertion_shows_the_whole_conversation(client, check, needle):
    client.say("open corner cafe")
    client.say("order a latte")
    with pytest.raises(AssertionError) as info:
        check(client)
    message = str(info.value)
    assert needle in message
    assert "Conversation with skill 'barista' (2 turns)" in message
    assert re.search(r"user +> 'open corner cafe'  \[LaunchRequest\]", message)
    assert "barista < 'Welcome to the corner cafe. What can I get you?'" in message
    assert "'order a latte'  [OrderIntent drink=latte]" in message
    assert "'What size of latte?'  [Dialog.ElicitSlot size]  (session open)" in message


def test_asserting_before_any_request_says_what_to_do(client):
    with pytest.raises(AssertionError, match="Nothing was sent"):
        client.assert_said("hi")


# -- partners -------------------------------------------------------------------------------------


def test_partner_calls_are_mocked_with_responses(client):
    with responses.RequestsMock() as mock:
        mock.get("https://api.cafe.example/v1/menu", json={"drinks": ["latte", "mocha"]})
        client.say("what is on the menu")
    client.assert_said("Today we have latte and mocha.")


def test_pizza_order_through_the_embedded_partner_stand_in():
    client = SkillClient(pizza.create_skill(), http=partner_session())
    client.say("open pizza shop")
    client.say("order a large pizza")
    client.assert_said("A large pizza. Which topping would you like?")
    assert client.conversation.elicited_slot == "topping"
    client.say("mushrooms")
    client.assert_said("A large pizza with mushrooms. Shall I place the order?")
    client.say("yes")
    client.assert_said("is on its way")
    client.assert_transaction("pizza_order", currency="USD")
    client.assert_ended()
    assert client.transcripts()[-1]["transaction"]["kind"] == "pizza_order"


def test_pizza_order_with_the_partner_mocked_by_responses():
    client = SkillClient(pizza.create_skill())
    with responses.RequestsMock() as mock:
        mock.post(PIZZA_ORDERS, json={"id": "pz_42", "total_cents": 2350, "eta_minutes": 25, "currency": "USD"})
        client.intent("OrderPizzaIntent", size="big", topping="olives", quantity=2, confirmation="CONFIRMED")
        sent = mock.calls[0].request
    assert b'"size": "large"' in sent.body and b'"black olives"' in sent.body and b'"quantity": 2' in sent.body
    client.assert_said("2 large hand tossed pizzas with black olives")
    client.assert_transaction("pizza_order", "23.50", reference="pz_42")


def test_a_pizza_partner_outage_is_an_honest_apology():
    client = SkillClient(pizza.create_skill())
    with responses.RequestsMock() as mock:
        mock.post(PIZZA_ORDERS, status=503, json={"error": {"code": "unavailable", "message": "down"}})
        client.say("order a small ham pizza")
        client.say("yes")
    client.assert_said("isn't answering right now, so nothing was ordered")
    assert client.last.transcript["status"] == "error" and client.last.transaction is None


def test_the_conversation_log_shows_each_partner_call_and_what_came_of_it():
    # The skill answers a failed call politely: only the log tells the test it matched no mock.
    client = SkillClient(pizza.create_skill())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("https://api.pizzapronto.example/v1/menu", json={})
        client.say("order a small ham pizza")
        client.say("yes")
    log = client.conversation_log()
    assert f"partner: POST {PIZZA_ORDERS} -> ConnectionError: Connection refused by Responses" in log
    assert "- GET https://api.pizzapronto.example/v1/menu" in log  # what was registered, as responses lists it
    with pytest.raises(AssertionError, match="partner: POST"):
        client.assert_said("is on its way")



def test_a_yes_to_a_confirmation_alexa_would_not_take_says_why_it_reached_the_fallback():
    """confirm_intent() on an intent with no dialog model: the yes went to the fallback, the hint named another intent."""
    def order(ctx, size=None):
        if ctx.request.intent.confirmation_status == "NONE":
            return say(f"A {size} pizza. Shall I order it?").confirm_intent()
        return say("Ordered.")

    for modelled in (False, True):
        skill = Skill("conf", developer_id="d", invocation_name="pizza place")
        skill.slot_type("Size", ["small", "large"])
        extra = {"confirm": "A {size} pizza. Shall I order it?", "delegation": "SKILL_RESPONSE"} if modelled else {}
        skill.add_intent("OrderPizzaIntent", order, samples=["order a {size} pizza"], slots={"size": "Size"}, **extra)
        skill.add_intent("SecretIntent", lambda ctx: say("secret"))  # no samples: the hint named it before
        client = SkillClient(skill)
        client.say("order a large pizza")
        client.say("yes")
        if modelled:
            client.assert_said("Ordered.")
            continue
        with pytest.raises(AssertionError) as info:
            client.assert_said("Ordered.")
        assert ("hint: the skill answered OrderPizzaIntent with Dialog.ConfirmIntent, but 'OrderPizzaIntent' has no "
                "dialog model, so Alexa does not take the directive") in str(info.value)
        assert "SecretIntent' has no samples" not in str(info.value)


def test_a_test_reads_and_seeds_the_users_saved_state_through_the_client():
    skill = Skill("basket", developer_id="d", invocation_name="basket helper")

    @skill.intent("AddIntent", samples=["add {item}"], slots={"item": "AMAZON.Food"})
    def add(ctx, item=None):
        ctx.state["basket"] = [*ctx.state.get("basket", []), item]
        return ask(f"{len(ctx.state['basket'])} things. What else?")

    client = SkillClient(skill)
    assert client.state == {}
    client.set_state({"basket": ["bread"]})  # a returning user
    client.say("add milk")
    client.assert_said("2 things")
    assert client.state == {"basket": ["bread", "milk"]}


def test_the_log_marks_a_slot_value_its_type_did_not_know():
    """'order chamomile tea' [OrderIntent kind=chamomile] read like a match, and the elicit after it unexplained."""
    skill = Skill("tea", developer_id="d", invocation_name="tea shop")
    skill.slot_type("Kind", {"green": ["sencha"], "black": []})

    @skill.intent("OrderIntent", samples=["order {kind} tea"], slots={"kind": "Kind"})
    def order(ctx, kind=None):
        return say("ok")

    client = SkillClient(skill)
    client.say("order chamomile tea")
    client.say("order sencha tea")
    client.intent("OrderIntent", kind="chamomile")
    log = client.conversation_log()
    assert "'order chamomile tea'  [OrderIntent kind=chamomile (no match)]" in log
    assert "'order sencha tea'  [OrderIntent kind=green]" in log
    assert "(intent OrderIntent kind=chamomile (no match))" in log


def test_an_answer_past_alexas_limits_fails_the_turn_naming_the_limit():
    story = Skill("story", developer_id="dev-story", invocation_name="story time")

    @story.intent("ReadIntent", samples=["read"])
    def read(ctx):
        return say("Once upon a time. " * 500)  # 9,000 characters, and the SSML's <speak> tags

    @story.intent("KeepIntent", samples=["keep"])
    def keep(ctx):
        ctx.session["pages"] = ["word " * 100] * 60  # 30 KB of session attributes
        return ask("Kept.", "What next?")

    client = SkillClient(story)
    with pytest.raises(AssertionError) as failed:
        client.say("read")
    assert re.search(r"the speech is 9,0\d\d characters; Alexa speaks at most 8,000", str(failed.value))
    client = SkillClient(story)
    with pytest.raises(AssertionError) as failed:
        client.say("keep")
    message = str(failed.value)
    assert "Alexa takes at most 24,576 (24 KB)" in message and "sessionAttributes 30," in message
    assert "user  > 'keep'" in message  # the conversation so far, as every failure shows it


def test_the_server_logs_an_answer_past_alexas_limits(caplog):
    from skills_sdk.host import SkillHost

    big = Skill("big", developer_id="dev-big", invocation_name="big talk")
    big.launch(lambda ctx: say("word " * 2000))
    host = SkillHost([big])
    with caplog.at_level("WARNING", logger="skills_sdk"):
        host.handle_json("big", json.dumps(make_envelope("LaunchRequest")))
    assert "past Alexa's limits" in caplog.text and re.search(r"the speech is 10,0\d\d characters", caplog.text)
    caplog.clear()
    small = Skill("small", developer_id="dev-small", invocation_name="small talk")
    small.launch(lambda ctx: say("Hi."))
    SkillHost([small]).handle_json("small", json.dumps(make_envelope("LaunchRequest")))
    assert "past Alexa's limits" not in caplog.text


def test_a_device_that_plays_no_audio_can_be_simulated():
    radio = Skill("radio", developer_id="dev-radio", invocation_name="jingle radio")

    @radio.intent("PlayIntent", samples=["play the radio"])
    def play(ctx):
        if "AudioPlayer" not in ctx.envelope.system.device.supported_interfaces:
            return say("This device can't play the radio. Try an Echo.")
        return say("Playing.").play("https://radio.example/live.mp3", token="live")

    echo = SkillClient(radio)
    echo.say("play the radio")
    echo.assert_directive("AudioPlayer.Play")
    screenless = SkillClient(radio, interfaces={})
    screenless.say("play the radio")
    screenless.assert_said("can't play the radio")
    assert screenless.last.request["context"]["System"]["device"]["supportedInterfaces"] == {}


def test_the_conversation_log_shows_what_a_purchase_came_back_with():
    shop = Skill("shop", developer_id="dev-shop", invocation_name="fact shop")
    shop.launch(lambda ctx: ask("Welcome.", "What next?"))

    @shop.on("Connections.Response")
    def bought(ctx):
        return say("Thanks.")

    client = SkillClient(shop)
    client.request("Connections.Response", name="Buy", status={"code": "200", "message": "OK"},
                   payload={"purchaseResult": "DECLINED", "productId": "amzn1.adg.product.sci"}, token="buy")
    assert "(Connections.Response name=Buy token=buy purchaseResult=DECLINED)" in client.conversation_log()


def test_the_log_shows_the_words_of_a_turn_the_skill_delegated_and_the_dialog_completed():
    module: dict = {}
    exec(DELEGATING_SKILL, module)
    skill = module["skill"]

    client = SkillClient(skill)
    client.say("book a table on the window")
    client.say("four")
    assert client.last.delegated is not None  # the skill delegated, then got the completed intent
    assert "  user   > 'four'  [BookIntent area=window people=4 dialogState=COMPLETED]" in client.conversation_log()
