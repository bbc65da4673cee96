"""Which reader runs: the compiled twins in ``_speedups.c`` when they were built, else the Python code they mirror.

The digit-sequence reader (:func:`.numbers.sequences`) and the card windows (:func:`.cards.find_cards`)
have a C twin that gives the same results. It is built by ``pip install`` where a C compiler is
found and skipped where none is; :func:`compiled` says which runs. Setting the environment variable
``SKILLS_REDACTION_PURE=1`` before the import, or calling :func:`use` with ``False``, runs the
Python code even where the C twin was built (the tests run both).
"""

from __future__ import annotations

import os
from typing import Any

from . import cards, numbers

__all__ = ["PURE_ENV", "available", "compiled", "find_cards", "sequences", "use"]

#: The environment variable that makes the redactor run its Python code only.
PURE_ENV = "SKILLS_REDACTION_PURE"

try:
    from . import _speedups
except ImportError:  # built without a compiler: the Python code runs
    _speedups: Any = None
else:
    # The Python twins to hand what C does not read to, and the digit words, written down once in numbers.py.
    _speedups.bind(
        numbers.Sequence,
        numbers._read_stretch,  # noqa: SLF001
        numbers.sequences,
        cards.find_cards,
        numbers.cue_before,
        numbers._WORD_VALUES,  # noqa: SLF001
        [*numbers._REPEATS, *numbers._ZEROS, "plus"],  # noqa: SLF001
    )

sequences = numbers.sequences
find_cards = cards.find_cards


def available() -> bool:
    """Whether the C twins were built for this interpreter."""
    return _speedups is not None


def compiled() -> bool:
    """Whether the redactor runs the C twins now."""
    return sequences is not numbers.sequences


def use(compiled: bool) -> None:
    """Run the C twins (``True``, where :func:`available`) or the Python code (``False``)."""
    global sequences, find_cards
    if compiled and _speedups is not None:
        sequences, find_cards = _speedups.sequences, _speedups.find_cards
    else:
        sequences, find_cards = numbers.sequences, cards.find_cards


use(os.environ.get(PURE_ENV, "") in ("", "0"))
