"""``POST /simulate/<skill>``: type text to a hosted skill; the same middleware chain and transcripts as /alexa."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app

from .alexa import error_response, json_body

__all__ = ["register", "bp", "SIMULATOR_USER"]

#: The user the simulator speaks as when the body names none.
SIMULATOR_USER = "simulator-user"
#: How many open simulator sessions the server remembers (least recently used forgotten first).
MAX_SESSIONS = 1000
_EXAMPLE = 'Send {"text": "open pizza shop"}.'

bp = Blueprint("simulate", __name__)


def _parse() -> dict[str, Any]:
    """The checked body ``{"text", "user_id", "session_id", "locale"}``; aborts with the 4xx that names what is wrong."""
    # marshmallow: imported by the first simulated turn, never by a server that only serves /alexa
    from .bodies import BodyError, SimulateBody, load_body

    data = json_body(_EXAMPLE)
    try:
        body = load_body(SimulateBody(), data)
    except BodyError as exc:
        if not exc.field:
            abort(error_response(400, "invalid_body", f"{exc} {_EXAMPLE}", fields={"(body)": [str(exc)]}))
        abort(error_response(400, "invalid_field", str(exc), field=exc.field, fields={exc.field: [str(exc)]}))
    body["user_id"] = body["user_id"] or SIMULATOR_USER
    return body


def register(app: Flask) -> None:
    """Add ``POST /simulate/<skill>`` to ``app``.

    The simulator lets anyone speak as any user id, so it is off on a server that verifies Alexa
    requests (``verify=True``) unless ``SKILLS_SIMULATOR=True`` is in the app config.
    """
    app.register_blueprint(bp)


@bp.post("/simulate/<skill>")
def simulate(skill: str) -> Response:
    app = current_app
    ext = app.extensions["skills_sdk"]
    # The simulator (its NLU matcher and request builders) is loaded by the first simulated turn, not
    # by every server's start: most never simulate.
    from ..simulator import Conversation, ConversationCache

    host = ext["host"]
    sessions = ext.get("simulator_sessions")
    if sessions is None:  # an empty cache is falsy: test for None, or every turn would build one to throw away
        sessions = ext.setdefault("simulator_sessions", ConversationCache(MAX_SESSIONS))
    if not app.config.get("SKILLS_SIMULATOR", not app.config.get("SKILLS_VERIFY")):
        return error_response(403, "simulator_disabled", "The text simulator is off on this server because it "
                              "verifies Alexa requests; set SKILLS_SIMULATOR=True in the app config to turn it on.")
    if skill not in host:
        known = ", ".join(sorted(host.skills)) or "none"
        return error_response(404, "unknown_skill", f"No skill named {skill!r} is hosted here. Hosted: {known}.")
    body = _parse()  # JSON only: no other web page can make a visitor's browser speak to the simulator
    user, session_id = body["user_id"], body["session_id"]
    locale = body["locale"] or host.skills[skill].locale
    if session_id is None:
        chat = Conversation(host, skill, user_id=user, locale=locale)
        turn = chat.say(body["text"])
    else:
        key = (skill, user, session_id, locale)
        chat = sessions.get(key, lambda: Conversation(host, skill, user_id=user, session_id=session_id,
                                                      locale=locale))
        turn = chat.say(body["text"])
        if turn.session_ended:
            sessions.discard(key)  # the next call with this id starts a new session
    return Response(json.dumps(turn.to_dict(), ensure_ascii=False, default=str), mimetype="application/json")
