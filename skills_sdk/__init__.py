"""skills_sdk: write voice-assistant skills as decorated functions, serve them, keep trustworthy transcripts."""

from ._version import __version__
from .context import Turn
from .envelope import RequestEnvelope, Slot, load_request
from .errors import (
    BadQuery,
    EnvelopeError,
    ModelError,
    NotFound,
    RegistrationError,
    SkillsError,
    StoreError,
    UnknownRequestType,
    VerificationError,
)
from .host import SkillHost, TurnResult
from .middleware import Middleware, compose
from .model import IntentModel, InteractionModel, SlotType, SlotValue
from .response import Response, Transaction, ask, empty, say, ssml
from .skill import LedgerPolicy, Skill, is_intent, is_request_type

__all__ = [
    "__version__",
    "Skill",
    "LedgerPolicy",
    "Turn",
    "Response",
    "Transaction",
    "say",
    "ask",
    "ssml",
    "empty",
    "Slot",
    "SlotType",
    "SlotValue",
    "IntentModel",
    "InteractionModel",
    "RequestEnvelope",
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
    "EnvelopeError",
    "UnknownRequestType",
    "VerificationError",
    "StoreError",
    "NotFound",
    "BadQuery",
]
