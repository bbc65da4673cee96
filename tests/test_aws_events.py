"""Real Lambda HTTP events (API Gateway 1.0 and 2.0, function URLs, load balancers) reach the app whole, and their answers go back in each front door's shape."""

from __future__ import annotations

import base64
import copy
import json
import pathlib
from urllib.parse import parse_qs

import pytest
from conftest import build_greeter
from flask import jsonify, request

from skills_sdk.aws import Gateway
from skills_sdk.server import create_app
from skills_sdk.transcripts import open_ledger

EVENTS = sorted((pathlib.Path(__file__).parent / "fixtures" / "lambda").glob("*.json"))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@pytest.fixture(scope="module")
def gateway():
    app = create_app([build_greeter()], store=open_ledger(":memory:"), test_config={"SKILLS_LEDGER_INTERVAL": 3600})

    @app.route("/echo/", defaults={"rest": ""}, methods=["GET", "POST"])
    @app.route("/echo/<path:rest>", methods=["GET", "POST"])
    def echo(rest):
        resp = jsonify(method=request.method, path=request.path, query=request.args.to_dict(flat=False),
                       headers={k.lower(): v for k, v in request.headers.items()}, cookies=dict(request.cookies),
                       body=request.get_data(as_text=True))
        resp.set_cookie("first", "1", httponly=True)
        resp.set_cookie("second", "2", httponly=True)
        return resp

    @app.route("/logo.png", methods=["GET", "POST"])
    def logo():
        return app.response_class(PNG, mimetype="image/png")

    return Gateway(app)


def load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def aimed(event: dict, path: str) -> dict:
    """The event sent to ``path`` instead, everything else of its shape kept (stage prefix included)."""
    event = copy.deepcopy(event)
    ctx = event.get("requestContext") or {}
    if "rawPath" in event:
        stage = ctx.get("stage")
        prefix = f"/{stage}" if stage and stage != "$default" and event["rawPath"].startswith(f"/{stage}") else ""
        event["rawPath"] = prefix + path
        if "http" in ctx:
            ctx["http"]["path"] = prefix + path
    else:
        event["path"] = path
    return event


def expected_query(event: dict) -> dict[str, list[str]]:
    if "rawQueryString" in event:
        return parse_qs(event["rawQueryString"])
    multi = event.get("multiValueQueryStringParameters")
    if multi is not None:
        return {k: list(v) for k, v in multi.items()}
    return {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}


def expected_headers(event: dict) -> dict[str, str]:
    multi = event.get("multiValueHeaders")
    if multi:
        return {k.lower(): ", ".join(v) for k, v in multi.items()}
    return {k.lower(): v for k, v in (event.get("headers") or {}).items()}


def answer_headers(answer: dict) -> dict[str, list[str]]:
    """Every header of a proxy answer, by lower-case name, with its values (cookies of 2.0 included)."""
    out: dict[str, list[str]] = {}
    for name, value in (answer.get("headers") or {}).items():
        out.setdefault(name.lower(), []).append(value)
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        out.setdefault(name.lower(), []).extend(values)
    out.setdefault("set-cookie", []).extend(answer.get("cookies") or [])
    return out


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_a_real_event_reaches_the_app_whole(gateway, path):
    event = load(path)
    answer = gateway(aimed(event, "/echo/my/path"))
    assert answer["statusCode"] == 200, answer
    got = json.loads(answer["body"])
    assert got["method"] == (event.get("requestContext", {}).get("http", {}).get("method") or event["httpMethod"])
    assert got["path"] == "/echo/my/path"
    assert got["query"] == expected_query(event)
    sent = expected_headers(event)
    for name, value in sent.items():
        if name not in ("content-length", "cookie"):
            assert got["headers"].get(name) == value, name
    if event.get("cookies"):
        assert got["headers"]["cookie"] == "; ".join(event["cookies"])
    assert got["body"] == (event.get("body") or "")


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_both_cookies_of_an_answer_reach_the_front_door(gateway, path):
    event = load(path)
    answer = gateway(aimed(event, "/echo/"))
    cookies = answer_headers(answer)["set-cookie"]
    if event.get("version") == "2.0":
        assert len(answer["cookies"]) == 2  # 2.0 answers carry cookies in their own list
        assert "set-cookie" not in {k.lower() for k in answer["headers"]}
    if "multiValueHeaders" in event or event.get("version") == "2.0":
        assert sorted(c.split(";")[0] for c in cookies) == ["first=1", "second=2"]
    else:  # a front door with one value per header: the last cookie, never two glued into one
        assert [c.split(";")[0] for c in cookies] == ["second=2"]
    if "elb" in event.get("requestContext", {}):
        assert answer["statusDescription"] == "200 OK"
        # With multi-value headers on, a load balancer reads only multiValueHeaders.
        assert ("multiValueHeaders" in answer) == ("multiValueHeaders" in event)


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_a_binary_answer_goes_back_in_base64(gateway, path):
    answer = gateway(aimed(load(path), "/logo.png"))
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == PNG


def test_a_named_stage_in_an_http_api_path_is_not_part_of_the_route(gateway):
    event = load(pathlib.Path(__file__).parent / "fixtures" / "lambda" / "apigw-v2-powertools.json")
    event["requestContext"]["stage"] = "prod"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/echo/my/path"
    got = json.loads(gateway(event)["body"])
    assert got["path"] == "/echo/my/path"
    # A first segment that only looks like the stage is kept.
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/production/x"
    assert gateway(event)["statusCode"] == 404


def test_a_rest_api_path_under_a_named_stage_is_routed_as_is(gateway):
    event = load(pathlib.Path(__file__).parent / "fixtures" / "lambda" / "apigw-v1-go.json")
    event["requestContext"]["stage"] = "echo"  # a REST API's path never holds its stage: nothing is cut
    event["path"] = "/echo/a"
    assert json.loads(gateway(event)["body"])["path"] == "/echo/a"


def test_a_parameter_a_rest_api_repeats_is_refused_as_over_plain_http(gateway):
    event = aimed(load(pathlib.Path(__file__).parent / "fixtures" / "lambda" / "apigw-v1-powertools.json"),
                  "/v1/transcripts")
    event["multiValueQueryStringParameters"] = {"skill": ["pizza", "music"]}
    event["queryStringParameters"] = {"skill": "music"}  # API Gateway's single-value view keeps the last
    answer = gateway(event)
    assert answer["statusCode"] == 400, answer
    assert "skill" in json.loads(answer["body"])["error"]["message"]
