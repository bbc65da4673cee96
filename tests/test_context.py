"""The turn context: session and state values JSON cannot hold are refused where they are set, naming the key."""

from __future__ import annotations

import datetime
import json

import pytest
from conftest import make_envelope

from skills_sdk import Skill, ask
from skills_sdk.server import create_app
from skills_sdk.testing import SkillClient
from skills_sdk.transcripts import TranscriptStore


def _skill(mistake) -> Skill:
    skill = Skill("coffee", developer_id="d", invocation_name="brew bar")

    @skill.intent("OrderIntent", samples=["order one"])
    def order(ctx):
        ctx.state["orders"] = 1
        ctx.session["drink"] = "latte"
        mistake(ctx)
        return ask("Anything else?")

    @skill.error
    def answer_for_it(ctx, exc):
        return ask(f"My mistake: {exc}")

    return skill


@pytest.mark.parametrize(("mistake", "named"), [
    (lambda ctx: ctx.state.__setitem__("when", datetime.datetime(2026, 12, 1)),
     "ctx.state['when']: a datetime cannot be stored as JSON; store a string instead: value.isoformat()."),
    (lambda ctx: ctx.session.__setitem__("toppings", {1, 2}),
     "ctx.session['toppings']: a set cannot be stored as JSON; store a list instead: sorted(value)."),
    (lambda ctx: ctx.session.setdefault("cart", []).append(b"raw"),
     "ctx.session['cart'][0]: a bytes cannot be stored as JSON; store text instead: value.decode() or base64."),
    (lambda ctx: ctx.state.update({3: "three"}),
     "ctx.state[3]: a int key would come back as the string '3'; use string keys."),
])
def test_an_unstorable_value_goes_to_the_skills_error_handler_naming_the_key(mistake, named):
    client = SkillClient(_skill(mistake))
    reply = client.say("order one")
    assert reply.speech == f"My mistake: {named}"
    assert reply.error == f"StateError: {named}"
    assert client.session == {}  # the turn's session changes are not sent back half-stored
    assert client.transcripts()[-1]["speech"] == f"My mistake: {named}"


def test_the_value_is_refused_at_the_line_that_sets_it_and_not_kept():
    lines_run = []

    def mistake(ctx):
        ctx.session["tags"] = {"a"}
        lines_run.append("after")

    reply = SkillClient(_skill(mistake)).say("order one")
    assert reply.error.startswith("StateError: ctx.session['tags']: a set")
    assert lines_run == []


def test_over_http_a_datetime_in_state_is_the_skills_answer_not_a_500(tmp_path):
    skill = _skill(lambda ctx: ctx.state.__setitem__("when", datetime.datetime(2026, 12, 1)))
    app = create_app([skill], store=TranscriptStore(str(tmp_path / "t.db")))
    resp = app.test_client().post("/alexa/coffee", json=make_envelope(intent="OrderIntent"))
    assert resp.status_code == 200
    assert "My mistake: ctx.state[&#x27;when&#x27;]: a datetime" in resp.json["response"]["outputSpeech"]["ssml"]
    assert "sessionAttributes" not in resp.json or resp.json["sessionAttributes"] == {}
    json.dumps(resp.json, allow_nan=False)
