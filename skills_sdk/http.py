"""The ``requests.Session`` handlers reach partner APIs through: default timeouts, one retry on idempotent GETs.

Every way of running a skill (``skills serve``, ``skills_sdk.wsgi``, ``create_app``, the Lambda
handler, ``skills chat``, ``SkillClient``) hands handlers a session made by
:meth:`PartnerSession.from_env`, so a skill behaves the same in its tests and when served:

| variable | meaning | default |
|---|---|---|
| ``SKILLS_HTTP_TIMEOUT`` | seconds a partner call may take (connect and each read) | ``3`` |
| ``SKILLS_HTTP_RETRIES`` | extra tries of an idempotent call (GET, HEAD, OPTIONS) after a read timeout or a 502/503/504, and of any call whose connection could not be made | ``1`` |
| ``SKILLS_PARTNER_<NAME>_URL`` | the base URL of partner ``<name>``, read by ``ctx.http.url("<name>", ...)`` | the ``default=`` the skill passes |
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from .errors import SettingError

__all__ = ["PartnerSession", "partner_variable", "ALEXA_DEADLINE", "DEFAULT_TIMEOUT"]

log = logging.getLogger("skills_sdk.http")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
#: Seconds Alexa waits for a skill's answer; past them the user hears that the skill did not respond.
ALEXA_DEADLINE = 8.0
#: One try's timeout by default: a partner that hangs, tried twice, leaves the turn 2 s of Alexa's 8.
DEFAULT_TIMEOUT = 3.0
_RETRY_STATUS = frozenset({502, 503, 504})


class PartnerSession(requests.Session):
    """A ``requests.Session`` with a default timeout and one retry for idempotent requests.

    >>> http = PartnerSession(timeout=3.0)
    >>> http.get("https://api.pizzapronto.example/v1/menu")   # doctest: +SKIP

    A GET/HEAD/OPTIONS that times out or gets a 502/503/504 is tried once more, and any request
    whose connection could not be made (urllib3's ``Retry`` on the session's adapters); a POST
    that reached the partner is never retried (it may have taken effect). Handlers catch ``requests.RequestException``
    (which covers timeouts, connection errors and ``raise_for_status``) to answer the user honestly.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, retries: int = 1,
                 base_urls: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.retries = retries
        #: Partner name (lower case) -> base URL, read by :meth:`url`.
        self.base_urls: dict[str, str] = {_partner_key(k): v.rstrip("/") for k, v in (base_urls or {}).items()}
        # The retries are urllib3's, on the adapter of every http(s) URL; an adapter a skill mounts
        # for a prefix (an in-process stand-in) brings its own behaviour.
        for prefix in ("https://", "http://"):
            self.mount(prefix, _PartnerAdapter(max_retries=_retry(retries)))
        _install_log_filter()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PartnerSession:
        """The session every serving path gives handlers, configured from ``environ`` (default ``os.environ``).

        >>> http = PartnerSession.from_env({"SKILLS_PARTNER_COFFEE_URL": "http://127.0.0.1:9000"})
        >>> http.url("coffee", "/v1/orders")
        'http://127.0.0.1:9000/v1/orders'

        Reads ``SKILLS_HTTP_TIMEOUT``, ``SKILLS_HTTP_RETRIES`` and every ``SKILLS_PARTNER_<NAME>_URL``.
        A value that is not a number, or a base URL that is not http(s), raises :class:`ValueError` naming the variable.
        """
        env = os.environ if environ is None else environ
        timeout = _number(env, "SKILLS_HTTP_TIMEOUT", DEFAULT_TIMEOUT, float)
        retries = int(_number(env, "SKILLS_HTTP_RETRIES", 1, int))
        if timeout <= 0:
            raise SettingError(f"SKILLS_HTTP_TIMEOUT={timeout:g}: a timeout must be more than 0 seconds.")
        if retries < 0:
            raise SettingError(f"SKILLS_HTTP_RETRIES={retries}: use 0 for no retry, or a positive count.")
        if (worst := timeout * (retries + 1)) >= ALEXA_DEADLINE:
            log.warning("SKILLS_HTTP_TIMEOUT=%g with SKILLS_HTTP_RETRIES=%d: a partner that never answers holds a "
                        "turn %g s, past Alexa's %g s, so the user hears that the skill did not respond instead of "
                        "its apology. Keep SKILLS_HTTP_TIMEOUT x (1 + SKILLS_HTTP_RETRIES) under %g.",
                        timeout, retries, worst, ALEXA_DEADLINE, ALEXA_DEADLINE)
        prefix, suffix = "SKILLS_PARTNER_", "_URL"
        urls = {key[len(prefix):-len(suffix)]: value for key, value in env.items()
                if key.startswith(prefix) and key.endswith(suffix) and len(key) > len(prefix) + len(suffix) and value}
        for name, value in urls.items():
            if not value.startswith(("http://", "https://")):  # requests would refuse every call, and the skill hear only "failed"
                raise SettingError(f"{prefix}{name}{suffix}={value!r} is not an http:// or https:// URL; "
                                 f"e.g. {prefix}{name}{suffix}=http://{value.split('://')[-1]}.")
        return cls(timeout=timeout, retries=retries, base_urls=urls)

    def url(self, partner: str, path: str = "", *, default: str | None = None) -> str:
        """The base URL of ``partner`` (from ``SKILLS_PARTNER_<NAME>_URL``, else ``default``) joined with ``path``.

        >>> PartnerSession().url("coffee", "/v1/menu", default="https://api.brew.example")
        'https://api.brew.example/v1/menu'

        Raises :class:`LookupError` naming the variable to set when neither is there.
        """
        base = self.base_urls.get(_partner_key(partner)) or default
        if not base:
            raise LookupError(
                f"No base URL for partner {partner!r}: set {partner_variable(partner)}=https://... in the "
                f"environment, or pass default= to ctx.http.url({partner!r}, ...)."
            )
        return base.rstrip("/") + path

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


class _PartnerAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose read timeouts stay ``requests.ReadTimeout`` once urllib3 has retried them.

    With a ``Retry`` on the adapter, urllib3 reports a read timeout on the last try as a
    ``MaxRetryError``, which ``requests`` turns into a plain ``ConnectionError``: a handler's
    ``except requests.Timeout`` would never run when served, while under ``responses`` (which
    raises the ``ReadTimeout`` a test registers) it would. Raising ``ReadTimeout`` makes both agree.
    """

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, *args, **kwargs)
        except requests.ConnectionError as exc:
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, MaxRetryError) and isinstance(cause.reason, ReadTimeoutError):
                raise requests.ReadTimeout(cause, request=request) from exc
            raise


def _retry(retries: int) -> Retry:
    """urllib3's retry policy for partner calls: ``retries`` more tries, none of them waiting.

    A read timeout or a 502/503/504 is retried for idempotent methods only (a POST may have taken
    effect); a connection that was never made is retried for any method (the request never left).
    After the last try a 5xx is returned as it came, not raised. ``Retry-After`` is not slept on:
    the user is waiting for the answer.
    """
    return Retry(total=retries, connect=retries, read=retries, status=retries, other=0, redirect=False,
                 status_forcelist=_RETRY_STATUS, allowed_methods=_IDEMPOTENT, backoff_factor=0,
                 raise_on_status=False, respect_retry_after_header=False)


class _BareRetryUrls(logging.Filter):
    """urllib3 logs a retried request's URL with its query string, which may hold a user's search: cut it off."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.msg.startswith("Retry"):
            record.args = tuple(_bare(a) if isinstance(a, str) else a for a in record.args)
        return True


def _install_log_filter() -> None:
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _BareRetryUrls) for f in urllib3_log.filters):
        urllib3_log.addFilter(_BareRetryUrls())


def partner_variable(partner: str) -> str:
    """The environment variable that holds ``partner``'s base URL: ``SKILLS_PARTNER_<NAME>_URL``."""
    return f"SKILLS_PARTNER_{_partner_key(partner).upper()}_URL"


def _partner_key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number of seconds"
        raise SettingError(f"{name}={raw!r} is not {what}; e.g. {name}={default:g}.") from None


def _bare(url: str) -> str:
    """``url`` without its query string, which may hold a user's search or a token: logs never keep it."""
    return url.split("?", 1)[0].split("#", 1)[0]
