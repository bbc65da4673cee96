"""Street addresses ("42 Wallaby Way") and coordinates ("37.7749, -122.4194")."""

from __future__ import annotations

import re

__all__ = ["find_addresses", "find_coordinates"]

# "1600 Pennsylvania Avenue", "42 Wallaby Way", "221b Baker Street", "350 5th Ave.": a house number,
# then up to five words of which one is a street suffix. The words are read from a window of at
# most _ADDRESS_WINDOW characters after the number, so each number costs a bounded amount.
_HOUSE_NUMBER = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,5}[a-z]?\b")
_NEXT_WORD = re.compile(r"[ \t]{1,8}([a-z0-9'.-]{1,40})")
_STREET_SUFFIXES = frozenset(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace ter "
    "parkway pkwy highway hwy circle cir square sq trail trl alley crescent close row loop plaza".split()
)
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
                spans.append((start, word.start(1) + len(bare), "ADDRESS"))
                taken_to = cursor
                break
            if bare in _NOT_A_STREET_NAME or bare.isdigit():  # "200 200 0000 ct" is a phone
                break


def find_coordinates(view: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _COORDINATES.finditer(view):
        if abs(float(match.group("lat"))) <= 90 and abs(float(match.group("lon"))) <= 180:
            spans.append((match.start(), match.end(), "COORDINATES"))

