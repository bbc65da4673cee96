"""The Flask server: ``create_app()`` hosts skills behind the Alexa endpoint and the transcript API."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Flask

from ..host import SkillHost
from ..middleware import Middleware
from ..skill import Skill
from ..transcripts.ledger import DEFAULT_DB, Ledger, open_ledger

__all__ = ["create_app", "get_host"]

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

    >>> app = create_app([pizza], db=":memory:", http=partner_session())
    >>> app.test_client().post("/alexa/pizza", json=envelope).json["response"]   # doctest: +SKIP

    ``store`` (a :class:`Ledger`, or ``db``: a path or URL; default ``var/transcripts.db``) receives a transcript of every
    response. ``verify=True`` checks Alexa request signatures (production); a ``verifier`` may be
    given to configure trusted roots and clocks. ``http`` is the ``requests.Session`` handlers
    use for partner APIs (``skills serve`` gives the one the skills module's ``partner_session()`` makes).

    A verifying server refuses to start with a skill that has no ``application_id`` (it would answer
    any Alexa skill's signed requests) unless ``SKILLS_ANY_APPLICATION`` is true in the config; then
    a warning names the skills that accept any application.
    """
    app = Flask("skills_sdk")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False, SKILLS_VERIFY=verify)
    if test_config:
        app.config.update(test_config)
    if skills is None:
        # A server of the API and console alone (over a shared ledger) is a real setup; serving
        # nothing by mistake is not, so it is said.
        log.warning("create_app() was given no skills: /alexa/<skill> answers 404 for every skill")
        skills = ()
    skills = list(skills)
    if verifier is not None or app.config["SKILLS_VERIFY"]:  # before anything is opened
        _check_application_ids(skills, bool(app.config.get("SKILLS_ANY_APPLICATION")))
    if store is None:
        store = open_ledger(db if db is not None else DEFAULT_DB)
    if verifier is None and app.config["SKILLS_VERIFY"]:
        from ..verify import RequestVerifier

        verifier = RequestVerifier()
    # Rows the ledger cannot take wait in its spool, replayed by server/ops.py.
    spool = store.spool() if capture and app.config.get("SKILLS_SPOOL", True) else None
    host = SkillHost(skills, store=store, http=http, middleware=middleware, capture=capture, spool=spool)
    app.extensions["skills_sdk"] = {"host": host, "store": store, "verifier": verifier, "spool": spool}

    from . import alexa

    alexa.register(app)
    for name in ("simulate", "api", "ops", "console"):
        try:
            module = __import__(f"{__name__}.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)
    ext = app.extensions["skills_sdk"]
    # The ledger owns its background work (indexing, checkpoints, purges, spool replay): started
    # here, in one place, and again in each forked worker (gunicorn --preload), where start()
    # finds no threads of its own process and starts them with the same options.
    store.start(skills=host.skills.values(), default_days=app.config.get("SKILLS_RETENTION_DAYS"),
                purge_every=ext.get("purge_every", 0.0), replay_every=ext.get("replay_every", 0.0))

    @app.before_request
    def _start_in_this_process() -> None:
        store.start()

    return app


def _check_application_ids(skills: Sequence[Skill], allowed: bool) -> None:
    """Refuse skills without an application id on a verifying server, unless the operator allowed them."""
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
            "`skills serve --any-application` (SKILLS_ANY_APPLICATION=1 for skills_sdk.wsgi).")
    log.warning("Skill(s) %s have no application_id and accept requests for any Alexa skill, as the operator chose "
                "(--any-application / SKILLS_ANY_APPLICATION).", names)


def get_host(app: Flask) -> SkillHost:
    """The :class:`SkillHost` behind ``app``."""
    return app.extensions["skills_sdk"]["host"]
