"""Redaction of personal data (cards, phones, e-mails, addresses, coordinates) from transcript text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_REDACTOR", "KINDS", "Redaction", "Redactor"]

#: The built-in kinds of personal data a :class:`Redactor` recognises.
KINDS = ("CARD", "PHONE", "EMAIL", "ADDRESS", "COORDINATES")

_NO_KINDS: frozenset[str] = frozenset()
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
_KIND_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and the kinds of personal data that were replaced in it."""

    text: str
    kinds: frozenset[str]


# --- Detection rules -------------------------------------------------------------------------------
# Every rule runs on the lower-cased text, so no pattern needs IGNORECASE (which makes Python's re
# several times slower), and reports spans; overlapping spans merge into one placeholder. Cheap
# checks decide which rules can match at all: most utterances hold no digit, and then only spoken
# e-mails and digits read out word by word are possible.

_DIGITS = b"0123456789"

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# "john dot smith at example dot com", "jane at gmail.com": ASR spells the punctuation out.
_SPOKEN_EMAIL = re.compile(
    r"""
    \b[\w'-]+(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-])[\w'-]+)*   # local part
    \s+at\s+
    [\w-]+(?:(?:\s+dot\s+|\.)[\w-]+)*(?:\s+dot\s+|\.)[a-z]{2,24}\b        # domain, then a TLD
    """,
    re.VERBOSE,
)
# What every spoken e-mail holds: " at ", a domain label, a dot and more of the domain. Scans far
# faster than the above, which then only starts this far before the hint (local parts are short).
_SPOKEN_EMAIL_HINT = re.compile(r"\sat\s+[\w-]+(?:\s+dot\s+|\.)\w")
_SPOKEN_LOCAL_PART_MAX = 200

# Latitude and longitude with 4+ decimals (about 10 m): "37.7749, -122.4194", "37.7749° N 122.4194° W".
_COORDINATES = re.compile(
    r"""
    (?<![0-9.])
    (?P<lat>[-+]?[0-9]{1,2}\.[0-9]{4,})(?:\s?°)?(?:\s?[ns]\b)?
    (?:\s*,\s*|\s+)
    (?P<lon>[-+]?[0-9]{1,3}\.[0-9]{4,})(?:\s?°)?(?:\s?[ew]\b)?
    (?![0-9]|\.[0-9])
    """,
    re.VERBOSE,
)

# A maximal run of 13+ digits joined by single spaces or dashes; Luhn decides which part is a card.
_DIGIT_RUN = re.compile(r"[0-9](?<![0-9+][0-9])(?<![0-9][ -][0-9])(?:[ -]?[0-9]){12,}(?![ -]?[0-9])")
_DIGIT_GROUP = re.compile(r"[0-9]+")

_PHONE = re.compile(
    r"""
    (?<![0-9+])(?<![0-9][.-])
    (?:
        (?P<intl>\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6})               # +1 415 555 0100, +44 20 7946 0958
      | (?:1[ .-]?)?(?:\([0-9]{3}\)[ ]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}  # (415) 555-0100, 415.555.0100
      | (?P<national>0[0-9]{1,4}(?:[ -][0-9]{2,8}){1,4})                     # 020 7946 0958, 01 23 45 67 89
    )
    (?![0-9]|[.-][0-9])
    """,
    re.VERBOSE,
)

# "1600 Pennsylvania Avenue", "42 Wallaby Way", "221b Baker Street", "350 5th Ave.": a house number,
# then up to five words; _find_addresses looks among them for a street suffix. Doing that in Python
# rather than in the pattern keeps the cost of "2 large pizzas" to one cheap match.
_HOUSE_NUMBER_AND_WORDS = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,5}[a-z]?\b((?:[ \t]+[\w'.-]+){1,5})")
_STREET_SUFFIXES = frozenset(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace ter "
    "parkway pkwy highway hwy circle cir square sq trail trl alley crescent close row loop plaza".split()
)
_STREET_SUFFIXES_DOTTED = frozenset(suffix + "." for suffix in _STREET_SUFFIXES)
# Words that do not occur in a street name but do occur between a number and "way", "drive", ...
# in ordinary speech ("5 minutes on my way", "a 4 lane road", "2 pizzas to the court").
_NOT_A_STREET_NAME = frozenset(
    "a an the on in at to of for and or by from with my your our their his her its this that is are "
    "was were be i me we you it more less minute minutes min mins hour hours hr hrs day days week "
    "weeks month months year years second seconds mile miles block blocks kilometers km time times "
    "people street avenue road boulevard lane drive court way place terrace parkway highway".split()
)

_WORD_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_WORD = "(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
# Ten or more digits read out one by one: "four one one one ...", "four-one-five, five five five ...".
_SPOKEN_DIGITS = re.compile(rf"\b{_DIGIT_WORD}(?:(?:\s*,\s*|\s+|-){_DIGIT_WORD}){{9,}}\b")
_SPOKEN_DIGIT_WORD = re.compile(_DIGIT_WORD)
# Ten digit words and their separators make a stretch of 29+ characters drawn only from the letters
# of digit words, whitespace, "," and "-". Mapping those to "a" and all else to "#" turns the search
# for such a stretch into one substring test, far cheaper than running _SPOKEN_DIGITS on every text.
_SPOKEN_DIGITS_SHAPE = bytes(
    ord("a") if chr(byte) in "efghinorstuvwxz \t\n\r\x0b\x0c,-" else ord("#") for byte in range(256)
)
_SPOKEN_DIGITS_MIN_RUN = b"a" * 29


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _digits_of(text: str) -> str:
    return "".join(char for char in text if "0" <= char <= "9")


def _find_cards(text: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _DIGIT_RUN.finditer(text):
        if _is_card(_digits_of(match.group())):
            spans.append((match.start(), match.end(), "CARD"))
            continue
        # A run can be a card followed by more digits, "4111 1111 1111 1111 12 25" (card, expiry),
        # or two cards: take the longest Luhn-valid run of whole groups from the start, then again
        # after it. Stretches starting mid-run are not tried: in a long reference number one of
        # them passes Luhn by chance far too often.
        groups = [(m.start(), m.end(), m.group()) for m in _DIGIT_GROUP.finditer(text, *match.span())]
        first = 0
        while (last := _longest_card_from(groups, first)) is not None:
            spans.append((groups[first][0], groups[last][1], "CARD"))
            first = last + 1


def _longest_card_from(groups: list[tuple[int, int, str]], first: int) -> int | None:
    best = None
    digits = ""
    for last in range(first, len(groups)):
        digits += groups[last][2]
        if len(digits) > 19:
            break
        if _is_card(digits):
            best = last
    return best


def _find_phones(text: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _PHONE.finditer(text):
        # The North-American branch fixes its digit count; the others are checked here.
        if match.group("intl"):
            allowed = range(8, 16)  # E.164 allows at most 15 digits
        elif match.group("national"):
            allowed = range(10, 12)
        else:
            allowed = range(10, 12)
        if len(_digits_of(match.group())) in allowed:
            spans.append((match.start(), match.end(), "PHONE"))


def _find_addresses(text: str, spans: list[tuple[int, int, str]]) -> None:
    position = 0
    while match := _HOUSE_NUMBER_AND_WORDS.search(text, position):
        end = _street_end(text, match)
        if end is None:
            position = match.start(1)  # a later number may still start an address
        else:
            spans.append((match.start(), end, "ADDRESS"))
            position = end


def _street_end(text: str, match: re.Match[str]) -> int | None:
    """Where the street suffix after a house number ends, or None if the words are not a street."""
    words = match.group(1).split()
    if _STREET_SUFFIXES.isdisjoint(words) and _STREET_SUFFIXES_DOTTED.isdisjoint(words):
        return None  # the common case, settled without a Python-level loop
    cursor = match.start(1)
    for index, word in enumerate(words):
        cursor = text.index(word, cursor) + len(word)
        bare = word.rstrip(".")
        if index and bare in _STREET_SUFFIXES:
            return cursor - (len(word) - len(bare))
        if bare in _NOT_A_STREET_NAME or bare.isdigit():  # "200 200 0000 ct" is a phone
            return None
    return None


def _find_coordinates(text: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _COORDINATES.finditer(text):
        if abs(float(match.group("lat"))) <= 90 and abs(float(match.group("lon"))) <= 180:
            spans.append((match.start(), match.end(), "COORDINATES"))


def _find_spoken_digits(text: str, kinds: frozenset[str], spans: list[tuple[int, int, str]]) -> None:
    for match in _SPOKEN_DIGITS.finditer(text):
        digits = "".join(_WORD_DIGITS[word] for word in _SPOKEN_DIGIT_WORD.findall(match.group()))
        if "CARD" in kinds and _is_card(digits):
            spans.append((match.start(), match.end(), "CARD"))
        elif "PHONE" in kinds and (len(digits) == 10 or (len(digits) == 11 and digits[0] == "1")):
            spans.append((match.start(), match.end(), "PHONE"))


def _find(pattern: re.Pattern[str], kind: str, text: str, spans: list[tuple[int, int, str]]) -> None:
    spans.extend(
        (match.start(), match.end(), kind) for match in pattern.finditer(text) if match.end() > match.start()
    )


def _replace(text: str, spans: list[tuple[int, int, str]]) -> Redaction:
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
    return Redaction("".join(pieces), frozenset(kind for _, _, kind in spans))


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
        kind name to a regex (string or compiled). They run after the built-in kinds; naming a
        built-in kind adds a pattern to it.
    :param kinds: the built-in kinds to detect, all of :data:`KINDS` by default.
    :raises ValueError: an unknown built-in kind, a bad kind name, or a pattern that does not compile
        or matches the empty string.
    """

    def __init__(
        self,
        *,
        patterns: Mapping[str, str | re.Pattern[str]] | None = None,
        kinds: Iterable[str] = KINDS,
    ) -> None:
        self.kinds = frozenset(kinds)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(
                f"Unknown built-in redaction kinds {sorted(unknown)}; the built-in kinds are {list(KINDS)}. "
                f"Add other kinds through patterns={{'KIND': r'regex'}}."
            )
        self.patterns: dict[str, re.Pattern[str]] = {
            kind: _compile_custom(kind, pattern) for kind, pattern in (patterns or {}).items()
        }
        self._custom = [(pattern, kind) for kind, pattern in self.patterns.items()]

    def __repr__(self) -> str:
        return f"Redactor(kinds={sorted(self.kinds)}, patterns={sorted(self.patterns)})"

    def redact(self, text: str | None) -> Redaction:
        """Return ``text`` with every piece of personal data replaced by its ``[KIND]`` placeholder.

        Example::

            DEFAULT_REDACTOR.redact("I live at 42 Wallaby Way").text  # 'I live at [ADDRESS]'

        :param text: an utterance, a slot value or speech. ``None`` (nothing was said) gives
            ``Redaction("", frozenset())``, so callers always store a string.
        """
        if text is None:
            return Redaction("", _NO_KINDS)
        if not isinstance(text, str):
            raise TypeError(f"redact() takes a str or None, not {type(text).__name__}: {text!r}")
        kinds = self.kinds
        # lower() keeps positions unless a character lower-cases to two ("İ"); then fold ASCII only.
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = text.translate(_ASCII_LOWER)
        spans: list[tuple[int, int, str]] = []
        if "EMAIL" in kinds:
            if "@" in text:
                _find(_EMAIL, "EMAIL", lowered, spans)
            if "at" in lowered and (hint := _SPOKEN_EMAIL_HINT.search(lowered)):
                start = max(0, hint.start() - _SPOKEN_LOCAL_PART_MAX)
                spans.extend((m.start(), m.end(), "EMAIL") for m in _SPOKEN_EMAIL.finditer(lowered, start))
        digit_count = len(text) - len(text.encode("utf-8", "surrogatepass").translate(None, _DIGITS))
        if digit_count:
            if "COORDINATES" in kinds and digit_count >= 10 and "." in text:
                _find_coordinates(lowered, spans)
            if "CARD" in kinds and digit_count >= 13:
                _find_cards(lowered, spans)
            if "PHONE" in kinds and digit_count >= 8:
                _find_phones(lowered, spans)
            if "ADDRESS" in kinds:
                _find_addresses(lowered, spans)
        if ("CARD" in kinds or "PHONE" in kinds) and _SPOKEN_DIGITS_MIN_RUN in lowered.encode(
            "ascii", "replace"
        ).translate(_SPOKEN_DIGITS_SHAPE):
            _find_spoken_digits(lowered, kinds, spans)
        for pattern, kind in self._custom:
            _find(pattern, kind, text, spans)
        if not spans:
            return Redaction(text, _NO_KINDS)
        return _replace(text, spans)

    def redact_slots(
        self, slots: Mapping[str, str | None], *, exempt: Iterable[str] = ()
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
        """
        exempt = frozenset(exempt)
        redacted: dict[str, str | None] = {}
        kinds: set[str] = set()
        for name, value in slots.items():
            if value is None or name in exempt:
                redacted[name] = value
                continue
            result = self.redact(value)
            redacted[name] = result.text
            kinds |= result.kinds
        return redacted, frozenset(kinds)


#: A :class:`Redactor` for all built-in kinds and no custom patterns.
DEFAULT_REDACTOR = Redactor()
