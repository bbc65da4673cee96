"""``POST /simulate/<skill>``: type text to a hosted skill; the same middleware chain and transcripts as /alexa."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from ..envelope import parse_body
from ..errors import EnvelopeError
from ..locale import LOCALE
from ..simulator import MAX_TEXT, Conversation, ConversationCache
from .alexa import error_response

__all__ = ["register", "SIMULATOR_USER"]

#: The user the simulator speaks as when the body names none.
SIMULATOR_USER = "simulator-user"
#: How many open simulator sessions the server remembers (least recently used forgotten first).
MAX_SESSIONS = 1000


def _field_error(field: str, message: str) -> Response:
    return error_response(400, "invalid_field", message, field=field)


def _parse(raw: bytes) -> dict[str, Any] | Response:
    """The checked body ``{"text", "user_id", "session_id"}``, or the 400 that names what is wrong."""
    try:
        data = parse_body(raw)
    except EnvelopeError as exc:
        return error_response(400, exc.code, f"{exc} Send {{\"text\": \"open pizza shop\"}}.", fields=exc.errors)
    if not isinstance(data, dict):
        return error_response(400, "invalid_body", f"The body must be a JSON object, got {type(data).__name__}. "
                                    'Send {"text": "open pizza shop"}.')
    text = data.get("text")
    if text is None:
        return _field_error("text", 'Missing "text": the words the user says, e.g. "open pizza shop".')
    if not isinstance(text, str):
        return _field_error("text", f'"text" must be a string, got {type(text).__name__}.')
    if not text.strip():
        return _field_error("text", '"text" is empty: send the words the user says.')
    if len(text) > MAX_TEXT:
        return _field_error("text", f'"text" is {len(text)} characters long; at most {MAX_TEXT} are accepted.')
    for field in ("user_id", "session_id"):
        value = data.get(field)
        if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
            return _field_error(field, f'"{field}" must be a non-empty string of at most 255 characters, '
                                             f"got {value!r:.60}.")
    locale = data.get("locale")
    if locale is not None and (not isinstance(locale, str) or not LOCALE.fullmatch(locale)):
        return _field_error("locale", f'"locale" must be a locale such as "en-US" or "de-DE", got {locale!r:.60}.')
    return {"text": text, "user_id": data.get("user_id") or SIMULATOR_USER, "session_id": data.get("session_id"),
            "locale": locale}


def register(app: Flask) -> None:
    """Add ``POST /simulate/<skill>`` to ``app``.

    The simulator lets anyone speak as any user id, so it is off on a server that verifies Alexa
    requests (``verify=True``) unless ``SKILLS_SIMULATOR=True`` is in the app config.
    """
    host = app.extensions["skills_sdk"]["host"]
    sessions = ConversationCache(MAX_SESSIONS)
    app.extensions["skills_sdk"]["simulator_sessions"] = sessions

    @app.post("/simulate/<skill>")
    def simulate(skill: str) -> Response:
        if not app.config.get("SKILLS_SIMULATOR", not app.config.get("SKILLS_VERIFY")):
            return error_response(403, "simulator_disabled", "The text simulator is off on this server because it "
                                  "verifies Alexa requests; set SKILLS_SIMULATOR=True in the app config to turn it on.")
        if skill not in host:
            known = ", ".join(sorted(host.skills)) or "none"
            return error_response(404, "unknown_skill", f"No skill named {skill!r} is hosted here. Hosted: {known}.")
        if request.mimetype != "application/json":
            # A JSON content type cannot be sent cross-site without a CORS preflight, so another
            # web page cannot make a visitor's browser speak to the simulator.
            return error_response(415, "unsupported_media_type",
                                  f"Send the body as JSON with Content-Type: application/json "
                                  f"(got {request.mimetype or 'none'!r}).")
        body = _parse(request.get_data(cache=False))
        if isinstance(body, Response):
            return body
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
