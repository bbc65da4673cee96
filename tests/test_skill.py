"""Skills: registration, slot injection, routing, built-in defaults, errors and setup rules."""

from __future__ import annotations

import re

import pytest
from conftest import build_greeter, ledger_host, make_envelope

from skills_sdk import ModelError, RegistrationError, Skill, SkillHost, Slot, UnknownRequestType, ask, say


def answer(skill, data, ledger=None):
    host = SkillHost([skill]) if ledger is None else ledger_host([skill], ledger)
    return host.handle(skill.name, data)


def test_decorators_return_the_function_unchanged():
    skill = Skill("demo", developer_id="d")

    def handler(ctx):
        return say("hi")

    assert skill.intent("HiIntent", samples=["hi"])(handler) is handler
    assert skill.launch(handler) is handler
    assert skill.on("AudioPlayer.PlaybackStarted")(handler) is handler


def test_plain_method_twin_registers_the_same_way():
    skill = Skill("demo", developer_id="d")
    skill.add_intent("HiIntent", lambda ctx: say("hi there"), samples=["hi"])
    assert answer(skill, make_envelope(intent="HiIntent")).response.speech == "hi there"


def test_duplicate_intent_raises_naming_both_functions():
    skill = Skill("demo", developer_id="d")

    @skill.intent("HiIntent", samples=["hi"])
    def first(ctx):
        return say("1")

    with pytest.raises(RegistrationError) as info:

        @skill.intent("HiIntent", samples=["hello"])
        def second(ctx):
            return say("2")

    message = str(info.value)
    assert "first" in message and "second" in message and "HiIntent" in message


def test_registration_after_serving_began_raises():
    skill = build_greeter()
    SkillHost([skill])
    with pytest.raises(RegistrationError, match="already started serving"):
        skill.add_intent("LateIntent", lambda ctx: say("late"), samples=["late"])


def test_handler_without_context_parameter_is_refused():
    skill = Skill("demo", developer_id="d")
    with pytest.raises(RegistrationError, match=r"turn context as its first argument"):
        skill.add_launch(lambda: say("x"))


@pytest.mark.parametrize("name", ["", "has space", "semi;colon"])
def test_bad_skill_names_are_refused(name):
    with pytest.raises(RegistrationError):
        Skill(name, developer_id="d")


def test_developer_id_is_required():
    with pytest.raises(RegistrationError, match="developer_id"):
        Skill("s", developer_id="")


def test_slots_are_injected_by_parameter_name(greeter):
    result = answer(greeter, make_envelope(intent="MoodIntent", slots={"mood": "happy"}))
    assert result.response.speech == "Glad to know you are happy."
    assert result.envelope["sessionAttributes"]["mood"] == "happy"


def test_missing_slot_gets_the_declared_default(greeter):
    assert answer(greeter, make_envelope(intent="CountIntent")).response.speech == "1, 2, 3"


def test_int_annotation_converts_the_slot(greeter):
    assert answer(greeter, make_envelope(intent="CountIntent", slots={"n": "5"})).response.speech == "1, 2, 3, 4, 5"


def test_unconvertible_int_slot_falls_back_to_default(greeter):
    assert answer(greeter, make_envelope(intent="CountIntent", slots={"n": "many"})).response.speech == "1, 2, 3"


def test_resolved_value_wins_over_spoken_synonym(greeter):
    data = make_envelope(intent="MoodIntent", slots={"mood": "glad"})
    data["request"]["intent"]["slots"]["mood"]["resolutions"] = {"resolutionsPerAuthority": [
        {"authority": "x", "status": {"code": "ER_SUCCESS_MATCH"}, "values": [{"value": {"name": "happy", "id": "HAPPY"}}]}
    ]}
    assert answer(greeter, data).response.speech == "Glad to know you are happy."


def test_slot_annotation_receives_the_slot_object():
    skill = Skill("demo", developer_id="d")
    seen = {}

    @skill.intent("PickIntent", samples=["pick {thing}"], slots={"thing": "AMAZON.SearchQuery"})
    def pick(ctx, thing: Slot):
        seen["slot"] = thing
        return say("ok")

    answer(skill, make_envelope(intent="PickIntent", slots={"thing": "blue"}))
    assert isinstance(seen["slot"], Slot) and seen["slot"].value == "blue"


def test_handler_receives_turn_context_not_globals(greeter):
    skill = Skill("demo", developer_id="d")
    seen = {}

    @skill.launch
    def launch(ctx):
        seen.update(user=ctx.user_id, locale=ctx.locale, type=ctx.request_type, new=ctx.new_session)
        return say("hi")

    answer(skill, make_envelope("LaunchRequest", user_id="u-42", new=True))
    assert seen == {"user": "u-42", "locale": "en-US", "type": "LaunchRequest", "new": True}


@pytest.mark.parametrize(
    ("intent", "expected", "ends"),
    [
        ("AMAZON.HelpIntent", "You can say", False),
        ("AMAZON.StopIntent", "Goodbye", True),
        ("AMAZON.CancelIntent", "Goodbye", True),
        ("AMAZON.FallbackIntent", "can't help with that", False),
        ("SomethingNobodyRegistered", "can't help with that", False),
    ],
)
def test_builtin_intents_have_sensible_defaults(greeter, intent, expected, ends):
    result = answer(greeter, make_envelope(intent=intent))
    assert expected in result.response.speech
    assert result.envelope["response"]["shouldEndSession"] is ends


def test_skill_overrides_a_builtin():
    skill = Skill("demo", developer_id="d")

    @skill.intent("AMAZON.HelpIntent")
    def help_(ctx):
        return ask("Custom help.")

    assert answer(skill, make_envelope(intent="AMAZON.HelpIntent")).response.speech == "Custom help."


def test_unknown_intent_goes_to_registered_fallback():
    skill = Skill("demo", developer_id="d")

    @skill.fallback
    def fallback(ctx):
        return ask(f"No idea about {ctx.intent_name}.")

    assert answer(skill, make_envelope(intent="Mystery")).response.speech == "No idea about Mystery."


def test_session_ended_gets_an_empty_response(greeter):
    result = answer(greeter, make_envelope("SessionEndedRequest", reason="USER_INITIATED"))
    assert result.envelope["response"] == {}


def test_audio_events_without_handler_get_an_empty_answer(greeter):
    assert answer(greeter, make_envelope("AudioPlayer.PlaybackStarted")).envelope["response"] == {}


def test_unknown_request_type_gets_an_empty_answer_a_row_and_one_warning(greeter, memory_store, caplog):
    caplog.set_level("WARNING", logger="skills_sdk")
    for _ in range(3):
        result = answer(greeter, make_envelope("Totally.NewType"), ledger=memory_store)
        assert result.envelope["response"] == {}
        assert result.transcript["request_type"] == "Totally.NewType" and result.transcript["speech"] is None
    assert memory_store.count() == 3
    warnings = [r for r in caplog.records if "Totally.NewType" in r.getMessage()]
    assert len(warnings) == 1 and "@skill.on('Totally.NewType')" in warnings[0].getMessage()


def test_unknown_request_types_remembered_for_their_warning_stay_bounded(greeter):
    host = SkillHost([greeter])
    for n in range(1000):
        host.handle(greeter.name, make_envelope(f"Made.Up{n:04d}"))

    assert "Made.Up0999" in greeter._warned_types and len(greeter._warned_types) < 1000


def test_malformed_request_type_raises_listing_the_known_types(greeter):
    with pytest.raises(UnknownRequestType, match="SessionResumedRequest") as info:
        answer(greeter, make_envelope("not a type!"))
    assert "CanFulfillIntentRequest" in str(info.value) and "Alexa.DataStore.Error" in str(info.value)


def test_registered_custom_request_type_is_routed():
    skill = Skill("demo", developer_id="d")
    skill.add_request_handler("Totally.NewType", lambda ctx: say("handled"))
    assert answer(skill, make_envelope("Totally.NewType")).response.speech == "handled"


def test_handler_exception_becomes_an_apology_with_error_recorded(greeter, memory_store):
    result = answer(greeter, make_envelope(intent="BoomIntent"), ledger=memory_store)
    assert "Sorry" in result.response.speech
    assert result.transcript["status"] == "error"
    assert result.transcript["error"].startswith("RuntimeError")


def test_custom_error_handler_answers():
    skill = Skill("demo", developer_id="d")

    @skill.intent("BoomIntent", samples=["boom"])
    def boom(ctx):
        raise ValueError("nope")

    @skill.error
    def on_error(ctx, exc):
        return say(f"Handled {type(exc).__name__}.")

    assert answer(skill, make_envelope(intent="BoomIntent")).response.speech == "Handled ValueError."


def test_returning_a_non_response_is_an_error_naming_the_handler():
    skill = Skill("demo", developer_id="d")
    skill.add_intent("BadIntent", lambda ctx: 42, samples=["bad"])
    result = answer(skill, make_envelope(intent="BadIntent"))
    assert result.response.error[0] == "TypeError"
    assert "expected a Response" in result.response.error[1]


def test_returning_a_string_says_it():
    skill = Skill("demo", developer_id="d")
    skill.add_intent("StrIntent", lambda ctx: "plain words", samples=["words"])
    assert answer(skill, make_envelope(intent="StrIntent")).response.speech == "plain words"


def test_wrong_application_id_is_refused():
    from skills_sdk import EnvelopeError

    skill = Skill("demo", developer_id="d", application_id="amzn1.ask.skill.mine")
    with pytest.raises(EnvelopeError, match="configured for"):
        answer(skill, make_envelope("LaunchRequest", application_id="amzn1.ask.skill.other"))


def test_persistent_state_survives_sessions(memory_store):
    skill = Skill("demo", developer_id="d")

    @skill.intent("VisitIntent", samples=["visit"])
    def visit(ctx):
        ctx.state["visits"] = ctx.state.get("visits", 0) + 1
        return say(f"Visit {ctx.state['visits']}.")

    host = ledger_host([skill], memory_store)
    host.handle("demo", make_envelope(intent="VisitIntent", session_id="a"))
    second = host.handle("demo", make_envelope(intent="VisitIntent", session_id="b"))
    assert second.response.speech == "Visit 2."
    other_user = host.handle("demo", make_envelope(intent="VisitIntent", user_id="someone-else"))
    assert other_user.response.speech == "Visit 1."


def test_model_lists_intents_samples_and_types(greeter):
    model = greeter.model
    assert model.invocation_name == "greeter"
    assert model.intent("MoodIntent").slots == {"mood": "Mood"}
    assert model.slot_type("Mood").values[0].synonyms == ("glad", "cheerful")


# -- mistakes caught at registration ------------------------------------------------------------

def _coffee() -> Skill:
    skill = Skill("coffee", developer_id="d", invocation_name="brew bar")
    skill.slot_type("Drink", {"latte": ["cafe latte"], "espresso": []})
    return skill


def test_a_parameter_that_matches_no_slot_is_refused_with_the_closest_name():
    skill = _coffee()

    def order(ctx, drinks=None):
        return say("ok")

    with pytest.raises(RegistrationError) as info:
        skill.add_intent("OrderIntent", order, samples=["order a {drink}"], slots={"drink": "Drink"})
    message = str(info.value)
    assert "test_skill.test_a_parameter_that_matches_no_slot_is_refused_with_the_closest_name.<locals>.order" in message
    assert "parameter 'drinks', which matches no slot" in message
    assert "Did you mean 'drink'?" in message
    assert skill.intents() == []


@pytest.mark.parametrize(("source", "problem", "fix"), [
    ("async def order(ctx, drink=None):\n    return say('ok')", "is `async def`", "Write `def order(ctx, ...)`"),
    ("def order(drink):\n    return say('ok')", "its first parameter 'drink' is a slot", "def order(ctx, drink, ...)"),
    ("def order(*, ctx):\n    return say('ok')", "must take the turn context as its first argument", "def order(ctx, ...)"),
])
def test_handlers_that_cannot_work_are_refused_naming_the_function_the_problem_and_the_fix(source, problem, fix):
    namespace: dict = {"say": say, "__name__": "coffee_skill"}
    exec(compile(source, "coffee_skill.py", "exec"), namespace)
    with pytest.raises(RegistrationError) as info:
        _coffee().add_intent("OrderIntent", namespace["order"], samples=["order a {drink}"], slots={"drink": "Drink"})
    assert "coffee_skill.order" in str(info.value)
    assert problem in str(info.value)
    assert fix in str(info.value)


def test_async_error_handlers_and_middleware_are_refused_too():
    skill = _coffee()

    async def oops(ctx, exc):
        return say("sorry")

    async def timing(ctx, call_next):
        return call_next(ctx)

    with pytest.raises(RegistrationError, match="oops for the error handler is `async def`"):
        skill.error(oops)
    with pytest.raises(RegistrationError, match="timing for middleware of skill 'coffee' is `async def`"):
        skill.use(timing)


def test_a_callable_object_is_judged_by_its_own_call_method():
    skill = _coffee()

    class Timing:
        async def __call__(self, ctx, call_next):
            return call_next(ctx)

    class Logging:
        def __call__(self, ctx, call_next):
            return call_next(ctx)

    with pytest.raises(RegistrationError, match="is `async def`"):
        skill.use(Timing())
    skill.use(Logging())


def test_intent_decorator_without_a_name_says_how_to_write_it():
    skill = _coffee()
    with pytest.raises(RegistrationError, match=r"write @skill.intent\('OrderIntent'"):
        @skill.intent
        def order(ctx):
            return say("ok")


@pytest.mark.parametrize("decorate", [lambda skill: skill.intent(), lambda skill: skill.intent(samples=["a latte"])],
                         ids=["empty", "samples-only"])
def test_intent_decorator_with_parentheses_but_no_name_says_how_to_write_it(decorate):
    skill = _coffee()
    with pytest.raises(RegistrationError, match=r"^@skill.intent needs the intent's name: write "
                                                r"@skill.intent\('OrderIntent', samples=\[...\]\) above def order\(ctx"):
        @decorate(skill)
        def order(ctx):
            return say("ok")
    assert skill.intents() == []


@pytest.mark.parametrize("bare", [True, False], ids=["bare", "empty"])
def test_on_decorator_without_a_request_type_says_how_to_write_it(bare):
    """Bare, the function was replaced by the inner decorator and registered for nothing."""
    skill = _coffee()
    with pytest.raises(RegistrationError, match=r"^@skill.on needs the request type: write "
                                                r"@skill.on\('SessionResumedRequest'\) above def resumed\(ctx"):
        def resumed(ctx):
            return say("welcome back")

        if bare:
            skill.on(resumed)
        else:
            skill.on()(resumed)


@pytest.mark.parametrize("decorator, fix", [("launch", "def welcome(ctx)"), ("session_ended", "def goodbye(ctx)"),
                                            ("fallback", "def fallback(ctx)"), ("can_fulfill", "def can_fulfill(ctx"),
                                            ("error", "def on_error(ctx, exc)"),
                                            ("use", "def middleware(ctx, call_next)")])
def test_a_decorator_called_with_empty_parentheses_says_to_drop_them(decorator, fix):
    with pytest.raises(RegistrationError, match=rf"^@skill.{decorator} takes no parentheses: write "
                                                rf"@skill.{decorator} above {re.escape(fix)}"):
        getattr(_coffee(), decorator)()


def test_a_handler_returning_none_is_answered_for_and_named():
    skill = _coffee()

    @skill.intent("OrderIntent", samples=["order a {drink}"], slots={"drink": "Drink"})
    def order(ctx, drink=None):
        if drink == "latte":
            return say("one latte")

    result = answer(skill, make_envelope(intent="OrderIntent", slots={"drink": "espresso"}))
    assert result.response.error[0] == "TypeError"
    assert "order for 'OrderIntent' returned None (a path through it ends without `return`)" in result.response.error[1]
    assert result.envelope["response"]["outputSpeech"]["ssml"].startswith("<speak>Sorry")


# -- slot values that did not match -------------------------------------------------------------

def test_a_str_parameter_says_whether_the_value_matched_and_carries_its_id():
    from skills_sdk.testing import SkillClient

    skill = _coffee()
    heard = []

    @skill.intent("OrderIntent", samples=["order a {drink}"], slots={"drink": "Drink"})
    def order(ctx, drink: str = "latte"):
        heard.append((drink, drink.matched, drink.id, drink.spoken, drink.er_status))
        if not drink.matched:
            return ask(f"Sorry, we don't serve {drink.spoken}. A latte or an espresso?").elicit_slot("drink")
        return say(f"One {drink}.")

    client = SkillClient(skill)
    client.say("order a cafe latte")
    client.say("order a mocha")
    client.assert_said("we don't serve mocha")
    assert heard == [("latte", True, "LATTE", "cafe latte", "ER_SUCCESS_MATCH"),
                     ("mocha", False, None, "mocha", "ER_SUCCESS_NO_MATCH")]


def test_a_slot_value_declared_without_an_id_resolves_to_its_name_in_capitals():
    from skills_sdk import SlotValue
    from skills_sdk.testing import SkillClient

    skill = Skill("pets", developer_id="acme", invocation_name="pet match")
    skill.slot_type("Animal", [SlotValue("mythical creature", synonyms=("unicorn", "dragon")), "dog"])
    heard = []

    @skill.intent("MatchIntent", samples=["i want a {pet}"], slots={"pet": "Animal"})
    def match(ctx, pet=None):
        heard.append((pet, pet.id))
        return say("Noted.")

    client = SkillClient(skill)
    client.say("i want a unicorn")
    client.say("i want a dog")
    assert heard == [("mythical creature", "MYTHICAL_CREATURE"), ("dog", "DOG")]
    assert client.last.request["request"]["intent"]["slots"]["pet"]["resolutions"]["resolutionsPerAuthority"][0][
        "values"] == [{"value": {"name": "dog", "id": "DOG"}}]


DRINK = _coffee().model.types[0]
SIZE = _coffee().slot_type("Size", ["small", "large"])


def test_a_parameter_annotated_with_its_slot_type_gets_the_same_and_must_agree_with_the_slot():
    skill = _coffee()
    seen = []

    @skill.intent("OrderIntent", samples=["order a {drink}"], slots={"drink": "Drink"})
    def order(ctx, drink: DRINK = None):
        seen.append((drink, drink.matched))
        return say("ok")

    answer(skill, make_envelope(intent="OrderIntent", slots={"drink": "espresso"}))
    assert seen == [("espresso", False)]  # no resolutions in this envelope: nothing matched

    def mixed_up(ctx, drink: SIZE = None):
        return say("ok")

    with pytest.raises(RegistrationError, match="annotated with slot type 'Size', but slot 'drink' is declared as 'Drink'"):
        _coffee().add_intent("OrderIntent", mixed_up, samples=["order a {drink}"], slots={"drink": "Drink"})


def test_a_number_annotation_on_a_slot_whose_type_has_only_words_is_refused_whichever_comes_first():
    def order(ctx, drink: int = None):
        return say(f"ok {drink}")

    words = (r"parameter 'drink' is annotated int, but slot 'drink' has type 'Drink', whose values are words "
             r"\('latte', 'espresso'\), so it would always be None\. Annotate it str")
    with pytest.raises(RegistrationError, match=words):  # the type declared before the intent
        _coffee().add_intent("OrderIntent", order, samples=["order a {drink}"], slots={"drink": "Drink"})
    later = Skill("coffee", developer_id="d", invocation_name="brew bar")
    later.add_intent("OrderIntent", order, samples=["order a {drink}"], slots={"drink": "Drink"})
    with pytest.raises(RegistrationError, match=words):  # the type declared after it
        later.slot_type("Drink", {"latte": ["cafe latte"], "espresso": []})

    counted = Skill("coffee", developer_id="d", invocation_name="brew bar")  # a type of numbers is fine
    counted.slot_type("Shots", ["1", "2", "3"])
    seen = []

    @counted.intent("ShotsIntent", samples=["{shots} shots"], slots={"shots": "Shots"})
    def shots(ctx, shots: int = None):
        seen.append(shots)
        return say("ok")

    answer(counted, make_envelope(intent="ShotsIntent", slots={"shots": "2"}))
    assert seen == [2]


def test_registering_something_that_is_not_a_function_names_it_and_the_fix():
    with pytest.raises(RegistrationError, match=r"LaunchRequest: got 'welcome', which is not a function"):
        _coffee().add_launch("welcome")


def test_a_slot_type_object_stands_for_its_name_in_slots():
    from skills_sdk.dialog import required

    skill = Skill("cafe", developer_id="d", invocation_name="corner cafe")
    Drink = skill.slot_type("Drink", {"latte": []})

    @skill.intent("OrderIntent", samples=["order {drink}"], slots={"drink": Drink})
    def order(ctx, drink: Drink = None):
        return say(f"one {drink}")

    @skill.intent("RefillIntent", samples=["refill {drink}"], slots={"drink": required(Drink, "Which drink?")})
    def refill(ctx, drink: Drink = None):
        return say(f"more {drink}")

    assert skill.model.intent("OrderIntent").slots == {"drink": "Drink"}
    assert skill.model.intent("RefillIntent").slots == {"drink": "Drink"}


def test_a_slot_type_that_is_not_a_name_is_refused_saying_what_to_give():
    skill = Skill("cafe", developer_id="d", invocation_name="corner cafe")
    with pytest.raises(RegistrationError, match=r"Slot 'drink' of intent 'OrderIntent' has type 3; give the slot type's name"):
        skill.add_intent("OrderIntent", lambda ctx, drink=None: say("ok"), samples=["order {drink}"], slots={"drink": 3})



def test_a_model_is_validated_once_until_it_changes(monkeypatch):
    import skills_sdk.nlu as nlu

    seen = []
    real = nlu.validate_model
    monkeypatch.setattr(nlu, "validate_model", lambda model: (seen.append(len(model.intents)), real(model)))
    skill = Skill("pizza", developer_id="acme", invocation_name="pizza shop")

    @skill.intent("OrderIntent", samples=["order a pizza"])
    def order(ctx):
        return say("Ordered.")

    skill.pipeline()  # serving starts: the model the registration checked is not analysed again
    assert seen == [1]

    other = Skill("coffee", developer_id="acme", invocation_name="coffee corner")
    other.add_intent("OrderIntent", order, samples=["order a coffee"])
    with pytest.raises(ModelError, match="cannot be told apart"):  # a changed model is checked again
        other.add_intent("BrewIntent", order, samples=["order a coffee"])
    assert seen == [1, 1, 2]
