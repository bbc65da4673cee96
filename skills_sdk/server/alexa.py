"""The Alexa endpoint ``POST /alexa/<skill>``, the health check, and JSON bodies for every error."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from ..envelope import parse_body
from ..errors import EnvelopeError, LedgerUnavailable, VerificationError
from .ops import logged_path

__all__ = ["register", "error_response", "ledger_unavailable", "BUSY_RETRY_AFTER"]

#: Seconds a client is told to wait (``Retry-After``) when the ledger is busy.
BUSY_RETRY_AFTER = 2

log = logging.getLogger("skills_sdk.server")


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """A JSON error body: ``{"error": {"code": ..., "message": ..., ...}}`` with ``status``."""
    body = {"error": {"code": code, "message": message, **extra}}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def ledger_unavailable(exc: LedgerUnavailable) -> Response:
    """503 for a turn refused before its handler ran: Alexa tells the user the skill failed, nothing was done."""
    resp = error_response(503, "ledger_unavailable", str(exc), cause=exc.cause)
    resp.headers["Retry-After"] = "5"
    return resp


def register(app: Flask) -> None:
    """Add the Alexa endpoint, ``/healthz`` and the JSON error handlers to ``app``."""
    ext = app.extensions["skills_sdk"]
    host = ext["host"]
    verifier = ext["verifier"]

    @app.post("/alexa/<skill>")
    def alexa(skill: str) -> Response:
        if skill not in host:
            known = ", ".join(sorted(host.skills)) or "none"
            return error_response(404, "unknown_skill", f"No skill named {skill!r} is hosted here. Hosted: {known}.")
        if request.mimetype != "application/json":
            # Alexa always sends application/json. Anything else, text/plain above all, is what a web
            # page in the developer's browser can post cross-site without a preflight: refuse it.
            return error_response(415, "unsupported_media_type",
                                  f"The body must be sent as application/json, not {request.mimetype or 'no type'!r}.")
        raw = request.get_data(cache=False)
        try:
            data = parse_body(raw)
        except EnvelopeError as exc:
            return error_response(400, exc.code, str(exc), fields=exc.errors)
        g.skills_body = data  # for the access log (server/ops.py)
        # A Lambda invocation from Alexa's own trigger carries no signature: the trigger vouches for it.
        if verifier is not None and not request.environ.get("skills_sdk.lambda_direct"):
            try:
                verifier.verify(request.headers, raw, envelope=data if isinstance(data, dict) else None,
                                application_id=host.skills[skill].application_id)
            except VerificationError as exc:
                g.skills_check = exc.check
                log.warning("verification failed for skill %s: %s", skill, exc, extra={"check": exc.check})
                return error_response(400, "verification_failed", exc.message, check=exc.check)
        try:
            result = host.handle(skill, data)
        except EnvelopeError as exc:
            return error_response(400, exc.code, str(exc), fields=exc.errors)
        except LedgerUnavailable as exc:
            return ledger_unavailable(exc)
        g.skills_turn = result.turn
        return Response(result.json(), mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"status":"ok"}', mimetype="application/json")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(LedgerUnavailable)
    def refused(exc: LedgerUnavailable) -> Response:  # the simulator, the console: any route that runs a turn
        return ledger_unavailable(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if current_app.extensions["skills_sdk"]["store"].is_busy(exc):
            # Another process held the ledger's write lock past the busy timeout: the same request
            # will work once the lock is released.
            log.warning("ledger busy on %s %s", request.method, logged_path())
            resp = error_response(503, "ledger_busy", "The transcript ledger is busy with another writer; "
                                  f"retry in {BUSY_RETRY_AFTER} s.")
            resp.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
            return resp
        log.exception("unexpected error on %s %s", request.method, logged_path())
        return error_response(500, "internal_error", "The server failed to answer; the error was logged.")
