"""The simulated device's audio player: what it plays after each answer, and the ``context.AudioPlayer`` it reports.

Alexa sends the device's player state in every request (``context.AudioPlayer``: token,
offsetInMilliseconds, playerActivity), and a skill's AudioPlayer directives change it. The simulator
(:class:`skills_sdk.simulator.Conversation`) keeps one :class:`DevicePlayer` per conversation, so a
test can play, let time pass, pause and resume as on a device::

    player = DevicePlayer()
    player.apply([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
                   "audioItem": {"stream": {"url": "https://x/1.mp3", "token": "t1", "offsetInMilliseconds": 0}}}])
    player.advance(42000)
    player.context()   # {'offsetInMilliseconds': 42000, 'playerActivity': 'PLAYING', 'token': 't1'}

No I/O here: the simulator sends the requests, this only keeps the state and says which events a
directive makes the device report (:meth:`DevicePlayer.apply` returns them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DevicePlayer", "ANSWERS", "UNDER_WAY", "not_carried_out"]

#: The activities during which a stream is under way, so a Stop directive (or CLEAR_ALL) stops it.
UNDER_WAY = ("PLAYING", "BUFFER_UNDERRUN", "PAUSED")
#: The directives Alexa carries out in an answer to each AudioPlayer event; any other is refused (an
#: empty tuple: Alexa ignores the answer). Amazon's skills kit for Java documents them per event
#: (alexa-skills-kit-sdk-for-java, ``interfaces/audioplayer/AudioPlayer.java``): PlaybackStarted and
#: PlaybackFinished "only ... ClearQueueDirective and StopDirective", PlaybackStopped "the contents of
#: the response is currently ignored", PlaybackNearlyFinished and PlaybackFailed any AudioPlayer directive.
ANSWERS: dict[str, tuple[str, ...]] = {
    "AudioPlayer.PlaybackStarted": ("AudioPlayer.Stop", "AudioPlayer.ClearQueue"),
    "AudioPlayer.PlaybackFinished": ("AudioPlayer.Stop", "AudioPlayer.ClearQueue"),
    "AudioPlayer.PlaybackStopped": (),
    "AudioPlayer.PlaybackNearlyFinished": ("AudioPlayer.Play", "AudioPlayer.Stop", "AudioPlayer.ClearQueue"),
    "AudioPlayer.PlaybackFailed": ("AudioPlayer.Play", "AudioPlayer.Stop", "AudioPlayer.ClearQueue"),
}
#: The player's activity after each AudioPlayer event the device reports.
_AFTER_EVENT = {"PlaybackStarted": "PLAYING", "PlaybackNearlyFinished": "PLAYING", "PlaybackFinished": "FINISHED",
                "PlaybackStopped": "STOPPED", "PlaybackFailed": "STOPPED"}


def not_carried_out(request_type: str, directives: Iterable[Mapping[str, Any]]) -> list[str]:
    """The AudioPlayer directives in an answer to ``request_type`` that Alexa does not carry out, each explained.

    >>> not_carried_out("AudioPlayer.PlaybackStarted", [{"type": "AudioPlayer.Play"}])
    ['AudioPlayer.PlaybackStarted may be answered with AudioPlayer.Stop or AudioPlayer.ClearQueue only, not AudioPlayer.Play']
    >>> not_carried_out("AudioPlayer.PlaybackNearlyFinished", [{"type": "AudioPlayer.Play"}])
    []
    """
    allowed = ANSWERS.get(request_type)
    if allowed is None:
        return []
    refused = [d.get("type") for d in directives if str(d.get("type")).startswith("AudioPlayer.")
               and d.get("type") not in allowed]
    if not refused:
        return []
    if not allowed:
        return [f"Alexa ignores any answer to {request_type}, so {', '.join(map(str, refused))} does nothing"]
    return [f"{request_type} may be answered with {' or '.join(allowed)} only, not {kind}" for kind in refused]


class DevicePlayer:
    """A device's audio player as Alexa describes it: one current stream, a queue, an activity and an offset.

    >>> player = DevicePlayer()
    >>> player.context()
    {'offsetInMilliseconds': 0, 'playerActivity': 'IDLE'}

    It starts ``IDLE`` (nothing played yet). ``AudioPlayer.Play`` with ``REPLACE_ALL`` plays its
    stream from its offset (the queue cleared), ``ENQUEUE`` adds to the queue (or plays, when
    nothing was played yet), ``REPLACE_ENQUEUED`` replaces the queue; ``AudioPlayer.Stop`` stops
    a stream under way where it is (``STOPPED``, token and offset kept); ``AudioPlayer.ClearQueue``
    empties the queue and, with ``CLEAR_ALL``, stops the stream too.
    """

    def __init__(self) -> None:
        self.token: str | None = None
        self.url: str | None = None
        self.offset_ms = 0
        self.activity = "IDLE"
        #: The streams enqueued after the current one (each ``audioItem.stream`` as the skill sent it).
        self.queue: list[dict[str, Any]] = []

    def context(self) -> dict[str, Any]:
        """``context.AudioPlayer`` as the device reports it now (no ``token`` before anything played)."""
        out: dict[str, Any] = {"offsetInMilliseconds": self.offset_ms, "playerActivity": self.activity}
        if self.token is not None:
            out["token"] = self.token
        return out

    def _play(self, stream: Mapping[str, Any]) -> None:
        self.token, self.url = stream.get("token"), stream.get("url")
        self.offset_ms = int(stream.get("offsetInMilliseconds") or 0)
        self.activity = "PLAYING"

    # What an Echo reports, per Alexa's AudioPlayer interface reference: PlaybackStarted "when Alexa
    # begins playing the audio stream previously sent in a Play directive"; PlaybackStopped "when Alexa
    # stops playing an audio stream in response to ... Stop, Play with a playBehavior of REPLACE_ALL,
    # ClearQueue with a clearBehavior of CLEAR_ALL". The AVS AudioPlayer state diagram moves a playing
    # stream to STOPPED on the same three directives.
    def _stop(self, events: list[tuple[str, str | None, int]]) -> None:
        if self.activity in UNDER_WAY:
            events.append(("AudioPlayer.PlaybackStopped", self.token, self.offset_ms))
            self.activity = "STOPPED"

    def _start(self, stream: Mapping[str, Any], events: list[tuple[str, str | None, int]]) -> None:
        self._play(stream)
        events.append(("AudioPlayer.PlaybackStarted", self.token, self.offset_ms))

    def apply(self, directives: Iterable[Mapping[str, Any]], *,
              answering: str | None = None) -> list[tuple[str, str | None, int]]:
        """Carry out a response's AudioPlayer directives, in order (other directives are not the player's), and
        return the events an Echo reports for what they did: ``(request type, token, offset_ms)``, in order.

        A stream a directive stops (``Stop``, ``ClearQueue`` ``CLEAR_ALL``, or ``Play`` ``REPLACE_ALL``
        over it) gives ``AudioPlayer.PlaybackStopped`` where it was; a stream that starts gives
        ``AudioPlayer.PlaybackStarted``. ``answering`` is the request type the response answers:
        directives Alexa does not carry out for it (see :data:`ANSWERS`) are left out, as on a device.
        """
        events: list[tuple[str, str | None, int]] = []
        allowed = ANSWERS.get(answering) if answering is not None else None
        for d in directives:
            kind = d.get("type")
            if allowed is not None and kind not in allowed:
                continue
            if kind == "AudioPlayer.Play":
                stream = (d.get("audioItem") or {}).get("stream") or {}
                behavior = d.get("playBehavior")
                if behavior == "ENQUEUE":
                    expected = stream.get("expectedPreviousToken")
                    if self.token is None:
                        self._start(stream, events)
                    elif expected is None or expected == self.token:
                        self.queue.append(dict(stream))
                elif behavior == "REPLACE_ENQUEUED":
                    self.queue = [dict(stream)]
                else:  # REPLACE_ALL
                    self.queue = []
                    self._stop(events)
                    self._start(stream, events)
            elif kind == "AudioPlayer.Stop":
                self._stop(events)
            elif kind == "AudioPlayer.ClearQueue":
                self.queue = []
                if d.get("clearBehavior") == "CLEAR_ALL":
                    self._stop(events)
        return events

    def reported(self, event: str, token: str | None, offset_ms: int) -> None:
        """Follow an ``AudioPlayer.*`` event the device reported (``event`` without the prefix), as a device would be."""
        activity = _AFTER_EVENT.get(event)
        if activity is None:
            return
        self.token, self.offset_ms, self.activity = token, int(offset_ms), activity
        if event == "PlaybackStarted" and self.queue and self.queue[0].get("token") == token:
            self.url = self.queue.pop(0).get("url")

    def _where(self) -> str:
        return f" ({self.token!r} at {self.offset_ms} ms)" if self.token is not None else ""

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds of the playing stream go by; ValueError when nothing plays."""
        if self.activity in ("PAUSED", "BUFFER_UNDERRUN"):
            raise ValueError(f"The stream does not move while the player is {self.activity}{self._where()}. "
                             "Call resume() first.")
        if self.activity != "PLAYING":
            raise ValueError(f"Nothing is playing: the player is {self.activity}{self._where()}, so no time passes "
                             "in a stream. Answer with AudioPlayer.Play first (empty().play(...)), or resume.")
        if int(ms) < 0:
            raise ValueError(f"advance() takes milliseconds to go forward, 0 or more; got {ms!r}.")
        self.offset_ms += int(ms)

    def pause(self) -> None:
        """The device pauses the playing stream on its own (``PAUSED``): something more urgent has the speaker."""
        self._hold("PAUSED", "pause")

    def underrun(self) -> None:
        """The playing stream's data comes too slowly: the player waits in ``BUFFER_UNDERRUN``."""
        self._hold("BUFFER_UNDERRUN", "underrun")

    def _hold(self, activity: str, what: str) -> None:
        if self.activity != "PLAYING":
            raise ValueError(f"{what}() needs a stream playing, but the player is {self.activity}{self._where()}. "
                             "Answer with AudioPlayer.Play first (empty().play(...)).")
        self.activity = activity

    def resume(self) -> None:
        """Play on after :meth:`pause` or :meth:`underrun`, from where the stream was."""
        if self.activity not in ("PAUSED", "BUFFER_UNDERRUN"):
            raise ValueError(f"resume() plays on after pause() or underrun(), but the player is "
                             f"{self.activity}{self._where()}. A stopped stream plays again only when the skill "
                             "answers with AudioPlayer.Play.")
        self.activity = "PLAYING"

    def __repr__(self) -> str:
        return (f"<DevicePlayer {self.activity} token={self.token!r} offset_ms={self.offset_ms} "
                f"queued={len(self.queue)}>")
