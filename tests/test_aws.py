"""The Lambda handler answers real envelopes as the WSGI app does and records their rows in SKILLS_DB."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from _alexa_rules import REFUSED, check_answer, corpus

from skills_sdk import aws
from skills_sdk.errors import RegistrationError, SettingError
from skills_sdk.wsgi import build_app

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
#: Real envelopes from other projects' suites (tests/fixtures/alexa) and the pizza order a device sent.
ENVELOPES = [*corpus(), FIXTURES / "order_pizza_envelope.json"]

SKILL_MODULE = '''
from skills_sdk import Skill, say

def skills():
    hello = Skill("hello", developer_id="dev-hello", invocation_name="hello world",
                  application_id="amzn1.ask.skill.hello")
    hello.launch(lambda ctx: say("Hello from Lambda."))
    other = Skill("other", developer_id="dev-other", invocation_name="other world",
                  application_id="amzn1.ask.skill.other")
    other.launch(lambda ctx: say("Hello from the other skill."))
    return [hello, other]
'''


def rows(db, after=0):
    """The rows the handler's ledger (the file SKILLS_DB names) holds, read through that ledger."""
    gateway = aws._GATEWAY
    if gateway is None:
        return []
    store = gateway.app.extensions["skills_sdk"]["store"]
    assert str(store.path) == str(db)
    return [row for row in store.iter_transcripts() if row["id"] > after]


def last_id(db):
    found = rows(db)
    return found[-1]["id"] if found else 0


@pytest.fixture(scope="module")
def warm_lambda(tmp_path_factory):
    """One handler for the whole corpus, as one warm Lambda instance answers event after event."""
    db = tmp_path_factory.mktemp("lambda") / "ledger.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKILLS_DB", str(db))
        mp.setenv("SKILLS_SKILL", "pizza")
        mp.setenv("SKILLS_ANY_APPLICATION", "1")
        mp.delenv("SKILLS_SKILLS", raising=False)
        mp.setattr(aws, "_GATEWAY", None)
        yield db
        if aws._GATEWAY is not None:
            aws._GATEWAY.app.extensions["skills_sdk"]["store"].close()


@pytest.fixture
def lambda_env(tmp_path, monkeypatch):
    """A fresh handler configured as on Lambda: the example skills, the ledger in a file."""
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("SKILLS_DB", str(db))
    monkeypatch.setenv("SKILLS_SKILL", "pizza")
    monkeypatch.setenv("SKILLS_ANY_APPLICATION", "1")  # the example skills carry no skill id
    monkeypatch.delenv("SKILLS_SKILLS", raising=False)
    monkeypatch.setattr(aws, "_GATEWAY", None)
    yield db
    gateway = aws._GATEWAY
    if gateway is not None:
        gateway.app.extensions["skills_sdk"]["store"].close()


@pytest.mark.parametrize("path", ENVELOPES, ids=lambda p: p.stem)
def test_handler_answers_a_real_envelope_and_records_its_row(warm_lambda, path):
    event = json.loads(path.read_text())
    before = last_id(warm_lambda)
    if path.name in REFUSED:  # what the HTTP endpoint answers with a 400 naming the field
        with pytest.raises(aws.InvalidEvent) as info:
            aws.handler(event, None)
        assert info.value.status == 400 and REFUSED[path.name] in info.value.body["error"]["fields"]
        assert rows(warm_lambda, before) == []
        return
    answer = aws.handler(event, None)
    recorded = rows(warm_lambda, before)
    if event["request"]["type"] == "AlexaSkillEvent.SkillDisabled":
        assert answer["response"] == {} and recorded == []  # the user's rows are erased, the event leaves none
        return
    assert [r["request_id"] for r in recorded] == [event["request"]["requestId"]]
    assert recorded[0]["skill"] == "pizza"
    assert check_answer(event, 200, json.dumps(answer).encode(), recorded[0]) == []


def test_skills_without_a_skill_id_are_refused_naming_the_lambda_setting(lambda_env, monkeypatch, order_pizza_body):
    monkeypatch.delenv("SKILLS_ANY_APPLICATION")
    with pytest.raises(RegistrationError, match="SKILLS_ANY_APPLICATION=1 for skills_sdk.wsgi and the Lambda handler"):
        aws.handler(json.loads(order_pizza_body), None)


def test_handler_answers_exactly_as_the_wsgi_app(lambda_env, order_pizza_body, tmp_path):
    via_lambda = aws.handler(json.loads(order_pizza_body), None)
    app = build_app({"SKILLS_DB": str(tmp_path / "wsgi.db"), "SKILLS_VERIFY": "0"})
    via_http = app.test_client().post("/alexa/pizza", data=order_pizza_body,
                                      content_type="application/json").get_json()
    assert via_lambda == via_http
    assert "on its way" in via_lambda["response"]["outputSpeech"]["ssml"]
    tx = rows(lambda_env)[0]["transaction"]
    tx = json.loads(tx) if isinstance(tx, str) else tx
    assert tx["kind"] == "pizza_order" and tx["amount"] in via_lambda["response"]["card"]["content"]


@pytest.mark.parametrize("event, code", [
    ({"version": "1.0", "request": {"type": "LaunchRequest"}}, "invalid_envelope"),
    (["not", "an", "object"], "invalid_envelope"),
    ("just text", "invalid_envelope"),
])
def test_bad_event_raises_naming_the_problem_and_records_nothing(lambda_env, event, code):
    with pytest.raises(aws.InvalidEvent) as info:
        aws.handler(event, None)
    assert info.value.status == 400 and info.value.body["error"]["code"] == code
    assert not lambda_env.exists() or rows(lambda_env) == []


def test_http_event_from_a_function_url_is_verified_like_the_wsgi_app(lambda_env, order_pizza_body):
    # A function URL faces the internet: no signature, no answer (and no row), as on self-hosted HTTP.
    event = {"version": "2.0", "rawPath": "/alexa/pizza", "rawQueryString": "",
             "requestContext": {"http": {"method": "POST"}}, "headers": {"content-type": "application/json"},
             "body": base64.b64encode(order_pizza_body.encode()).decode(), "isBase64Encoded": True}
    answer = aws.handler(event, None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"]["code"] == "verification_failed"
    assert rows(lambda_env) == []


def test_http_event_is_answered_in_the_proxy_shape(lambda_env, monkeypatch, order_pizza_body):
    monkeypatch.setenv("SKILLS_VERIFY", "0")
    event = {"httpMethod": "POST", "path": "/alexa/pizza", "headers": {"Content-Type": "application/json"},
             "body": order_pizza_body, "isBase64Encoded": False}
    answer = aws.handler(event, None)
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "application/json"
    assert "on its way" in json.loads(answer["body"])["response"]["outputSpeech"]["ssml"]
    missing = aws.handler({**event, "path": "/alexa/nosuch"}, None)
    assert missing["statusCode"] == 404 and "Hosted:" in json.loads(missing["body"])["error"]["message"]


@pytest.mark.parametrize(("body", "encoded", "said"), [
    ({"version": "1.0"}, False, "The event's body is a dict"),
    ("not base64 at all!", True, "with isBase64Encoded true it must be base64"),
])
def test_an_http_event_whose_body_cannot_be_read_is_a_400_naming_the_body(lambda_env, monkeypatch, body, encoded,
                                                                        said):
    """A dict body was an AttributeError, bad base64 a binascii.Error: the runtime's raw failure, not an answer."""
    monkeypatch.setenv("SKILLS_VERIFY", "0")
    answer = aws.handler({"httpMethod": "POST", "path": "/alexa/pizza", "headers": {"Content-Type": "application/json"},
                          "body": body, "isBase64Encoded": encoded}, None)
    assert answer["statusCode"] == 400 and answer["headers"]["Content-Type"] == "application/json"
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "invalid_event" and said in error["message"] and "body" in error["fields"]
    assert not lambda_env.exists() or rows(lambda_env) == []


def test_envelopes_are_routed_by_application_id(tmp_path, monkeypatch, envelope):
    (tmp_path / "lambda_skills.py").write_text(SKILL_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = build_app({"SKILLS_DB": str(tmp_path / "l.db"), "SKILLS_SKILLS": "lambda_skills:skills"})
    gateway = aws.Gateway(app)
    said = gateway(envelope("LaunchRequest", application_id="amzn1.ask.skill.other"))
    assert said["response"]["outputSpeech"]["ssml"] == "<speak>Hello from the other skill.</speak>"
    with pytest.raises(aws.InvalidEvent, match="No hosted skill has application id 'amzn1.ask.skill.nope'"):
        gateway(envelope("LaunchRequest", application_id="amzn1.ask.skill.nope"))
    recorded = list(app.extensions["skills_sdk"]["store"].iter_transcripts())
    assert [r["skill"] for r in recorded] == ["other"]


def _nested(depth):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("where, value, code", [
    (("context", "System", "user", "userId"), "amzn1.\ud800", "invalid_unicode"),
    (("session", "attributes", "ratio"), float("nan"), "invalid_json"),
    (("session", "attributes", "deep"), _nested(100), "too_deep"),
])
def test_an_event_the_endpoint_would_refuse_raises_before_any_handler(lambda_env, envelope, where, value, code):
    event = envelope("LaunchRequest")
    parent = event
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    with pytest.raises(aws.InvalidEvent) as info:
        aws.handler(event, None)
    assert info.value.status == 400 and info.value.body["error"]["code"] == code
    assert any(f.startswith(".".join(where)) for f in info.value.body["error"]["fields"])
    assert not lambda_env.exists() or rows(lambda_env) == []


def test_a_direct_event_over_the_limit_says_how_large_it_is_and_the_limit(lambda_env, envelope):
    """Lambda takes events up to 6 MB; the endpoint's 1 MiB answered with werkzeug's words, no size, no field."""
    event = envelope("LaunchRequest")
    big = {**event, "session": {**event["session"], "attributes": {"note": "x" * (1 << 20)}}}
    with pytest.raises(aws.InvalidEvent) as info:
        aws.handler(big, None)
    error = info.value.body["error"]
    assert info.value.status == 413 and error["code"] == "request_entity_too_large"
    assert "bytes, over the 1048576 bytes a request may carry" in error["message"]
    assert error["fields"] == {"(body)": ["Over 1048576 bytes."]}
    assert not lambda_env.exists() or rows(lambda_env) == []


@pytest.mark.parametrize("db, named", [(None, "SKILLS_DB is not set"), ("/tmp/ledger.db", "SKILLS_DB='/tmp/ledger.db'")])
def test_on_lambda_a_ledger_on_the_instances_disk_is_refused_naming_skills_db(monkeypatch, tmp_path, db, named):
    monkeypatch.chdir(tmp_path)  # where var/transcripts.db would go
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "coffee")  # set by the Lambda runtime
    monkeypatch.setenv("SKILLS_ANY_APPLICATION", "1")
    monkeypatch.delenv("SKILLS_SKILLS", raising=False)
    if db is None:
        monkeypatch.delenv("SKILLS_DB", raising=False)
    else:
        monkeypatch.setenv("SKILLS_DB", db)
    monkeypatch.setattr(aws, "_GATEWAY", None)
    with pytest.raises(SettingError, match="postgresql://") as refused:
        aws.handler({"version": "1.0"}, None)
    assert named in str(refused.value)
    assert aws._GATEWAY is None and list(tmp_path.iterdir()) == []  # nothing opened, nothing written


@pytest.mark.parametrize("unset, says", [
    ("SKILLS_LEDGER_KEY_FILE", "SKILLS_LEDGER_KEY_FILE is not set.*EFS"),
    ("SKILLS_SPOOL", "SKILLS_SPOOL is not set.*SKILLS_SPOOL=/tmp/ledger.spool"),  # var/ledger.spool: read-only there
])
def test_on_lambda_a_postgres_ledger_missing_a_setting_is_refused_before_connecting(monkeypatch, tmp_path, unset, says):
    monkeypatch.chdir(tmp_path)  # where var/ would go: read-only on Lambda
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "coffee")
    monkeypatch.setenv("SKILLS_DB", "postgresql://skills@127.0.0.1:9/ledger")  # nothing listens: never reached
    monkeypatch.setenv("SKILLS_LEDGER_KEY_FILE", str(tmp_path / "ledger.key"))
    monkeypatch.setenv("SKILLS_SPOOL", "/tmp/ledger.spool")
    monkeypatch.delenv(unset)
    monkeypatch.setenv("SKILLS_ANY_APPLICATION", "1")
    monkeypatch.delenv("SKILLS_SKILLS", raising=False)
    monkeypatch.setattr(aws, "_GATEWAY", None)
    with pytest.raises(SettingError, match=says):
        aws.handler({"version": "1.0"}, None)
    assert list(tmp_path.iterdir()) == []
