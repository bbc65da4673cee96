"""Embedded stand-ins of the four partner REST APIs the example skills call, served in-process.

The example skills reach TuneStream (music), FreshCart (grocery), ZipRide (ride) and PizzaPronto (pizza)
through the ``requests.Session`` the SDK injects. :func:`mount_partners` mounts a stand-in of each on that
session as a transport adapter, so ``skills serve`` works offline and the skills server never calls itself
over HTTP (a sync worker waiting on its own pool deadlocks). To give a stand-in a port of its own instead,
use :func:`serve`.

Example::

    session = mount_partners(requests.Session())
    session.get(BASE_URLS["pizza"] + "/v1/menu").json()
    partner_app(session, "pizza").fail_next(503)  # the next PizzaPronto call answers 503

Every stand-in speaks JSON in snake_case, prices in integer cents with ``"currency": "USD"``, string ids,
ISO-8601 UTC times (``2026-03-01T18:00:00Z``) and errors shaped ``{"error": {"code", "message"[, "field"]}}``
(``field`` on 422 validation errors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import requests

from . import grocery, music, pizza, ride
from ._app import Clock, PartnerAdapter, PartnerApp, PartnerError, PartnerRequest, make_server, serve

__all__ = [
    "BASE_URLS",
    "Clock",
    "PartnerAdapter",
    "PartnerApp",
    "PartnerError",
    "PartnerRequest",
    "make_partner",
    "make_server",
    "mount_partners",
    "partner_app",
    "serve",
]

#: Where each partner lives; the ``.example`` TLD keeps these fictional companies off the real internet.
BASE_URLS: dict[str, str] = {
    "music": "https://api.tunestream.example",
    "grocery": "https://api.freshcart.example",
    "ride": "https://api.zipride.example",
    "pizza": "https://api.pizzapronto.example",
}

_FACTORIES: dict[str, Callable[[Clock | None], PartnerApp]] = {
    "music": music.create_app,
    "grocery": grocery.create_app,
    "ride": ride.create_app,
    "pizza": pizza.create_app,
}


def make_partner(name: str, clock: Clock | None = None) -> PartnerApp:
    """Return a new stand-in of partner ``name`` with fresh state.

    Example: ``app = make_partner("ride", clock=lambda: datetime(2026, 3, 1, 18, tzinfo=UTC))``

    Parameters:
        name: one of the keys of :data:`BASE_URLS`.
        clock: returns the current aware UTC datetime; defaults to the real time.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"No partner stand-in named {name!r}. Known: {', '.join(sorted(_FACTORIES))}."
        ) from None
    return factory(clock)


def mount_partners(
    session: requests.Session, names: Iterable[str] | None = None, *, clock: Clock | None = None
) -> requests.Session:
    """Mount a fresh in-process stand-in for each partner in ``names`` (default: all) on ``session``.

    Requests to ``BASE_URLS[name] + "/..."`` are then answered by the stand-in without opening a socket;
    other URLs keep their usual adapters. Use :func:`partner_app` to reach a mounted stand-in (faults, state).

    Example::

        session = mount_partners(requests.Session(), ["music"])
        session.get("https://api.tunestream.example/v1/search", params={"q": "jazz", "type": "genre"})

    Parameters:
        session: the session the SDK injects into skills; it is changed in place and returned.
        names: which partners to mount; unknown names raise ``ValueError``.
        clock: passed to every stand-in, so tests can move time.
    """
    for name in list(_FACTORIES) if names is None else names:
        app = make_partner(name, clock)
        # The trailing slash stops the prefix from also matching e.g. api.tunestream.example.attacker.net.
        session.mount(BASE_URLS[name] + "/", PartnerAdapter(app))
    return session


def partner_app(session: requests.Session, name: str) -> PartnerApp:
    """Return the stand-in that :func:`mount_partners` mounted for ``name`` on ``session``.

    Example: ``partner_app(session, "grocery").set_latency(2.0)``
    """
    if name not in BASE_URLS:
        raise ValueError(f"No partner named {name!r}. Known: {', '.join(sorted(BASE_URLS))}.")
    adapter = session.get_adapter(BASE_URLS[name] + "/")
    if not isinstance(adapter, PartnerAdapter):
        raise LookupError(
            f"No stand-in is mounted for {name!r} on this session (found {type(adapter).__name__}). "
            f"Call mount_partners(session, [{name!r}]) first."
        )
    return adapter.app
