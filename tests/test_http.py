"""The partner session: default timeout, urllib3's retries on idempotent calls, no query string in retry logs."""

from __future__ import annotations

import logging
import socket

import pytest
import requests
import responses

from skills_sdk.http import PartnerSession

MENU = "https://api.pizzapronto.example/v1/menu"


@responses.activate
def test_an_idempotent_get_is_retried_once_after_a_503_and_a_post_is_not():
    responses.add("GET", MENU, status=503)
    responses.add("GET", MENU, json={"items": []})
    assert PartnerSession().get(MENU).json() == {"items": []}
    responses.add("POST", MENU, status=503)
    responses.add("POST", MENU, status=201)
    assert PartnerSession().post(MENU).status_code == 503  # it may have taken effect: the user is told
    assert [c.request.method for c in responses.calls] == ["GET", "GET", "POST"]


@responses.activate
def test_after_the_last_retry_the_server_error_comes_back_as_it_came():
    for status in (502, 504, 200):
        responses.add("GET", MENU, status=status)
    assert PartnerSession(retries=1).get(MENU).status_code == 504
    assert PartnerSession(retries=0).get(MENU).status_code == 200
    assert len(responses.calls) == 3


def test_a_refused_connection_is_retried_and_the_log_keeps_no_query_string(caplog):
    with socket.socket() as s:  # a loopback port with nobody listening: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    with pytest.raises(requests.ConnectionError):
        PartnerSession(retries=2, timeout=2).get(f"http://127.0.0.1:{port}/v1/search?q=my+secret+song")
    retried = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert len(retried) == 2 and all("/v1/search" in m and "secret" not in m for m in retried)


@pytest.fixture
def slow_partner():
    """A loopback server that accepts connections and never answers, so every read times out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize("retries", [0, 1])
def test_a_read_timeout_is_raised_as_a_timeout_after_the_retries(slow_partner, retries):
    # A handler's `except requests.Timeout` must run when served, as it does under `responses`.
    with pytest.raises(requests.ReadTimeout, match="Read timed out"):
        PartnerSession(retries=retries, timeout=0.2).get(f"{slow_partner}/v1/menu")
