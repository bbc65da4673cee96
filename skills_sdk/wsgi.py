"""The production entry point ``skills_sdk.wsgi:app``, configured from the environment.

    gunicorn -w 4 -c python:skills_sdk.server.gunicorn_hooks -b 0.0.0.0:8000 'skills_sdk.wsgi:app'

(the hooks module runs the ledger's background work in one maintenance process: :mod:`skills_sdk.server.maintenance`).

| variable | meaning | default |
|---|---|---|
| ``SKILLS_DB`` | the transcript ledger: a SQLite file path, ``sqlite:///PATH`` or ``postgresql://…`` | ``var/transcripts.db`` |
| ``SKILLS_VERIFY`` | check Alexa request signatures (``0``/``false``/``off`` to disable) | on |
| ``SKILLS_SKILLS`` | your skills, ``module:attr`` (a Skill, a list, or a factory) | ``example_skills:all_skills``, as ``skills serve`` |
| ``SKILLS_ANY_APPLICATION`` | serve skills without ``application_id`` while verifying (they answer any skill's requests) | off: they refuse to start |
| ``SKILLS_PROXY_HOPS`` | how many reverse proxies (load balancers) in front set ``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port``: the client's address, scheme and host are read from them | 0: those headers are ignored |
| ``SKILLS_LOG_LEVEL`` | ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR`` (JSON lines on stderr) | ``INFO`` |
| ``SKILLS_HTTP_TIMEOUT``, ``SKILLS_HTTP_RETRIES``, ``SKILLS_PARTNER_<NAME>_URL`` | your skills' ``ctx.http`` (:mod:`skills_sdk.http`) | 5 s, 1 retry |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .errors import RegistrationError
from .host import DEFAULT_SKILLS, load_partner_session, load_skills

__all__ = ["build_app", "app"]

_FALSE = ("0", "false", "off", "no")
#: The variables PartnerSession.from_env reads (see skills_sdk.http).
_HTTP_SETTINGS = ("SKILLS_HTTP_", "SKILLS_PARTNER_")

#: The WSGI app, built from the environment on first access (so importing this module opens nothing).
app: Any


def build_app(environ: Mapping[str, str] | None = None) -> Any:
    """Build the Flask app the way production runs it, from ``environ`` (default ``os.environ``).

    >>> app = build_app({"SKILLS_DB": "/srv/skills/transcripts.db", "SKILLS_VERIFY": "1"})   # doctest: +SKIP
    """
    from .server import create_app
    from .server.ops import configure_logging, log_level
    from .server.proxy import PROXY_HOPS, proxy_hops
    from .transcripts.ledger import DEFAULT_DB

    env = os.environ if environ is None else environ
    configure_logging(log_level(env.get("SKILLS_LOG_LEVEL") or "INFO", "SKILLS_LOG_LEVEL"))
    verify = env.get("SKILLS_VERIFY", "1").strip().lower() not in _FALSE
    hops = proxy_hops(env.get(PROXY_HOPS))  # before any skill is loaded
    spec = env.get("SKILLS_SKILLS") or DEFAULT_SKILLS
    try:
        skills = load_skills(spec)
        http = load_partner_session(spec)  # the module's own partner_session(), if it has one
    except RegistrationError as exc:
        raise RegistrationError(f"SKILLS_SKILLS={exc}") from None
    if http is None and (environ is not None or any(k.startswith(_HTTP_SETTINGS) for k in env)):
        from .http import PartnerSession

        http = PartnerSession.from_env(env)  # the same ctx.http as SkillClient and `skills serve`
    # else: the host makes that very session from os.environ on first use of ctx.http (none of its
    # settings is set, so none can be wrong now): a worker whose skills call no partner never imports requests.
    any_application = env.get("SKILLS_ANY_APPLICATION", "0").strip().lower() not in (*_FALSE, "")
    return create_app(skills, db=env.get("SKILLS_DB") or DEFAULT_DB, http=http, verify=verify,
                      test_config={"SKILLS_ANY_APPLICATION": any_application,
                                   PROXY_HOPS: hops})


def __getattr__(name: str) -> Any:
    # Built on first access, so importing the module (docs, tests) does not open a database.
    if name == "app":
        from .server import settle

        globals()["app"] = built = build_app()
        settle()  # the worker's app is built: keep the collector's full scans off its first requests
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
