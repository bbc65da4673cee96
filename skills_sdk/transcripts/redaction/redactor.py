"""The Redactor: every rule of the package over one field, the cap on what is scanned, and custom kinds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..._frozen import RECORD, Frozen, set_field
from . import speedups
from .cards import MIN_CARD_DIGITS
from .numbers import Sequence
from .phones import Budget, region_of
from .places import find_addresses, find_coordinates, find_said_addresses, may_hold_said_address

__all__ = ["DEFAULT_REDACTOR", "KINDS", "MAX_SCAN_CHARS", "TRUNCATED", "Redaction", "Redactor"]

#: The built-in kinds of personal data a :class:`Redactor` recognises.
KINDS = ("CARD", "PHONE", "EMAIL", "ADDRESS", "COORDINATES")

#: The most characters of one field that are scanned. What lies beyond is not kept: it is replaced
#: by :data:`TRUNCATED` (text that was not scanned cannot be stored as "redacted"). Alexa sends
#: utterances and slots of a few hundred characters and accepts at most 8,000 characters of speech,
#: so only a hostile request or a runaway log message reaches it.
MAX_SCAN_CHARS = 65_536
#: What replaces the part of a field beyond :data:`MAX_SCAN_CHARS`.
TRUNCATED = "[TRUNCATED]"

_NO_KINDS: frozenset[str] = frozenset()
_KIND_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class Redaction(Frozen):
    """The redacted text and the kinds of personal data that were replaced in it."""

    text: str
    kinds: frozenset[str]

    def __init__(self, text: str, kinds: frozenset[str]) -> None:
        set_field(self, "text", text)
        set_field(self, "kinds", kinds)


# --- Why this is linear ----------------------------------------------------------------------------
# Python's re backtracks, so a pattern is only safe when every attempt at a position does bounded
# work. The old e-mail pattern was not: "[\w.]+@" reads the whole run of "a.a.a..." from every
# start in it (10.9 s on 40 KB). Here every pattern is one of two shapes, which
# tests/test_redaction.py checks on the compiled patterns:
#
# * scanned over the whole text with finditer: an alternation of bounded tokens, or one character
#   class repeated with nothing after it that can fail ("[0-9]+"), so each attempt costs O(1) or
#   consumes what it reads;
# * matched at one position (an "@", a house number) with match(): every repetition bounded (an
#   e-mail local part is at most 64 characters, a domain label 63), so each costs O(1).
#
# The Python work per match reads a bounded window too: a card is at most 19 digits and a phone
# 15, so a digit sequence is tried from a bounded number of starts. Phone numbers are checked by
# libphonenumber a bounded number of times per field (phones.py); past that budget a phone-shaped number is
# redacted unchecked, so a field of many numbers costs no more than a bounded number of checks.
# google-re2 would guarantee linear matching for any pattern, but each match through its Python
# binding cost several times what it costs in re, which made match-dense hostile input (an
# "a@a@a@..." storm) slower, not faster; see docs/privacy.md.
#
# Most text holds no personal data. Every built-in rule starts from a digit (cards, phones,
# addresses, coordinates), an "@" or an "at" (e-mails), a word that stands for a digit (spoken
# numbers) or a street word (addresses with a house number said in words), so a field with none of
# these is returned after the view and a few scans in C: a byte count of digits, two substring
# tests, and its words against two sets. One regular expression for all of them was tried and cost
# more: re has to try every branch at most characters of the text.


def _find(pattern: re.Pattern[str], kind: str, text: str, spans: list[tuple[int, int, str]]) -> None:
    spans.extend(
        (match.start(), match.end(), kind) for match in pattern.finditer(text) if match.end() > match.start()
    )


def _replace(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, frozenset[str]]:
    """Replace each span by its placeholder; overlapping spans become one, named by the earliest."""
    spans.sort(key=lambda span: (span[0], -span[1]))
    pieces: list[str] = []
    copied_to = 0
    for start, end, kind in spans:
        if start < copied_to:  # overlaps the placeholder just written: widen it
            copied_to = max(copied_to, end)
            continue
        pieces += [text[copied_to:start], f"[{kind}]"]
        copied_to = end
    pieces.append(text[copied_to:])
    return "".join(pieces), frozenset(kind for _, _, kind in spans)


def _compile_custom(kind: str, pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if not isinstance(kind, str) or not _KIND_NAME.fullmatch(kind):
        raise ValueError(
            f"Custom redaction kind {kind!r} is not an UPPER_SNAKE name; it becomes the placeholder "
            f"'[KIND]'. Use a name like 'ORDER_ID'."
        )
    if isinstance(pattern, re.Pattern):
        compiled = pattern
    else:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ValueError(
                f"Custom redaction pattern for kind {kind!r} is not a valid regular expression: "
                f"{error} (pattern {pattern!r})."
            ) from error
    if not isinstance(compiled.pattern, str):
        raise ValueError(f"Custom redaction pattern for kind {kind!r} must match str, not bytes.")
    if compiled.fullmatch(""):
        raise ValueError(
            f"Custom redaction pattern for kind {kind!r} matches the empty string "
            f"({compiled.pattern!r}), so it would insert '[{kind}]' everywhere. Make it match at least "
            f"one character."
        )
    return compiled


class Redactor:
    """Replaces personal data in transcript text with typed placeholders such as ``[PHONE]``.

    Example::

        redactor = Redactor(patterns={"ORDER_ID": r"\\bORD-\\d{6}\\b"})
        redactor.redact("call me on 415-555-0100 about ORD-123456")
        # Redaction(text='call me on [PHONE] about [ORDER_ID]', kinds=frozenset({'PHONE', 'ORDER_ID'}))

    :param patterns: extra kinds a skill adds, ``{"ORDER_ID": r"\\bORD-\\d{6}\\b"}``: an UPPER_SNAKE
        kind name to a regex (string or compiled). They run after the built-in kinds, with Python's
        ``re`` on at most ``max_chars`` characters; keep them free of nested repetition such as
        ``(a+)+``. Naming a built-in kind adds a pattern to it.
    :param kinds: the built-in kinds to detect, all of :data:`KINDS` by default.
    :param max_chars: how much of one field is scanned; the rest is replaced by ``[TRUNCATED]``.
    :raises ValueError: an unknown built-in kind, a bad kind name, or a pattern that does not compile
        or matches the empty string.
    """

    def __init__(
        self,
        *,
        patterns: Mapping[str, str | re.Pattern[str]] | None = None,
        kinds: Iterable[str] = KINDS,
        max_chars: int = MAX_SCAN_CHARS,
    ) -> None:
        self.kinds = frozenset(kinds)
        self._builtin = bool(self.kinds)
        self._emails, self._cards, self._phones = "EMAIL" in self.kinds, "CARD" in self.kinds, "PHONE" in self.kinds
        self._numbers = self._cards or self._phones
        self._coordinates, self._addresses = "COORDINATES" in self.kinds, "ADDRESS" in self.kinds
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(
                f"Unknown built-in redaction kinds {sorted(unknown)}; the built-in kinds are {list(KINDS)}. "
                f"Add other kinds through patterns={{'KIND': r'regex'}}."
            )
        if not isinstance(max_chars, int) or max_chars < 1:
            raise ValueError(f"max_chars must be a positive number of characters, got {max_chars!r}.")
        self.max_chars = max_chars
        self.patterns: dict[str, re.Pattern[str]] = {
            kind: _compile_custom(kind, pattern) for kind, pattern in (patterns or {}).items()
        }
        self._custom = [(pattern, kind) for kind, pattern in self.patterns.items()]

    def __repr__(self) -> str:
        return f"Redactor(kinds={sorted(self.kinds)}, patterns={sorted(self.patterns)})"

    def redact(self, text: str | None, *, locale: str | None = None) -> Redaction:
        """Return ``text`` with every piece of personal data replaced by its ``[KIND]`` placeholder.

        Example::

            DEFAULT_REDACTOR.redact("I live at 42 Wallaby Way").text  # 'I live at [ADDRESS]'
            DEFAULT_REDACTOR.redact("ruf 030 1234567 an", locale="de-DE").text  # 'ruf [PHONE] an'

        :param text: an utterance, a slot value or speech. ``None`` (nothing was said) gives
            ``Redaction("", frozenset())``, so callers always store a string.
        :param locale: the request's locale (``en-GB``); its region decides which national phone
            numbers are recognised (``US`` when not given). Numbers written with ``+`` are found
            in any locale.
        """
        if text is None:
            return Redaction("", _NO_KINDS)
        if not isinstance(text, str):
            raise TypeError(f"redact() takes a str or None, not {type(text).__name__}: {text!r}")
        truncated = len(text) > self.max_chars
        if truncated:
            text = text[: self.max_chars]
        spans = self.spans(text, locale=locale)
        if spans:
            text, kinds = _replace(text, spans)
        else:
            kinds = _NO_KINDS
        if truncated:
            text += TRUNCATED
        return Redaction(text, kinds)

    def spans(self, text: str, *, locale: str | None = None) -> list[tuple[int, int, str]]:
        """The ``(start, end, kind)`` of each piece of personal data in ``text``, possibly overlapping.

        Example::

            DEFAULT_REDACTOR.spans("mail a@b.io")  # [(5, 11, 'EMAIL')]

        :param text: scanned whole; :meth:`redact` cuts it to ``max_chars`` first.
        :param locale: as for :meth:`redact`.
        """
        view = speedups.view(text)
        spans: list[tuple[int, int, str]] = []
        if self._builtin:
            digit_count, said, cue_words = speedups.survey(view)
            if self._emails:
                speedups.find_emails(view, spans)
            if digit_count >= 10 and self._coordinates and "." in view:
                find_coordinates(view, spans)
            if self._numbers:
                if said is not None:
                    self._numbers_in(view, speedups.sequences(view, said), cue_words, locale, spans)
            if self._addresses:
                if digit_count:
                    find_addresses(view, spans)
                if may_hold_said_address(view):
                    find_said_addresses(view, spans)
        for pattern, kind in self._custom:
            _find(pattern, kind, text, spans)
        return spans

    def _numbers_in(
        self, view: str, found: list[Sequence], cue_words: bool, locale: str | None, spans: list[tuple[int, int, str]]
    ) -> None:
        """The cards and phones among the digit sequences ``found`` in ``view``."""
        if not found:
            return
        budget = Budget()
        region = region_of(locale)
        coordinates = [(start, end) for start, end, kind in spans if kind == "COORDINATES"] if spans else None
        cards, phones = self._cards, self._phones
        for seq in found:
            if coordinates and any(start < seq.groups[-1][1] and seq.groups[0][0] < end for start, end in coordinates):
                continue  # "37.7749, -122.4194" is not a phone number
            used = [False] * len(seq.groups)
            if cards and len(seq.digits) >= MIN_CARD_DIGITS:
                speedups.find_cards(view, seq, used, spans, cue_words)
            if phones:
                speedups.find_phones(view, seq, used, region, budget, spans, cue_words)

    def redact_slots(
        self, slots: Mapping[str, str | None], *, exempt: Iterable[str] = (), locale: str | None = None
    ) -> tuple[dict[str, str | None], frozenset[str]]:
        """Redact every slot value except the ``exempt`` ones; return the new slots and the kinds found.

        Example::

            slots, kinds = DEFAULT_REDACTOR.redact_slots(
                {"phone": "415 555 0100", "size": "large", "time": None}, exempt=["size"]
            )
            # ({'phone': '[PHONE]', 'size': 'large', 'time': None}, frozenset({'PHONE'}))

        :param slots: slot name to value; an unfilled slot (``None``) stays ``None``.
        :param exempt: slot names whose values are stored as they are, such as a slot of a custom
            type whose values are known not to be personal ("pizza size").
        :param locale: as for :meth:`redact`.
        """
        exempt = frozenset(exempt)
        redacted: dict[str, str | None] = {}
        kinds: set[str] = set()
        for name, value in slots.items():
            if value is None or name in exempt:
                redacted[name] = value
                continue
            result = self.redact(value, locale=locale)
            redacted[name] = result.text
            kinds |= result.kinds
        return redacted, frozenset(kinds)


#: A :class:`Redactor` for all built-in kinds and no custom patterns.
DEFAULT_REDACTOR = Redactor()
