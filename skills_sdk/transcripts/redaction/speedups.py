"""Which reader runs: the compiled twins in ``_speedups.c`` when they were built, else the Python code they mirror.

The view (:func:`.text.view`), the digit-sequence reader (:func:`.numbers.sequences`), the card
windows (:func:`.cards.find_cards`), the phone windows (:func:`.phones.find_phones`) and the e-mail
anchors (:func:`.emails.find_emails`) have a C twin that gives the same results. It is built by
``pip install`` where a C compiler is found and skipped where none is; :func:`compiled` says which
runs. Setting the environment variable ``SKILLS_REDACTION_PURE=1`` before the import, or calling
:func:`use` with ``False``, runs the Python code even where the C twin was built (the tests run both).
"""

from __future__ import annotations

import os
from typing import Any

from . import cards, emails, numbers, phones, text

__all__ = [
    "PURE_ENV", "available", "compiled", "find_cards", "find_emails", "find_phones", "sequences", "survey", "use",
    "view",
]  # fmt: skip

#: The environment variable that makes the redactor run its Python code only.
PURE_ENV = "SKILLS_REDACTION_PURE"

try:
    from . import _speedups
except ImportError:  # built without a compiler: the Python code runs
    _speedups: Any = None
else:
    # The Python twins to hand what C does not read to, and the digit words, written down once in numbers.py.
    _speedups.bind(
        Sequence=numbers.Sequence,
        read_stretch=numbers._read_stretch,  # noqa: SLF001
        survey=numbers.survey,
        sequences=numbers.sequences,
        find_cards=cards.find_cards,
        find_phones=phones.find_phones,
        find_emails=emails.find_emails,
        cue_before=numbers.cue_before,
        unit_after=numbers.unit_after,
        phone_checked=phones.checked,
        nanpa=phones._NANPA,  # noqa: SLF001
        spoken_tlds=emails._SPOKEN_TLDS,  # noqa: SLF001
        not_a_local_part=emails._NOT_A_LOCAL_PART,  # noqa: SLF001
        view_table=text._VIEW,  # noqa: SLF001
        token_words={
            word.decode(): (numbers._WORD_VALUES.get(word.decode()), numbers._DIGITS_SAID.get(word, 0))  # noqa: SLF001
            for word in numbers._TOKEN_WORDS  # noqa: SLF001
        },
        cue_words=dict.fromkeys(word.decode() for word in numbers._CUE_WORDS),  # noqa: SLF001
        local_joins=dict.fromkeys(emails._SPOKEN_JOINS),  # noqa: SLF001
        domain_joins=dict.fromkeys(emails._DOMAIN_JOIN_WORDS),  # noqa: SLF001
    )

view = text.view
survey = numbers.survey
sequences = numbers.sequences
find_cards = cards.find_cards
find_phones = phones.find_phones
find_emails = emails.find_hinted


def available() -> bool:
    """Whether the C twins were built for this interpreter."""
    return _speedups is not None


def compiled() -> bool:
    """Whether the redactor runs the C twins now."""
    return sequences is not numbers.sequences


def use(compiled: bool) -> None:
    """Run the C twins (``True``, where :func:`available`) or the Python code (``False``)."""
    global view, survey, sequences, find_cards, find_phones, find_emails
    twins = _speedups if compiled and _speedups is not None else None
    view = twins.view if twins else text.view
    survey = twins.survey if twins else numbers.survey
    sequences = twins.sequences if twins else numbers.sequences
    find_cards = twins.find_cards if twins else cards.find_cards
    find_phones = twins.find_phones if twins else phones.find_phones
    find_emails = twins.find_emails if twins else emails.find_hinted


use(os.environ.get(PURE_ENV, "") in ("", "0"))
