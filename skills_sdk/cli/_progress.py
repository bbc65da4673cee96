"""A one-line progress counter for long commands (export, import, purge), drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["Progress"]


class Progress:
    """``label 12,000 of 50,000 rows (24%), 41,300 rows/s``, redrawn in place on ``stream`` (stderr).

    >>> with Progress("imported", total=50_000) as bar:     # doctest: +SKIP
    ...     bar.update(12_000)

    Draws only when ``stream`` is a terminal and ``enabled`` is true, at most once per
    :attr:`interval` seconds and not before the first interval has passed, so piped output, logs
    and quick commands get nothing at all. ``update`` is cheap when it does not draw, but it still
    reads the clock: call it every thousand rows or so, not every row. ``close`` (or leaving the
    ``with`` block) draws the final count and ends the line, if anything was drawn.
    """

    #: Seconds between redraws (and before the first).
    interval = 0.25

    def __init__(self, label: str, total: int | None = None, *, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and _isatty(self.stream)
        self.done = 0
        self._started = self._drawn_at = time.monotonic()
        self._width = 0  # length of the line on screen, 0 while nothing is drawn

    def update(self, done: int) -> None:
        """``done`` rows so far (cumulative, not a delta)."""
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn_at >= self.interval:
            self._drawn_at = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final count and end the line, if anything was drawn; safe to call twice."""
        if self._width:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _draw(self, now: float) -> None:
        text = f"{self.label} {self.done:,}"
        if self.total is not None:
            text += f" of {self.total:,}"
        text += " rows"
        if self.total:
            text += f" ({min(100, self.done * 100 // self.total)}%)"
        elapsed = now - self._started
        if elapsed > 0:
            text += f", {self.done / elapsed:,.0f} rows/s"
        # Spaces wipe what is left of a longer previous line.
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
