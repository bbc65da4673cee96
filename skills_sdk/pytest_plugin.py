"""pytest fixtures for skill developers: ``skill_client``, ``partners``, ``transcript_store``, ``partner_session``.

Installed with the SDK (entry point ``pytest11``), so a test file needs no imports to use them::

    def test_orders_a_pizza(skill_client, partners):
        partners.post("https://api.pizzapronto.example/v1/orders", json={"id": "pz_1", ...})
        client = skill_client(pizza)
        client.say("order a large pepperoni pizza")
        client.assert_said("Shall I place the order")

This module stays import-light (it loads in every pytest run): the SDK is imported inside fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def transcript_store(tmp_path: Any) -> Iterator[Any]:
    """A :class:`~skills_sdk.transcripts.Ledger` in a SQLite file under ``tmp_path``, stopped after the test."""
    from skills_sdk.transcripts import open_ledger

    store = open_ledger(tmp_path / "transcripts.db")
    yield store
    store.stop()


@pytest.fixture
def skill_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """A factory of :class:`~skills_sdk.testing.SkillClient`: ``client = skill_client(skill, http=..., store=...)``.

    Keywords are those of ``SkillClient``. Without ``store`` each client records into its own
    in-memory store; without ``http`` it reaches partners through the session every server
    gives the skill (``PartnerSession.from_env()``), which the ``partners`` fixture mocks. In a test
    that asks for neither ``partners`` nor ``http=``, that session reaches loopback only: a call
    elsewhere fails (the handler gets a ``requests.ConnectionError``) saying to mock it, instead of
    reaching a partner's real API.
    """
    from skills_sdk.testing import SkillClient

    made: list[Any] = []
    offline = "partners" not in request.fixturenames

    def make(skill: Any, **kwargs: Any) -> Any:
        if offline and "http" not in kwargs:
            kwargs["http"] = _loopback_only()
        client = SkillClient(skill, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        if client.owns_store:
            client.store.close()


def _loopback_only() -> Any:
    """``PartnerSession.from_env()`` whose calls beyond this machine fail, saying how to mock them."""
    import requests
    from requests.adapters import BaseAdapter

    from skills_sdk.http import PartnerSession

    class NoNetwork(BaseAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            raise requests.ConnectionError(
                f"This test called {request.method} {request.url}, a partner's real API: tests reach no network. "
                "Ask for the `partners` fixture and register the answer (partners.post(url, json=...)), or give "
                "skill_client(..., http=session) a session of your own.", request=request)

        def close(self) -> None:
            pass

    session = PartnerSession.from_env()
    real = session.get_adapter("http://")
    for scheme in ("http://", "https://"):
        session.mount(scheme, NoNetwork())
        for host in ("127.0.0.1", "localhost", "[::1]"):  # the session's own adapter: loopback stays reachable
            session.mount(f"{scheme}{host}", real)
    return session


@pytest.fixture
def partners() -> Iterator[Any]:
    """A started ``responses.RequestsMock``: register partner answers on it (``partners.get(url, json=...)``).

    Calls that match nothing fail with a ConnectionError that lists every registered mock, so no
    test reaches the network; registered answers that are never called do not fail the test.
    """
    import responses

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()
        mock.reset()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("skills_partner_session", "module:attr of the factory that makes the requests session your "
                  "skills use (the partner_session fixture calls it), e.g. example_skills:partner_session")


@pytest.fixture
def partner_session(request: pytest.FixtureRequest) -> Any:
    """A fresh session from the factory named by the ``skills_partner_session`` ini option (``module:attr``).

    The example skills name theirs ``example_skills:partner_session`` (the embedded partner
    stand-ins mounted); your skills name the factory that builds the session their handlers use.
    """
    import importlib

    spec = request.config.getini("skills_partner_session")
    if not spec:
        raise pytest.UsageError("The partner_session fixture needs `skills_partner_session = module:attr` in your "
                                "pytest configuration (ini or pyproject), naming the factory of your skills' session, "
                                "e.g. example_skills:partner_session.")
    module, _, attr = spec.partition(":")
    where = f"skills_partner_session = {spec} (your pytest configuration)"
    try:
        factory = getattr(importlib.import_module(module), attr or "partner_session")
    except ModuleNotFoundError as exc:
        raise pytest.UsageError(f"{where}: cannot import {exc.name!r}; name the factory as module:attr, "
                                "e.g. myskills:partner_session.") from None
    except AttributeError:
        raise pytest.UsageError(f"{where}: {module!r} has no attribute {attr or 'partner_session'!r}.") from None
    if not callable(factory):
        raise pytest.UsageError(f"{where} names a {type(factory).__name__}, not the function that makes your skills' "
                                "session (def partner_session(): return PartnerSession.from_env()).")
    return factory()
