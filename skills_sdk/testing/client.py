"""``SkillClient``: talk to a skill in a test as a device would, and assert on what it said."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .. import simulator as _sim
from ..device_audio import UNDER_WAY, not_carried_out
from ..envelope import AudioPlayerState
from ..request_builders import DEFAULT_USER

if TYPE_CHECKING:
    import requests

    from ..middleware import Middleware
    from ..skill import Skill
    from ..transcripts.ledger import Ledger

__all__ = ["SkillClient", "Reply", "DeviceAudio"]

#: The ``error.type`` values of ``AudioPlayer.PlaybackFailed`` (Alexa's AudioPlayer interface reference).
MEDIA_ERRORS = ("MEDIA_ERROR_UNKNOWN", "MEDIA_ERROR_INVALID_REQUEST", "MEDIA_ERROR_SERVICE_UNAVAILABLE",
                "MEDIA_ERROR_INTERNAL_SERVER_ERROR", "MEDIA_ERROR_INTERNAL_DEVICE_ERROR")


class Reply:
    """What the skill answered to one request, read back the way a test wants it."""

    def __init__(self, turn: _sim.SimulatedTurn, *, by_device: bool = False) -> None:
        self.turn = turn
        #: True when the device sent the request on its own (``playback_events=True``), not the test.
        self.by_device = by_device

    @property
    def request_type(self) -> str:
        """The type of the request that was sent: ``"IntentRequest"``, ``"AudioPlayer.PlaybackStarted"``..."""
        return self.turn.request_type

    @property
    def speech(self) -> str | None:
        """The plain text said (SSML tags dropped); None when nothing was said."""
        return self.turn.speech

    @property
    def reprompt(self) -> str | None:
        """The plain text of the reprompt, if any."""
        return self.turn.reprompt

    @property
    def card(self) -> dict[str, Any] | None:
        """The card as its JSON object, if any."""
        return self.turn.card

    @property
    def directives(self) -> list[dict[str, Any]]:
        """The directives, in order."""
        return self.turn.directives

    @property
    def directive_types(self) -> list[str]:
        """The directive types, in order: ``["Dialog.ElicitSlot"]``."""
        return [d.get("type") for d in self.turn.directives]

    @property
    def ended(self) -> bool | None:
        """``shouldEndSession`` as sent: True, False, or None when the response leaves it out."""
        return self.turn.end_session

    @property
    def session_attributes(self) -> dict[str, Any]:
        """The session attributes the response carries."""
        return self.turn.session_attributes

    @property
    def envelope(self) -> dict[str, Any]:
        """The whole response envelope."""
        return self.turn.envelope

    @property
    def spoken_by(self) -> str:
        """``"skill"``, or ``"dialog"`` when Alexa's dialog model asked the question without the skill."""
        return self.turn.spoken_by

    @property
    def delegated(self) -> Reply | None:
        """The skill's own ``Dialog.Delegate`` answer this turn, when the dialog model then asked the question."""
        return Reply(self.turn.delegated) if self.turn.delegated is not None else None

    @property
    def dialog_state(self) -> str | None:
        """The ``dialogState`` of the IntentRequest: STARTED, IN_PROGRESS, COMPLETED (None without a dialog)."""
        return self.turn.dialog_state

    @property
    def confirmation(self) -> str | None:
        """The intent's ``confirmationStatus`` in the request: NONE, CONFIRMED or DENIED."""
        return self.turn.confirmation

    @property
    def request(self) -> dict[str, Any]:
        """The request envelope that was sent."""
        return self.turn.request

    @property
    def intent(self) -> str | None:
        """The intent that was sent (what the NLU understood, for ``say``)."""
        return self.turn.intent

    @property
    def slots(self) -> dict[str, dict[str, Any]]:
        """The filled slots that were sent: name -> {value, resolved, id, status}."""
        return self.turn.slots

    @property
    def transcript(self) -> dict[str, Any] | None:
        """The transcript row this turn wrote (JSON columns decoded)."""
        return self.turn.transcript

    @property
    def transaction(self) -> dict[str, Any] | None:
        """The transaction the response tagged: kind, reference, amount (a string), currency, status."""
        return self.turn.transaction

    @property
    def error(self) -> str | None:
        """``"Type: message"`` when the handler raised and the user heard an apology, else None."""
        err = self.turn.result.response.error if self.turn.result is not None else None
        return f"{err[0]}: {err[1]}" if err else None

    def __repr__(self) -> str:
        return f"<Reply {self.turn.request_type} speech={self.speech!r} ended={self.ended!r}>"


class DeviceAudio:
    """The test device's audio player, as ``client.audio``: it plays what the skill sent, and every request reports it.

    >>> client.say("play some jazz")                       # the skill answers AudioPlayer.Play   # doctest: +SKIP
    >>> client.audio.advance(42_000)                       # 42 seconds of it go by              # doctest: +SKIP
    >>> client.say("pause")                                # context.AudioPlayer: PLAYING at 42000  # doctest: +SKIP
    >>> client.audio.state                                 # the skill answered AudioPlayer.Stop  # doctest: +SKIP
    AudioPlayerState(token='0:trk_1', offset_ms=42000, activity='STOPPED')

    After each answer the player carries out its AudioPlayer directives (``Play``, ``Stop``,
    ``ClearQueue``), and each later request carries the player as ``context.AudioPlayer``, as an
    Echo's do: intents, launches and session ends as much as events. Time passes only when
    :meth:`advance` says so. Made with ``SkillClient(skill, playback_events=True)``, the device also
    reports what the directives did, as an Echo does: ``PlaybackStarted`` when a stream starts,
    ``PlaybackStopped`` (token and offset where it was) when ``Stop``, ``ClearQueue`` ``CLEAR_ALL`` or
    a ``REPLACE_ALL`` stops one. Otherwise, and for what only time brings, the test sends events:
    :meth:`nearly_finish`, :meth:`finish`, :meth:`fail`, :meth:`stop`, or ``client.request(...)``,
    whose token and offset default to the player's. :meth:`pause`, :meth:`underrun` and :meth:`resume`
    change what the device reports (``PAUSED``, ``BUFFER_UNDERRUN``) without a request: Alexa sends
    skills no event for them.
    """

    def __init__(self, client: SkillClient) -> None:
        self._client = client

    @property
    def _player(self) -> Any:
        return self._client.conversation.player

    @property
    def state(self) -> AudioPlayerState:
        """The player as the next request will report it (what a handler reads as ``ctx.audio_player``)."""
        p = self._player
        return AudioPlayerState(p.token, p.offset_ms, p.activity)

    @property
    def token(self) -> str | None:
        """The token of the current stream (None before anything played)."""
        return self._player.token

    @property
    def offset_ms(self) -> int:
        """Where the current stream is, in milliseconds."""
        return self._player.offset_ms

    @property
    def activity(self) -> str:
        """``IDLE``, ``PLAYING``, ``PAUSED``, ``BUFFER_UNDERRUN``, ``STOPPED`` or ``FINISHED``."""
        return self._player.activity

    @property
    def queue(self) -> list[str]:
        """The tokens enqueued after the current stream, in order."""
        return [stream.get("token") for stream in self._player.queue]

    @property
    def events(self) -> list[Reply]:
        """The replies to every ``AudioPlayer.*`` request so far, the device's own and the test's, in order."""
        return [r for r in self._client.replies if r.request_type.startswith("AudioPlayer.")]

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds of the playing stream go by (ValueError when nothing plays)."""
        self._player.advance(ms)

    def pause(self) -> None:
        """The device pauses the stream on its own (an alarm, a call): requests report ``PAUSED`` until :meth:`resume`."""
        self._player.pause()

    def underrun(self) -> None:
        """The stream's data comes too slowly: requests report ``BUFFER_UNDERRUN`` until :meth:`resume`."""
        self._player.underrun()

    def resume(self) -> None:
        """Play on after :meth:`pause` or :meth:`underrun`, from the same offset (ValueError otherwise)."""
        self._player.resume()

    def nearly_finish(self) -> Reply:
        """The stream is nearly over and the device can take the next one: send ``PlaybackNearlyFinished``
        with the player's token and offset; the skill's ``ENQUEUE`` answer fills the queue."""
        self._refuse_unless(("PLAYING",), "be nearly finished")
        return self._client.request("AudioPlayer.PlaybackNearlyFinished")

    def finish(self) -> Reply:
        """The stream plays to its end: send ``PlaybackFinished``, then, if a stream was enqueued, play it and
        send ``PlaybackStarted``; returns the last reply."""
        self._refuse_unless(("PLAYING",), "finish")
        reply = self._client.request("AudioPlayer.PlaybackFinished")
        if self._player.queue:
            stream = self._player.queue[0]
            reply = self._client.request("AudioPlayer.PlaybackStarted", token=stream.get("token"),
                                         offset_ms=int(stream.get("offsetInMilliseconds") or 0))
        return reply

    def stop(self) -> Reply:
        """The device stops the stream where it is on its own (another app took the speaker): send ``PlaybackStopped``."""
        self._refuse_unless(UNDER_WAY, "stop")
        return self._client.request("AudioPlayer.PlaybackStopped")

    def fail(self, error_type: str = "MEDIA_ERROR_UNKNOWN", message: str = "The stream could not be played.") -> Reply:
        """The stream breaks: send ``PlaybackFailed`` with ``error`` ``{type, message}`` and the player's token and
        offset; the player stops, and the skill may answer with any AudioPlayer directive (the next track).

        >>> client.audio.fail("MEDIA_ERROR_SERVICE_UNAVAILABLE")              # doctest: +SKIP
        """
        if error_type not in MEDIA_ERRORS:
            raise ValueError(f"Unknown PlaybackFailed error type {error_type!r}. Alexa sends one of: "
                             f"{', '.join(MEDIA_ERRORS)}.")
        self._refuse_unless(UNDER_WAY, "fail")
        return self._client.request("AudioPlayer.PlaybackFailed", error={"type": error_type, "message": message})

    def _refuse_unless(self, activities: tuple[str, ...], what: str) -> None:
        if self.activity not in activities:
            where = f" ({self.token!r} at {self.offset_ms} ms)" if self.token else ""
            fix = ("call resume() first" if self.activity in ("PAUSED", "BUFFER_UNDERRUN")
                   else "have the skill answer with AudioPlayer.Play first (empty().play(...))")
            raise self._client._fail(f"Expected a stream playing to {what}",
                                     f"the player is {self.activity}{where}: {fix}")

    def __repr__(self) -> str:
        return f"<DeviceAudio {self.activity} token={self.token!r} offset_ms={self.offset_ms}>"


class SkillClient:
    """A test client for one skill: requests go through a :class:`SkillHost`, as in production.

    >>> client = SkillClient(pizza_skill, http=partner_session())       # doctest: +SKIP
    >>> client.say("open pizza shop").speech                              # doctest: +SKIP
    'Welcome to Pizza Shop. What size and topping would you like?'
    >>> client.say("order a large pepperoni pizza")                       # doctest: +SKIP
    >>> client.assert_said("Shall I place the order")                     # doctest: +SKIP

    ``store`` receives the transcripts (a fresh in-memory store when None); ``http`` is the
    ``requests.Session`` handlers reach partners through (when None, the
    :meth:`~skills_sdk.http.PartnerSession.from_env` session every server gives, which ``responses``
    can mock); ``middleware`` runs inside capture, as on the server. The client
    carries the session between requests as a device does (see :mod:`skills_sdk.simulator`).
    ``interfaces`` is what the device supports: an Echo's ``{"AudioPlayer": {}}`` when None, ``{}``
    for one that plays no audio (to test a skill's answer to it), or a screen's APL besides.
    ``playback_events=True`` makes the device send ``AudioPlayer.PlaybackStarted`` and
    ``PlaybackStopped`` on its own when the skill's directives start or stop a stream (see
    :class:`DeviceAudio`); those replies are in the log, and :attr:`last` stays the reply to the test's request.
    """

    def __init__(
        self,
        skill: Skill,
        store: Ledger | None = None,
        http: requests.Session | None = None,
        user_id: str = DEFAULT_USER,
        locale: str | None = None,
        *,
        middleware: Sequence[Middleware] = (),
        capture: bool = True,
        interfaces: Mapping[str, Any] | None = None,
        playback_events: bool = False,
    ) -> None:
        from ..host import SkillHost
        from ..http import PartnerSession
        from ..transcripts import open_ledger
        from ..transcripts.compose import ledger_middleware

        self.skill = skill
        self.owns_store = store is None
        self.store = store if store is not None else open_ledger(":memory:")
        self.http = http if http is not None else _recorded(PartnerSession.from_env(), self)
        self.partner_calls: list[tuple[int, str]] = []  # (the turn's index, the call and what came of it)
        self.user_id = user_id
        self.host = SkillHost([skill], state=self.store, http=self.http,
                              middleware=[*ledger_middleware(self.store, capture=capture), *middleware])
        self.conversation = _sim.Conversation(self.host, skill.name, user_id=user_id, locale=locale,
                                              interfaces=interfaces)
        self.replies: list[Reply] = []
        #: True: the device reports PlaybackStarted / PlaybackStopped on its own, as an Echo does.
        self.playback_events = playback_events

    # -- talking ------------------------------------------------------------------------
    def _keep(self, turn: _sim.SimulatedTurn) -> Reply:
        reply = self._check(Reply(turn))
        if self.playback_events:
            self._report(turn.audio_events)
        return reply

    def _check(self, reply: Reply) -> Reply:
        self.replies.append(reply)
        turn = reply.turn
        if turn.result is not None and (problems := turn.result.limit_problems()):
            # A test is where this is cheap to find: on a device the user only hears that the skill failed.
            raise self._fail("an answer Alexa would speak", "it is past Alexa's limits: " + "; ".join(problems))
        if refused := not_carried_out(turn.request_type, turn.directives):
            # The device leaves such a directive out, as Alexa does: say so here rather than leave a silent queue.
            raise self._fail("an answer Alexa would carry out", "; ".join(refused))
        return reply

    def _report(self, events: Sequence[tuple[str, str | None, int]]) -> None:
        """Send the events the device owes the skill, and those their answers bring, in order.

        The chain ends: only answers to PlaybackNearlyFinished and PlaybackFailed may start a stream, and
        the device sends neither on its own.
        """
        pending = list(events)
        while pending:
            kind, token, offset_ms = pending.pop(0)
            turn = self.conversation.event(kind, token=token, offset_ms=offset_ms)
            self._check(Reply(turn, by_device=True))
            pending.extend(turn.audio_events)

    def say(self, text: str) -> Reply:
        """Say ``text``: the skill's own NLU turns it into a LaunchRequest ("open <invocation name>")
        or an IntentRequest with slots, and the text is recorded as the turn's utterance."""
        return self._keep(self.conversation.say(text))

    def launch(self) -> Reply:
        """Send a LaunchRequest (always the first request of a new session)."""
        return self._keep(self.conversation.launch())

    def intent(self, name: str, *, dialog_state: str | None = None, confirmation: str = "NONE",
               **slots: Any) -> Reply:
        """Send intent ``name`` with slot values by name; custom slot types resolve as on a device.

        >>> client.intent("OrderPizzaIntent", size="big", topping="pepperoni")   # doctest: +SKIP
        """
        return self._keep(self.conversation.intent(name, slots, dialog_state=dialog_state,
                                                   confirmation=confirmation))

    def request(self, request_type: str, **fields: Any) -> Reply:
        """Send any other request type (``AudioPlayer.*``, ``PlaybackController.*``, ``AlexaSkillEvent.*``,
        ``System.ExceptionEncountered``...); ``token=``, ``offset_ms=``, ``persistence=``, ``error=``
        fill the usual fields, other keywords go into the request block."""
        return self._keep(self.conversation.event(request_type, **fields))

    def end(self, reason: str = "USER_INITIATED", *, error: Mapping[str, str] | None = None) -> Reply:
        """Send a SessionEndedRequest; the next request starts a new session."""
        return self._keep(self.conversation.end(reason, error=error))

    def new_session(self) -> None:
        """Make the next request start a new session for the same user."""
        self.conversation.new_session()

    @property
    def audio(self) -> DeviceAudio:
        """The device's audio player: what it plays, where it is, and the events it sends (see :class:`DeviceAudio`)."""
        return DeviceAudio(self)

    @property
    def session(self) -> dict[str, Any]:
        """The current session attributes (what the next request will carry)."""
        return dict(self.conversation.attributes)

    @property
    def last(self) -> Reply:
        """The latest reply to a request the test sent (not one the device sent on its own); raises
        AssertionError before the first request."""
        for reply in reversed(self.replies):
            if not reply.by_device:
                return reply
        raise AssertionError(f"Nothing was sent to skill {self.skill.name!r} yet: call say(), launch() or "
                             "intent() before asserting.")

    @property
    def state(self) -> dict[str, Any]:
        """The per-user state ``ctx.state`` saved for this client's user in this skill (``{}`` when none), as the
        next turn will load it.

        >>> client.say("add milk"); client.state                                # doctest: +SKIP
        {'basket': ['milk']}
        """
        return dict(self.store.load_state(self.skill.developer_id, self.skill.name, self.user_id) or {})

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Save ``state`` as this user's ``ctx.state`` in this skill before the next turn: a returning user."""
        self.store.save_state(self.skill.developer_id, self.skill.name, self.user_id, dict(state))

    def transcripts(self) -> list[dict[str, Any]]:
        """The transcript rows recorded for this client's user in this skill, oldest first."""
        return list(self.store.iter_transcripts(user_id=self.user_id, skill=self.skill.name))

    # -- the conversation, as a chat log --------------------------------------------------
    def conversation_log(self) -> str:
        """The conversation so far as a chat log: each user turn and the skill's reply."""
        name = self.skill.name
        width = max(len(name), 6 if any(r.by_device for r in self.replies) else 4)
        lines = [f"Conversation with skill {name!r} ({len(self.replies)} turn{'s' if len(self.replies) != 1 else ''}):"]
        for n, reply in enumerate(self.replies):
            lines.append(f"  {'device' if reply.by_device else 'user':<{width}} > {_user_side(reply)}")
            lines.append(f"  {name:<{width}} < {_skill_side(reply)}")
            if reply.turn.hint:
                lines.append(f"  {'':<{width}}   hint: {reply.turn.hint}")
            for call in (call for turn, call in self.partner_calls if turn == n):
                lines.append(f"  {'':<{width}}   partner: " + call.replace("\n", "\n" + " " * (width + 16)))
        if not self.replies:
            lines.append("  (nothing said yet)")
        return "\n".join(lines)

    def _fail(self, expected: str, got: str) -> AssertionError:
        return AssertionError(f"{expected}\n  but {got}\n\n{self.conversation_log()}")

    # -- assertions -------------------------------------------------------------------------
    def assert_said(self, expected: str | re.Pattern[str], *, reply: Reply | None = None) -> Reply:
        """Assert that the latest reply's speech contains ``expected`` (a substring, case-insensitive,
        or a compiled regex searched in it); returns the reply."""
        r = reply or self.last
        speech = r.speech or ""
        if isinstance(expected, re.Pattern):
            ok = expected.search(speech) is not None
            want = f"Expected the skill to say something matching /{expected.pattern}/"
        else:
            ok = expected.lower() in speech.lower()
            want = f"Expected the skill to say {expected!r}"
        if not ok:
            raise self._fail(want, f"it said {r.speech!r}")
        return r

    def assert_card(self, title: str | None = None, content: str | None = None, *,
                    reply: Reply | None = None) -> Reply:
        """Assert that the latest reply shows a card; ``title`` must equal its title and ``content`` be in
        its text (case-insensitive)."""
        r = reply or self.last
        card = r.card
        want = "Expected a card" + (f" titled {title!r}" if title else "") + (
            f" containing {content!r}" if content else "")
        if card is None:
            raise self._fail(want, "the reply has no card")
        body = card.get("content") or card.get("text") or ""
        if (title is not None and card.get("title") != title) or (
            content is not None and content.lower() not in body.lower()
        ):
            raise self._fail(want, f"the card is {card!r}")
        return r

    def assert_directive(self, directive_type: str, *, reply: Reply | None = None, **fields: Any) -> Reply:
        """Assert that the latest reply carries a directive of ``directive_type`` whose top-level
        ``fields`` equal the given values: ``assert_directive("Dialog.ElicitSlot", slotToElicit="size")``."""
        r = reply or self.last
        for d in r.directives:
            if d.get("type") == directive_type and all(d.get(k) == v for k, v in fields.items()):
                return r
        extra = "".join(f" {k}={v!r}" for k, v in fields.items())
        raise self._fail(f"Expected a {directive_type} directive{extra}",
                         f"the directives are {r.directives!r}" if r.directives else "the reply has no directives")

    def assert_ended(self, ended: bool = True, *, reply: Reply | None = None) -> Reply:
        """Assert that the latest reply ends the session (or, with ``ended=False``, keeps it open)."""
        r = reply or self.last
        if bool(r.ended) is not ended:
            raise self._fail(f"Expected the session to {'end' if ended else 'stay open'}",
                             f"shouldEndSession is {r.ended!r}")
        return r

    def assert_transaction(self, kind: str | None = None, amount: Decimal | int | str | None = None, *,
                           currency: str | None = None, reference: str | None = None,
                           reply: Reply | None = None) -> Reply:
        """Assert that the latest reply is tagged with a transaction; the given fields must match
        (``amount`` compared as a decimal: ``"23.50" == 23.5``)."""
        r = reply or self.last
        tx = r.transaction
        wanted = {k: v for k, v in (("kind", kind), ("amount", amount), ("currency", currency),
                                    ("reference", reference)) if v is not None}
        want = "Expected a transaction" + ("".join(f" {k}={v!r}" for k, v in wanted.items()))
        if tx is None:
            raise self._fail(want, "the reply has no transaction")
        for key, value in wanted.items():
            have = tx.get(key)
            if key == "amount":
                try:
                    same = Decimal(str(value)) == Decimal(str(have))
                except InvalidOperation:
                    same = False
            else:
                same = have == value
            if not same:
                raise self._fail(want, f"the transaction is {tx!r}")
        return r

    def __repr__(self) -> str:
        return f"<SkillClient {self.skill.name!r} user={self.user_id!r} turns={len(self.replies)}>"


def _user_side(reply: Reply) -> str:
    turn = reply.turn
    if turn.text is not None:
        sent = turn.intent or turn.request_type
        slots = " ".join(f"{k}={_slot_text(v)}" for k, v in turn.slots.items())
        state = f" dialogState={turn.dialog_state}" if turn.dialog_state else ""
        if turn.confirmation not in (None, "NONE"):
            state += f" confirmation={turn.confirmation}"
        return f"{turn.text!r}  [{sent}{' ' + slots if slots else ''}{state}]"
    req = turn.request["request"]
    if turn.intent:
        slots = " ".join(f"{k}={_slot_text(v, resolved=False)}" for k, v in turn.slots.items())
        extra = ""
        if req.get("dialogState"):
            extra += f" dialogState={req['dialogState']}"
        if req["intent"].get("confirmationStatus") not in (None, "NONE"):
            extra += f" confirmation={req['intent']['confirmationStatus']}"
        return f"(intent {turn.intent}{' ' + slots if slots else ''}{extra})"
    details = " ".join(f"{k}={req[k]}" for k in ("name", "reason", "token", "offsetInMilliseconds")
                       if req.get(k) is not None)
    result = (req.get("payload") or {}).get("purchaseResult") if isinstance(req.get("payload"), dict) else None
    if result is not None:  # a purchase's outcome: what a Connections.Response handler branches on
        details += f" purchaseResult={result}"
    return f"({turn.request_type}{' ' + details.strip() if details.strip() else ''})"


def _slot_text(slot: Mapping[str, Any], *, resolved: bool = True) -> str:
    """A slot as the log shows it: its resolved value (or what was said), ``(no match)`` when its type knew none."""
    text = str((slot.get("resolved") if resolved else None) or slot.get("value"))
    return text + " (no match)" if slot.get("status") == "ER_SUCCESS_NO_MATCH" else text


def _recorded(session: requests.Session, client: SkillClient) -> requests.Session:
    """``session`` (the client's own) noting each call and its outcome for the conversation log.

    A handler that catches a failed call answers politely, so without this a test saw only "not
    answering", not that the call matched no mock of ``responses``, nor which URL it was.
    """
    send = session.send

    def noted(request: Any, **kwargs: Any) -> Any:
        call = f"{request.method} {request.url}"
        try:
            response = send(request, **kwargs)
        except Exception as exc:
            said = "\n".join(line.rstrip() for line in str(exc).splitlines() if line.strip())
            client.partner_calls.append((len(client.replies), f"{call} -> {type(exc).__name__}: {said}"))
            raise
        client.partner_calls.append((len(client.replies), f"{call} -> {response.status_code}"))
        return response

    session.send = noted  # type: ignore[method-assign]
    return session


def _skill_side(reply: Reply) -> str:
    parts = [repr(reply.speech) if reply.speech is not None else "(says nothing)"]
    if reply.spoken_by == "dialog":
        parts.insert(0, "(Alexa's dialog model)")
    if reply.reprompt and reply.reprompt != reply.speech:
        parts.append(f"reprompt={reply.reprompt!r}")
    if reply.card:
        parts.append(f"card={reply.card.get('title')!r}")
    for d in reply.directives:
        detail = d.get("slotToElicit") or d.get("slotToConfirm") or d.get("playBehavior") or ""
        parts.append(f"[{d.get('type')}{' ' + detail if detail else ''}]")
    if reply.transaction:
        tx = reply.transaction
        parts.append(f"transaction={tx['kind']} {tx['amount']} {tx['currency']}")
    if reply.error:
        parts.append(f"error={reply.error!r}")
    parts.append("(session ended)" if reply.ended else "(session open)" if reply.ended is False else "")
    return "  ".join(p for p in parts if p)
