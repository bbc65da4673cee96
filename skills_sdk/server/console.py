"""The web console at ``/console``: developers read conversations, users see and erase their data, anyone chats with a skill."""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..errors import BadQuery
from ..transcripts.ledger import Ledger
from ..transcripts.query import ERROR_STATUSES, fts_query
from ..transcripts.record import iter_csv, to_jsonl
from . import alexa
from . import console_data as data
from .alexa import error_response
from .sessions import LedgerSession, LedgerSessionInterface

__all__ = ["register", "bp", "PAGE_SIZE"]

log = logging.getLogger("skills_sdk.server")

#: Transcripts shown per page of the developer console (and per page of "My data").
PAGE_SIZE = 50
#: The longest filter value accepted; longer ones are refused with a message, not truncated.
MAX_FILTER = 200

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static/console", static_url_path="/static")

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def register(app: Flask) -> None:
    """Mount the console on ``app``, with sessions kept in the ledger behind an HttpOnly, SameSite=Lax cookie.

    >>> app = create_app(db=":memory:")  # registers it  # doctest: +SKIP

    The cookie carries only a random session id; the ledger's row names the signed-in key by its
    id and expires after ``SKILLS_CONSOLE_SESSION_TTL`` seconds (8 hours). Sign-out deletes the
    row, and revoking the key ends every session it signed in.
    ``SKILLS_CONSOLE_SIMULATOR=False`` in the config turns the simulator page off.
    """
    app.session_interface = LedgerSessionInterface(app.extensions["skills_sdk"]["store"], bp.url_prefix or "/console")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("SKILLS_CONSOLE_SIMULATOR", True)
    app.register_blueprint(bp)
    # Registered after the Alexa blueprint's JSON handlers, so these replace them and defer to them.
    app.register_error_handler(HTTPException, _error_page(alexa.http_error))
    app.register_error_handler(Exception, _error_page(alexa.unexpected))


# -- session, CSRF, headers --------------------------------------------------------------------------


def _session() -> LedgerSession:
    return session  # type: ignore[return-value]  # LedgerSessionInterface opens every console session


def csrf_token() -> str:
    """This session's CSRF token; every console POST must send it back."""
    return current_app.session_interface.csrf_token(_session())  # type: ignore[attr-defined]


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.before_request
def _check_csrf() -> Response | None:
    if request.method != "POST":
        return None
    origin = request.headers.get("Origin")
    try:
        sent_from = urlsplit(origin or "")
        place = (sent_from.scheme, sent_from.netloc)
    except ValueError:  # "http://[bad": no origin a page of this console sends, so a foreign one
        place = ("", origin)
    if origin and origin != "null" and place != (request.scheme, request.host):
        # Another port of this host is the same site to the browser, and can set this site's cookies:
        # it planted a session id, fetched its token, and posted a sign-in as another developer. The
        # host's http:// pages could do the same to an https:// console, and a network attacker writes those.
        message = (f"This form was sent from {origin}, not from the console at {request.scheme}://{request.host}: "
                   "the console takes forms only from its own pages.")
        if _wants_json():
            return error_response(403, "cross_origin", message)
        return Response(render_template("console/error.html", title="Form refused", message=message), status=403)
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    # A browser without a session cookie has a fresh id that no page ever showed a token for.
    expected = csrf_token() if _session().from_cookie else ""
    if expected and hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    why = "missing" if not sent else "wrong or expired"
    message = (f"The form's security token is {why}. Reload the page and try again "
               "(the console only accepts forms it served to this browser session).")
    if _wants_json():
        return error_response(403, "csrf_failed", message)
    return Response(render_template("console/error.html", title="Form expired", message=message), status=403)


@bp.before_request
def _refuse_nul() -> Response | None:
    """A NUL in a filter, a form field or the address: no transcript holds one, and PostgreSQL failed on it (500)."""
    values = [*request.args.items(multi=True), *request.form.items(multi=True),
              *((k, v) for k, v in (request.view_args or {}).items() if isinstance(v, str))]
    name = next((k for k, v in values if "\x00" in k or "\x00" in v), None)
    if name is None:
        return None
    message = f"The {name[:40]!r} value holds a NUL character (%00), which no transcript holds; send it without it."
    if _wants_json():
        return error_response(400, "invalid_value", message, field=name[:40])
    return Response(render_template("console/error.html", title="Bad request", message=message), status=400)


def _error_page(answer: Callable[[Any], Response]) -> Callable[[Any], Response]:
    """An error handler: ``answer``'s JSON error, shown as a console page to a browser under the console's prefix."""
    def handle(exc: Any) -> Response:
        resp = answer(exc)
        if not _under_console() or _wants_json() or resp.mimetype != "application/json":
            return resp
        try:
            message = json.loads(resp.get_data())["error"]["message"]
            page = render_template("console/error.html", title=HTTP_STATUS_CODES.get(resp.status_code, "Error"),
                                   message=message, **_template_globals())
        except Exception:  # the page needs the ledger (who is signed in); the JSON answer does not
            log.exception("could not show the console's error page for %s", resp.status_code)
            return resp
        html = Response(page, status=resp.status_code)
        for name in ("Allow", "Retry-After"):
            if name in resp.headers:
                html.headers[name] = resp.headers[name]
        return html
    return handle


def _under_console() -> bool:
    prefix = bp.url_prefix or "/console"
    return request.path == prefix or request.path.startswith(prefix + "/")


@bp.after_app_request
def _headers(resp: Response) -> Response:
    if not _under_console():  # a path no console route matched (a 404, a 405) still gets the console's headers
        return resp
    resp.headers.setdefault("Content-Security-Policy", _CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "developer": _developer_id(), "me_user": _user_id(),
            "simulator_on": current_app.config.get("SKILLS_CONSOLE_SIMULATOR", True),
            "fmt_json": _fmt_json, "fmt_ms": _fmt_ms}


def _store() -> Ledger:
    return current_app.extensions["skills_sdk"]["store"]


def _developer() -> data.Identity | None:
    """The developer signed in to this session (its key is re-checked against the ledger on every request)."""
    return _identity("developer")


def _user() -> data.Identity | None:
    """The user signed in to "My data" in this session, re-checked on every request."""
    return _identity("user")


def _identity(slot: str) -> data.Identity | None:
    s = _session()
    if slot in s.dropped:  # the key was revoked since the last request
        s.dropped.remove(slot)
        s.sign_out(slot)
        flash("You were signed out: the key of this session was revoked.", "error")
    who = s.identity(slot)
    return data.Identity(*who) if who else None


def _developer_id() -> str | None:
    who = _developer()
    return who.subject if who else None


def _user_id() -> str | None:
    who = _user()
    return who.subject if who else None


# -- formatting helpers used by templates ------------------------------------------------------------


def _fmt_json(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _fmt_ms(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} ms"


# -- the developer console ---------------------------------------------------------------------------

_FILTERS = ("skill", "user_id", "session_id", "intent", "since", "until", "q")
_FLAGS = ("errors", "has_transaction")


def parse_filters(args: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The console's filters from query arguments, and a message for each one that was refused.

    >>> parse_filters({"skill": "pizza", "since": "2026-11-01", "errors": "1"})[0]
    {'skill': 'pizza', 'since': '2026-11-01', 'errors': True}

    ``since``/``until`` take a date (``until`` includes that whole day) or an ISO-8601 time.
    """
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name in _FILTERS:
        value = (args.get(name) or "").strip()
        if not value:
            continue
        if len(value) > MAX_FILTER:
            problems.append(f"The {name} filter is {len(value)} characters long; at most {MAX_FILTER} are accepted.")
            continue
        if name in ("since", "until"):
            parsed = _parse_time(value, end=name == "until")
            if parsed is None:
                problems.append(f"The {name} filter {value!r} is not a date (2026-11-28) or time "
                                "(2026-11-28T09:30) between the years 1 and 9999; it was ignored.")
                continue
            out[name] = value
            continue
        out[name] = value
    for name in _FLAGS:
        if args.get(name) in ("1", "on", "true", "yes"):
            out[name] = True
    return out, problems


def _parse_time(value: str, *, end: bool = False) -> str | None:
    """An ISO-8601 UTC bound for SQL comparison; a bare date as ``until`` means the end of that day."""
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return (d + timedelta(days=1) if end else d).isoformat()
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if t.tzinfo is not None:
            t = t.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # not a date, or past year 9999 / before year 1 once in UTC
        return None
    return t.isoformat(timespec="milliseconds") + "Z"


def _query_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Filters as the ledger's query takes them (times made ISO bounds)."""
    out = dict(filters)
    for name in ("since", "until"):
        if name in out:
            out[name] = _parse_time(out[name], end=name == "until")
    return out


def group_conversations(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows (newest first) as conversations: one thread per (skill, session), threads newest first, turns in order.

    >>> rows = [{"id": 3, "skill": "pizza", "session_id": "S2"}, {"id": 2, "skill": "pizza", "session_id": "S1"},
    ...         {"id": 1, "skill": "pizza", "session_id": "S2"}]
    >>> [t["session_id"] for t in group_conversations(rows)]
    ['S2', 'S1']
    """
    threads: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.get("skill") or "", row.get("session_id") or f"#{row.get('id')}")
        thread = threads.get(key)
        if thread is None:
            thread = threads[key] = {"skill": row.get("skill"), "session_id": row.get("session_id"),
                                     "user_id": row.get("user_id"), "developer_id": row.get("developer_id"),
                                     "turns": []}
        thread["turns"].append(row)
    for thread in threads.values():
        thread["turns"].sort(key=lambda r: r.get("id") or 0)
        thread["started"] = thread["turns"][0].get("created_at")
        thread["errors"] = sum(1 for r in thread["turns"] if r.get("status") in ERROR_STATUSES)
        thread["transactions"] = sum(1 for r in thread["turns"] if r.get("transaction"))
    return list(threads.values())


def _signed_in(identity: Callable[[], data.Identity | None], sign_in_page: str
               ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: ``identity()`` comes to the view as ``who``; without one, a redirect to ``sign_in_page``."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = identity()
            if who is None:
                abort(redirect(url_for(sign_in_page)))
            return view(*args, who=who, **kwargs)
        return wrapper
    return decorate


#: ``@developer_signed_in``: the view gets the signed-in developer as ``who``, else the sign-in page.
developer_signed_in = _signed_in(_developer, "console.index")
#: ``@user_signed_in``: the view gets the signed-in user as ``who``, else the "My data" sign-in page.
user_signed_in = _signed_in(_user, "console.me")


@bp.get("/")
def index() -> Any:
    """Sign-in page, or the developer's transcripts as conversations with filters and keyset pages."""
    who = _developer()
    if who is None:
        return render_template("console/sign_in.html", title="Developer console")
    dev = who.subject
    filters, problems = parse_filters(request.args)
    for p in problems:
        flash(p, "error")
    cursor = request.args.get("cursor") or None
    try:
        page = data.query(_store(), dev, _query_filters(filters), cursor=cursor, limit=PAGE_SIZE)
    except data.QueryError as exc:
        flash(str(exc), "error")
        problems.append(str(exc))
        page = data.Page([], None)
    data.audit(_store(), who, "list", filters, page.rows)
    args = {k: ("1" if v is True else v) for k, v in filters.items()}
    next_url = url_for("console.index", **args, cursor=page.next_cursor) if page.next_cursor else None
    first_url = url_for("console.index", **args) if cursor else None
    page_html = render_template("console/conversations.html", title="Conversations", filters=filters,
                                threads=group_conversations(page.rows), count=len(page.rows), next_url=next_url,
                                first_url=first_url, skills=data.developer_skills(current_app, _store(), dev),
                                export_args=urlencode(args))
    # A bad filter is explained on the page, which is still shown; its status says the request was bad.
    return Response(page_html, status=400 if problems else 200)


@bp.get("/conversation")
@developer_signed_in
def conversation(who: data.Identity) -> Any:
    """Every turn of one of the developer's sessions (``?session_id=``), in order.

    The id travels in the query: in a path, a session id such as ``../../me`` (the caller of
    ``/alexa`` chooses it) is a dot segment the browser resolves before asking, to another page.
    """
    return _conversation(who, request.args.get("session_id", ""))


@bp.get("/conversations/<path:session_id>")
@developer_signed_in
def conversation_at(session_id: str, who: data.Identity) -> Any:
    """The same page at the address earlier versions linked to (a link there still opens it)."""
    return _conversation(who, session_id)


def _conversation(who: data.Identity, session_id: str) -> Any:
    rows = data.session_rows(_store(), who.subject, session_id)
    data.audit(_store(), who, "get", {"session_id": session_id}, rows)
    if not rows:
        return Response(render_template("console/error.html", title="No such conversation",
                                        message=f"None of your skills has a session {session_id!r}."), status=404)
    return render_template("console/conversation.html", title="Conversation", thread=group_conversations(rows)[0])


@bp.get("/dashboard")
@developer_signed_in
def dashboard(who: data.Identity) -> Any:
    """Per-skill figures for the last N days: requests per day, error rate, transactions, p50/p99 latency."""
    dev = who.subject
    skills = data.developer_skills(current_app, _store(), dev)
    try:
        days = max(1, min(366, int(request.args.get("days", "14"))))
    except ValueError:
        days = 14
    since = (datetime.now(UTC).date() - timedelta(days=days - 1)).isoformat()
    boards = [_chart(_store().skill_stats(dev, s, since=since), since, days) for s in skills
              if not request.args.get("skill") or request.args.get("skill") == s]
    return render_template("console/dashboard.html", title="Dashboard", boards=boards, days=days, skills=skills)


def _chart(stats: dict[str, Any], since: str, days: int) -> dict[str, Any]:
    """Add bar geometry for an inline SVG (one bar per day, errors stacked on top) to ``stats``."""
    per_day = {d["day"]: d for d in stats["days"]}
    start = date.fromisoformat(since)
    width, height, gap = 600, 120, 2
    bar_w = max(1.0, width / days - gap)
    peak = max([d["requests"] for d in stats["days"]] or [0])  # shown: 0 on a quiet skill, not 1
    scale = peak or 1
    bars = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        d = per_day.get(day, {"requests": 0, "errors": 0})
        h = height * d["requests"] / scale
        eh = height * d["errors"] / scale
        x = i * (bar_w + gap)
        bars.append({"day": day, "x": round(x, 1), "w": round(bar_w, 1), "y": round(height - h, 1),
                     "h": round(h - eh, 1), "ey": round(height - eh, 1), "eh": round(eh, 1),
                     "requests": d["requests"], "errors": d["errors"]})
    lat_peak = max(stats["p99_ms"] or 0, stats["p50_ms"] or 0) or 1
    stats["chart"] = {"width": width, "height": height, "bars": bars, "peak": peak,
                      "p50_w": round(300 * (stats["p50_ms"] or 0) / lat_peak, 1),
                      "p99_w": round(300 * (stats["p99_ms"] or 0) / lat_peak, 1)}
    return stats


@bp.get("/export")
@developer_signed_in
def export(who: data.Identity) -> Any:
    """The current filter's transcripts as a JSONL or CSV download, streamed page by page."""
    fmt = request.args.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        return error_response(400, "invalid_format", f"format must be 'jsonl' or 'csv', got {fmt!r:.40}.")
    filters, problems = parse_filters(request.args)
    if problems:
        return error_response(400, "invalid_filter", " ".join(problems))
    if filters.get("q"):
        try:  # checked now: once the download streams, its status is already sent
            fts_query(filters["q"])
        except BadQuery as exc:
            return error_response(400, "invalid_filter", f"The q filter {exc.message}")
    rows = data.audited(_store(), who, "export", {**filters, "format": fmt},
                        data.iter_query(_store(), who.subject, _query_filters(filters)))
    body = _jsonl(rows) if fmt == "jsonl" else _csv(rows)
    name = f"transcripts-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{fmt}"
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return Response(stream_with_context(body), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield to_jsonl(row) + "\n"


_csv = iter_csv  # formula-safe, as every export of the ledger is


@bp.post("/sign-in")
def sign_in() -> Any:
    """Sign in with a developer API key sent in the form body (never in a URL)."""
    key = (request.form.get("key") or "").strip()
    if not key:
        return _sign_in_failed("console/sign_in.html", "Developer console", "Paste your developer API key to sign in.")
    try:
        dev = data.verify_developer_key(_store(), key)
    except data.AuthError as exc:
        return _sign_in_failed("console/sign_in.html", "Developer console", f"That key did not work: {exc}")
    _session().sign_in("developer", dev.key_id, dev.subject)  # a new session id, and with it a new CSRF token
    flash(f"Signed in as developer {dev.subject}.", "info")
    return redirect(url_for("console.index"), code=303)


def _sign_in_failed(template: str, title: str, message: str) -> Response:
    return Response(render_template(template, title=title, sign_in_error=message), status=401)


@bp.post("/sign-out")
def sign_out() -> Any:
    """End this session's developer sign-in: its cookie no longer opens anything."""
    _session().sign_out("developer")
    flash("Signed out of the developer console.", "info")
    return redirect(url_for("console.index"), code=303)


# -- My data ----------------------------------------------------------------------------------------


@bp.get("/me")
def me() -> Any:
    """Sign-in page, or every transcript of the signed-in user, grouped by developer and skill."""
    who = _user()
    if who is None:
        return render_template("console/me_sign_in.html", title="My data")
    user = who.subject
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        before = None
    if before is not None and not 0 < before < 2**63:  # a row id is a positive SQLite integer
        return Response(render_template("console/error.html", title="No such page",
                                        message=f"before={request.args['before']:.40} is not a row id; "
                                                "go back to the first page."), status=400)
    rows = data.user_rows(_store(), user, limit=PAGE_SIZE * 4 + 1, before_id=before)
    more = len(rows) > PAGE_SIZE * 4
    rows = rows[: PAGE_SIZE * 4]
    data.audit(_store(), who, "user_list", {"user_id": user}, rows)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["developer_id"], row["skill"]), []).append(row)
    return render_template(
        "console/me.html", title="My data", user_id=user, groups=groups,
        totals=data.user_totals(_store(), user), mode=data.capture_mode(_store(), user),
        access=data.access_log(_store(), user),
        next_url=url_for("console.me", before=rows[-1]["id"]) if more and rows else None,
        first_url=url_for("console.me") if before else None)


@bp.post("/me/sign-in")
def me_sign_in() -> Any:
    """Sign in to "My data" with a user token sent in the form body."""
    token = (request.form.get("token") or "").strip()
    if not token:
        return _sign_in_failed("console/me_sign_in.html", "My data", "Paste your user token to sign in.")
    try:
        user = data.verify_user_token(_store(), token)
    except data.AuthError as exc:
        return _sign_in_failed("console/me_sign_in.html", "My data", f"That token did not work: {exc}")
    _session().sign_in("user", user.key_id, user.subject)
    flash(f"Signed in as {user.subject}.", "info")
    return redirect(url_for("console.me"), code=303)


@bp.post("/me/sign-out")
def me_sign_out() -> Any:
    """End this session's "My data" sign-in."""
    _session().sign_out("user")
    flash("Signed out of My data.", "info")
    return redirect(url_for("console.me"), code=303)


@bp.get("/me/download.json")
@user_signed_in
def me_download(who: data.Identity) -> Any:
    """All of the signed-in user's transcripts as one JSON document, streamed."""
    store, user = _store(), who.subject
    mode = data.capture_mode(store, user)

    def body() -> Iterator[str]:
        head = {"user_id": user, "capture_mode": mode, "exported_at": datetime.now(UTC).isoformat()}
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "transcripts": ['
        rows = data.audited(store, who, "export", {"user_id": user}, data.iter_user_rows(store, user))
        for i, row in enumerate(rows):
            yield ("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False, default=str)
        yield "\n]}\n"

    return Response(stream_with_context(body()), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-transcripts.json"'})


@bp.post("/me/capture-mode")
@user_signed_in
def me_capture_mode(who: data.Identity) -> Any:
    """Set what is recorded about the signed-in user from now on."""
    mode = request.form.get("mode", "")
    if mode not in data.CAPTURE_MODES:
        flash(f"Unknown capture mode {mode[:40]!r}; choose one of {', '.join(data.CAPTURE_MODES)}.", "error")
    else:
        data.set_capture_mode(_store(), who, mode)
        flash(f"From now on skills record: {data.CAPTURE_MODE_LABELS[mode]}.", "info")
    return redirect(url_for("console.me"), code=303)


@bp.post("/me/erase")
@user_signed_in
def me_erase(who: data.Identity) -> Any:
    """Erase the signed-in user's transcripts (all, or one skill's): a confirmation page first, then the receipt."""
    user = who.subject
    skill = (request.form.get("skill") or "").strip() or None
    developer = (request.form.get("developer_id") or "").strip() or None
    for name, value in (("skill", skill), ("developer", developer)):
        if value is not None and len(value) > MAX_FILTER:  # as the filters are: no receipt for a 20,000-character name
            return Response(render_template("console/error.html", title="Nothing erased",
                                            message=f"The {name} is {len(value)} characters long; names are at most "
                                                    f"{MAX_FILTER}. Nothing was erased."), status=400)
    store = _store()
    if request.form.get("confirm") != "yes":
        count = data.count_user_rows(store, user, skill=skill, developer_id=developer)
        return render_template("console/me_confirm.html", title="Erase my data", user_id=user, skill=skill,
                               developer_id=developer, count=count)
    receipt = data.erase_user(store, who, skill=skill, developer_id=developer)
    return render_template("console/me_receipt.html", title="Erased", user_id=user, skill=skill,
                           developer_id=developer, receipt=receipt, receipt_json=json.dumps(receipt, indent=2,
                                                                                             default=str))


# -- the simulator ----------------------------------------------------------------------------------


@bp.get("/simulator")
def simulator() -> Any:
    """Talk to a hosted skill by typing; the page's script calls ``POST /simulate/<skill>``."""
    if not current_app.config.get("SKILLS_CONSOLE_SIMULATOR", True):
        abort(404)
    host = current_app.extensions["skills_sdk"]["host"]
    skills = sorted(host.skills)
    chosen = request.args.get("skill")
    return render_template("console/simulator.html", title="Simulator", skills=skills,
                           chosen=chosen if chosen in skills else (skills[0] if skills else None))
