"""The exception family of skills_sdk: one base class, one class per thing that can go wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SkillsError(Exception):
    """Base class of every error skills_sdk raises on purpose."""


class RegistrationError(SkillsError):
    """A skill was set up wrongly: duplicate handler, bad slot, setup after serving began."""


class StateError(SkillsError, TypeError):
    """A value put in ``ctx.session`` or ``ctx.state`` cannot be stored as JSON; the message names the key."""


class ModelError(RegistrationError):
    """An interaction model (samples, slots, slot types) is inconsistent.

    ``problems`` holds each problem the message lists, in its order. Those the model's own check
    finds (:func:`skills_sdk.nlu.validate_model`) also say which ``intent``, ``sample`` or ``slot``
    they are about, so a tool can act on them without reading the message.
    """

    def __init__(self, message: str, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class EnvelopeError(SkillsError):
    """A request body is not a valid Alexa request envelope.

    ``errors`` maps dotted field paths (``request.intent.slots.size.value``) to lists of
    messages, in the shape marshmallow reports them.
    """

    #: The short code an HTTP error body carries for it.
    code = "invalid_envelope"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}
        if code is not None:
            self.code = code


class UnknownRequestType(EnvelopeError):
    """The envelope's ``request.type`` is not the name of a request type (``Interface.Name``)."""

    code = "unknown_request_type"


class VerificationError(SkillsError):
    """An incoming request failed Alexa request verification; ``check`` names the rule."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message


class SettingError(SkillsError, ValueError):
    """An environment variable (or app config key) holds a value the SDK cannot use; the message names it and a fix.

    A ``ValueError`` too, as these were. ``skills serve`` turns it into one line, before any worker starts.
    """


class StoreError(SkillsError):
    """The transcript store could not do what was asked."""


class LedgerUnavailable(StoreError):
    """The ledger can take no row now (neither the store nor the spool's reserve): the turn is refused before its handler runs."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"The transcript ledger cannot record this turn, so it was refused before the skill ran: "
                         f"{cause}. Nothing was done; retry once /readyz answers 200.")
        self.cause = cause


class InvalidRow(StoreError, ValueError):
    """A transcript row lacks what the ledger needs (its developer, skill or user); the message names the field."""


class ProgressTaken(StoreError):
    """Another run committed the same progress mark as far or further (one import or copy run twice at once); the batch was not written."""

    def __init__(self, name: str, held: int, wanted: int) -> None:
        super().__init__(f"Progress {name!r} is at {held} already, committed by another run; this batch (up to "
                         f"{wanted}) was not written.")
        self.name, self.held, self.wanted = name, held, wanted


class NotFound(StoreError):
    """The record asked for does not exist (or belongs to someone else)."""


class ErasureIncomplete(StoreError):
    """Rows were deleted but their old bytes could not yet be scrubbed from the files; ``receipt`` says so."""

    def __init__(self, message: str, receipt: dict) -> None:
        super().__init__(message)
        self.receipt = receipt


class BadQuery(SkillsError):
    """A filter, cursor or query parameter has the wrong form; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class ModelImportError(ModelError):
    """A file given to ``skills model import`` is not an interaction model the SDK can declare; the message names the field and the fix."""
