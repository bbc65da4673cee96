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

No I/O here: the simulator sends the requests, this only keeps the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DevicePlayer"]

#: The activities during which a stream is under way, so a Stop directive (or CLEAR_ALL) stops it.
_UNDER_WAY = ("PLAYING", "BUFFER_UNDERRUN", "PAUSED")
#: The player's activity after each AudioPlayer event the device reports.
_AFTER_EVENT = {"PlaybackStarted": "PLAYING", "PlaybackNearlyFinished": "PLAYING", "PlaybackFinished": "FINISHED",
                "PlaybackStopped": "STOPPED", "PlaybackFailed": "STOPPED"}


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

    def _stop(self) -> None:
        if self.activity in _UNDER_WAY:
            self.activity = "STOPPED"

    def apply(self, directives: Iterable[Mapping[str, Any]]) -> None:
        """Carry out a response's AudioPlayer directives, in order (other directives are not the player's)."""
        for d in directives:
            kind = d.get("type")
            if kind == "AudioPlayer.Play":
                stream = (d.get("audioItem") or {}).get("stream") or {}
                behavior = d.get("playBehavior")
                if behavior == "ENQUEUE":
                    if self.token is None:
                        self._play(stream)
                    else:
                        self.queue.append(dict(stream))
                elif behavior == "REPLACE_ENQUEUED":
                    self.queue = [dict(stream)]
                else:  # REPLACE_ALL
                    self.queue = []
                    self._play(stream)
            elif kind == "AudioPlayer.Stop":
                self._stop()
            elif kind == "AudioPlayer.ClearQueue":
                self.queue = []
                if d.get("clearBehavior") == "CLEAR_ALL":
                    self._stop()

    def reported(self, event: str, token: str | None, offset_ms: int) -> None:
        """Follow an ``AudioPlayer.*`` event the device reported (``event`` without the prefix), as a device would be."""
        activity = _AFTER_EVENT.get(event)
        if activity is None:
            return
        self.token, self.offset_ms, self.activity = token, int(offset_ms), activity
        if event == "PlaybackStarted" and self.queue and self.queue[0].get("token") == token:
            self.url = self.queue.pop(0).get("url")

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds of the playing stream go by; ValueError when nothing plays."""
        if self.activity not in ("PLAYING", "BUFFER_UNDERRUN"):
            where = f" ({self.token!r} at {self.offset_ms} ms)" if self.token is not None else ""
            raise ValueError(f"Nothing is playing: the player is {self.activity}{where}, so no time passes in a "
                             "stream. Answer with AudioPlayer.Play first (empty().play(...)), or resume.")
        if int(ms) < 0:
            raise ValueError(f"advance() takes milliseconds to go forward, 0 or more; got {ms!r}.")
        self.offset_ms += int(ms)

    def __repr__(self) -> str:
        return (f"<DevicePlayer {self.activity} token={self.token!r} offset_ms={self.offset_ms} "
                f"queued={len(self.queue)}>")
