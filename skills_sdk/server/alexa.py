"""The Alexa endpoint ``POST /alexa/<skill>``, the health check, and JSON bodies for every error.

The endpoint is answered by :class:`AlexaEndpoint`, a WSGI app in front of Flask's: a turn that
costs the skill ~300 us of CPU cost ~400 us more behind Flask's request context, routing, hooks and
response object, so the one route every Alexa request takes does without them. It gives the same
answers (the Flask route below shares :func:`answer`) and tells the same observers (the access
log, the metrics). Flask's ``before_request``/``after_request`` hooks of the app do not run for
it; ``SKILLS_ALEXA_FAST_PATH=False`` in the config puts it back behind Flask.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..envelope import parse_body
from ..errors import EnvelopeError, LedgerUnavailable, VerificationError
from .ops import ALEXA_ROUTE, Exchange, logged_path, observe

__all__ = ["register", "bp", "error_response", "ledger_unavailable", "answer", "AlexaEndpoint", "BUSY_RETRY_AFTER"]

#: Seconds a client is told to wait (``Retry-After``) when the ledger is busy.
BUSY_RETRY_AFTER = 2

log = logging.getLogger("skills_sdk.server")


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """A JSON error body: ``{"error": {"code": ..., "message": ..., ...}}`` with ``status``."""
    body = {"error": {"code": code, "message": message, **extra}}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def ledger_unavailable(exc: LedgerUnavailable) -> Response:
    """503 for a turn refused before its handler ran: Alexa tells the user the skill failed, nothing was done."""
    status, body, headers = _unavailable(exc)
    return Response(body, status=status, headers=headers, mimetype="application/json")


#: What :func:`answer` returns: status, JSON body, extra headers, and what the observers are told.
Answer = tuple[int, str, list[tuple[str, str]], Any, Any, str | None]
_JSON = "application/json"


def _error(status: int, code: str, message: str, **extra: Any) -> tuple[int, str, list[tuple[str, str]]]:
    return status, json.dumps({"error": {"code": code, "message": message, **extra}}), []


def _unavailable(exc: LedgerUnavailable) -> tuple[int, str, list[tuple[str, str]]]:
    status, body, _ = _error(503, "ledger_unavailable", str(exc), cause=exc.cause)
    return status, body, [("Retry-After", "5")]


def answer(ext: dict[str, Any], skill: str, mimetype: str, headers: Any, raw: bytes,
           environ: Mapping[str, Any], method: str = "POST") -> Answer:
    """Answer one ``POST /alexa/<skill>``: ``(status, body, headers, turn, parsed body, failed check)``.

    Every refusal is a JSON error checked before any handler runs; an error after that is a 503
    (a busy ledger) or a logged 500, never a traceback.
    """
    host = ext["host"]
    if skill not in host:
        known = ", ".join(sorted(host.skills)) or "none"
        return (*_error(404, "unknown_skill", f"No skill named {skill!r} is hosted here. Hosted: {known}."),
                None, None, None)
    if mimetype != _JSON:
        # Alexa always sends application/json. Anything else, text/plain above all, is what a web
        # page in the developer's browser can post cross-site without a preflight: refuse it.
        return (*_error(415, "unsupported_media_type",
                        f"The body must be sent as application/json, not {mimetype or 'no type'!r}."),
                None, None, None)
    try:
        data = parse_body(raw)
    except EnvelopeError as exc:
        return (*_error(400, exc.code, str(exc), fields=exc.errors), None, None, None)
    verifier = ext["verifier"]
    # A Lambda invocation from Alexa's own trigger carries no signature: the trigger vouches for it.
    if verifier is not None and not environ.get("skills_sdk.lambda_direct"):
        try:
            verifier.verify(headers, raw, envelope=data if isinstance(data, dict) else None,
                            application_id=host.skills[skill].application_id)
        except VerificationError as exc:
            log.warning("verification failed for skill %s: %s", skill, exc, extra={"check": exc.check})
            return (*_error(400, "verification_failed", exc.message, check=exc.check), None, data, exc.check)
    try:
        result = host.handle(skill, data)
    except EnvelopeError as exc:
        return (*_error(400, exc.code, str(exc), fields=exc.errors), None, data, None)
    except LedgerUnavailable as exc:
        return (*_unavailable(exc), None, data, None)
    except Exception as exc:
        path = logged_path(f"/alexa/{skill}", ext)
        if ext["store"].is_busy(exc):
            # Another process held the ledger's write lock past the busy timeout: the same request
            # will work once the lock is released.
            log.warning("ledger busy on %s %s", method, path)
            status, body, _ = _error(503, "ledger_busy", "The transcript ledger is busy with another writer; "
                                     f"retry in {BUSY_RETRY_AFTER} s.")
            return status, body, [("Retry-After", str(BUSY_RETRY_AFTER))], None, data, None
        log.exception("unexpected error on %s %s", method, path)
        return (*_error(500, "internal_error", "The server failed to answer; the error was logged."), None, data, None)
    return 200, result.json(), [], result.turn, data, None


def _status_line(status: int) -> str:
    """The status line werkzeug would send (``200 OK``), from its own table of reasons."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class AlexaEndpoint:
    """``POST /alexa/<skill>`` as a WSGI app; every other request goes on to ``next_app`` (Flask's).

    :func:`register` puts it in front of Flask's own WSGI app:

    >>> app.wsgi_app = AlexaEndpoint(app, app.wsgi_app)    # doctest: +SKIP

    A body sent without ``Content-Length`` (chunked) goes on to Flask, which reads it the same way.
    """

    def __init__(self, app: Flask, next_app: Callable[..., Iterable[bytes]]) -> None:
        self.ext = app.extensions["skills_sdk"]
        self.next = next_app
        self.max_body = app.config.get("MAX_CONTENT_LENGTH")
        self.answer = answer  # the stage timer's to wrap (server/stages.py)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        length = environ.get("CONTENT_LENGTH") or ""
        # isascii: "²".isdigit() is True, and int() refuses it (the Flask route answers such a header)
        if (environ.get("REQUEST_METHOD") != "POST" or not path.startswith("/alexa/") or not length.isascii()
                or not length.isdigit()
                or "/" in path[7:] or not path[7:]):
            return self.next(environ, start_response)
        ext = self.ext
        started = ext["request_started"]() if "request_started" in ext else time.perf_counter()
        skill = path[7:]
        size = int(length)
        turn = data = check = None
        if self.max_body is not None and size > self.max_body:
            message, fields = _too_large(size, self.max_body)
            status, body, headers = _error(413, "request_entity_too_large", message, fields=fields)
        else:
            raw = environ["wsgi.input"].read(size)
            mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
            status, body, headers, turn, data, check = self.answer(ext, skill, mimetype, EnvironHeaders(environ),
                                                                   raw, environ)
        encoded = body.encode()
        start_response(_status_line(status),
                       [("Content-Type", _JSON), ("Content-Length", str(len(encoded))), *headers])
        if ext["observers"]:
            observe(ext, Exchange("POST", path, ALEXA_ROUTE, status, started, turn, data, skill, check))
        return [encoded]


bp = Blueprint("alexa", __name__)


def register(app: Flask) -> None:
    """Add the Alexa endpoint (in front of Flask, and its Flask route), ``/healthz`` and the JSON error handlers."""
    if app.config.get("SKILLS_ALEXA_FAST_PATH", True):
        endpoint = AlexaEndpoint(app, app.wsgi_app)
        if os.environ.get("SKILLS_STAGE_LOG"):  # each request's stages timed (server/stages.py); off: not imported
            from .stages import timed_endpoint

            app.wsgi_app = timed_endpoint(endpoint, app.extensions["skills_sdk"])  # type: ignore[method-assign]
        else:
            app.wsgi_app = endpoint  # type: ignore[method-assign]
    app.register_blueprint(bp)


def _too_large(size: int | None, limit: int) -> tuple[str, dict[str, list[str]]]:
    """The 413's message and fields: how large the body is (when known), the limit, what a request should be."""
    what = f"The body is {size} bytes," if size is not None else "The body is"
    return (f"{what} over the {limit} bytes a request may carry; an Alexa request is one turn's JSON, a few "
            "kilobytes."), {"(body)": [f"Over {limit} bytes."]}


def _too_large_response(size: int | None, limit: int) -> Response:
    message, fields = _too_large(size, limit)
    return error_response(413, "request_entity_too_large", message, fields=fields)


#: How much of a chunked body past the limit is read and thrown away before the 413 (see read_body).
_DRAIN_BOUND = 16 << 20


def read_body() -> bytes:
    """The request's body, whole: one sent chunked (no Content-Length) past ``MAX_CONTENT_LENGTH`` is a 413.

    werkzeug stops such a stream at the limit and hands on what came before it, which then reads
    as JSON cut short (a 400 naming the wrong thing) or, past a whole JSON value, as a good body.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    environ = request.environ
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in environ:
        return request.get_data(cache=False)
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= limit and (part := stream.read(limit + 1 - size)):
        parts.append(part)
        size += len(part)
    if size > limit:
        # Read the rest (up to a bound) before answering: werkzeug's server drains what is left on
        # the socket with a read that blocks until the client hangs up, and the client waits for
        # the answer's end, so a 413 hung both until a timeout.
        drained = 0
        while drained < _DRAIN_BOUND and (part := stream.read(1 << 16)):
            drained += len(part)
        abort(_too_large_response(None, limit))
    return b"".join(parts)


def json_body(example: str) -> Any:
    """The request's body parsed as strict JSON (:func:`~skills_sdk.envelope.parse_body`), else abort with the answer.

    415 for another content type (a JSON one cannot be sent cross-site without a CORS preflight, so
    no other web page can make a visitor's browser post it), 413 past the limit, 400 with ``fields``
    for what ``parse_body`` refuses. ``example`` (what to send) ends each message.
    """
    if request.mimetype != "application/json":
        abort(error_response(415, "unsupported_media_type", f"Send the body as JSON with Content-Type: "
                             f"application/json (got {request.mimetype or 'none'!r}). {example}"))
    try:
        return parse_body(read_body())
    except EnvelopeError as exc:
        abort(error_response(400, exc.code, f"{exc} {example}", fields=exc.errors))


@bp.post("/alexa/<skill>")
def alexa(skill: str) -> Response:
    raw = read_body()
    status, body, headers, turn, data, check = answer(current_app.extensions["skills_sdk"], skill, request.mimetype,
                                                      request.headers, raw, request.environ, request.method)
    g.skills_body, g.skills_turn, g.skills_check = data, turn, check  # for the observers (server/ops.py)
    return Response(body, status=status, headers=headers, mimetype=_JSON)


@bp.get("/healthz")
def healthz() -> Response:
    return Response('{"status":"ok"}', mimetype="application/json")


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if exc.code == 413 and limit is not None:  # as the fast path words it: the size, the limit, the field
        return _too_large_response(request.content_length, limit)
    resp = error_response(exc.code or 500, code, exc.description or exc.name)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


@bp.app_errorhandler(LedgerUnavailable)
def refused(exc: LedgerUnavailable) -> Response:  # the simulator, the console: any route that runs a turn
    return ledger_unavailable(exc)


@bp.app_errorhandler(Exception)
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
