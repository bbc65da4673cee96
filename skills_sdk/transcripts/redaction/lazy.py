"""``LazyPattern``: a regular expression compiled when it is first used, not when its module is imported."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LazyPattern"]


class LazyPattern:
    """A pattern's source, compiled on the first call of one of its methods (``finditer``, ``match``, ...).

    The redactor's larger patterns (the spoken digit sequences, the e-mail parts) took ``re.compile``
    about 5 ms at import, paid by every process that captures, while most text is decided without
    them (a count of digits, an "@" looked for in C). Each method, once looked up, is kept on the
    instance, so a later call costs what a call of the compiled pattern's method costs.

    >>> digits = LazyPattern("[0-9]+")
    >>> digits.pattern, [m.group() for m in digits.finditer("a 12 b 345")]
    ('[0-9]+', ['12', '345'])
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (``re`` keeps it in its cache)."""
        return re.compile(self.pattern)

    def __getattr__(self, name: str) -> Any:  # only called for a name not yet kept on the instance
        value = getattr(self.compiled(), name)
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"
