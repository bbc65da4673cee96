"""The ``requests.Session`` handlers reach partner APIs through: default timeouts, one retry on idempotent GETs."""

from __future__ import annotations

import logging
from typing import Any

import requests

__all__ = ["PartnerSession", "PartnerUnavailable"]

log = logging.getLogger("skills_sdk.http")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class PartnerUnavailable(requests.RequestException):
    """A partner API could not be reached or answered with a server error after the retry."""


class PartnerSession(requests.Session):
    """A ``requests.Session`` with a default timeout and one retry for idempotent requests.

    >>> http = PartnerSession(timeout=3.0)
    >>> http.get("https://api.pizzapronto.example/v1/menu")   # doctest: +SKIP

    A GET/HEAD/OPTIONS that times out, cannot connect, or gets a 502/503/504 is tried once more;
    a POST is never retried (it may have taken effect). Handlers catch ``requests.RequestException``
    (which covers timeouts, connection errors and ``raise_for_status``) to answer the user honestly.
    """

    def __init__(self, *, timeout: float = 5.0, retries: int = 1) -> None:
        super().__init__()
        self.timeout = timeout
        self.retries = retries

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        attempts = 1 + (self.retries if method.upper() in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                resp = super().request(method, url, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if last:
                    raise
                log.info("retrying %s %s after %s", method, _bare(url), type(exc).__name__)
                continue
            if resp.status_code in (502, 503, 504) and not last:
                log.info("retrying %s %s after HTTP %s", method, _bare(url), resp.status_code)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover


def _bare(url: str) -> str:
    """``url`` without its query string, which may hold a user's search or a token: logs never keep it."""
    return url.split("?", 1)[0].split("#", 1)[0]
