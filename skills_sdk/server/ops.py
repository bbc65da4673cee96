"""Operations: ``GET /readyz``, one access-log line per request, and logging that forgets who."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

__all__ = ["register", "bp", "configure_logging", "log_level", "JsonFormatter", "TextFormatter", "forget", "logged_path", "Exchange",
           "observe", "ALEXA_ROUTE"]

access_log = logging.getLogger("skills_sdk.access")
log = logging.getLogger("skills_sdk.server")
#: The logger :func:`configure_logging` gives its handler (``getLogger`` per access line took a lock).
_SDK_LOG = logging.getLogger("skills_sdk")

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
#: LogRecord attributes that are not extra fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# What must never reach a log line, wherever a message or traceback happens to quote it. Each
# pattern starts with a literal and ends with a single character class, so a scan is linear. Every
# alternative starts with a case-sensitive literal character ("bearer" in any case is spelled as
# two), so the regex engine skips, in C, each position whose character starts none of them: a
# request id (the access line scans one per request) in 0.35x the time, a 200-character line in 0.1x.
_FORGET = re.compile(
    r"amzn1\.ask\.(?:account|person)\.[\w.-]+|amzn1\.account\.[\w.-]+"  # Alexa user and person ids
    r"|sk_(?:dev|user)_[\w-]+"  # our keys and user tokens
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]*"  # JWTs (Alexa's apiAccessToken, account-linking tokens)
    r"|b(?i:earer)\s+[^\s\"'\\]+|B(?i:earer)\s+[^\s\"'\\]+")
_PLACEHOLDER = {"a": "[user id]", "s": "[key]", "e": "[token]"}
_USERS_PATH = re.compile(r"^(/v1/users/)([^/]+)")
#: The Alexa endpoint's route, as the access log and the metrics name it.
ALEXA_ROUTE = "/alexa/<skill>"


def _placeholder(m: re.Match[str]) -> str:
    return _PLACEHOLDER.get(m.group()[0], "Bearer [token]")


def forget(text: str) -> str:
    """``text`` with Alexa user ids, API keys, user tokens and bearer tokens replaced by placeholders.

    >>> forget("no state for amzn1.ask.account.AF3X (key sk_dev_9Qx)")
    'no state for [user id] (key [key])'
    """
    return _FORGET.sub(_placeholder, text) if text else text


def logged_path(path: str | None = None, ext: dict[str, Any] | None = None) -> str:
    """The request path as logs may keep it: a user id segment becomes the audit's salted hash of it.

    >>> logged_path("/v1/users/amzn1.ask.account.A/transcripts")     # doctest: +SKIP
    '/v1/users/u:3f9c0a…/transcripts'

    ``ext`` is the app's ``extensions["skills_sdk"]`` where no request context is pushed.
    """
    path = request.path if path is None else path
    m = _USERS_PATH.match(path)
    if m is not None:
        path = m.group(1) + _user_hash(m.group(2), ext) + path[m.end():]
    return forget(path)


@dataclass(slots=True)
class Exchange:
    """One answered HTTP request as the access log and the metrics see it (never a body's words)."""

    method: str
    path: str
    #: The matched route (``/alexa/<skill>``), or ``unmatched``.
    route: str
    status: int
    #: ``time.perf_counter()`` when the request arrived.
    started: float
    #: The turn the request ran, if it ran one.
    turn: Any = None
    #: The parsed JSON body, when there was one (its request id and type are logged for refusals).
    body: Any = None
    skill: str | None = None
    #: The verification check that failed, if one did.
    check: str | None = None


def observe(ext: dict[str, Any], exchange: Exchange) -> None:
    """Hand ``exchange`` to every observer of the app (the access log, the metrics)."""
    for observer in ext["observers"]:
        observer(exchange)


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object: ``ts``, ``level``, ``logger``, ``msg`` and any ``extra`` fields.

    Warnings and errors (whose messages and tracebacks may quote what a handler saw) pass through
    the transcript redactor first, so a card number in an exception message is not logged; every
    line passes through :func:`forget`, so no user id, key or token is.

    >>> handler.setFormatter(JsonFormatter())   # doctest: +SKIP
    """

    def __init__(self) -> None:
        super().__init__()
        from ..transcripts.redaction import Redactor

        self._redact = Redactor().redact

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.levelno >= logging.WARNING:
            for key in ("msg", "exc"):
                if out.get(key):
                    out[key] = self._redact(out[key]).text
        return forget(_DUMPS(out))


class TextFormatter(logging.Formatter):
    """Plain one-line records for a terminal (``skills serve`` without ``--production``), through :func:`forget`.

    Warnings and errors pass through the transcript redactor first, as :class:`JsonFormatter`'s do.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._redact: Callable[[str], Any] | None = None

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            if self._redact is None:  # loaded at the first warning: a quiet terminal never pays for it
                from ..transcripts.redaction import Redactor

                self._redact = Redactor().redact
            text = self._redact(text).text
        return forget(text)


def log_level(name: str, setting: str = "log level") -> int:
    """The ``logging`` level named ``name`` (any case); :class:`SettingError` naming ``setting`` otherwise."""
    level = logging.getLevelNamesMapping().get(name.strip().upper())
    if level is None:
        from ..errors import SettingError

        raise SettingError(f"{setting} must be DEBUG, INFO, WARNING or ERROR, got {name!r}.")
    return level


def configure_logging(level: str | int = "INFO", *, stream: Any = None, json_format: bool = True) -> logging.Handler:
    """Send the ``skills_sdk`` and ``werkzeug`` loggers to ``stream`` (stderr) as JSON lines at ``level``; returns the handler.

    Call it once at start-up (``skills_sdk.wsgi`` and ``skills serve`` do); calling again replaces
    the handler it added before.

    >>> configure_logging("INFO")   # doctest: +SKIP
    """
    if isinstance(level, str):
        level = log_level(level)
    root = _SDK_LOG
    for old in [h for h in root.handlers if getattr(h, "_skills_sdk", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler._skills_sdk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # werkzeug's own lines (start-up, a malformed request) go through the same forgetting formatter;
    # its per-request line, which quotes the whole URL, is replaced by ours (cli/serve.py).
    wz = logging.getLogger("werkzeug")
    for old in [h for h in wz.handlers if getattr(h, "_skills_sdk", False)]:
        wz.removeHandler(old)
    wz.addHandler(handler)
    wz.propagate = False
    return handler


bp = Blueprint("ops", __name__)


def register(app: Flask) -> None:
    """Add ``GET /readyz`` and the access-log hooks; give the ledger guard to the ledger to run (see create_app)."""
    ext = app.extensions["skills_sdk"]
    store = ext["store"]
    spool = ext.get("spool")
    guard = ext.get("guard")
    if guard is not None and spool is not None and spool.files():
        guard.check()  # replays what an earlier run spooled; when it cannot yet, the thread retries
    if guard is not None:
        # Its thread is the ledger's to run (in each forked worker too) and to stop.
        ext.setdefault("jobs", []).append(guard)

    jobs = tuple(ext.get("jobs", ()))

    def request_started() -> float:
        """Called as each request arrives (by Flask's hook, and by the Alexa endpoint's own path)."""
        # The ledger's threads in this process, the guard's among them (a forked worker starts its
        # own on its first request): a lookup when they run.
        store.start(jobs=jobs)
        return time.perf_counter()

    ext["request_started"] = request_started
    ext["observers"].append(_access_line(ext))
    app.register_blueprint(bp)


@bp.before_app_request
def _start() -> None:
    g.skills_t0 = current_app.extensions["skills_sdk"]["request_started"]()


@bp.after_app_request
def _observe(resp: Response) -> Response:
    ext = current_app.extensions["skills_sdk"]
    if ext["observers"]:
        view_args = request.view_args or {}
        observe(ext, Exchange(
            request.method, request.path, request.url_rule.rule if request.url_rule is not None else "unmatched",
            resp.status_code, g.get("skills_t0") or time.perf_counter(), g.get("skills_turn"),
            g.get("skills_body"), view_args.get("skill"), g.get("skills_check")))
    return resp


@bp.get("/readyz")
def readyz() -> Response:
    ext = current_app.extensions["skills_sdk"]
    guard, spool = ext.get("guard"), ext.get("spool")
    state = guard.state if guard is not None else "ok"
    problem = (guard.cause or state) if state != "ok" else ext["store"].check_writable()
    body: dict[str, Any] = {"status": "ok" if problem is None else "unavailable", "store": problem or "writable",
                            "ledger": state}
    if spool is not None:
        body["spooled_files"] = len(spool.files())
        if refused := spool.refused.count():  # kept, not lost; not a reason to stop taking turns
            body["refused_rows"] = refused
        if spool.reserve is not None:
            body["reserve"] = {"held": spool.reserve.held(), "size": spool.reserve.size}
    return Response(_DUMPS(body), status=200 if problem is None else 503, mimetype="application/json")


def _json_handler() -> logging.StreamHandler | None:  # type: ignore[type-arg]
    """The JSON handler :func:`configure_logging` installed, if the access logger ends there."""
    for h in _SDK_LOG.handlers:
        if getattr(h, "_skills_sdk", False) and isinstance(h.formatter, JsonFormatter) and not access_log.handlers:
            return h  # type: ignore[return-value]
    return None


def _user_hash(user_id: str, ext: dict[str, Any] | None = None) -> str:
    """The ledger's salted hash of ``user_id``, remembered per app: an HMAC per access line was a tenth of the line."""
    ext = ext if ext is not None else current_app.extensions["skills_sdk"]
    cache: dict[str, str] = ext.setdefault("user_hashes", {})
    hashed = cache.get(user_id)
    if hashed is None:
        if len(cache) >= 4096:
            cache.clear()
        hashed = cache[user_id] = ext["store"].user_hash(user_id)
    return hashed


def _access_line(ext: dict[str, Any]) -> Callable[[Exchange], None]:
    """The observer that writes one access-log line per request."""

    def write(exchange: Exchange) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        handler = _json_handler()
        if handler is None:
            fields = _fields(exchange, ext)
            access_log.info("%s %s %s %s ms", fields["method"], fields["path"], fields["status"],
                            fields["latency_ms"], extra=fields)
            return
        line = _json_line(exchange, ext)
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line)
            handler.flush()

    return write


#: JSON's own C string encoder, as ``_DUMPS`` uses it (``ensure_ascii=False``): quotes and escapes one str.
_STR: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
#: The start of the access lines of the current second: ``(second, '{"ts":"2026-12-01T21:00:00.')``.
_SECOND: tuple[int, str] = (-1, "")
#: What follows ``ts`` in every access line of this process: ``(pid, text)``, made again in a forked worker.
_HEAD: tuple[int, str] = (-1, "")


def _new_head() -> None:
    global _HEAD
    _HEAD = (-1, "")


# A forked worker writes its own pid: told so at the fork rather than asking the kernel per line.
os.register_at_fork(after_in_child=_new_head)


def _json_line(exchange: Exchange, ext: dict[str, Any]) -> str:
    """The access line of ``exchange`` as :class:`JsonFormatter` would write ``_fields()``, from parts made once.

    The same keys, order and values as ``_DUMPS`` of the fields dict (a test compares the two), built
    without the dict, the encoder's walk and a ``strftime`` per line (a third of a request's
    serving cost outside the skill). Every string the client chose goes through :func:`forget`.
    """
    global _SECOND, _HEAD
    now = time.time()
    second, stamp = _SECOND
    if int(now) != second:
        second = int(now)
        _SECOND = second, stamp = second, time.strftime('{"ts":"%Y-%m-%dT%H:%M:%S.', time.gmtime(second))
    pid, head = _HEAD
    if pid < 0:
        pid = os.getpid()
        _HEAD = pid, head = pid, f'Z","level":"info","logger":"skills_sdk.access","pid":{pid},"msg":"request","method":'
    # The Alexa route's path names a skill: no user id segment to hash, the same words every line.
    path = _said_again(exchange.path) if exchange.route == ALEXA_ROUTE else _STR(logged_path(exchange.path, ext))
    parts = [stamp, f"{int(now * 1000) % 1000:03d}", head, _text(exchange.method), ',"path":', path,
             f',"status":{exchange.status:d},"latency_ms":',
             repr(round((time.perf_counter() - exchange.started) * 1000, 3))]
    turn = exchange.turn
    if turn is not None:
        request = turn.request
        parts += (',"request_id":', _said(request.request_id), ',"skill":', _text(turn.skill.name),
                  ',"request_type":', _said_again(request.type), ',"user":',
                  _STR(_user_hash(turn.user_id, ext)) if turn.user_id else "null")
        if request.intent is not None:
            parts += (',"intent":', _said_again(request.intent.name))
    else:
        data = exchange.body
        req = data.get("request") if isinstance(data, dict) else None
        if isinstance(req, dict):
            rid, rtype = req.get("requestId"), req.get("type")
            parts += (',"request_id":', _said(rid) if isinstance(rid, str) else "null",
                      ',"request_type":', _said(rtype) if isinstance(rtype, str) else "null")
        if exchange.skill is not None:
            parts += (',"skill":', _said(exchange.skill))
        if exchange.check:
            parts += (',"check":', _text(exchange.check))
    parts.append("}\n")
    return "".join(parts)


def _text(value: Any) -> str:
    """``value`` as JSON: a str through the C string encoder, anything else through ``_DUMPS``."""
    return _STR(value) if type(value) is str else _DUMPS(value)


def _said(value: Any) -> str:
    """A value the client sent, as JSON, with any user id, key or token in it forgotten."""
    return _text(_forgotten(value))


#: :func:`_said` of the short strings that come back line after line (the Alexa path, request
#: types, intent names): a dict lookup instead of a scan for user ids and an encoding.
_SAID: dict[str, str] = {}
_SAID_LIMIT, _SAID_LONGEST = 1024, 100


def _said_again(value: Any) -> str:
    """:func:`_said` of ``value``, remembered when it is a short str (bounded: cleared when full)."""
    said = _SAID.get(value) if type(value) is str else None
    if said is None:
        said = _said(value)
        if type(value) is str and len(value) <= _SAID_LONGEST:
            if len(_SAID) >= _SAID_LIMIT:
                _SAID.clear()
            _SAID[value] = said
    return said


def _fields(exchange: Exchange, ext: dict[str, Any]) -> dict[str, Any]:
    """The access-log fields of a request; never any text said or heard, a query string, or a clear user id.

    Strings the client chose (its request id, request type, intent, the skill named in the path)
    go through :func:`forget`. :func:`_json_line` writes the same fields for the JSON handler.
    """
    fields: dict[str, Any] = {
        "method": exchange.method,
        "path": logged_path(exchange.path, ext),
        "status": exchange.status,
        "latency_ms": round((time.perf_counter() - exchange.started) * 1000, 3),
    }
    turn = exchange.turn
    if turn is not None:
        fields.update(request_id=_forgotten(turn.request.request_id), skill=turn.skill.name,
                      request_type=_forgotten(turn.request.type),
                      user=_user_hash(turn.user_id, ext) if turn.user_id else None)
        if turn.request.intent is not None:
            fields["intent"] = _forgotten(turn.request.intent.name)
        return fields
    data = exchange.body
    req = data.get("request") if isinstance(data, dict) else None
    if isinstance(req, dict):
        rid, rtype = req.get("requestId"), req.get("type")
        fields.update(request_id=forget(rid) if isinstance(rid, str) else None,
                      request_type=forget(rtype) if isinstance(rtype, str) else None)
    if exchange.skill is not None:
        fields["skill"] = _forgotten(exchange.skill)
    if exchange.check:
        fields["check"] = exchange.check
    return fields


def _forgotten(value: Any) -> Any:
    return forget(value) if type(value) is str else value
