"""skills_sdk: write voice-assistant skills as decorated functions, serve them, keep trustworthy transcripts."""

__version__ = "0.1.0"

from .context import Turn  # noqa: E402
from .envelope import RequestEnvelope, Slot, load_request  # noqa: E402
from .errors import (  # noqa: E402
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
from .host import SkillHost, TurnResult  # noqa: E402
from .middleware import Middleware, compose  # noqa: E402
from .model import InteractionModel, IntentModel, SlotType, SlotValue  # noqa: E402
from .response import Response, Transaction, ask, empty, say, ssml  # noqa: E402
from .skill import Skill, is_intent, is_request_type  # noqa: E402

__all__ = [
    "__version__",
    "Skill",
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
