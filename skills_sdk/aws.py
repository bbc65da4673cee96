"""The AWS Lambda entry point ``skills_sdk.aws:handler``: one event in, one response dict out, through the WSGI app.

Handler string ``skills_sdk.aws.handler``; configured like ``skills_sdk.wsgi:app``:

| variable | meaning | default |
|---|---|---|
| ``SKILLS_SKILLS`` | your skills, ``module:attr`` (a Skill, a list, or a factory) | the example skills |
| ``SKILLS_SKILL`` | the skill that answers envelopes no ``application_id`` claims | the only skill hosted |
| ``SKILLS_DB`` | the ledger: a ``postgresql://`` URL shared by every instance (on Lambda nothing else) | ``var/transcripts.db`` off Lambda |
| ``SKILLS_LEDGER_KEY_FILE`` | the PostgreSQL ledger's key file, on a file system every instance shares and writes (EFS) | required on Lambda |
| ``SKILLS_SPOOL`` | where a turn's row waits while the database cannot be reached: ``/tmp/ledger.spool`` on Lambda | required on Lambda |
| ``SKILLS_VERIFY`` | check signatures of HTTP events (function URL, API Gateway) | on |
| ``SKILLS_LOG_LEVEL`` | ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR`` | ``INFO`` |

Two kinds of event arrive:

* **An Alexa request envelope** (the skill's endpoint is the Lambda ARN, the "Alexa Skills Kit"
  trigger). The skill is the one whose ``application_id`` is the envelope's application id, else
  the one ``SKILLS_SKILL`` names, else the only skill hosted. It is posted to ``/alexa/<skill>`` of the same app ``skills_sdk.wsgi:app``
  builds, so routing, capture and bad-input rules are the same; Lambda's trigger, not a signature,
  vouches for the caller, so signatures are not checked. The response envelope comes back as a
  dict. Input the HTTP endpoint would answer with a 4xx raises :class:`InvalidEvent` instead
  (Lambda reports it as a failed invocation): nothing is recorded.
* **An HTTP event** (a Lambda function URL, API Gateway's proxy integration, version 1 or 2, or
  a load balancer target). It is run through the same app as is, signature checks included, and
  answered in the shape its front door reads (``statusCode``, ``headers`` or
  ``multiValueHeaders``, ``body``, and ``cookies`` for 2.0).

On Lambda the local disk is ephemeral and each instance has its own: point ``SKILLS_DB`` at the
shared PostgreSQL ledger. There (``AWS_LAMBDA_FUNCTION_NAME`` set) the first event refuses, with a
:class:`~skills_sdk.errors.SettingError` naming the variable, a ledger on the instance's disk and
an unset ``SKILLS_LEDGER_KEY_FILE`` or ``SKILLS_SPOOL``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from .envelope import check_json_value
from .errors import EnvelopeError, SkillsError

__all__ = ["handler", "InvalidEvent", "Gateway"]

#: The WSGI environ key that marks a request as one Lambda delivered from Alexa itself.
DIRECT_INVOCATION = "skills_sdk.lambda_direct"


class InvalidEvent(SkillsError):
    """A Lambda event the Alexa endpoint would refuse with a 4xx; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        found = body.get("error")
        error: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        super().__init__(f"HTTP {status} {error.get('code', 'error')}: {error.get('message', body)}")
        self.status = status
        self.body = dict(body)


class Gateway:
    """The WSGI app of ``skills_sdk.wsgi`` behind Lambda events.

    >>> gateway = Gateway(build_app({"SKILLS_DB": ":memory:"}))   # doctest: +SKIP
    >>> gateway(envelope_dict)["response"]["outputSpeech"]         # doctest: +SKIP
    """

    def __init__(self, app: Any, *, default_skill: str | None = None) -> None:
        from .server import get_host

        self.app = app
        self.host = get_host(app)
        if default_skill is not None and default_skill not in self.host:
            known = ", ".join(sorted(self.host.skills)) or "none"
            raise SkillsError(f"SKILLS_SKILL={default_skill!r} names no hosted skill. Hosted: {known}.")
        self.default_skill = default_skill

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Answer one Lambda event (see the module docstring for the two kinds)."""
        if isinstance(event, Mapping) and _is_http_event(event):
            return self._http(event)
        return self._direct(event)

    # -- an Alexa envelope, delivered by the Alexa Skills Kit trigger ----------------------------
    def _direct(self, event: Any) -> dict[str, Any]:
        try:  # the runtime parsed the event: check what the endpoint's own parser would have refused
            check_json_value(event)
        except EnvelopeError as exc:
            raise InvalidEvent(400, _error(exc.code, str(exc), exc.errors)) from None
        skill = self._skill_for(event)
        body = json.dumps(event, ensure_ascii=False, allow_nan=False).encode() if skill else b""
        status, _, data = self._call("POST", f"/alexa/{skill or '-'}", "", {"Content-Type": "application/json"},
                                     body, direct=True)
        answer = json.loads(data) if data else {}
        if status != 200:
            raise InvalidEvent(status, answer)
        return answer

    def _skill_for(self, event: Any) -> str | None:
        skills = self.host.skills
        if not isinstance(event, Mapping):
            raise InvalidEvent(400, _error("invalid_envelope", f"The event is a {type(event).__name__}, not an "
                                           "Alexa request envelope (a JSON object).", {"(body)": ["Not an object."]}))
        app_id = _application_id(event)
        for name, skill in skills.items():
            if app_id and skill.application_id == app_id:
                return name
        if self.default_skill is not None:
            return self.default_skill  # the application id check is the host's, as on HTTP
        if len(skills) == 1:
            return next(iter(skills))
        configured = ", ".join(f"{n} ({s.application_id or 'no application_id'})" for n, s in sorted(skills.items()))
        raise InvalidEvent(404, _error(
            "unknown_skill",
            f"No hosted skill has application id {app_id!r}. Hosted: {configured or 'none'}. Give each skill "
            "its application_id (Skill(..., application_id='amzn1.ask.skill...')), set SKILLS_SKILL, "
            "or host one skill per function.",
        ))

    # -- an HTTP event: Lambda function URL, API Gateway proxy, load balancer target --------------
    def _http(self, event: Mapping[str, Any]) -> dict[str, Any]:
        ctx = event.get("requestContext") or {}
        method = (ctx.get("http") or {}).get("method") or event.get("httpMethod") or "GET"
        body = event.get("body") or ""
        if not isinstance(body, str):  # the runtime hands the HTTP body over as text, never parsed
            return _http_error(event, 400, "invalid_event", f"The event's body is a {type(body).__name__}: an HTTP event "
                               "carries its body as a string (base64 when isBase64Encoded is true).", "body")
        try:
            raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
        except (ValueError, UnicodeEncodeError) as exc:  # binascii.Error is a ValueError
            return _http_error(event, 400, "invalid_event", f"The event's body cannot be read ({exc}): with isBase64Encoded "
                               "true it must be base64, else UTF-8 text.", "body")
        status, out_headers, data = self._call(method, _path(event), _query(event), _headers(event), raw, direct=False)
        return _answer(event, status, out_headers, data)

    def _call(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
              *, direct: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run one request through the WSGI app; the environ is built by hand (werkzeug's test
        EnvironBuilder cost about a third of a warm event here)."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            # WSGI carries the decoded path as latin-1 text, as a server would.
            "PATH_INFO": unquote(path).encode("utf-8").decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": "lambda",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            DIRECT_INVOCATION: direct,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = value
                continue
            environ["HTTP_" + key] = value
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, response_headers]
            return lambda data: None

        app_iter = self.app(environ, start_response)
        try:
            data = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        status, out = started
        return int(status.split(" ", 1)[0]), list(out), data


def _is_http_event(event: Mapping[str, Any]) -> bool:
    # An Alexa envelope always has "request"; proxy events have a method and a path instead.
    return "request" not in event and ("httpMethod" in event or "rawPath" in event or "routeKey" in event)


def _path(event: Mapping[str, Any]) -> str:
    """The app's path: an HTTP API's named stage, which its paths carry first, is not part of the route.

    A REST API's ``path`` never holds its stage (its ``requestContext.path`` does); an HTTP API's
    ``rawPath`` (2.0) and ``path`` (1.0) do, unless the stage is ``$default``.
    """
    ctx = event.get("requestContext") or {}
    path = event.get("rawPath") or event.get("path") or "/"
    stage = ctx.get("stage")
    if not isinstance(stage, str) or stage in ("", "$default") or not isinstance(path, str):
        return path if isinstance(path, str) else "/"
    staged = "rawPath" in event or ctx.get("path") == path  # a REST API's requestContext.path is /stage + path
    if staged and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        return path[len(stage) + 1:] or "/"
    return path


def _query(event: Mapping[str, Any]) -> str:
    """The query string: 2.0's as sent; 1.0's every value of a repeated parameter (a load balancer's still encoded)."""
    if event.get("rawQueryString") is not None:
        return str(event["rawQueryString"])
    multi = event.get("multiValueQueryStringParameters")
    pairs = ([(k, v) for k, vs in multi.items() for v in (vs or ())] if isinstance(multi, Mapping)
             else list((event.get("queryStringParameters") or {}).items()))
    if "elb" in (event.get("requestContext") or {}):  # a load balancer passes the query on as the client encoded it
        return "&".join(f"{k}={v}" for k, v in pairs)
    return urlencode(pairs)


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers: repeated ones joined as HTTP joins them, 2.0's cookies back in ``Cookie``."""
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping) and multi:
        headers = {str(k): ("; " if str(k).lower() == "cookie" else ", ").join(map(str, v or ())) for k, v in multi.items()}
    else:
        headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    cookies = event.get("cookies")
    if isinstance(cookies, list) and cookies:  # 2.0 takes Cookie out of the headers into this list
        headers["cookie"] = "; ".join(map(str, cookies))
    return headers


def _answer(event: Mapping[str, Any], status: int, headers: list[tuple[str, str]], data: bytes) -> dict[str, Any]:
    """The app's answer in the shape the event's front door reads.

    2.0 (function URLs, HTTP APIs) takes cookies in their own list; 1.0 repeated headers in
    ``multiValueHeaders`` (a load balancer with multi-value headers on reads nothing else, one
    without it one value a header: the last cookie, never two joined). A body that is not UTF-8
    text goes back in base64.
    """
    answer: dict[str, Any] = {"statusCode": status}
    if "elb" in (event.get("requestContext") or {}):
        from http import HTTPStatus

        try:
            answer["statusDescription"] = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            answer["statusDescription"] = str(status)
    if event.get("version") == "2.0":
        answer["cookies"] = [v for k, v in headers if k.lower() == "set-cookie"]
        headers = [(k, v) for k, v in headers if k.lower() != "set-cookie"]
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    if "multiValueHeaders" in event:
        answer["multiValueHeaders"] = grouped
    else:
        answer["headers"] = {k: (vs[-1] if k.lower() == "set-cookie" else ",".join(vs)) for k, vs in grouped.items()}
    try:
        answer["body"], answer["isBase64Encoded"] = data.decode(), False
    except UnicodeDecodeError:
        answer["body"], answer["isBase64Encoded"] = base64.b64encode(data).decode("ascii"), True
    return answer


def _application_id(event: Mapping[str, Any]) -> str | None:
    system = (event.get("context") or {}).get("System") if isinstance(event.get("context"), Mapping) else None
    app = (system or {}).get("application") if isinstance(system, Mapping) else None
    if isinstance(app, Mapping) and isinstance(app.get("applicationId"), str):
        return app["applicationId"]
    session = event.get("session")
    app = session.get("application") if isinstance(session, Mapping) else None
    return app.get("applicationId") if isinstance(app, Mapping) else None


def _error(code: str, message: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **({"fields": dict(fields)} if fields else {})}}


_GATEWAY: Gateway | None = None


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The Lambda handler: an Alexa envelope or an HTTP event in, its answer out.

    >>> handler(launch_envelope, None)["response"]["shouldEndSession"]   # doctest: +SKIP
    False

    The app is built from the environment on the first event and kept for the instance's life
    (a warm Lambda instance answers later events without rebuilding it).
    """
    global _GATEWAY
    if _GATEWAY is None:
        from .wsgi import build_app

        _check_lambda_settings(os.environ)
        _GATEWAY = Gateway(build_app(os.environ), default_skill=os.environ.get("SKILLS_SKILL") or None)
    return _GATEWAY(event, context)


def _check_lambda_settings(env: Mapping[str, str]) -> None:
    """Refuse, on Lambda, a ledger or key file the instance cannot keep, before anything is opened.

    Off Lambda (no ``AWS_LAMBDA_FUNCTION_NAME``, which the runtime sets) nothing is checked. On it
    the code directory is read-only and ``/tmp`` lasts as long as one instance, so the defaults
    (``var/transcripts.db``, ``var/ledger.key``) cannot even be created, and a file ledger would keep
    each instance's transcripts apart, lost when it is recycled and out of reach of an erasure.
    """
    from .errors import SettingError
    from .transcripts.urls import backend_of

    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    db = env.get("SKILLS_DB") or ""
    try:
        postgres = bool(db) and backend_of(db)[0].endswith(".postgres")
    except ValueError as exc:
        raise SettingError(f"SKILLS_DB: {exc}") from None
    if not postgres:
        what = f"SKILLS_DB={db!r} is a file on this Lambda instance's own disk" if db else "SKILLS_DB is not set"
        raise SettingError(
            f"{what}: on Lambda every instance has its own ephemeral disk (and the code directory is read-only), "
            "so transcripts would be scattered, lost when the instance is recycled, and out of reach of an "
            "erasure. Set SKILLS_DB to the shared PostgreSQL ledger, postgresql://user@host/dbname "
            "(docs/going-live.md, 'Where the ledger lives').")
    if not env.get("SKILLS_LEDGER_KEY_FILE"):
        raise SettingError(
            "SKILLS_LEDGER_KEY_FILE is not set: the PostgreSQL ledger's key file would be var/ledger.key in the "
            "read-only code directory. On Lambda name the key file on a file system every instance shares and "
            "can write (an EFS mount, e.g. /mnt/skills/ledger.key): an erasure ratchets it in place "
            "(docs/going-live.md, 'Where the ledger lives').")
    if not env.get("SKILLS_SPOOL"):
        raise SettingError(
            "SKILLS_SPOOL is not set: the spool that keeps a turn's row while the database cannot be reached would "
            "be var/ledger.spool in the read-only code directory, so the first such turn would lose its row and "
            "the next ones be refused. On Lambda set SKILLS_SPOOL=/tmp/ledger.spool (docs/going-live.md, "
            "'Where the ledger lives').")


def _http_error(event: Mapping[str, Any], status: int, code: str, message: str, field: str) -> dict[str, Any]:
    """An HTTP event's answer for an event the app never saw: the JSON error body every endpoint gives."""
    body = json.dumps(_error(code, message, {field: [message]})).encode()
    return _answer(event, status, [("Content-Type", "application/json")], body)
