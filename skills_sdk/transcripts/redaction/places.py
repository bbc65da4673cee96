"""Street addresses ("42 Wallaby Way", "twelve forty five Oak Street") and coordinates ("37.7749, -122.4194")."""

from __future__ import annotations

import re

from .lazy import LazyPattern
from .numbers import word_branches, words_of

__all__ = ["find_addresses", "find_coordinates", "find_said_addresses", "may_hold_said_address"]

# "1600 Pennsylvania Avenue", "42 Wallaby Way", "221b Baker Street", "350 5th Ave.": a house number,
# then up to five words of which one is a street suffix. Each word is read with a bounded match
# (at most 8 spaces, 40 characters) and at most seven are read, so each number costs a bounded amount.
# Requests to assistants (Schema-Guided Dialogue, tests/fixtures/pii/spoken.jsonl) also write
# "15099-A Hesperian Boulevard", "1502 1/2 Webster St", "1771 Inner Circle Drive", a unit after the
# street ("#90", "# 125C", "Suite 100", "b200", "D") and streets named without a suffix
# ("1850 El Camino Real", "1355 Broadway"), so those are read too.
_HOUSE_NUMBER = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,5}(?:-?[a-z])?\b(?: [0-9]/[0-9]\b)?")
_NEXT_WORD = re.compile(r"[ \t]{1,8}([a-z0-9'.-]{1,40})")
_STREET_SUFFIXES = frozenset(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace ter "
    "parkway pkwy highway hwy circle cir square sq trail trl alley crescent close row loop plaza".split()
)
# Street types written before the name ("El Camino Real", "Calle Ocho"): the address ends one word
# after them. A number before them is a house number only with two digits or more.
_STREET_PREFIXES = frozenset("camino calle avenida".split())
# Streets that carry no suffix at all; "2 broadway tickets" is not an address, so these need a house
# number of three digits or more and no word of the theatre after them.
_SUFFIXLESS_STREETS = frozenset(["broadway"])
_NOT_AFTER_A_STREET = frozenset("show shows ticket tickets musical musicals play plays".split())
_NAMED_STREET_WORDS = _STREET_PREFIXES | _SUFFIXLESS_STREETS
_STREET_WORDS = frozenset(word.encode() for word in _STREET_SUFFIXES | _NAMED_STREET_WORDS)
# A unit after the street: "#" or a unit word, then a short token ("#90", "suite 100", "apt 4b"), or
# alone a token of letters and digits ("b200", "125c"), one letter that is not a word ("d", "e.") or
# a floor ("4th floor").
_UNIT = re.compile(
    r"[ \t]{1,3}(#[ \t]?|(?:suite|ste|apt|apartment|unit|room|rm|floor|fl)\.?[ \t]{1,3})?"
    r"([a-z0-9][a-z0-9-]{0,7})\b(?P<floor>[ \t]{1,3}floor\b)?"
)
_ORDINAL = re.compile(r"[0-9]{1,3}(?:st|nd|rd|th)")
_NOT_A_UNIT_LETTER = frozenset("aio")
# Words that do not occur in a street name but do occur between a number and "way", "drive", ...
# in ordinary speech ("5 minutes on my way", "a 4 lane road", "2 pizzas to the court", "less than
# 200 dollars one way", which ATIS holds twice).
_NOT_A_STREET_NAME = frozenset(
    "a an the on in at to of for and or by from with my your our their his her its this that is are "
    "dollar dollars bucks cents euro euros pounds pence percent "
    "was were be i me we you it more less minute minutes min mins hour hours hr hrs day days week "
    "weeks month months year years second seconds mile miles block blocks kilometers km time times "
    "people street avenue road boulevard lane drive court way place terrace parkway highway".split()
)
# House numbers said in words, as speech recognition writes them: "twelve forty five", "one two
# three", "nineteen hundred", "fifteen oh nine", "forty-two". A run of number words joined by single
# spaces or hyphens is one match of a pattern that consumes what it reads (each word a bounded
# branch that starts with a literal letter), so a long run is read once; its last _MAX_SAID_WORDS
# words are the house number, and the street after it is read as after digits. One digit word
# alone ("two large pizza place", "one way street") is too common a word to be a house number.
_SAID_DIGITS = frozenset("one two three four five six seven eight nine".split())
_SAID_ZEROS = frozenset(["oh", "zero"])
_SAID_TEENS = frozenset("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
_SAID_TENS = frozenset("twenty thirty forty fifty sixty seventy eighty ninety".split())
_SAID_WIDTHS = {**dict.fromkeys(_SAID_TEENS | _SAID_TENS, 2), "hundred": 2, "thousand": 3}
_SAID_NUMBER_WORDS = _SAID_DIGITS | _SAID_ZEROS | frozenset(_SAID_WIDTHS)
_SAID_WORD = "|".join(word_branches(sorted(_SAID_NUMBER_WORDS)))
_SAID_NUMBER = LazyPattern(rf"(?:{_SAID_WORD})(?:[ -](?:{_SAID_WORD}))*")
_MAX_SAID_WORDS = 6  # "twelve thousand three hundred forty five"
# Latitude and longitude with 4+ decimals (about 10 m): "37.7749, -122.4194", "37.7749° N 122.4194° W".
# The view writes "°" as "#".
_COORDINATES = re.compile(
    r"(?<![0-9.])(?P<lat>[-+]?[0-9]{1,2}\.[0-9]{4,12})(?: ?#)?(?: ?[ns]\b)?"
    r"(?: {0,3}, {0,3}| {1,3})"
    r"(?P<lon>[-+]?[0-9]{1,3}\.[0-9]{4,12})(?: ?#)?(?: ?[ew]\b)?(?![0-9]|\.[0-9])"
)


def find_addresses(view: str, spans: list[tuple[int, int, str]]) -> None:
    """Append the span of each address whose house number is written in digits to ``spans``."""
    taken_to = 0
    for match in _HOUSE_NUMBER.finditer(view):
        start, cursor = match.span()
        if start < taken_to:
            continue
        number = match.group()
        end = _street_end(view, cursor, len(number) - len(number.lstrip("0123456789")))
        if end is not None:
            spans.append((start, end, "ADDRESS"))
            taken_to = end


def may_hold_said_address(view: str) -> bool:
    """Whether one of the words of ``view`` is a street word ("street", "ave", "broadway"): text
    without one holds no address said in words, and most text has none. The words are split off
    and looked up in C."""
    return not _STREET_WORDS.isdisjoint(words_of(view.encode("ascii")))


def find_said_addresses(view: str, spans: list[tuple[int, int, str]]) -> None:
    """Append the span of each address whose house number is said in words ("twelve forty five oak
    street", "nineteen hundred north elm avenue") to ``spans``: the same streets as :func:`find_addresses`
    reads, after a house number of at most :data:`_MAX_SAID_WORDS` number words."""
    for match in _SAID_NUMBER.finditer(view):
        run = match.group()
        words = run.replace("-", " ").split(" ")
        # A run's words are joined by one character each: the last few start len(their text) from its end.
        words = words[-_MAX_SAID_WORDS:]
        while words and words[0] in _SAID_ZEROS:  # "oh, twelve ...": no house number starts with a zero
            words.pop(0)
        if not words or (len(words) == 1 and words[0] in _SAID_DIGITS):
            continue
        start = match.end() - len(" ".join(words))
        end = _street_end(view, match.end(), _said_digit_count(words))
        if end is not None:
            spans.append((start, end, "ADDRESS"))


def _street_end(view: str, cursor: int, digits: int) -> int | None:
    """Where the street (and unit) after a house number of ``digits`` digits that ends at ``cursor``
    ends, or None when the words after it are no street. At most seven words of at most 40
    characters are read, so each house number costs a bounded amount."""
    for index in range(5):
        word = _NEXT_WORD.match(view, cursor)
        if word is None:
            return None
        cursor = word.end()
        bare = word.group(1).rstrip(".")
        if index and bare in _STREET_SUFFIXES:
            after = _NEXT_WORD.match(view, cursor)  # "Inner Circle Drive": a suffix after a suffix
            if after is not None and after.group(1).rstrip(".") in _STREET_SUFFIXES:
                word, bare = after, after.group(1).rstrip(".")
            end: int | None = word.start(1) + len(bare)
        elif bare in _NOT_A_STREET_NAME or bare.isdigit():  # "200 200 0000 ct" is a phone
            return None
        elif bare in _NAMED_STREET_WORDS:  # after the stop words: most numbers end before this
            end = _named_street_end(view, digits, bare, word.start(1) + len(bare), cursor)
        else:
            continue
        return None if end is None else _unit_end(view, end)
    return None


def _named_street_end(view: str, digits: int, bare: str, word_end: int, cursor: int) -> int | None:
    """Where a street without a type ("Broadway") or with the type first ("El Camino Real") ends,
    after a house number of ``digits`` digits."""
    after = _NEXT_WORD.match(view, cursor)
    following = None if after is None else after.group(1).rstrip(".")
    if bare in _SUFFIXLESS_STREETS:
        return word_end if digits >= 3 and following not in _NOT_AFTER_A_STREET else None
    if digits < 2 or after is None or following in _NOT_A_STREET_NAME:
        return None
    return after.start(1) + len(following)


def _unit_end(view: str, end: int) -> int:
    """``end`` moved past a unit that follows the street ("#90", "Suite 100", "b200"), if one does."""
    unit = _UNIT.match(view, end)
    if unit is None:
        return end
    token = unit.group(2)
    has_digit = any(char.isdigit() for char in token)
    if _ORDINAL.fullmatch(token):  # "2nd" alone may begin "2nd and Main"; "2nd floor" is a unit
        return unit.end() if unit.group("floor") else end
    if unit.group(1) is not None:
        if token in _SAID_NUMBER_WORDS:  # "apartment four", "suite twelve oh one"
            return _said_number_end(view, unit.end(2))
        return unit.end(2) if has_digit or len(token) == 1 else end
    if has_digit and not token.isdigit():
        return unit.end(2)
    if len(token) == 1 and token.isalpha() and token not in _NOT_A_UNIT_LETTER:
        return unit.end(2)
    return end


def _said_number_end(view: str, end: int) -> int:
    """``end`` moved past the number words that follow it, at most three ("twelve oh one")."""
    for _ in range(3):
        word = _NEXT_WORD.match(view, end)
        if word is None or word.group(1) not in _SAID_NUMBER_WORDS:
            break
        end = word.end()
    return end


def _said_digit_count(words: list[str]) -> int:
    """About how many digits number words stand for: "twelve forty five" 4, "one twenty three" 3,
    "nineteen hundred" 4, enough to tell one digit from two and two from three."""
    count = 0
    after_tens = False
    for word in words:
        if word in _SAID_DIGITS or word in _SAID_ZEROS:
            count += 0 if after_tens else 1  # "forty five" is two digits
        else:
            count += _SAID_WIDTHS[word]
        after_tens = word in _SAID_TENS
    return count


def find_coordinates(view: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _COORDINATES.finditer(view):
        if abs(float(match.group("lat"))) <= 90 and abs(float(match.group("lon"))) <= 180:
            spans.append((match.start(), match.end(), "COORDINATES"))
