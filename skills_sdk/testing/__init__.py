"""Testing toolkit: a conversation client for skills, request builders for every request type, assertions.

>>> from skills_sdk.testing import SkillClient
>>> client = SkillClient(skill)                 # doctest: +SKIP
>>> client.say("open pizza shop")               # doctest: +SKIP
>>> client.assert_said("what size")             # doctest: +SKIP

The pytest fixtures (``skill_client``, ``partners``, ``transcript_store``, ``partner_session``)
come from :mod:`skills_sdk.pytest_plugin`, loaded automatically once the SDK is installed.
"""

from ..request_builders import (
    DEFAULT_DEVICE,
    DEFAULT_USER,
    audio_player_request,
    envelope,
    exception_encountered_request,
    intent_request,
    launch_request,
    playback_controller_request,
    session_ended_request,
    skill_event_request,
    slot_object,
)
from .client import DeviceAudio, Reply, SkillClient

__all__ = [
    "SkillClient",
    "Reply",
    "DeviceAudio",
    "DEFAULT_USER",
    "DEFAULT_DEVICE",
    "envelope",
    "launch_request",
    "intent_request",
    "session_ended_request",
    "audio_player_request",
    "playback_controller_request",
    "skill_event_request",
    "exception_encountered_request",
    "slot_object",
]
