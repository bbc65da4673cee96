"""skills_sdk: write voice-assistant skills as decorated functions, serve them, keep trustworthy transcripts."""

from ._version import __version__
from .context import Turn
from .envelope import AudioPlayerState, RequestEnvelope, Slot, SlotText, load_request
from .errors import (
    BadQuery,
    EnvelopeError,
    LedgerUnavailable,
    ModelError,
    NotFound,
    RegistrationError,
    SkillsError,
    StateError,
    StoreError,
    UnknownRequestType,
    VerificationError,
)
from .host import SkillHost, TurnResult
from .middleware import Middleware, compose
from .model import IntentModel, InteractionModel, SlotType, SlotValue
from .response import CanFulfill, Response, Transaction, ask, empty, say, ssml
from .skill import LedgerPolicy, Skill, is_intent, is_request_type

__all__ = [
    "__version__",
    "Skill",
    "LedgerPolicy",
    "Turn",
    "Response",
    "CanFulfill",
    "Transaction",
    "say",
    "ask",
    "ssml",
    "empty",
    "Slot",
    "SlotText",
    "SlotType",
    "SlotValue",
    "IntentModel",
    "InteractionModel",
    "RequestEnvelope",
    "AudioPlayerState",
    "load_request",
    "Middleware",
    "compose",
    "SkillHost",
    "TurnResult",
    "is_intent",
    "is_request_type",
    "SkillsError",
    "RegistrationError",
    "ModelError",
    "StateError",
    "EnvelopeError",
    "UnknownRequestType",
    "VerificationError",
    "StoreError",
    "LedgerUnavailable",
    "NotFound",
    "BadQuery",
]
