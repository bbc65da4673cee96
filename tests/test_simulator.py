"""The text simulator: POST /simulate/<skill>, skills say, skills chat and skills model export."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner
from conftest import DELEGATING_SKILL, example_app

from example_skills import SKILL_MODULES
from skills_sdk.cli import main
from skills_sdk.simulator import ConversationCache
from skills_sdk.transcripts import TranscriptStore


@pytest.fixture(scope="module")
def app():
    return example_app(store=TranscriptStore(":memory:"))


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["skills_sdk"]["store"]


# -- POST /simulate ---------------------------------------------------------------------------------


def test_simulate_answers_speech_nlu_and_the_transcript_row(http, store):
    def turn(text):
        return http.post("/simulate/pizza", json={"text": text, "user_id": "amzn1.ask.account.sim-1",
                                                  "session_id": "s-1"}).get_json()

    body = turn("ask pizza shop for a large pepperoni pizza")
    assert body["nlu"]["intent"] == "OrderPizzaIntent"
    assert body["nlu"]["slots"]["size"] == {"value": "large", "resolved": "large", "id": "LARGE",
                                            "status": "ER_SUCCESS_MATCH"}
    # The dialog model confirms the order itself: nothing reaches the skill, no row is written.
    assert body["speech"] == "A large pizza with pepperoni. Shall I place the order?"
    assert (body["spoken_by"], body["dialog_state"], body["transcript"]) == ("dialog", "STARTED", None)
    assert body["end_session"] is False and store.count() == 0
    body = turn("yes")
    assert (body["spoken_by"], body["dialog_state"], body["confirmation"]["intent"]) == ("skill", "COMPLETED", "CONFIRMED")
    row = body["transcript"]
    assert row["utterance"] == "yes" and row["user_id"] == "amzn1.ask.account.sim-1"
    assert store.get(row["id"])["speech"] == body["speech"] and "on its way" in body["speech"]


def test_simulate_keeps_a_named_sessions_dialog_between_calls(http):
    def turn(text):
        return http.post("/simulate/pizza", json={"text": text, "session_id": "sim-session-1"}).get_json()

    assert turn("open pizza shop")["transcript"]["session_id"] == "sim-session-1"
    assert turn("order a small pizza")["speech"] == "A small pizza. Which topping would you like?"
    assert turn("bacon")["speech"] == "A small pizza with bacon. Shall I place the order?"
    done = turn("yes")
    assert done["end_session"] is True and done["transaction"]["kind"] == "pizza_order"
    assert done["transcript"]["user_id"] == "simulator-user" and done["transcript"]["session_id"] == "sim-session-1"
    assert turn("bacon")["nlu"]["intent"] == "AMAZON.FallbackIntent"  # the ended session's dialog was forgotten


def test_without_a_session_id_each_call_is_a_new_session(http):
    http.post("/simulate/pizza", json={"text": "order a small pizza"})
    body = http.post("/simulate/pizza", json={"text": "bacon"}).get_json()
    assert body["nlu"]["intent"] == "AMAZON.FallbackIntent"  # no question was pending: nothing was carried


def test_simulate_takes_a_locale(http):
    body = http.post("/simulate/pizza", json={"text": "öffne pizza laden", "locale": "de-DE"}).get_json()
    assert body["speech"].startswith("Willkommen beim Pizza Laden") and body["transcript"]["locale"] == "de-DE"
    bad = http.post("/simulate/pizza", json={"text": "hi", "locale": "german"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "locale"


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        (b"not json", "invalid_json", None),
        (b"[1, 2]", "invalid_body", None),
        (b"{}", "invalid_field", "text"),
        (b'{"text": 42}', "invalid_field", "text"),
        (b'{"text": "   "}', "invalid_field", "text"),
        (json.dumps({"text": "order " * 200}).encode(), "invalid_field", "text"),
        (b'{"text": "hi", "user_id": 7}', "invalid_field", "user_id"),
        (b'{"text": "hi", "session_id": ""}', "invalid_field", "session_id"),
    ],
)
def test_bad_simulate_input_is_a_400_naming_the_field(http, store, data, code, field):
    before = store.count()
    resp = http.post("/simulate/pizza", data=data, content_type="application/json")
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == code and error.get("field") == field
    if field is not None:  # the shape every endpoint's 4xx shares: what is wrong, by name
        assert list(error["fields"]) == [field] and error["fields"][field] == [error["message"]]
    else:  # the body as a whole is wrong, named "(body)" as /alexa names it
        assert list(error["fields"]) == ["(body)"]
    assert store.count() == before


def test_simulate_an_unknown_skill_is_a_404_listing_the_hosted_ones(http):
    resp = http.post("/simulate/pasta", json={"text": "hi"})
    assert resp.status_code == 404
    assert "grocery, music, pizza, ride" in resp.get_json()["error"]["message"]


def test_simulate_is_off_on_a_verifying_server():
    app = example_app(store=TranscriptStore(":memory:"), verify=True, verifier=object(),
                      test_config={"SKILLS_ANY_APPLICATION": True})
    resp = app.test_client().post("/simulate/pizza", json={"text": "open pizza shop"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "simulator_disabled"


def test_the_conversation_cache_forgets_the_least_recently_used():
    cache = ConversationCache(limit=2)
    made = []

    def make(key):
        return lambda: made.append(key) or key

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, make(key))
    assert made == ["a", "b", "c", "b"] and len(cache) == 2


# -- skills say / chat ------------------------------------------------------------------------------


def test_skills_say_prints_the_answer_and_the_transcript_row(tmp_path):
    db = str(tmp_path / "t.db")
    result = CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db, "--user", "u-cli"])
    assert result.exit_code == 0, result.output
    assert "pizza:      Welcome to Pizza Shop." in result.output
    assert "reprompt:   What pizza would you like?" in result.output
    assert "transcript: #1" in result.output and "utterance='open pizza shop'" in result.output
    assert TranscriptStore(db).user_history("u-cli")[0]["utterance"] == "open pizza shop"


def test_skills_say_names_an_intent_without_samples_when_a_line_falls_to_the_fallback(tmp_path, monkeypatch):
    (tmp_path / "unheard_skill.py").write_text(UNDECLARED_TYPE.replace('samples=["order {drink}"], ', "").replace('"Drinks"', '"Drink"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", "coffee", "order latte", "--skills", "unheard_skill:skill",
                                       "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output
    assert "heard:      AMAZON.FallbackIntent" in result.output
    assert "hint:       'OrderIntent' has no samples, so nothing said reaches it." in result.output


@pytest.mark.parametrize("answer", ["Hello from the first.", "Hello from the second."])
def test_each_test_gets_its_own_module_of_a_name_another_test_wrote(tmp_path, monkeypatch, answer):
    # Two tests each write cafe_of_the_test.py into their own folder: the second must not be given the first's
    # module, still in sys.modules (tests/conftest.py forgets a module a test wrote once it ends).
    (tmp_path / "cafe_of_the_test.py").write_text(
        "from skills_sdk import Skill, say\n"
        "skill = Skill('cafe', developer_id='d', invocation_name='corner cafe')\n"
        f"skill.launch(lambda ctx: say({answer!r}))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", "cafe", "open corner cafe", "--skills", "cafe_of_the_test:skill",
                                       "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output
    assert f"cafe:       {answer}" in result.output


def test_skills_say_json_uses_the_given_session(tmp_path):
    result = CliRunner().invoke(main, ["say", "pizza", "where is my pizza", "--db", str(tmp_path / "t.db"),
                                       "--session", "cli-session", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["nlu"]["intent"] == "OrderStatusIntent" and body["session_id"] == "cli-session"
    assert body["transcript"]["session_id"] == "cli-session"


def test_skills_chat_carries_the_session_across_lines(tmp_path):
    db = str(tmp_path / "t.db")
    lines = "open pizza shop\norder a large pizza\nolives\nyes\n"
    result = CliRunner().invoke(main, ["chat", "pizza", "--db", db, "--user", "u-chat"], input=lines)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "alexa:      A large pizza. Which topping would you like?" in out
    assert "alexa:      A large pizza with olives. Shall I place the order?" in out
    assert "dialog:     dialogState=COMPLETED confirmation=CONFIRMED" in out
    assert "transaction: pizza_order" in out and "session ended" in out
    rows = TranscriptStore(db).user_history("u-chat")
    # The dialog model's own questions reach no skill: the rows are the launch and the completed order.
    assert [r["utterance"] for r in reversed(rows)] == ["open pizza shop", "yes"]
    assert len({r["session_id"] for r in rows}) == 1


def test_skills_chat_stops_at_quit(tmp_path):
    result = CliRunner().invoke(main, ["chat", "music", "--db", str(tmp_path / "t.db")],
                                input="open tune stream\nquit\nhelp\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("you:") == 1


@pytest.mark.parametrize("command", [["say", "pasta", "hi"], ["chat", "pasta"], ["model", "export", "pasta"]])
def test_an_unknown_skill_exits_1_listing_the_known_ones(tmp_path, command):
    result = CliRunner().invoke(main, [*command, *(["--db", str(tmp_path / "t.db")] if command[0] != "model" else [])])
    assert result.exit_code == 1
    assert "No skill named 'pasta'" in result.output and "Known: grocery, music, pizza, ride." in result.output
    assert "For your own, pass --skills MODULE:ATTR (e.g. --skills pasta:skill)." in result.output


def test_a_misspelled_attribute_names_the_skills_the_module_holds(tmp_path, monkeypatch):
    (tmp_path / "bean_skill.py").write_text(UNDECLARED_TYPE.replace('"Drinks"', '"Drink"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", "coffee", "hi", "--skills", "bean_skill:skil", "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2
    assert "'bean_skill' has no attribute 'skil'" in result.output and "It holds 'skill': --skills bean_skill:skill." in result.output


def test_the_folder_above_a_project_is_named_with_where_to_run_from(tmp_path, monkeypatch):
    # `skills new latte_bar` makes latte_bar/latte_bar/; from the folder above, `latte_bar` imports as an
    # empty folder. The name is this test's own: the import it makes stays in sys.modules for the process.
    (tmp_path / "latte_bar" / "latte_bar").mkdir(parents=True)
    (tmp_path / "latte_bar" / "latte_bar" / "__init__.py").write_text(NOT_SKILLS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "latte_bar", raising=False)  # put back as it was (absent) afterwards
    result = CliRunner().invoke(main, ["say", "coffee", "hi", "--skills", "latte_bar:skill", "--db",
                                       str(tmp_path / "t.db")])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"'latte_bar' is the folder {tmp_path / 'latte_bar'}, which has no __init__.py" in said
    assert f"run the command from {tmp_path / 'latte_bar'}" in said


NOT_SKILLS = """
from skills_sdk import Skill, SlotType
skill = Skill("coffee", developer_id="bean-co")
Flavor = SlotType("Flavor", ["mocha"])
PARTNER_URL = "https://api.bean.example"
def broken():
    return [skill, 3]
def nothing():
    return []
"""


@pytest.mark.parametrize(("spec", "said"), [
    ("bean_skill:Flavor", "bean_skill:Flavor is a SlotType, not a Skill"),
    ("bean_skill:PARTNER_URL", "bean_skill:PARTNER_URL is a str, not a Skill"),
    ("bean_skill:broken", "bean_skill:broken() is an int, not a Skill"),
    ("bean_skill:nothing", "bean_skill:nothing() is an empty list, not a Skill"),
])
def test_an_attribute_that_is_not_a_skill_is_named_with_the_skills_the_module_holds(tmp_path, monkeypatch, spec, said):
    (tmp_path / "bean_skill.py").write_text(NOT_SKILLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", "coffee", "hi", "--skills", spec, "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2, result.output
    assert said in result.output and "It holds 'skill': --skills bean_skill:skill." in result.output
    assert "Traceback" not in result.output and not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["--skills", "bean_skill.skill", "coffee"], "no module 'bean_skill.skill'; 'bean_skill' holds 'skill': "
                                                 "write --skills bean_skill:skill (a colon before the attribute)."),
    (["--skills", ":skill", "coffee"], "':skill' names no module: give module:attr"),
    (["bean_skill:skill"], "'bean_skill:skill' looks like a module:attr: pass it as --skills bean_skill:skill "
                           "before the skill's name."),
])
def test_a_spec_written_the_wrong_way_says_how_to_write_it(tmp_path, monkeypatch, args, said):
    (tmp_path / "bean_skill.py").write_text(NOT_SKILLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", *args, "hi", "--db", str(tmp_path / "t.db")])
    assert result.exit_code in (1, 2), result.output
    assert said in " ".join(result.output.split()), result.output


UNDECLARED_TYPE = """
from skills_sdk import Skill, say
skill = Skill("coffee", developer_id="bean-co", invocation_name="bean counter")
skill.slot_type("Drink", {"latte": []})
@skill.intent("OrderIntent", samples=["order {drink}"], slots={"drink": "Drinks"})
def order(ctx, drink=None):
    return say("ok")
"""


@pytest.mark.parametrize("command", [["say", "coffee", "order latte"], ["chat", "coffee"]])
def test_a_slot_type_never_declared_is_a_usage_error_naming_it_not_a_traceback(tmp_path, monkeypatch, command):
    (tmp_path / "typo_skill.py").write_text(UNDECLARED_TYPE)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, [*command, "--skills", "typo_skill:skill", "--db", str(tmp_path / "t.db")],
                                input="quit\n")
    assert result.exit_code == 2, result.output
    assert "has type 'Drinks', which is neither" in result.output and "Custom types: 'Drink'" in result.output
    assert result.exc_info[0] is SystemExit


def test_a_partner_url_without_a_scheme_stops_skills_say_naming_the_variable(tmp_path, monkeypatch):
    (tmp_path / "bean_skill.py").write_text(UNDECLARED_TYPE.replace('"Drinks"', '"Drink"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SKILLS_PARTNER_BEAN_URL", "localhost:9000")
    result = CliRunner().invoke(main, ["say", "coffee", "order latte", "--skills", "bean_skill:skill",
                                       "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2, result.output
    assert "SKILLS_PARTNER_BEAN_URL='localhost:9000' is not an http:// or https:// URL" in result.output
    assert "SKILLS_PARTNER_BEAN_URL=http://localhost:9000" in result.output


def test_skills_chat_shows_the_turns_a_skill_delegated_and_their_rows(tmp_path, monkeypatch):
    (tmp_path / "booker_skill.py").write_text(DELEGATING_SKILL)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["chat", "booker", "--skills", "booker_skill:skill", "--db", str(tmp_path / "t.db")],
                                input="book a table on the window\nfour\n")
    assert result.exit_code == 0, result.output
    out = result.output
    # The skill was called and delegated: it is not said to have been left out, and its row is shown.
    assert "dialog:     asked by Alexa's dialog model; the skill delegated to it" in out
    assert "the skill was not called" not in out
    assert "utterance='book a table on the window'" in out
    # The answer that completed the dialog shows what was heard, and both rows it wrote.
    assert "heard:      BookIntent  area='window' people='4'" in out
    assert "utterance='four' speech=None" in out and "utterance=None speech='Booked 4 at the window.'" in out


# -- skills model export ----------------------------------------------------------------------------


@pytest.mark.parametrize("skill", SKILL_MODULES)
def test_model_export_prints_an_alexa_interaction_model(skill):
    result = CliRunner().invoke(main, ["model", "export", skill])
    assert result.exit_code == 0, result.output
    model = json.loads(result.output)["interactionModel"]["languageModel"]
    assert model["invocationName"]
    names = {i["name"] for i in model["intents"]}
    assert {"AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent", "AMAZON.FallbackIntent"} <= names
    assert any(i["samples"] for i in model["intents"])
    declared = {t["name"] for t in model["types"]}
    used = {s["type"] for i in model["intents"] for s in i["slots"] if not s["type"].startswith("AMAZON.")}
    assert used <= declared


def test_model_export_of_your_own_skills(tmp_path, monkeypatch):
    (tmp_path / "my_cafe.py").write_text(
        "from skills_sdk import Skill, say\n"
        "skill = Skill('cafe', developer_id='me', invocation_name='my cafe')\n"
        "skill.slot_type('Drink', ['latte', 'mocha'])\n"
        "@skill.intent('OrderIntent', samples=['a {drink}'], slots={'drink': 'Drink'})\n"
        "def order(ctx, drink=None):\n    return say(drink)\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["model", "export", "cafe", "--skills", "my_cafe:skill"])
    assert result.exit_code == 0, result.output
    model = json.loads(result.output)["interactionModel"]["languageModel"]
    assert model["invocationName"] == "my cafe" and model["types"][0]["name"] == "Drink"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_simulate_refuses_bodies_not_sent_as_json(http, content_type):
    """A form or text post (which a foreign web page can send) never reaches the skill."""
    kwargs = {"content_type": content_type} if content_type else {}
    resp = http.post("/simulate/pizza", data='{"text": "open pizza shop"}', **kwargs)
    assert resp.status_code == 415
    assert resp.get_json()["error"]["code"] == "unsupported_media_type"


def test_say_prints_the_error_a_failed_turn_recorded(tmp_path, monkeypatch):
    (tmp_path / "failing_skill.py").write_text(
        "from skills_sdk import Skill, say\n"
        "skill = Skill('bakery', developer_id='bake-co')\n"
        "@skill.intent('OrderIntent', samples=['order'])\n"
        "def order(ctx):\n"
        "    raise LookupError('the menu service answered 503')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["say", "bakery", "order", "--skills", "failing_skill:skill",
                                       "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output
    assert "status=error" in result.output
    assert "  error:      LookupError: the menu service answered 503" in result.output.splitlines()
