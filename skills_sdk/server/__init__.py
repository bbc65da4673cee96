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
from ..transcripts.store import DEFAULT_DB, TranscriptStore

__all__ = ["create_app", "get_host"]

log = logging.getLogger("skills_sdk.server")

#: Requests larger than this are refused with 413 before they are read.
MAX_BODY_BYTES = 1024 * 1024


def create_app(
    skills: Iterable[Skill] | None = None,
    *,
    store: TranscriptStore | None = None,
    db: str | os.PathLike[str] | None = None,
    http: Any = None,
    middleware: Sequence[Middleware] = (),
    verify: bool = False,
    verifier: Any = None,
    capture: bool = True,
    test_config: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the Flask app that hosts ``skills`` (the four example skills when None).

    >>> app = create_app(db=":memory:")
    >>> app.test_client().post("/alexa/pizza", json=envelope).json["response"]   # doctest: +SKIP

    ``store`` (or a ``db`` path; default ``var/transcripts.db``) receives a transcript of every
    response. ``verify=True`` checks Alexa request signatures (production); a ``verifier`` may be
    given to configure trusted roots and clocks. ``http`` is the ``requests.Session`` handlers
    use for partner APIs (for the example skills: one with the embedded partner stand-ins mounted).
    """
    app = Flask("skills_sdk")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False, SKILLS_VERIFY=verify)
    if test_config:
        app.config.update(test_config)
    if skills is None:
        from example_skills import all_skills, partner_session

        skills = all_skills()
        if http is None:
            http = partner_session()
    if store is None:
        store = TranscriptStore(db if db is not None else DEFAULT_DB)
    if verifier is None and app.config["SKILLS_VERIFY"]:
        from ..verify import RequestVerifier

        verifier = RequestVerifier()
    spool = guard = None
    if capture:
        guard = _ledger_guard(app, store)
        spool = guard.spool
    host = SkillHost(skills, store=store, http=http, middleware=middleware, capture=capture, guard=guard)
    app.extensions["skills_sdk"] = {"host": host, "store": store, "verifier": verifier, "spool": spool, "guard": guard}

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
    return app


def _ledger_guard(app: Flask, store: TranscriptStore) -> Any:
    """The guard of ``store``'s rows, with a spool and its reserve beside a file database.

    Sizes come from the app's config, else the environment (``SKILLS_SPOOL_RESERVE`` and
    ``SKILLS_SPOOL_FLOOR`` in bytes, ``SKILLS_LEDGER_INTERVAL`` and ``SKILLS_REPLAY_INTERVAL`` in
    seconds); ``SKILLS_SPOOL=False`` in the config runs without a spool (turns are refused instead).
    """
    from ..transcripts.guard import DEFAULT_FLOOR, DEFAULT_RESERVE, RESERVE_SUFFIX, LedgerGuard, Reserve
    from ..transcripts.spool import Spool

    def setting(name: str, default: float) -> float:
        value = app.config.get(name, os.environ.get(name))
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}.") from None
        if number < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}.")
        return number

    spool = None
    if not store.memory and app.config.get("SKILLS_SPOOL", True):
        reserve = Reserve(store.path + RESERVE_SUFFIX, int(setting("SKILLS_SPOOL_RESERVE", DEFAULT_RESERVE)))
        spool = Spool.for_store(store, reserve=reserve)  # rows the store cannot take wait here
    return LedgerGuard(store, spool, floor=int(setting("SKILLS_SPOOL_FLOOR", DEFAULT_FLOOR)),
                       interval=setting("SKILLS_LEDGER_INTERVAL", 1.0),
                       replay_interval=setting("SKILLS_REPLAY_INTERVAL", 30.0))


def get_host(app: Flask) -> SkillHost:
    """The :class:`SkillHost` behind ``app``."""
    return app.extensions["skills_sdk"]["host"]
