"""Loading Alexa request envelopes: documented examples, unknown fields, error paths, fast path == schema."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import json_paths
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from skills_sdk import EnvelopeError, load_request
from skills_sdk.envelope import _fast_load, _Slow
from skills_sdk.envelope_schema import RequestEnvelopeSchema, ResponseEnvelopeSchema, _envelope_from_schema

# The LaunchRequest example from the Alexa Skills Kit request-types reference, written out by hand.
LAUNCH = {
    "version": "1.0",
    "session": {
        "new": True,
        "sessionId": "amzn1.echo-api.session.1",
        "application": {"applicationId": "amzn1.ask.skill.1"},
        "attributes": {},
        "user": {"userId": "amzn1.ask.account.1"},
    },
    "context": {
        "System": {
            "application": {"applicationId": "amzn1.ask.skill.1"},
            "user": {"userId": "amzn1.ask.account.1"},
            "device": {"deviceId": "amzn1.ask.device.1", "supportedInterfaces": {"AudioPlayer": {}}},
            "apiEndpoint": "https://api.amazonalexa.com",
            "apiAccessToken": "AxThk...",
        },
        "AudioPlayer": {"playerActivity": "IDLE"},
    },
    "request": {
        "type": "LaunchRequest",
        "requestId": "amzn1.echo-api.request.1",
        "timestamp": "2026-11-28T09:30:00Z",
        "locale": "en-US",
    },
}

SESSION_ENDED = {
    "version": "1.0",
    "session": {"new": False, "sessionId": "s", "application": {"applicationId": "a"},
                "user": {"userId": "u"}},
    "context": {"System": {"application": {"applicationId": "a"}, "user": {"userId": "u"}}},
    "request": {
        "type": "SessionEndedRequest",
        "requestId": "r",
        "timestamp": "2026-11-28T09:30:00Z",
        "reason": "ERROR",
        "error": {"type": "INVALID_RESPONSE", "message": "The response is invalid"},
    },
}

# AudioPlayer requests carry no session block.
PLAYBACK_STARTED = {
    "version": "1.0",
    "context": {"System": {"application": {"applicationId": "a"}, "user": {"userId": "u"},
                           "device": {"deviceId": "d"}}},
    "request": {"type": "AudioPlayer.PlaybackStarted", "requestId": "r", "timestamp": "2026-11-28T09:30:00Z",
                "token": "track-7", "offsetInMilliseconds": 0, "locale": "en-US"},
}


def test_launch_request_loads_every_documented_field():
    env = load_request(LAUNCH)
    assert env.request.type == "LaunchRequest"
    assert env.request.request_id == "amzn1.echo-api.request.1"
    assert env.request.locale == "en-US"
    assert env.session.new is True
    assert env.session.session_id == "amzn1.echo-api.session.1"
    assert env.user_id == "amzn1.ask.account.1"
    assert env.application_id == "amzn1.ask.skill.1"
    assert env.system.device.supported_interfaces == {"AudioPlayer": {}}
    assert env.system.api_endpoint == "https://api.amazonalexa.com"


def test_intent_request_slots_and_entity_resolution(order_pizza_body):
    env = load_request(json.loads(order_pizza_body))
    intent = env.request.intent
    assert intent.name == "OrderPizzaIntent"
    assert env.request.dialog_state == "COMPLETED"
    size = intent.slots["size"]
    assert (size.value, size.resolved, size.id, size.er_status) == ("large", "large", "LARGE", "ER_SUCCESS_MATCH")
    assert env.session.attributes == {"lastIntent": "LaunchRequest", "visitCount": 3}


def test_session_ended_request_keeps_reason_and_error():
    env = load_request(SESSION_ENDED)
    assert env.request.reason == "ERROR"
    assert env.request.error == {"type": "INVALID_RESPONSE", "message": "The response is invalid"}


def test_audio_player_request_without_session_keeps_its_own_fields():
    env = load_request(PLAYBACK_STARTED)
    assert env.session is None
    assert env.user_id == "u"
    assert env.request.raw["token"] == "track-7"


def test_unknown_fields_are_ignored_not_rejected():
    data = copy.deepcopy(LAUNCH)
    data["brandNewTopLevel"] = {"x": 1}
    data["request"]["shinyNewField"] = [1, 2]
    data["context"]["System"]["unknownThing"] = "y"
    assert load_request(data).request.type == "LaunchRequest"


def test_unfilled_slot_has_no_value():
    data = copy.deepcopy(LAUNCH)
    data["request"] = {"type": "IntentRequest", "requestId": "r",
                       "intent": {"name": "X", "slots": {"size": {"name": "size", "confirmationStatus": "NONE"}}}}
    slot = load_request(data).request.intent.slots["size"]
    assert slot.value is None and slot.resolved is None


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["request"]["intent"]["slots"]["size"].update(value=3), "request.intent.slots.size.value"),
        (lambda d: d["request"].pop("type"), "request.type"),
        (lambda d: d["request"].pop("requestId"), "request.requestId"),
        (lambda d: d.pop("request"), "request"),
        (lambda d: d["request"]["intent"].update(name=None), "request.intent.name"),
        (lambda d: d["request"].pop("intent"), "request.intent"),
        (lambda d: d["session"].update(attributes=[1]), "session.attributes"),
        (lambda d: d["session"].update(new="maybe"), "session.new"),
        (lambda d: d["context"]["System"].update(user="me"), "context.System.user"),
        (lambda d: d["request"]["intent"]["slots"].update(size="large"), "request.intent.slots.size"),
    ],
)
def test_validation_error_names_the_field_path(order_pizza_body, mutate, path):
    data = json.loads(order_pizza_body)
    mutate(data)
    with pytest.raises(EnvelopeError) as info:
        load_request(data)
    assert path in info.value.errors
    assert path in str(info.value)


def test_error_message_matches_documented_form(order_pizza_body):
    data = json.loads(order_pizza_body)
    data["request"]["intent"]["slots"]["size"]["value"] = 3
    with pytest.raises(EnvelopeError, match=r"request\.intent\.slots\.size\.value: Not a valid string\."):
        load_request(data)


def test_missing_user_id_is_rejected():
    data = copy.deepcopy(LAUNCH)
    del data["session"]["user"]
    del data["context"]["System"]["user"]
    with pytest.raises(EnvelopeError, match="No user id"):
        load_request(data)


@pytest.mark.parametrize("body", [None, 3, "text", [LAUNCH], True])
def test_non_object_body_is_rejected(body):
    with pytest.raises(EnvelopeError, match="JSON object"):
        load_request(body)


# --- the fast loader and the schema must agree on everything ---------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4), st.floats(allow_nan=False))
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                         st.dictionaries(st.text(max_size=4), c, max_size=3)),
                          max_leaves=6)




@st.composite
def mutated_envelopes(draw):
    data = copy.deepcopy(json.loads((__import__("pathlib").Path(__file__).parent / "fixtures"
                                     / "order_pizza_envelope.json").read_text()))
    paths = [p for p in json_paths(data) if p]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                if isinstance(parent, dict):
                    parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(json_value)
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _schema_result(data):
    try:
        return ("ok", _envelope_from_schema(RequestEnvelopeSchema().load(data), data))
    except ValidationError:
        return ("error", None)


@settings(max_examples=300, deadline=None)
@given(mutated_envelopes())
def test_fast_loader_agrees_with_the_schema(data):
    """Whatever the fast path accepts, the schema accepts with the same result; the rest goes to the schema."""
    try:
        fast = _fast_load(data)
    except _Slow:
        return
    verdict, slow = _schema_result(data)
    assert verdict == "ok", f"fast path accepted what the schema rejects: {data!r}"
    assert fast == slow


def test_response_schema_accepts_what_the_server_builds():
    body = {"version": "1.0", "sessionAttributes": {"a": 1},
            "response": {"outputSpeech": {"type": "SSML", "ssml": "<speak>hi</speak>"},
                         "card": {"type": "Simple", "title": "t", "content": "c"}, "shouldEndSession": True}}
    assert ResponseEnvelopeSchema().load(body)["version"] == "1.0"


def test_well_formed_envelopes_load_without_importing_marshmallow():
    # The request path must not pay marshmallow's import (a cold start of every worker and Lambda);
    # only input the fast loader refuses reaches the schema.
    import subprocess
    import sys

    code = (
        "import sys, json; from skills_sdk import load_request; "
        f"load_request(json.loads({json.dumps(LAUNCH)!r})); "
        "print('marshmallow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    code = "import sys; from skills_sdk import load_request\ntry:\n    load_request({})\nexcept Exception as e:\n    print(type(e).__name__, 'marshmallow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "EnvelopeError True"


def test_the_envelopes_classes_behave_as_frozen_dataclasses():
    import dataclasses
    import pickle

    from skills_sdk.envelope import Device, Intent, Request, Session, System, User

    env = load_request(copy.deepcopy(LAUNCH))
    assert dataclasses.is_dataclass(env) and [f.name for f in dataclasses.fields(env)] == [
        "version", "request", "system", "session", "audio_player_raw"]
    assert env == load_request(copy.deepcopy(LAUNCH)) and env != dataclasses.replace(env, version="2.0")
    assert pickle.loads(pickle.dumps(env)) == env and copy.deepcopy(env) == env
    assert dataclasses.asdict(User("u1")) == {"user_id": "u1", "access_token": None}
    assert hash(User("u1")) == hash(User("u1")) != hash(User("u2"))
    assert repr(Intent("Order")) == "Intent(name='Order', confirmation_status='NONE', slots={})"
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.request.type = "IntentRequest"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del env.version  # type: ignore[misc]
    # Each instance gets its own empty dict, as field(default_factory=dict) gives.
    assert Device().supported_interfaces == {} and Device().supported_interfaces is not Device().supported_interfaces
    assert Session().attributes is not Session().attributes and Request("t", "r").raw is not Request("t", "r").raw
    assert System().device == Device() and Session(attributes=None).attributes is None
