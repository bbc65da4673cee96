"""The Flask server: ``create_app()`` hosts skills behind the Alexa endpoint and the transcript API."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Flask

from ..errors import SettingError
from ..host import SkillHost
from ..middleware import Middleware
from ..skill import Skill
from ..transcripts.compose import ledger_middleware
from ..transcripts.ledger import DEFAULT_DB, Ledger, open_ledger
from .proxy import PROXY_HOPS, behind_proxies, proxy_hops

__all__ = ["create_app", "check_settings", "check_application_ids", "get_host", "settle"]

log = logging.getLogger("skills_sdk.server")

#: Requests larger than this are refused with 413 before they are read.
MAX_BODY_BYTES = 1024 * 1024


def create_app(
    skills: Iterable[Skill] | None = None,
    *,
    store: Ledger | None = None,
    db: str | os.PathLike[str] | None = None,
    http: Any = None,
    middleware: Sequence[Middleware] = (),
    verify: bool = False,
    verifier: Any = None,
    capture: bool = True,
    test_config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the Flask app that hosts ``skills``.

    >>> app = create_app([pizza], db=":memory:", http=partner_session())            # doctest: +SKIP
    >>> app.test_client().post("/alexa/pizza", json=envelope).json["response"]   # doctest: +SKIP

    ``store`` (a :class:`Ledger`, or ``db``: a path or URL; default ``var/transcripts.db``) receives a transcript of every
    response. ``verify=True`` checks Alexa request signatures (production); a ``verifier`` may be
    given to configure trusted roots and clocks. ``http`` is the ``requests.Session`` handlers
    use for partner APIs (``skills serve`` gives the one the skills module's ``partner_session()`` makes).

    A verifying server refuses to start with a skill that has no ``application_id`` (it would answer
    any Alexa skill's signed requests) unless ``SKILLS_ANY_APPLICATION`` is true in the config; then
    a warning names the skills that accept any application.

    ``SKILLS_PROXY_HOPS`` in the config (default 0) is how many reverse proxies in front to believe
    about the client's address, scheme, host and port (:mod:`skills_sdk.server.proxy`); with 0 no
    ``X-Forwarded-*`` header is read.
    """
    app = Flask("skills_sdk")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False, SKILLS_VERIFY=verify)
    if test_config:
        app.config.update(test_config)
    hops = proxy_hops(app.config.get(PROXY_HOPS))  # a bad value before anything is opened
    if skills is None:
        # A server of the API and console alone (over a shared ledger) is a real setup; serving
        # nothing by mistake is not, so it is said.
        log.warning("create_app() was given no skills: /alexa/<skill> answers 404 for every skill")
        skills = ()
    skills = list(skills)
    if verifier is not None or app.config["SKILLS_VERIFY"]:  # before anything is opened
        check_application_ids(skills, bool(app.config.get("SKILLS_ANY_APPLICATION")))
    if store is None:
        store = open_ledger(db if db is not None else DEFAULT_DB)
    if verifier is None and app.config["SKILLS_VERIFY"]:
        from ..verify import RequestVerifier

        verifier = RequestVerifier()
    spool = guard = None
    if capture:
        guard = _ledger_guard(app, store)
        spool = guard.spool
    # The ledger's middleware goes outermost, composed here for every way this app is served
    # (HTTP, skills_sdk.wsgi, AWS Lambda): forget-on-disable, then capture under the guard.
    host = SkillHost(skills, state=store, http=http,
                     middleware=[*ledger_middleware(store, capture=capture, guard=guard), *middleware])
    app.extensions["skills_sdk"] = {"host": host, "store": store, "verifier": verifier, "spool": spool, "guard": guard,
                                    "observers": []}

    from . import alexa

    alexa.register(app)
    for name in ("simulate", "api", "metrics", "ops", "console"):  # metrics before ops: it counts the start-up replay
        try:
            module = __import__(f"{__name__}.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)
    if hops:
        # Outermost, so the Alexa endpoint in front of Flask sees the same client as every route;
        # with no proxies nothing wraps the app, and a request pays nothing for the setting.
        app.wsgi_app = behind_proxies(app.wsgi_app, hops)  # type: ignore[method-assign]
    ext = app.extensions["skills_sdk"]
    # The ledger owns its background work (indexing, checkpoints, purges, the guard's probes and
    # spool replay): started here, in one place, and again in each forked worker (gunicorn
    # --preload), where start() finds no threads of its own process and starts them alike.
    # (ops.request_started calls start() again as each request arrives, with the guard's thread,
    # so a forked worker starts its own threads on its first request.)
    store.start(skills=host.skills.values(), default_days=app.config.get("SKILLS_RETENTION_DAYS"),
                purge_every=ext.get("purge_every", 0.0))
    return app


def _ledger_guard(app: Flask, store: Ledger) -> Any:
    """The guard of ``store``'s rows, with a spool and its reserve beside a file database.

    Sizes come from the app's config, else the environment (``SKILLS_SPOOL_RESERVE`` and
    ``SKILLS_SPOOL_FLOOR`` in bytes, ``SKILLS_LEDGER_INTERVAL`` and ``SKILLS_REPLAY_INTERVAL`` in
    seconds); ``SKILLS_SPOOL=False`` in the config runs without a spool (turns are refused instead).
    """
    from ..transcripts.guard import LedgerGuard, Reserve

    sizes = _guard_settings(app.config)
    # Rows the ledger cannot take wait in its spool (a ledger may have none), which pays for each
    # line from space reserved beside it now.
    spool = store.spool() if app.config.get("SKILLS_SPOOL", True) else None
    if spool is not None:
        spool.reserve = Reserve(spool.path + ".reserve", int(sizes["SKILLS_SPOOL_RESERVE"]))
    return LedgerGuard(store, spool, floor=int(sizes["SKILLS_SPOOL_FLOOR"]), interval=sizes["SKILLS_LEDGER_INTERVAL"],
                       replay_interval=sizes["SKILLS_REPLAY_INTERVAL"])


def _guard_settings(config: Mapping[str, Any]) -> dict[str, float]:
    """The guard's four numbers, from ``config`` else the environment; :class:`SettingError` naming a bad one."""
    from ..transcripts.guard import DEFAULT_FLOOR, DEFAULT_RESERVE

    out = {}
    for name, default in (("SKILLS_SPOOL_RESERVE", DEFAULT_RESERVE), ("SKILLS_SPOOL_FLOOR", DEFAULT_FLOOR),
                          ("SKILLS_LEDGER_INTERVAL", 1.0), ("SKILLS_REPLAY_INTERVAL", 30.0)):
        value = config.get(name, os.environ.get(name))
        if value is None or value == "":
            out[name] = float(default)
            continue
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            raise SettingError(f"{name} must be a number, got {value!r}; unset it for the default ({default:.10g}).") from None
        if not out[name] >= 0:  # NaN too
            raise SettingError(f"{name} must be >= 0, got {value!r}; unset it for the default ({default:.10g}).")
    if out["SKILLS_SPOOL_RESERVE"] and out["SKILLS_SPOOL_RESERVE"] < out["SKILLS_SPOOL_FLOOR"]:
        raise SettingError(f"SKILLS_SPOOL_RESERVE ({out['SKILLS_SPOOL_RESERVE']:.0f} bytes) is below SKILLS_SPOOL_FLOOR "
                           f"({out['SKILLS_SPOOL_FLOOR']:.0f}): the first fault would refuse turns at once. Give a reserve "
                           "above the floor, or lower the floor.")
    return out


def check_settings(config: Mapping[str, Any] | None = None) -> None:
    """Check every ``SKILLS_*`` setting a server reads at start-up; raise :class:`SettingError` naming the first bad one.

    ``skills serve`` calls it before it loads anything (and before gunicorn forks a worker, where a
    bad value was a traceback from every worker); :func:`create_app` reads the same values.
    """
    from ..server.maintenance import BACKGROUND
    from ..server.ops import log_level
    from ..transcripts.sqlite.driver import configured_io
    from ..transcripts.sqlite.walfile import configured_reserve

    _guard_settings(config or {})
    proxy_hops((config or {}).get(PROXY_HOPS, os.environ.get(PROXY_HOPS)))
    configured_io()
    configured_reserve()
    background = os.environ.get(BACKGROUND, "").strip().lower()
    if background not in ("", "thread", "elsewhere"):
        raise SettingError(f"{BACKGROUND} must be 'thread' (each gunicorn worker indexes and checkpoints on its own "
                           f"thread), got {os.environ[BACKGROUND]!r}; unset it for the maintenance process.")
    if os.environ.get("SKILLS_LOG_LEVEL"):
        log_level(os.environ["SKILLS_LOG_LEVEL"], "SKILLS_LOG_LEVEL")


def check_application_ids(skills: Sequence[Skill], allowed: bool) -> None:
    """Refuse skills without an application id on a verifying server, unless the operator allowed them.

    Raises :class:`~skills_sdk.errors.RegistrationError` naming the skills and the fix; ``skills serve
    --workers N`` calls it before gunicorn forks a worker, which would each raise it as a traceback.
    """
    from ..errors import RegistrationError

    open_to_all = [s.name for s in skills if not s.application_id]
    if not open_to_all:
        return
    names = ", ".join(repr(n) for n in open_to_all)
    if not allowed:
        raise RegistrationError(
            f"Skill(s) {names} have no application_id, so this verifying server would answer requests Alexa signed "
            "for any skill, anyone's. Give each its skill id from the Alexa developer console "
            "(Skill(..., application_id='amzn1.ask.skill.…')), or accept that knowingly with "
            "`skills serve --any-application` (SKILLS_ANY_APPLICATION=1 for skills_sdk.wsgi and the Lambda handler).")
    log.warning("Skill(s) %s have no application_id and accept requests for any Alexa skill, as the operator chose "
                "(--any-application / SKILLS_ANY_APPLICATION).", names)


def get_host(app: Flask) -> SkillHost:
    """The :class:`SkillHost` behind ``app``."""
    return app.extensions["skills_sdk"]["host"]


def settle() -> None:
    """Leave everything alive now (modules, the app, its skills) out of the cyclic garbage collector's scans.

    Call it once, when a serving process has built its app and before it takes requests, as
    ``skills_sdk.wsgi`` and ``skills serve`` do::

        app = create_app(skills)
        settle()

    Without it a worker's first full collection comes within its first ten thousand or so
    requests and walks every object of the app (some 40,000: 30-40 ms of CPU on the build machine)
    while a request waits; frozen, those objects are never scanned again, and under ``gunicorn
    --preload`` the workers' collections no longer write to the pages they share with the master.
    What requests allocate is collected as before. A frozen object is still freed when its last
    reference goes; only a reference cycle among frozen objects that is dropped later stays
    (Python's :func:`gc.freeze`), so call it once the process's long-lived objects are built.
    """
    gc.freeze()
