"""A developer's own skill, in a folder outside the repository, reaches its partner API on every serving path."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator

import _server
import pytest

from skills_sdk.http import PartnerSession
from skills_sdk.server import create_app
from skills_sdk.testing import intent_request
from skills_sdk.wsgi import build_app

COFFEE = textwrap.dedent('''
    """A coffee shop that orders from its partner, Brew (the test's loopback server)."""
    import requests
    from skills_sdk import Skill, say

    skill = Skill("coffee", developer_id="brew-labs", invocation_name="brew bar")
    skill.slot_type("Drink", {"latte": ["cafe latte"], "espresso": []})

    @skill.intent("OrderIntent", samples=["order a {drink}"], slots={"drink": "Drink"})
    def order(ctx, drink="latte"):
        try:
            reply = ctx.http.post(ctx.http.url("brew", "/v1/orders"), json={"drink": drink})
            reply.raise_for_status()
        except requests.RequestException:
            return say("Brew is not answering, so nothing was ordered.")
        return say(f"Your {drink} is order {reply.json()['id']}.")
''')


@pytest.fixture
def partner() -> Iterator[_server.Partner]:
    with _server.loopback_partner() as server:
        yield server


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The developer's folder, outside the repository, holding coffee.py; importable as in their shell."""
    folder = tmp_path / "my-coffee"
    folder.mkdir()
    (folder / "coffee.py").write_text(COFFEE)
    monkeypatch.syspath_prepend(str(folder))
    return folder  # its module is forgotten after the test (tests/conftest.py), so each test imports its own


def _order_body() -> bytes:
    return json.dumps(intent_request("OrderIntent", {"drink": "espresso"})).encode()


def test_skills_serve_gives_a_developers_skill_a_working_partner_session(project, partner, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLS_")}
    env["SKILLS_PARTNER_BREW_URL"] = partner.url
    env.pop("PYTHONPATH", None)  # found because it is in the folder serve runs from, as for the developer
    port = _server.free_port()
    proc = _server.start(["serve", "--skills", "coffee:skill", "--db", "var/t.db"], port, env=env, cwd=project)
    try:
        status, answer = _server.post(f"http://127.0.0.1:{port}/alexa/coffee", _order_body())
        sim_status, sim = _server.post(f"http://127.0.0.1:{port}/simulate/coffee",
                                       json.dumps({"text": "order a latte"}).encode())
    finally:
        _server.stop(proc)
    assert status == 200, answer
    assert answer["response"]["outputSpeech"]["ssml"] == "<speak>Your espresso is order B-1.</speak>"
    assert sim_status == 200, sim
    assert "order B-2" in json.dumps(sim)
    assert partner.orders == [{"path": "/v1/orders", "drink": "espresso"}, {"path": "/v1/orders", "drink": "latte"}]
    assert (project / "var" / "t.db").exists()  # a relative --db lands where the developer ran it


def test_wsgi_app_gives_a_developers_skill_the_partner_session_from_its_environment(project, partner, tmp_path):
    app = build_app({"SKILLS_SKILLS": "coffee:skill", "SKILLS_DB": str(tmp_path / "w.db"), "SKILLS_VERIFY": "0",
                     "SKILLS_PARTNER_BREW_URL": partner.url, "SKILLS_HTTP_TIMEOUT": "2.5"})
    answer = app.test_client().post("/alexa/coffee", data=_order_body(), content_type="application/json").json
    app.extensions["skills_sdk"]["store"].close()
    assert answer["response"]["outputSpeech"]["ssml"] == "<speak>Your espresso is order B-1.</speak>"
    http = app.extensions["skills_sdk"]["host"].http
    assert (type(http), http.timeout, http.retries) == (PartnerSession, 2.5, 1)


def test_create_app_without_a_session_reads_the_partner_urls_from_the_environment(project, partner, tmp_path,
                                                                                   monkeypatch):
    import coffee

    monkeypatch.setenv("SKILLS_PARTNER_BREW_URL", partner.url)
    app = create_app([coffee.skill], db=str(tmp_path / "c.db"))
    answer = app.test_client().post("/alexa/coffee", data=_order_body(), content_type="application/json").json
    app.extensions["skills_sdk"]["store"].close()
    assert answer["response"]["outputSpeech"]["ssml"] == "<speak>Your espresso is order B-1.</speak>"


def test_partner_session_from_env_names_a_bad_variable():
    with pytest.raises(ValueError, match="SKILLS_HTTP_TIMEOUT='soon' is not a number of seconds"):
        PartnerSession.from_env({"SKILLS_HTTP_TIMEOUT": "soon"})
    with pytest.raises(LookupError, match="set SKILLS_PARTNER_BREW_URL=https://"):
        PartnerSession.from_env({}).url("brew", "/v1/orders")
    assert PartnerSession.from_env({"SKILLS_HTTP_RETRIES": "0"}).retries == 0
    with pytest.raises(ValueError, match=r"SKILLS_PARTNER_BREW_URL='localhost:9000' is not an http:// or https:// URL"):
        PartnerSession.from_env({"SKILLS_PARTNER_BREW_URL": "localhost:9000"})  # requests would refuse every call


def test_the_lambda_handler_gives_a_developers_skill_the_partner_session_from_its_environment(
        project, partner, tmp_path, monkeypatch):
    from skills_sdk import aws

    monkeypatch.setattr(aws, "_GATEWAY", None)  # a cold start: the handler builds its app from the environment
    for name in [k for k in os.environ if k.startswith(("SKILLS_SKILL", "SKILLS_HTTP_", "SKILLS_PARTNER_"))]:
        monkeypatch.delenv(name)  # only what this instance is given: not the shell's, nor another test's
    for name, value in {"SKILLS_SKILLS": "coffee:skill", "SKILLS_DB": str(tmp_path / "l.db"),
                        "SKILLS_ANY_APPLICATION": "1", "SKILLS_PARTNER_BREW_URL": partner.url}.items():
        monkeypatch.setenv(name, value)
    answer = aws.handler(intent_request("OrderIntent", {"drink": "espresso"}), None)
    aws._GATEWAY.app.extensions["skills_sdk"]["store"].close()  # the instance's ledger, as test_aws closes it
    assert answer["response"]["outputSpeech"]["ssml"] == "<speak>Your espresso is order B-1.</speak>"
    assert partner.orders == [{"path": "/v1/orders", "drink": "espresso"}]


def test_the_default_partner_budget_fits_alexas_deadline_and_a_longer_one_is_named(caplog):
    from skills_sdk.http import ALEXA_DEADLINE

    with caplog.at_level("WARNING", logger="skills_sdk.http"):
        http = PartnerSession.from_env({})
        assert http.timeout * (http.retries + 1) < ALEXA_DEADLINE  # a hanging partner leaves time to apologise
        assert not caplog.records
        PartnerSession.from_env({"SKILLS_HTTP_TIMEOUT": "5"})
    (said,) = [r.getMessage() for r in caplog.records]
    assert said.startswith("SKILLS_HTTP_TIMEOUT=5 with SKILLS_HTTP_RETRIES=1: a partner that never answers holds a "
                           "turn 10 s, past Alexa's 8 s")
