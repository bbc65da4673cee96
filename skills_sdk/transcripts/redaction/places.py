"""Street addresses ("42 Wallaby Way") and coordinates ("37.7749, -122.4194")."""

from __future__ import annotations

import re

__all__ = ["find_addresses", "find_coordinates"]

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
# in ordinary speech ("5 minutes on my way", "a 4 lane road", "2 pizzas to the court").
_NOT_A_STREET_NAME = frozenset(
    "a an the on in at to of for and or by from with my your our their his her its this that is are "
    "was were be i me we you it more less minute minutes min mins hour hours hr hrs day days week "
    "weeks month months year years second seconds mile miles block blocks kilometers km time times "
    "people street avenue road boulevard lane drive court way place terrace parkway highway".split()
)
# Latitude and longitude with 4+ decimals (about 10 m): "37.7749, -122.4194", "37.7749° N 122.4194° W".
# The view writes "°" as "#".
_COORDINATES = re.compile(
    r"(?<![0-9.])(?P<lat>[-+]?[0-9]{1,2}\.[0-9]{4,12})(?: ?#)?(?: ?[ns]\b)?"
    r"(?: {0,3}, {0,3}| {1,3})"
    r"(?P<lon>[-+]?[0-9]{1,3}\.[0-9]{4,12})(?: ?#)?(?: ?[ew]\b)?(?![0-9]|\.[0-9])"
)


def find_addresses(view: str, spans: list[tuple[int, int, str]]) -> None:
    taken_to = 0
    for match in _HOUSE_NUMBER.finditer(view):
        start, cursor = match.span()
        if start < taken_to:
            continue
        for index in range(5):
            word = _NEXT_WORD.match(view, cursor)
            if word is None:
                break
            cursor = word.end()
            bare = word.group(1).rstrip(".")
            if index and bare in _STREET_SUFFIXES:
                after = _NEXT_WORD.match(view, cursor)  # "Inner Circle Drive": a suffix after a suffix
                if after is not None and after.group(1).rstrip(".") in _STREET_SUFFIXES:
                    word, bare = after, after.group(1).rstrip(".")
                end: int | None = word.start(1) + len(bare)
            elif bare in _NOT_A_STREET_NAME or bare.isdigit():  # "200 200 0000 ct" is a phone
                break
            elif bare in _NAMED_STREET_WORDS:  # after the stop words: most numbers end before this
                end = _named_street_end(view, match.group(), bare, word.start(1) + len(bare), cursor)
            else:
                continue
            if end is not None:
                end = _unit_end(view, end)
                spans.append((start, end, "ADDRESS"))
                taken_to = end
            break


def _named_street_end(view: str, number: str, bare: str, word_end: int, cursor: int) -> int | None:
    """Where a street without a type ("Broadway") or with the type first ("El Camino Real") ends."""
    digits = len(number) - len(number.lstrip("0123456789"))
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
        return unit.end(2) if has_digit or len(token) == 1 else end
    if has_digit and not token.isdigit():
        return unit.end(2)
    if len(token) == 1 and token.isalpha() and token not in _NOT_A_UNIT_LETTER:
        return unit.end(2)
    return end


def find_coordinates(view: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _COORDINATES.finditer(view):
        if abs(float(match.group("lat"))) <= 90 and abs(float(match.group("lon"))) <= 180:
            spans.append((match.start(), match.end(), "COORDINATES"))
