"""Console sessions kept on the server: the cookie is a random id, the ledger holds which key signed in."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask import request as active_request
from flask.sessions import NullSession, SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ..transcripts.ledger import Ledger
from ..transcripts.sessions import DEFAULT_TTL, ConsoleSession, new_session_id

__all__ = ["LedgerSession", "LedgerSessionInterface"]

#: Longest cookie value taken as a session id (ours are 43 characters).
_MAX_SID = 100


class LedgerSession(CallbackDict, SessionMixin):  # type: ignore[type-arg, misc]
    """Flask's ``session`` for one console request: page data (flashed messages) plus the ledger's record.

    Sign-ins are not items of this dict: :meth:`sign_in` and :meth:`sign_out` change the record
    and give the browser a new id, so an id seen before a sign-in or after a sign-out opens nothing.
    """

    def __init__(self, record: ConsoleSession, *, from_cookie: bool, dropped: list[str] | None = None) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(record.data, changed)
        self.record = record
        self.from_cookie = from_cookie  # the browser sent this id (so it need not be set again)
        self.dropped = dropped or []  # slots whose key was revoked since the last request
        self.modified = False
        self.accessed = False
        self.ended: list[str] = []  # ids to delete when the response is saved

    @property
    def sid(self) -> str:
        """This session's id, as the cookie carries it."""
        return self.record.sid

    def identity(self, slot: str) -> tuple[str, str] | None:
        """``(key_id, subject)`` signed in to ``slot`` (``developer`` or ``user``), or None."""
        return self.record.identities.get(slot)

    def sign_in(self, slot: str, key_id: str, subject: str) -> None:
        """Sign ``slot`` in under a new session id; the old id (and its CSRF token) stop working."""
        self._rotate()
        self.record.identities[slot] = (key_id, subject)
        self.modified = True

    def sign_out(self, slot: str) -> None:
        """End ``slot``'s sign-in: the old id is deleted, any other sign-in moves to a new id."""
        self._rotate()
        self.record.identities.pop(slot, None)
        self.modified = True

    def _rotate(self) -> None:
        self.ended.append(self.record.sid)
        self.record = ConsoleSession(new_session_id(), dict(self.record.identities), self.record.data)
        self.from_cookie = False


class _NoSession(NullSession):
    """The session outside the console: empty, and writing to it says why."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Flask's session exists only under the console's prefix; a skill keeps "
                           "per-conversation data in ctx.session and per-user data in ctx.state.")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail  # type: ignore[assignment]


_NO_SESSION = _NoSession()


class LedgerSessionInterface(SessionInterface):
    """Keep console sessions in the ledger (``console_sessions``); only paths under ``prefix`` open one.

    >>> app.session_interface = LedgerSessionInterface(store)     # doctest: +SKIP

    ``SKILLS_CONSOLE_SESSION_TTL`` (seconds, default 8 hours) is how long a sign-in lasts. Every
    worker of a server on the same database shares the sessions; no signing secret is needed.
    """

    def __init__(self, store: Ledger, prefix: str = "/console") -> None:
        self.store = store
        self.prefix = prefix

    def open_session(self, app: Flask, request: Request) -> LedgerSession | NullSession:
        if not request.path.startswith(self.prefix):
            # The Alexa endpoint and the API have no session: no cookie read, no id drawn, nothing saved.
            return _NO_SESSION
        sid = request.cookies.get(self.get_cookie_name(app)) or ""
        if not sid or len(sid) > _MAX_SID:
            return LedgerSession(ConsoleSession(new_session_id()), from_cookie=False)
        record, dropped = self.store.load_session(sid)
        if record is None:
            # No live row: an anonymous visitor keeping the id their browser has (its CSRF token
            # is derived from it), never signed in: an ended, expired or made-up id opens nothing.
            record = ConsoleSession(sid)
        return LedgerSession(record, from_cookie=True, dropped=dropped)

    def csrf_token(self, session: LedgerSession) -> str:
        """The CSRF token of ``session`` (the cookie is then set, so the browser keeps the id)."""
        session.accessed = True
        return self.store.csrf_token(session.sid)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, LedgerSession):
            return
        for old in session.ended:
            self.store.end_session(old)
        if session.modified:
            session.record.data = dict(session)
            ttl = float(app.config.get("SKILLS_CONSOLE_SESSION_TTL", DEFAULT_TTL))
            self.store.save_session(session.record, ttl=ttl)
        # A page read without a cookie gives the browser an id (its forms' token derives from it); a POST
        # without one gets none unless it signed in: a form posted from another site arrives without the
        # SameSite cookie, and a new id in the refusal replaced the visitor's cookie, signing them out.
        reading = active_request.method in ("GET", "HEAD")
        if not session.from_cookie and (session.modified or (session.accessed and reading)):
            response.set_cookie(
                self.get_cookie_name(app), session.sid, httponly=True, path=self.get_cookie_path(app),
                # Over HTTPS the cookie is Secure even unconfigured: an http:// page of the host never gets it.
                domain=self.get_cookie_domain(app), secure=self.get_cookie_secure(app) or active_request.is_secure,
                samesite=self.get_cookie_samesite(app) or "Lax")
            response.vary.add("Cookie")
