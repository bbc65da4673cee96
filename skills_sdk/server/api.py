"""The transcript API under ``/v1``: developers read their own transcripts; users read, erase and set consent for theirs."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request

from ..errors import BadQuery, ErasureIncomplete
from ..transcripts.audit import tally
from ..transcripts.capture import CAPTURE_MODES
from ..transcripts.keys import KeyInfo
from ..transcripts.retention import PurgeThread
from ..transcripts.search import decode_cursor, encode_cursor, parse_filters
from ..transcripts.store import TranscriptStore
from .alexa import error_response

__all__ = ["register"]

log = logging.getLogger("skills_sdk.server")

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_NOT_FOUND = "No transcript with that id is visible to this key."


def _json(body: Any, status: int = 200) -> Response:
    return Response(_DUMPS(body), status=status, mimetype="application/json")


def _bad(exc: BadQuery) -> Response:
    return error_response(400, "bad_query", str(exc), param=exc.param)


def _key(store: TranscriptStore, kind: str) -> KeyInfo | Response:
    """The caller's live key of ``kind``, or the 401/403 answer to send instead."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "unauthorized", "Send your key as `Authorization: Bearer sk_…`; "
                                                   "`skills keys create` makes one.")
    info = store.verify_key(token.strip())
    if info is None:
        return error_response(401, "unauthorized", "This key is unknown or has been revoked; ask for a new one.")
    if info.kind != kind:
        return error_response(403, "forbidden", f"This endpoint needs a {kind} key; this one is a {info.kind} key.")
    return info


def _page_args(store: TranscriptStore, scope: str, allowed: tuple[str, ...]) -> tuple[dict[str, Any], int, int | None]:
    args = {k: v for k, v in request.args.items()}
    limit_raw = args.pop("limit", "50")
    cursor = args.pop("cursor", None)
    try:
        limit = int(limit_raw)
    except ValueError:
        raise BadQuery("limit", f"must be a whole number from 1 to 500, got {limit_raw[:20]!r}.") from None
    if not 1 <= limit <= 500:
        raise BadQuery("limit", f"must be from 1 to 500, got {limit}.")
    before = decode_cursor(store, scope, cursor) if cursor is not None else None
    return parse_filters(args, allowed=allowed), limit, before


def register(app: Flask) -> None:
    """Add the ``/v1`` transcript API to ``app``, and start the retention purge thread if configured.

    >>> app = create_app(store=TranscriptStore("t.db"), test_config={"SKILLS_RETENTION_DAYS": 30})  # doctest: +SKIP

    Config: ``SKILLS_RETENTION_DAYS`` (or $SKILLS_RETENTION_DAYS) is the retention of skills that
    set none; ``SKILLS_PURGE_INTERVAL`` (seconds, default 3600; 0 turns it off) how often expired
    rows are purged. The purge thread does not run for testing apps or in-memory stores.
    """
    ext = app.extensions["skills_sdk"]
    store: TranscriptStore = ext["store"]
    host = ext["host"]
    days = app.config.get("SKILLS_RETENTION_DAYS", os.environ.get("SKILLS_RETENTION_DAYS"))
    default_days = int(days) if days not in (None, "") else None
    app.config["SKILLS_RETENTION_DAYS"] = default_days
    interval = float(app.config.get("SKILLS_PURGE_INTERVAL", os.environ.get("SKILLS_PURGE_INTERVAL", 3600)))
    if interval > 0 and not app.testing and not getattr(store, "memory", False):
        purger = PurgeThread(store, host.skills.values(), default_days=default_days, interval=interval)
        purger.start()
        ext["purger"] = purger

    @app.get("/v1/transcripts")
    def list_transcripts() -> Response:
        key = _key(store, "developer")
        if isinstance(key, Response):
            return key
        scope = "dev:" + key.subject
        try:
            filters, limit, before = _page_args(store, scope, ("skill", "user_id", "session_id", "intent", "status",
                                                               "since", "until", "has_transaction", "q"))
            rows, last = store.query(filters, developer_id=key.subject, before_id=before, limit=limit)
        except BadQuery as exc:
            return _bad(exc)
        store.audit(key.id, "list", {**dict(request.args)}, len(rows), users=Counter(r["user_id"] for r in rows))
        nxt = encode_cursor(store, scope, last) if last is not None else None
        return _json({"transcripts": rows, "next_cursor": nxt})

    @app.get("/v1/transcripts/export")
    def export_transcripts() -> Response:
        key = _key(store, "developer")
        if isinstance(key, Response):
            return key
        try:
            filters = parse_filters(dict(request.args.items()))
        except BadQuery as exc:
            return _bad(exc)
        args = dict(request.args)

        def lines() -> Iterator[str]:
            users: Counter[str] = Counter()
            try:
                for row in tally(store.iter_query(filters, developer_id=key.subject), users):
                    yield _DUMPS(row) + "\n"
            finally:  # what was sent, also when the client stopped reading
                store.audit(key.id, "export", args, sum(users.values()), users=users)

        return Response(lines(), mimetype="application/x-ndjson",
                        headers={"Content-Disposition": "attachment; filename=transcripts.jsonl"})

    @app.get("/v1/transcripts/<tid>")
    def get_transcript(tid: str) -> Response:
        key = _key(store, "developer")
        if isinstance(key, Response):
            return key
        if request.args:
            return _bad(BadQuery(sorted(request.args)[0], "this endpoint takes no query parameters."))
        row = None
        if tid.isdigit() and len(tid) < 19:
            rows, _ = store.query(developer_id=key.subject, before_id=int(tid) + 1, limit=1)
            row = rows[0] if rows and rows[0]["id"] == int(tid) else None
        store.audit(key.id, "get", {"id": tid[:40]}, 1 if row else 0, users={row["user_id"]: 1} if row else None)
        if row is None:  # the same answer for a missing id and another developer's
            return error_response(404, "not_found", _NOT_FOUND)
        return _json(row)

    def _user(user_id: str) -> KeyInfo | Response:
        key = _key(store, "user")
        if isinstance(key, Response):
            return key
        if key.subject != user_id:
            return error_response(403, "forbidden", "This token belongs to another user; it can reach only its "
                                                    "own user's data.")
        return key

    @app.get("/v1/users/<user_id>/transcripts")
    def user_transcripts(user_id: str) -> Response:
        key = _user(user_id)
        if isinstance(key, Response):
            return key
        scope = "user:" + user_id
        try:
            filters, limit, before = _page_args(store, scope, ("skill", "since", "until", "q"))
            rows, last = store.query(filters, user_id=user_id, before_id=before, limit=limit)
        except BadQuery as exc:
            return _bad(exc)
        store.audit(key.id, "user_list", {"user_id": user_id, **dict(request.args)}, len(rows),
              users={user_id: len(rows)})
        nxt = encode_cursor(store, scope, last) if last is not None else None
        return _json({"transcripts": rows, "next_cursor": nxt})

    @app.get("/v1/users/<user_id>/access-log")
    def user_access_log(user_id: str) -> Response:
        key = _user(user_id)
        if isinstance(key, Response):
            return key
        if request.args:
            return _bad(BadQuery(sorted(request.args)[0], "this endpoint takes no query parameters."))
        return _json({"user_id": user_id, "access": store.access_log(user_id)})

    @app.delete("/v1/users/<user_id>/transcripts")
    def user_erase(user_id: str) -> Response:
        key = _user(user_id)
        if isinstance(key, Response):
            return key
        unknown = sorted(set(request.args) - {"skill"})
        if unknown:
            return _bad(BadQuery(unknown[0], "unknown parameter; only `skill` is accepted."))
        skill = request.args.get("skill")
        if skill is not None and not skill.strip():
            return _bad(BadQuery("skill", "is empty; leave it out to erase every skill, or name one."))
        try:
            receipt = store.erase_user(user_id, skill=skill, actor=key.id)
        except ErasureIncomplete as exc:
            return error_response(503, "erasure_incomplete", str(exc), receipt=exc.receipt)
        return _json({"receipt": receipt})

    @app.route("/v1/users/<user_id>/capture-mode", methods=["GET", "PUT"])
    def capture_mode(user_id: str) -> Response:
        key = _user(user_id)
        if isinstance(key, Response):
            return key
        if request.method == "PUT":
            body = request.get_json(silent=True)
            mode = body.get("mode") if isinstance(body, dict) else None
            if mode not in CAPTURE_MODES:
                return error_response(400, "bad_request", f"Send JSON {{\"mode\": ...}} with one of "
                                      f"{', '.join(CAPTURE_MODES)}; got {str(mode)[:40]!r}.", param="mode")
            store.set_capture_mode(user_id, mode, actor=key.id)
        return _json({"user_id": user_id, "mode": store.capture_mode(user_id)})
