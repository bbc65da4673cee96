"""Loggers that load :mod:`logging` when they first log, and tracebacks a log may keep (no user's words)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger", "traceback_without_words"]


class LazyLogger:
    """``logging.getLogger(name)``, looked up at the first use of any of its attributes.

    The modules a turn runs through log only what goes wrong; importing :mod:`logging` (with
    ``string``, whose ``Template`` compiles a regex at import, and ``traceback``) cost each cold
    start 3-4 ms here before the first request.

    >>> log = LazyLogger("skills_sdk.example")
    >>> log.getEffectiveLevel() == __import__("logging").getLogger("skills_sdk.example").getEffectiveLevel()
    True
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> Any:
        # Only for what the instance lacks (debug, warning, exception, isEnabledFor, ...).
        logger = self._logger
        if logger is None:
            import logging

            logger = self._logger = logging.getLogger(self.name)
        return getattr(logger, attr)

    def __repr__(self) -> str:
        return f"<LazyLogger {self.name}>"


def traceback_without_words(exc: BaseException) -> str:
    """``exc``'s traceback with every exception's message left out: where it was raised, never what it said.

    >>> try:
    ...     raise ValueError("no topping called 'my secret'")
    ... except ValueError as e:
    ...     print(traceback_without_words(e).splitlines()[-1])
    ValueError (its message is in the turn's transcript row, `error`, not in the log)

    A handler's exception message often quotes what the user said (a slot value, an address). A
    log line outlives an erasure and ignores a user's capture mode, so it keeps the frames and the
    type only; the message is in the turn's transcript row (``error``), kept as the user's capture
    mode says and erased with the user.
    """
    import traceback

    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the exception, then what it was raised from
        seen.add(id(current))
        kind = type(current)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        frames = traceback.format_tb(current.__traceback__) if current.__traceback__ is not None else []
        head = ["Traceback (most recent call last):\n"] if frames else []
        parts.append("".join([*head, *frames, f"{name} (its message is in the turn's transcript row, `error`, not in the log)"]))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nwhich was raised while handling:\n\n".join(parts)
