"""Loggers that load :mod:`logging` when they first log: a process whose turns raise nothing never imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger"]


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
