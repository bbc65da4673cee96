"""Operations: ``GET /readyz``, one JSON access-log line per request, and JSON logging."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from flask import Flask, Response, current_app, g, request

__all__ = ["register", "configure_logging", "JsonFormatter"]

access_log = logging.getLogger("skills_sdk.access")
log = logging.getLogger("skills_sdk.server")

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
#: LogRecord attributes that are not extra fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object: ``ts``, ``level``, ``logger``, ``msg`` and any ``extra`` fields.

    Warnings and errors (whose messages and tracebacks may quote what a handler saw) pass through
    the transcript redactor first, so a card number in an exception message is not logged.

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
        return _DUMPS(out)


def configure_logging(level: str | int = "INFO", *, stream: Any = None, json_format: bool = True) -> logging.Handler:
    """Send the ``skills_sdk`` loggers to ``stream`` (stderr) as JSON lines at ``level``; returns the handler.

    Call it once at start-up (``skills_sdk.wsgi`` and ``skills serve`` do); calling again replaces
    the handler it added before.

    >>> configure_logging("INFO")   # doctest: +SKIP
    """
    if isinstance(level, str):
        name = level.upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(f"log level must be DEBUG, INFO, WARNING or ERROR, got {level!r}.")
        level = logging.getLevelNamesMapping()[name]
    root = logging.getLogger("skills_sdk")
    for old in [h for h in root.handlers if getattr(h, "_skills_sdk", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._skills_sdk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler


def register(app: Flask) -> None:
    """Add ``GET /readyz`` and the access-log hooks."""
    ext = app.extensions["skills_sdk"]
    store = ext["store"]
    spool = ext.get("spool")
    # create_app starts the ledger with this: the spool's replayer is the ledger's to run and stop.
    ext["replay_every"] = float(app.config.get("SKILLS_REPLAY_INTERVAL", 30.0)) if spool is not None else 0.0

    @app.before_request
    def _start() -> None:
        g.skills_t0 = time.perf_counter()

    @app.after_request
    def _access(resp: Response) -> Response:
        if access_log.isEnabledFor(logging.INFO):
            fields = _fields(resp)
            handler = _json_handler()
            if handler is None:
                access_log.info("request", extra=fields)
            else:
                # The access line is written once per request: format it directly instead of
                # building a LogRecord and walking its attributes (a third of a request's logging cost).
                now = time.time()
                line = _DUMPS({
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
                    "level": "info", "logger": "skills_sdk.access", "pid": os.getpid(), "msg": "request", **fields,
                })
                with handler.lock:  # type: ignore[union-attr]
                    handler.stream.write(line + "\n")
                    handler.flush()
        return resp

    @app.get("/readyz")
    def readyz() -> Response:
        problem = store.check_writable()
        body: dict[str, Any] = {"status": "ok" if problem is None else "unavailable", "store": problem or "writable"}
        if spool is not None:
            body["spooled_files"] = len(spool.files())
        return Response(_DUMPS(body), status=200 if problem is None else 503, mimetype="application/json")


def _json_handler() -> logging.StreamHandler | None:  # type: ignore[type-arg]
    """The JSON handler :func:`configure_logging` installed, if the access logger ends there."""
    for h in logging.getLogger("skills_sdk").handlers:
        if getattr(h, "_skills_sdk", False) and isinstance(h.formatter, JsonFormatter) and not access_log.handlers:
            return h  # type: ignore[return-value]
    return None


def _fields(resp: Response) -> dict[str, Any]:
    """The access-log fields of this request; never any text said or heard, never a clear user id."""
    t0 = g.get("skills_t0")
    fields: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": resp.status_code,
        "latency_ms": round((time.perf_counter() - t0) * 1000, 3) if t0 is not None else None,
    }
    turn = g.get("skills_turn")
    if turn is not None:
        fields.update(request_id=turn.request.request_id, skill=turn.skill.name,
                      request_type=turn.request.type,
                      # The ledger's one user hash (salted by its secret), as receipts and the audit log hold it.
                      user=current_app.extensions["skills_sdk"]["store"].user_hash(turn.user_id) if turn.user_id else None)
        if turn.request.intent is not None:
            fields["intent"] = turn.request.intent.name
        return fields
    data = g.get("skills_body")
    req = data.get("request") if isinstance(data, dict) else None
    if isinstance(req, dict):
        rid, rtype = req.get("requestId"), req.get("type")
        fields.update(request_id=rid if isinstance(rid, str) else None,
                      request_type=rtype if isinstance(rtype, str) else None)
    if request.view_args and "skill" in request.view_args:
        fields["skill"] = request.view_args["skill"]
    check = g.get("skills_check")
    if check:
        fields["check"] = check
    return fields
