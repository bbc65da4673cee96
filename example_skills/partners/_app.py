"""A tiny framework-free router for the partner stand-ins, the requests adapter and WSGI face that serve it."""

from __future__ import annotations

import http
import io
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

logger = logging.getLogger(__name__)

#: A clock returns the current time as an aware UTC datetime; the stand-ins take one so tests can move time.
Clock = Callable[[], datetime]

JSON_HEADERS = {"Content-Type": "application/json"}

#: How many orders, rides, quotes or subscriptions a stand-in remembers: a server that runs for weeks
#: under ``skills serve`` sees a new one with most users, and kept every one (about 1 KiB each).
REMEMBERED = 10_000


class Recent(OrderedDict):  # type: ignore[type-arg]
    """A dict that forgets its oldest entries past ``limit``: a stand-in's records, bounded.

    >>> orders = Recent(limit=2); orders["a"], orders["b"], orders["c"] = 1, 2, 3
    >>> list(orders)
    ['b', 'c']

    A forgotten order answers 404, as an order a real partner purged would.
    """

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = REMEMBERED if limit is None else limit

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format ``moment`` as ISO-8601 UTC with a ``Z`` suffix, to the second: ``2026-03-01T18:00:00Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize(text: str) -> str:
    """Fold ``text`` for lenient matching of spoken values: ``"Hip-Hop!"`` → ``"hip hop"``."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


class PartnerError(Exception):
    """Raised by a handler to answer with a JSON error: ``{"error": {"code", "message"[, "field"]}}``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def invalid(field: str, message: str, code: str = "invalid_value") -> PartnerError:
    """Build the 422 every stand-in uses for a request field it cannot accept."""
    return PartnerError(422, code, message, field=field)


def json_object(request: PartnerRequest) -> dict[str, Any]:
    """Return the request's JSON body, or raise a 422 if it is missing or not an object."""
    if not isinstance(request.json, dict):
        raise invalid("body", "The request body must be a JSON object.", code="invalid_body")
    return request.json


@dataclass(frozen=True)
class PartnerRequest:
    """One call to a stand-in: ``path`` is decoded, ``params`` holds the first value of each query
    parameter, ``headers`` has lower-case names, ``json`` is the parsed body (None when empty)."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartnerResponse:
    """What a stand-in answered: a status, a JSON-able body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


Handler = Callable[[PartnerRequest], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    """One registered route: ``GET /v1/orders/<order_id>`` and the function that answers it."""

    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


_PARAM = re.compile(r"<([a-z_][a-z0-9_]*)>")

_FAULT_CODES = {
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class PartnerApp:
    """A named set of JSON routes with thread-safe state, fault injection and a WSGI face.

    Example::

        app = PartnerApp("pizza")

        @app.get("/v1/orders/<order_id>")
        def get_order(request):
            return 200, {"id": request.path_params["order_id"]}

        app.handle("GET", "/v1/orders/o1").body  # {"id": "o1"}

    Handlers hold their state in the enclosing ``create_app`` and take ``app.lock`` to change it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.RLock()
        self._routes: list[Route] = []
        self._ids: dict[str, int] = {}
        self._fault_lock = threading.Lock()
        self._failures: list[PartnerError] = []
        self._latency = 0.0

    def __repr__(self) -> str:
        return f"<PartnerApp {self.name!r} routes={len(self._routes)}>"

    # -- registration -------------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``pattern`` (``<name>`` marks a path parameter).

        Parameters:
            method: an HTTP method, any case.
            pattern: a path such as ``/v1/orders/<order_id>``; each parameter matches one segment.
            handler: called with a :class:`PartnerRequest`, returns ``(status, json_body)``.
        """
        method = method.upper()
        for route in self._routes:
            if route.method == method and route.pattern == pattern:
                raise ValueError(
                    f"Route {method} {pattern} of partner {self.name!r} is already handled by "
                    f"{route.handler.__name__}(); cannot add {handler.__name__}(). Use another path or method."
                )
        regex = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(pattern)) + "$")
        self._routes.append(Route(method, pattern, regex, handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator twin of :meth:`add_route`; returns the function unchanged."""

        def register(handler: Handler) -> Handler:
            self.add_route(method, pattern, handler)
            return handler

        return register

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a GET handler: ``@app.get("/v1/tracks/<track_id>")``."""
        return self.route("GET", pattern)

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a POST handler: ``@app.post("/v1/orders")``."""
        return self.route("POST", pattern)

    # -- state helpers ------------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """Return a fresh id such as ``ord_1001``, unique per prefix within this app, thread-safely."""
        with self.lock:
            number = self._ids.get(prefix, 1000) + 1
            self._ids[prefix] = number
        return f"{prefix}_{number}"

    # -- faults -------------------------------------------------------------------------------

    def fail_next(self, status: int = 500, *, times: int = 1, message: str | None = None) -> None:
        """Make the next ``times`` requests, whatever their route, answer ``status`` with a JSON error.

        Example: ``app.fail_next(503, times=2)`` then the skill's retry logic sees two 503s.
        """
        code = _FAULT_CODES.get(status, "injected_fault")
        text = message or f"Injected fault: partner {self.name!r} answered {status} on purpose."
        with self._fault_lock:
            self._failures.extend(PartnerError(status, code, text) for _ in range(times))

    def set_latency(self, seconds: float) -> None:
        """Delay every later response by ``seconds``; a client read timeout shorter than that times out."""
        if seconds < 0:
            raise ValueError(f"Latency must be zero or more seconds, got {seconds!r}.")
        with self._fault_lock:
            self._latency = float(seconds)

    @property
    def latency(self) -> float:
        """The delay set by :meth:`set_latency`, in seconds."""
        with self._fault_lock:
            return self._latency

    def clear_faults(self) -> None:
        """Forget pending :meth:`fail_next` failures and set latency back to zero."""
        with self._fault_lock:
            self._failures.clear()
            self._latency = 0.0

    def _take_failure(self) -> PartnerError | None:
        with self._fault_lock:
            return self._failures.pop(0) if self._failures else None

    # -- dispatch -----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> PartnerResponse:
        """Answer one request without any I/O; latency is the transport's job (see :class:`PartnerAdapter`).

        Parameters:
            method: the HTTP method.
            path: the decoded path, without query string.
            params: query parameters, one value each.
            body: the raw request body; empty means no JSON.
            headers: request headers, any case.
        """
        method = method.upper()
        failure = self._take_failure()
        if failure is not None:
            extra = {"Retry-After": "1"} if failure.status in (429, 503) else {}
            return PartnerResponse(failure.status, failure.body(), extra)
        if len(path) > 1:
            path = path.rstrip("/")
        allowed: list[str] = []
        found: tuple[Route, dict[str, str]] | None = None
        for route in self._routes:
            match = route.regex.match(path)
            if match is None:
                continue
            if route.method == method:
                found = (route, match.groupdict())
                break
            allowed.append(route.method)
        if found is None:
            return self._no_route(method, path, allowed)
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            return self._error(PartnerError(400, "bad_json", f"The request body is not valid JSON: {exc}."))
        request = PartnerRequest(
            method=method,
            path=path,
            params=dict(params or {}),
            json=parsed,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            path_params=found[1],
        )
        return self._call(found[0], request)

    def _no_route(self, method: str, path: str, allowed: list[str]) -> PartnerResponse:
        if allowed:
            error = PartnerError(
                405,
                "method_not_allowed",
                f"{method} is not allowed on {path} of partner {self.name!r}. Allowed: {', '.join(allowed)}.",
            )
            return PartnerResponse(405, error.body(), {"Allow": ", ".join(allowed)})
        known = ", ".join(f"{r.method} {r.pattern}" for r in self._routes)
        return self._error(
            PartnerError(
                404, "not_found", f"No route for {method} {path} in partner {self.name!r}. Routes: {known}."
            )
        )

    def _call(self, route: Route, request: PartnerRequest) -> PartnerResponse:
        try:
            status, body = route.handler(request)
            json.dumps(body)  # a body that cannot be sent is the partner's crash, not the transport's
        except PartnerError as exc:
            return self._error(exc)
        except Exception as exc:  # a partner that crashes answers 500; the skills must cope with that
            logger.exception("Partner %r crashed in %s()", self.name, route.handler.__name__)
            return self._error(
                PartnerError(
                    500, "internal_error", f"{type(exc).__name__} in {route.handler.__name__}(): {exc}"
                )
            )
        return PartnerResponse(status, body)

    @staticmethod
    def _error(error: PartnerError) -> PartnerResponse:
        return PartnerResponse(error.status, error.body())

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Serve the app over WSGI, so :func:`serve` can give a stand-in a port of its own."""
        if self.latency:  # even sleep(0) is a syscall and a GIL hand-off
            time.sleep(self.latency)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        # WSGI hands PATH_INFO over already percent-decoded, as latin-1 code points.
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        query = {
            k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
        }
        response = self.handle(environ["REQUEST_METHOD"], path, query, body, headers)
        content = response.content()
        start_response(
            f"{response.status} {_reason(response.status)}",
            [*{**JSON_HEADERS, **response.headers}.items(), ("Content-Length", str(len(content)))],
        )
        return [content]


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _read_timeout(timeout: Any) -> float | None:
    """The read part of whatever requests accepts as ``timeout``: None, a number, a pair, a urllib3 Timeout."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    if timeout is None or isinstance(timeout, int | float):
        return timeout
    read = getattr(timeout, "read_timeout", None)
    return read if isinstance(read, int | float) else None


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return _body_bytes(body.read())
    return b"".join(_body_bytes(chunk) for chunk in body)


class PartnerAdapter(BaseAdapter):
    """A requests transport adapter that answers from a :class:`PartnerApp` in-process, with no socket.

    Example::

        session = requests.Session()
        session.mount("https://api.pizzapronto.example/", PartnerAdapter(pizza.create_app()))
        session.get("https://api.pizzapronto.example/v1/menu").json()["sizes"]

    A ``timeout`` shorter than the app's latency raises :class:`requests.ReadTimeout` after ``timeout`` seconds.
    """

    def __init__(self, app: PartnerApp) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        started = time.perf_counter()
        delay = self.app.latency
        read_timeout = _read_timeout(timeout)
        if read_timeout is not None and delay > read_timeout:
            time.sleep(read_timeout)
            raise requests.ReadTimeout(
                f"Partner {self.app.name!r} did not answer {request.method} {request.url} within {read_timeout}s "
                f"(injected latency {delay}s).",
                request=request,
            )
        if delay:
            time.sleep(delay)
        url = urlsplit(request.url or "")
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        answer = self.app.handle(
            request.method or "GET",
            unquote(url.path) or "/",
            params,
            _body_bytes(request.body),
            request.headers,
        )
        content = answer.content()
        response = requests.Response()
        response.status_code = answer.status
        response.reason = _reason(answer.status)
        response.headers = CaseInsensitiveDict(
            {**JSON_HEADERS, **answer.headers, "Content-Length": str(len(content))}
        )
        response.raw = io.BytesIO(content)
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.connection = self
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        return response

    def close(self) -> None:
        """Nothing to release: no sockets were opened."""


def make_server(app: PartnerApp, port: int = 0, host: str = "127.0.0.1") -> BaseWSGIServer:
    """Build a threaded werkzeug HTTP server for ``app`` without starting it; ``port=0`` picks a free port.

    Example::

        server = make_server(music.create_app())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.port}"
        ...
        server.shutdown()
    """
    from werkzeug.serving import make_server as werkzeug_make_server

    return werkzeug_make_server(host, port, app, threaded=True)


def serve(app: PartnerApp, port: int, host: str = "127.0.0.1") -> None:
    """Serve ``app`` on a port of its own until interrupted (loopback only by default).

    Use this when a stand-in should run as a separate process, never on the skills server's own port
    (a sync worker calling its own pool deadlocks). Point the skill's base URL at ``http://127.0.0.1:<port>``.

    Example::

        python -c "from example_skills.partners import make_partner, serve; serve(make_partner('pizza'), 8702)"

    Parameters:
        app: the stand-in, e.g. ``make_partner("pizza")``.
        port: the TCP port to listen on.
        host: the interface; keep the default unless you mean to expose fake partners on a network.
    """
    server = make_server(app, port, host)
    logger.info("Partner %r serving on http://%s:%s", app.name, host, server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
