"""Serving behind reverse proxies: how many to trust, and werkzeug's ``ProxyFix`` applied for that many.

A TLS-terminating proxy or load balancer hands the app plain HTTP from its own address, and says
what the client sent in ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port``. Any client can
send those headers too, so they are read only when the operator says how many proxies stand in
front (``SKILLS_PROXY_HOPS``, ``skills serve --proxy-hops N``); by default they are ignored and
nothing wraps the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import SettingError

__all__ = ["PROXY_HOPS", "proxy_hops", "behind_proxies"]

#: The setting: in ``create_app``'s config, and the environment variable ``skills_sdk.wsgi`` reads.
PROXY_HOPS = "SKILLS_PROXY_HOPS"

_FIX = ("Give the number of proxies in front of the server that each set X-Forwarded-For, -Proto, -Host and "
        "-Port (1 for one load balancer), or 0 (the default) when clients reach the server directly.")


def proxy_hops(value: Any, setting: str = PROXY_HOPS) -> int:
    """``value`` as a number of trusted proxies (None or ``""``: 0); :class:`SettingError` naming ``setting`` otherwise.

    >>> proxy_hops("1"), proxy_hops(None)
    (1, 0)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SettingError(f"{setting} must be a whole number, got {value!r}. {_FIX}")
    try:
        hops = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        raise SettingError(f"{setting} must be a whole number, got {value!r}. {_FIX}") from None
    if hops < 0:
        raise SettingError(f"{setting} must be 0 or more, got {value!r}. {_FIX}")
    return hops


def behind_proxies(wsgi_app: Callable[..., Iterable[bytes]], hops: int) -> Callable[..., Iterable[bytes]]:
    """``wsgi_app`` taking the client's address, scheme, host and port from the last ``hops`` proxies' headers.

    >>> app.wsgi_app = behind_proxies(app.wsgi_app, 1)    # doctest: +SKIP

    Each trusted proxy must set (or append to) all four ``X-Forwarded-*`` headers, or remove any
    the client sent: a header no proxy touched is the client's own, and would be believed.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    return ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
