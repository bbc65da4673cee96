"""marshmallow schemas of the JSON bodies the server takes (``/simulate``, ``/v1``), and the 400 that names the field."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..locale import LOCALE
from ..simulator import MAX_TEXT
from ..transcripts.ledger import CAPTURE_MODES

__all__ = ["BodyError", "SimulateBody", "CaptureModeBody", "load_body"]


class BodyError(ValueError):
    """A JSON body field is missing or wrong: ``field`` names it, the message says what to send."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Str(fields.String):
    """A string field whose type error names the type that came (marshmallow's says only "Not a valid string.")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError(f'"{attr}" must be a string, got {type(value).__name__}.')
        return value


def _text(value: str) -> None:
    if not value.strip():
        raise ValidationError('"text" is empty: send the words the user says.')
    if len(value) > MAX_TEXT:
        raise ValidationError(f'"text" is {len(value)} characters long; at most {MAX_TEXT} are accepted.')


def _id(name: str) -> Any:
    def check(value: str) -> None:
        if not value or len(value) > 255:
            raise ValidationError(f'"{name}" must be a non-empty string of at most 255 characters, got {value!r:.60}.')
    return check


def _locale(value: str) -> None:
    if not LOCALE.fullmatch(value):
        raise ValidationError(f'"locale" must be a locale such as "en-US" or "de-DE", got {value!r:.60}.')


class _IdStr(_Str):
    """``user_id``/``session_id``: any other type gets the same message as an empty or long one."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError(f'"{attr}" must be a non-empty string of at most 255 characters, got {value!r:.60}.')
        return value


_MISSING_TEXT = 'Missing "text": the words the user says, e.g. "open pizza shop".'


class SimulateBody(Schema):
    """``POST /simulate/<skill>``: ``{"text": ..., "user_id"?, "session_id"?, "locale"?}`` (other fields ignored)."""

    class Meta:
        unknown = EXCLUDE

    text = _Str(required=True, validate=_text, error_messages={"required": _MISSING_TEXT, "null": _MISSING_TEXT})
    user_id = _IdStr(load_default=None, allow_none=True, validate=_id("user_id"))
    session_id = _IdStr(load_default=None, allow_none=True, validate=_id("session_id"))
    locale = _Str(load_default=None, allow_none=True, validate=_locale)


class CaptureModeBody(Schema):
    """``PUT /v1/users/<id>/capture-mode``: ``{"mode": "full" | "redacted" | "metadata"}``."""

    class Meta:
        unknown = EXCLUDE

    mode = fields.String(required=True, validate=validate.OneOf(CAPTURE_MODES))


def load_body(schema: Schema, data: Any) -> dict[str, Any]:
    """``data`` loaded by ``schema``; :class:`BodyError` naming the first wrong field (in the schema's order).

    >>> load_body(SimulateBody(), {"text": "open pizza shop"})["text"]
    'open pizza shop'
    """
    if not isinstance(data, dict):
        raise BodyError("", f"The body must be a JSON object, got {type(data).__name__}.")
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        field = next(name for name in (*schema.fields, *errors) if name in errors)
        problem = errors[field]
        raise BodyError(field, problem[0] if isinstance(problem, list) else str(problem)) from None
