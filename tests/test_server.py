"""The Flask server: the Alexa endpoint, JSON errors for bad input, limits, health."""

from __future__ import annotations

import json

import pytest
from conftest import build_greeter, example_app, make_envelope

from skills_sdk.envelope_schema import ResponseEnvelopeSchema
from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore


@pytest.fixture
def store():
    return TranscriptStore(":memory:")


@pytest.fixture
def client(store):
    return create_app([build_greeter()], store=store).test_client()


def test_alexa_endpoint_answers_a_response_envelope(client, store):
    resp = client.post("/alexa/greeter", json=make_envelope("LaunchRequest"))
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    ResponseEnvelopeSchema().load(body)
    assert body["version"] == "1.0" and body["response"]["shouldEndSession"] is False
    assert store.count() == 1


def test_session_attributes_round_trip(client):
    body = client.post("/alexa/greeter", json=make_envelope(intent="MoodIntent", slots={"mood": "sad"},
                                                            attributes={"visits": 2})).get_json()
    assert body["sessionAttributes"] == {"visits": 2, "mood": "sad"}


def test_example_pizza_answers_the_real_order_envelope(order_pizza_body):
    app = example_app(store=TranscriptStore(":memory:"))
    body = app.test_client().post("/alexa/pizza", data=order_pizza_body,
                                  content_type="application/json").get_json()
    assert "pepperoni" in body["response"]["outputSpeech"]["ssml"]
    assert body["response"]["shouldEndSession"] is True


@pytest.mark.parametrize(
    ("data", "code", "needle"),
    [
        (b"not json", "invalid_json", "not JSON"),
        (b"[1, 2]", "invalid_envelope", "JSON object"),
        (b"{}", "invalid_envelope", "request"),
        (json.dumps(make_envelope(intent="MoodIntent", slots={"mood": "x"})).replace('"value": "x"', '"value": 7'),
         "invalid_envelope", "request.intent.slots.mood.value"),
        (json.dumps(make_envelope("Brand New Thing")), "unknown_request_type", "SessionResumedRequest"),
        (b"\xff\xfe\x00garbage", "invalid_json", "not JSON"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(client, store, data, code, needle):
    resp = client.post("/alexa/greeter", data=data, content_type="application/json")
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == code and needle in json.dumps(error)
    assert store.count() == 0


def test_unknown_skill_is_a_404_listing_hosted_skills(client):
    resp = client.post("/alexa/nope", json=make_envelope())
    assert resp.status_code == 404
    assert "greeter" in resp.get_json()["error"]["message"]


def test_oversized_body_is_a_413_with_json(client):
    resp = client.post("/alexa/greeter", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                       content_type="application/json")
    assert resp.status_code == 413
    error = resp.get_json()["error"]
    assert error["code"] == "request_entity_too_large"
    # werkzeug's "The data value transmitted exceeds the capacity limit." named no size, no limit, no field
    assert error["message"].startswith(f"The body is {1024 * 1024 + 12} bytes, over the 1048576 bytes a request may")
    assert error["fields"] == {"(body)": ["Over 1048576 bytes."]}


def test_wrong_method_and_unknown_route_are_json(client):
    resp = client.get("/alexa/greeter")
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    assert client.get("/nowhere").get_json()["error"]["code"] == "not_found"


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_handler_crash_is_a_200_apology_not_a_500(client, store):
    resp = client.post("/alexa/greeter", json=make_envelope(intent="BoomIntent"))
    assert resp.status_code == 200
    assert "Sorry" in resp.get_json()["response"]["outputSpeech"]["ssml"]
    assert next(store.iter_transcripts())["status"] == "error"


def test_session_ended_gets_empty_response(client):
    body = client.post("/alexa/greeter", json=make_envelope("SessionEndedRequest", reason="USER_INITIATED")).get_json()
    assert body["response"] == {}


def test_the_alexa_endpoint_opens_no_console_session(store):
    # Sessions belong to the console: an Alexa request draws no id, sets no cookie, and code that
    # writes Flask's session there is told where per-conversation data goes.
    from flask import session

    app = create_app([build_greeter()], store=store, test_config={"SKILLS_ALEXA_FAST_PATH": False})
    seen = []

    @app.after_request
    def _probe(resp):
        try:
            session["x"] = 1
        except RuntimeError as exc:
            seen.append(str(exc))
        return resp

    resp = app.test_client().post("/alexa/greeter", json=make_envelope("LaunchRequest"))
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert seen and "ctx.session" in seen[0]


@pytest.mark.parametrize("case", ["ok", "unknown_skill", "text_plain", "not_json", "too_deep", "not_envelope",
                                  "too_large", "get"])
def test_the_fast_alexa_path_answers_exactly_as_the_flask_route(case):
    # POST /alexa/<skill> runs in front of Flask's request machinery; with it turned off the Flask
    # route answers. Both must give the same status, headers that matter, and body, for good and bad input.
    good = json.dumps(make_envelope("LaunchRequest")).encode()
    requests = {
        "ok": ("POST", "/alexa/greeter", good, "application/json"),
        "unknown_skill": ("POST", "/alexa/nobody", good, "application/json"),
        "text_plain": ("POST", "/alexa/greeter", good, "text/plain"),
        "not_json": ("POST", "/alexa/greeter", b"{nope", "application/json"),
        "too_deep": ("POST", "/alexa/greeter", b"[" * 5000 + b"]" * 5000, "application/json"),
        "not_envelope": ("POST", "/alexa/greeter", b'{"version": "1.0"}', "application/json; charset=utf-8"),
        "too_large": ("POST", "/alexa/greeter", b" " * (2 * 1024 * 1024), "application/json"),
        "get": ("GET", "/alexa/greeter", b"", None),
    }
    method, path, body, ctype = requests[case]
    answers = []
    for fast in (True, False):
        store = TranscriptStore(":memory:")
        app = create_app([build_greeter()], store=store, test_config={"SKILLS_ALEXA_FAST_PATH": fast})
        resp = app.test_client().open(path, method=method, data=body, content_type=ctype)
        payload = resp.get_json(silent=True)
        if case == "ok":  # the envelope differs only by nothing: same skill, same input
            payload = payload["response"]
        answers.append((resp.status_code, resp.mimetype, resp.headers.get("Allow"), payload, store.count()))
    assert answers[0] == answers[1]
    assert answers[0][1] == "application/json"


def test_every_route_is_registered_by_its_group_blueprint(store):
    app = create_app([build_greeter()], store=store)
    groups = {rule.rule: rule.endpoint.partition(".")[0] for rule in app.url_map.iter_rules()}
    assert groups["/alexa/<skill>"] == groups["/healthz"] == "alexa"
    assert groups["/simulate/<skill>"] == "simulate" and groups["/readyz"] == "ops" and groups["/metrics"] == "metrics"
    assert groups["/v1/transcripts"] == "api" and groups["/console/"] == "console"
    # Flask's own static route aside, nothing is registered on the app directly.
    assert set(groups.values()) - {"static"} == {"alexa", "simulate", "ops", "metrics", "api", "console"}
