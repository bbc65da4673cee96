"""E-mail addresses, written (jane@x.com, john @ example.com, jane(at)x.de) and spoken (jane at gmail dot com)."""

from __future__ import annotations

import re

from .lazy import LazyPattern

__all__ = ["AT_HINT", "find_emails", "find_hinted"]

# Found from their middle: each "@", "(at)", "[at]" or spoken " at " is an anchor; the local part is
# matched leftwards (on the reversed view) and the domain rightwards, each with bounded patterns.
# Written forms: jane@x.com, john @ example.com, root@localhost, "john doe"@x.com, jane(at)x.de,
# jane [at] x [dot] com; spoken: jane at gmail dot com, j underscore doe at mail punkt de.
# Starting each branch with a character of its own lets re skip ahead at C speed; the spaces around
# an anchor ("john @ example.com") are taken in Python, at most _AT_SPACES on each side.
# Every branch starts with one literal character, so re skips in C to the next "@", space or
# bracket instead of trying each branch at every position.
_BRACKETED_AT = "|".join(re.escape(bracket) + r" {0,2}at {0,2}[)\]}>]" for bracket in "([{<")
_AT = LazyPattern(r"@| at(?= )|" + _BRACKETED_AT)
_AT_SPACES = 2
_AT_HINT = LazyPattern(r" at |" + _BRACKETED_AT)
#: What every address without an "@" holds: a spoken " at " or a bracketed "(at)", as a pattern.
AT_HINT = _AT_HINT.pattern
_LOCAL_CHARS = r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_SPOKEN_LOCAL_CHARS = r"[a-z0-9_.-]{1,64}"
# The joins of a spoken local part, reversed: " dot ", " punkt ", " underscore ", ...
_SPOKEN_JOINS = ("dot", "punkt", "underscore", "unterstrich", "dash", "hyphen", "bindestrich", "minus")
_SPOKEN_JOIN_REVERSED = " {1,3}(?:" + "|".join(word[::-1] for word in _SPOKEN_JOINS) + ") {1,3}"
_LOCAL_REVERSED = LazyPattern(rf"\"[^\"\r\n]{{1,62}}\"|{_LOCAL_CHARS}(?:{_SPOKEN_JOIN_REVERSED}{_LOCAL_CHARS}){{0,4}}")
_SPOKEN_LOCAL_REVERSED = LazyPattern(
    rf"{_SPOKEN_LOCAL_CHARS}(?:{_SPOKEN_JOIN_REVERSED}{_SPOKEN_LOCAL_CHARS}){{0,4}}"
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LOCAL_END = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-\"")
_LABEL_START = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# The words that join a domain's labels when spoken ("gmail dot com"); _speedups.c reads them too.
_DOMAIN_JOIN_WORDS = ("dot", "punkt")
_DOMAIN_WORD = "(?:" + "|".join(_DOMAIN_JOIN_WORDS) + ")"
_DOMAIN_JOIN = rf"(?:\.| {{1,3}}{_DOMAIN_WORD} {{1,3}}| {{0,2}}[(\[]{_DOMAIN_WORD}[)\]] {{0,2}})"
_DOMAIN = LazyPattern(rf"{_LABEL}(?:{_DOMAIN_JOIN}{_LABEL}){{0,8}}")
_DOMAIN_SPLIT = LazyPattern(rf" {{0,3}}[(\[]{_DOMAIN_WORD}[)\]] {{0,3}}| {{1,3}}{_DOMAIN_WORD} {{1,3}}|\.")
# A spoken "at" is an e-mail only before a domain that ends in one of these (ASR writes the TLD as a
# word): "meet me at the park dot" is not one, "jane at gmail dot com" is.
_SPOKEN_TLDS = frozenset(
    "com org net edu gov mil int io co uk de at ch fr es it nl be se no dk fi pl cz ie pt us ca au nz in "
    "jp cn br mx ru info biz me tv app dev ai eu email online site xyz tech shop".split()
)
# Words that say " at " is a place or a time, not an e-mail: "the shop is at example dot com".
_NOT_A_LOCAL_PART = frozenset(
    "i i'm im me we us you he she it they them him her who what where look looking arrive arrived "
    "be is are was were am stay staying meet meeting here there back home that this just not all "
    "out up in on been get got leave left start starts end ends okay and or but dinner lunch "
    "ich bin wir sind er sie es ist war".split()
)


def find_emails(view: str, spans: list[tuple[int, int, str]]) -> None:
    reversed_view = ""
    size = len(view)
    taken_to = 0
    for anchor in _AT.finditer(view):
        at_start, at_end = anchor.span()
        for _ in range(_AT_SPACES):
            if at_start > 0 and view[at_start - 1] == " ":
                at_start -= 1
            if at_end < size and view[at_end] == " ":
                at_end += 1
        # Cheap refusals first ("@@@@", "x @ "): a local part must end before the anchor and a
        # domain label start after it.
        if at_start < taken_to or at_start == 0 or at_end == size:
            continue
        if view[at_start - 1] not in _LOCAL_END or view[at_end] not in _LABEL_START:
            continue
        at = view[at_start:at_end]
        spoken = anchor.group()[0] == " "
        if not reversed_view:
            reversed_view = view[::-1]
        local = (_SPOKEN_LOCAL_REVERSED if spoken else _LOCAL_REVERSED).match(reversed_view, size - at_start)
        domain = _DOMAIN.match(view, at_end)
        if local is None or domain is None:
            continue
        local_text = local.group()[::-1]
        labels = _DOMAIN_SPLIT.split(domain.group())
        tld = labels[-1]
        if "@" in at:
            if len(labels) == 1:
                if at != "@":  # "later @ home": a spaced "@" needs a dotted domain
                    continue
            elif not tld.isalpha() or len(tld) < 2:  # "prices @ 3.50"
                continue
        elif not spoken:  # jane(at)example.com
            if len(labels) == 1 or not tld.isalpha():
                continue
        elif len(labels) == 1 or tld not in _SPOKEN_TLDS or local_text in _NOT_A_LOCAL_PART:
            continue
        spans.append((at_start - len(local_text), domain.end(), "EMAIL"))
        taken_to = domain.end()


def find_hinted(view: str, spans: list[tuple[int, int, str]]) -> None:
    """:func:`find_emails`, after a cheap test that ``view`` holds an anchor an address needs: the
    redactor's Python path (the C twin of find_emails reads every view faster than the test)."""
    if "@" in view or (
        # Without an "@", an address needs a domain of two labels or more, so a "." or a spoken
        # "dot" or "punkt" ("meet me at gate 3" is not one).
        "at" in view and ("." in view or "dot" in view or "punkt" in view) and _AT_HINT.search(view) is not None
    ):
        find_emails(view, spans)
