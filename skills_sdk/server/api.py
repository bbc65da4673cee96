"""The transcript API under ``/v1``: developers read their own transcripts; users read, erase and set consent for theirs."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from ..errors import BadQuery, ErasureIncomplete
from ..transcripts.audit import tally
from ..transcripts.keys import KeyInfo
from ..transcripts.ledger import CAPTURE_MODES, Ledger
from ..transcripts.search import decode_cursor, encode_cursor, parse_filters
from .alexa import error_response, json_body
from .maintenance import BACKGROUND

__all__ = ["register", "bp", "developer_key", "user_token"]

log = logging.getLogger("skills_sdk.server")

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_NOT_FOUND = "No transcript with that id is visible to this key."

bp = Blueprint("api", __name__, url_prefix="/v1")


def _json(body: Any, status: int = 200) -> Response:
    return Response(_DUMPS(body), status=status, mimetype="application/json")


@bp.errorhandler(BadQuery)
def _bad(exc: BadQuery) -> Response:
    return error_response(400, "bad_query", str(exc), param=exc.param, fields={exc.param: [str(exc)]})


@bp.before_request
def _one_value_each() -> None:
    """Every query parameter once, without NUL: ``?skill=a&skill=b`` kept only ``a``, a NUL failed in the database."""
    for name, values in request.args.lists():
        if len(values) > 1:
            raise BadQuery(name, f"is given {len(values)} times; give it once (a filter takes one value).")
        if "\x00" in values[0] or "\x00" in name:
            raise BadQuery(name, "holds a NUL character (%00); send the value without it.")


def _ledger() -> Ledger:
    ledger: Ledger = current_app.extensions["skills_sdk"]["store"]
    return ledger


def _key(kind: str) -> KeyInfo:
    """The caller's live key of ``kind``; aborts with the 401/403 answer otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(error_response(401, "unauthorized", "Send your key as `Authorization: Bearer sk_…`; "
                                                  "`skills keys create` makes one."))
    info = _ledger().verify_key(token.strip())
    if info is None:
        abort(error_response(401, "unauthorized", "This key is unknown or has been revoked; ask for a new one."))
    if info.kind != kind:
        abort(error_response(403, "forbidden", f"This endpoint needs a {kind} key; this one is a {info.kind} key."))
    return info


def developer_key(view: Callable[..., Response]) -> Callable[..., Response]:
    """The view needs a developer key: it gets ``key`` (a :class:`KeyInfo`), or the caller a 401/403."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        return view(*args, key=_key("developer"), **kwargs)
    return wrapper


def user_token(view: Callable[..., Response]) -> Callable[..., Response]:
    """The view needs the token of the user in its URL: it gets ``key``, or the caller a 401/403."""
    @functools.wraps(view)
    def wrapper(*args: Any, user_id: str, **kwargs: Any) -> Response:
        key = _key("user")
        if key.subject != user_id:
            abort(error_response(403, "forbidden", "This token belongs to another user; it can reach only its "
                                                   "own user's data."))
        return view(*args, user_id=user_id, key=key, **kwargs)
    return wrapper


def _page_args(ledger: Ledger, scope: str, allowed: tuple[str, ...]) -> tuple[dict[str, Any], int, int | None]:
    args = {k: v for k, v in request.args.items()}
    limit_raw = args.pop("limit", "50")
    cursor = args.pop("cursor", None)
    try:
        if not (limit_raw.isascii() and limit_raw.isdigit()):  # int() also takes " 5", "1_0", "٥"
            raise ValueError(limit_raw)
        limit = int(limit_raw)
    except ValueError:
        raise BadQuery("limit", f"must be a whole number from 1 to 500, got {limit_raw[:20]!r}.") from None
    if not 1 <= limit <= 500:
        raise BadQuery("limit", f"must be from 1 to 500, got {limit}.")
    before = decode_cursor(ledger, scope, cursor) if cursor is not None else None
    return parse_filters(args, allowed=allowed, also=("limit", "cursor")), limit, before


@bp.get("/transcripts")
@developer_key
def list_transcripts(key: KeyInfo) -> Response:
    ledger = _ledger()
    scope = "dev:" + key.subject
    filters, limit, before = _page_args(ledger, scope, ("skill", "user_id", "session_id", "intent", "status",
                                                        "since", "until", "has_transaction", "q"))
    rows, last = ledger.query(filters, developer_id=key.subject, before_id=before, limit=limit)
    ledger.audit(key.id, "list", {**dict(request.args)}, len(rows), users=Counter(r["user_id"] for r in rows))
    nxt = encode_cursor(ledger, scope, last) if last is not None else None
    hint = _skill_hint(filters.get("skill"), key.subject) if not rows and before is None else None
    return _json({"transcripts": rows, "next_cursor": nxt, **({"hint": hint} if hint else {})})


def _skill_hint(skill: str | None, developer_id: str) -> str | None:
    """For an empty page filtered by a skill this developer does not host here: the name of theirs it nearly spells.

    From the hosted skills, not the ledger: neither backend indexes a developer's skill names (their
    distinct skills were a scan of all their rows, 0.32 s for the largest developer of a 1M-row
    SQLite ledger), and only this developer's own skills are offered, so no other's name leaks.
    """
    from difflib import get_close_matches  # only here: the NLU and /v1 keep it off a turn's imports

    theirs = [name for name, s in current_app.extensions["skills_sdk"]["host"].skills.items()
              if s.developer_id == developer_id]
    if not skill or skill in theirs:
        return None
    near = get_close_matches(skill, theirs, n=1, cutoff=0.8)
    return f"No skill named {skill!r} among yours served here; did you mean skill={near[0]}?" if near else None


@bp.get("/transcripts/export")
@developer_key
def export_transcripts(key: KeyInfo) -> Response:
    ledger = _ledger()
    filters = parse_filters(dict(request.args.items()))
    args = dict(request.args)

    def lines() -> Iterator[str]:
        users: Counter[str] = Counter()
        try:
            if filters.get("q") is None:
                # Oldest first, the lines made by the ledger a chunk at a time, their users counted as
                # each chunk is made: no per-row decode and re-encode here, like `skills transcripts export`.
                yield from (text for text, _ in ledger.export_jsonl(filters, developer_id=key.subject, users=users))
            else:  # a search: its pages, newest first
                for row in tally(ledger.iter_query(filters, developer_id=key.subject), users):
                    yield _DUMPS(row) + "\n"
        finally:  # what was sent, also when the client stopped reading
            ledger.audit(key.id, "export", args, sum(users.values()), users=users)

    return Response(lines(), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=transcripts.jsonl"})


@bp.get("/transcripts/<tid>")
@developer_key
def get_transcript(tid: str, key: KeyInfo) -> Response:
    ledger = _ledger()
    if request.args:
        raise BadQuery(sorted(request.args)[0], "this endpoint takes no query parameters.")
    row = ledger.get(int(tid)) if tid.isascii() and tid.isdigit() and len(tid) < 19 else None  # not "²", "١"
    if row is not None and row["developer_id"] != key.subject:
        row = None  # the same answer for a missing id and another developer's
    ledger.audit(key.id, "get", {"id": tid[:40]}, 1 if row else 0, users={row["user_id"]: 1} if row else None)
    if row is None:
        return error_response(404, "not_found", _NOT_FOUND)
    return _json(row)


@bp.get("/users/<user_id>/transcripts")
@user_token
def user_transcripts(user_id: str, key: KeyInfo) -> Response:
    ledger = _ledger()
    scope = "user:" + user_id
    filters, limit, before = _page_args(ledger, scope, ("skill", "since", "until", "q"))
    rows, last = ledger.query(filters, user_id=user_id, before_id=before, limit=limit)
    ledger.audit(key.id, "user_list", {"user_id": user_id, **dict(request.args)}, len(rows),
                 users={user_id: len(rows)})
    nxt = encode_cursor(ledger, scope, last) if last is not None else None
    return _json({"transcripts": rows, "next_cursor": nxt})


@bp.get("/users/<user_id>/access-log")
@user_token
def user_access_log(user_id: str, key: KeyInfo) -> Response:
    if request.args:
        raise BadQuery(sorted(request.args)[0], "this endpoint takes no query parameters.")
    return _json({"user_id": user_id, "access": _ledger().access_log(user_id)})


@bp.delete("/users/<user_id>/transcripts")
@user_token
def user_erase(user_id: str, key: KeyInfo) -> Response:
    unknown = sorted(set(request.args) - {"skill"})
    if unknown:
        raise BadQuery(unknown[0], "unknown parameter; only `skill` is accepted.")
    skill = request.args.get("skill")
    if skill is not None and not skill.strip():
        raise BadQuery("skill", "is empty; leave it out to erase every skill, or name one.")
    try:
        receipt = _ledger().erase_user(user_id, skill=skill, actor=key.id)
    except ErasureIncomplete as exc:
        return error_response(503, "erasure_incomplete", str(exc), receipt=exc.receipt)
    return _json({"receipt": receipt})


@bp.route("/users/<user_id>/capture-mode", methods=["GET", "PUT"])
@user_token
def capture_mode(user_id: str, key: KeyInfo) -> Response:
    ledger = _ledger()
    if request.method == "PUT":
        from .bodies import BodyError, CaptureModeBody, load_body

        body = json_body(f"Send {{\"mode\": ...}} with one of {', '.join(CAPTURE_MODES)}.")  # /alexa's checks
        try:
            mode = load_body(CaptureModeBody(), body)["mode"]
        except BodyError:
            got = body.get("mode") if isinstance(body, dict) else None
            message = f"Send JSON {{\"mode\": ...}} with one of {', '.join(CAPTURE_MODES)}; got {str(got)[:40]!r}."
            return error_response(400, "bad_request", message, param="mode", fields={"mode": [message]})
        ledger.set_capture_mode(user_id, mode, actor=key.id)
    return _json({"user_id": user_id, "mode": ledger.capture_mode(user_id)})


def register(app: Flask) -> None:
    """Add the ``/v1`` transcript API to ``app``, and start the retention purge thread if configured.

    >>> app = create_app(skills, db="t.db", test_config={"SKILLS_RETENTION_DAYS": 30})  # doctest: +SKIP

    Config: ``SKILLS_RETENTION_DAYS`` (or $SKILLS_RETENTION_DAYS) is the retention of skills that
    set none; ``SKILLS_PURGE_INTERVAL`` (seconds, default 3600; 0 turns it off) how often expired
    rows are purged. The ledger runs the purge thread (see :meth:`Ledger.start`); testing apps run none,
    nor do gunicorn workers whose maintenance process purges for them (:mod:`.maintenance`).
    """
    ext = app.extensions["skills_sdk"]
    days = app.config.get("SKILLS_RETENTION_DAYS", os.environ.get("SKILLS_RETENTION_DAYS"))
    default_days = int(days) if days not in (None, "") else None
    app.config["SKILLS_RETENTION_DAYS"] = default_days
    interval = float(app.config.get("SKILLS_PURGE_INTERVAL", os.environ.get("SKILLS_PURGE_INTERVAL", 3600)))
    # create_app starts the ledger with these: its purge thread is the ledger's to run and stop. A
    # gunicorn worker runs none: the server's maintenance process purges for every worker (.maintenance).
    elsewhere = os.environ.get(BACKGROUND) == "elsewhere"
    ext["purge_every"] = interval if interval > 0 and not app.testing and not elsewhere else 0.0
    app.register_blueprint(bp)
