"""Fuzzing the Alexa endpoint: arbitrary bytes, arbitrary JSON and mutated envelopes never get a 5xx or leave a row."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import build_greeter, json_paths, make_envelope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID = [
    make_envelope("LaunchRequest"),
    make_envelope(intent="MoodIntent", slots={"mood": "glad"}),
    make_envelope(intent="CountIntent", slots={"n": "4"}),
    make_envelope("SessionEndedRequest", reason="USER_INITIATED"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def served():
    """One app and store for a whole strategy run, as a server would see a stream of requests."""
    store = TranscriptStore(":memory:")
    app = create_app([build_greeter()], store=store)
    return app.test_client(), store




@st.composite
def mutated_envelopes(draw):
    env = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in json_paths(env) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = env
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["drop", "replace", "retype"]))
        if op == "drop":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(json_values)
        else:  # same content, another JSON type
            old = parent[path[-1]]
            parent[path[-1]] = draw(st.sampled_from([str(old), [old], {"value": old}, None, 0, True]))
    return env


def check_answer(client, store, body: bytes) -> None:
    before = store.count()
    resp = client.post("/alexa/greeter", data=body, content_type="application/json")
    assert resp.status_code < 500, resp.get_data(as_text=True)
    assert resp.is_json and isinstance(resp.json, dict)
    if resp.status_code == 200:
        assert "response" in resp.json
        assert store.count() == before + 1
    else:
        assert "error" in resp.json and resp.json["error"]["code"]
        assert store.count() == before, "a rejected request left a transcript"


def still_answers(client) -> None:
    resp = client.post("/alexa/greeter", json=make_envelope("LaunchRequest"))
    assert resp.status_code == 200 and "How are you" in resp.get_data(as_text=True)


@SETTINGS
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_never_get_a_5xx(served, body):
    check_answer(*served, body)


@SETTINGS
@given(value=json_values)
def test_arbitrary_json_never_gets_a_5xx(served, value):
    check_answer(*served, json.dumps(value).encode())


@SETTINGS
@given(env=mutated_envelopes())
def test_mutated_envelopes_never_get_a_5xx(served, env):
    check_answer(*served, json.dumps(env).encode())


def test_server_still_answers_after_the_fuzzing(served):
    still_answers(served[0])
