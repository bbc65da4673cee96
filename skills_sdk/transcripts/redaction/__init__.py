"""Redaction of personal data (cards, phones, e-mails, addresses, coordinates) from transcript text, in linear time.

The public names live here; the rules live in one module per kind, each reading the same
position-preserving view of the text (``text.py``):

* ``redactor.py``: :class:`Redactor` and :data:`DEFAULT_REDACTOR`, the scan cap, custom kinds;
* ``emails.py``: e-mail addresses, written and spoken;
* ``numbers.py``: the one reader of digit sequences (digits and digit words) and the words
  around a number that say it is an order number or an amount;
* ``cards.py``: payment cards (Luhn over a sequence's groups);
* ``phones.py`` and ``verdicts.py``: phone numbers, checked with libphonenumber's metadata;
* ``places.py``: street addresses (house numbers written or said) and coordinates;
* ``speedups.py``: which code runs. ``_speedups.c`` is a compiled twin of the hot loops of
  ``text.py``, ``numbers.py``, ``cards.py``, ``phones.py`` and ``emails.py`` (the view, the survey of a
  line, the sequence reader, the card and phone windows, the e-mail anchors), built where a C
  compiler is found. The Python code is the specification: a
  change to one of those loops is made in both, and ``tests/test_redaction_speedups.py`` compares them.
"""

from __future__ import annotations

from .redactor import DEFAULT_REDACTOR, KINDS, MAX_SCAN_CHARS, TRUNCATED, Redaction, Redactor

__all__ = ["DEFAULT_REDACTOR", "KINDS", "MAX_SCAN_CHARS", "TRUNCATED", "Redaction", "Redactor"]
