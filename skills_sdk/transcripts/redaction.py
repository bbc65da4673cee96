"""Redaction of personal data (cards, phones, e-mails, addresses, coordinates) from transcript text, in linear time."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

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


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and the kinds of personal data that were replaced in it."""

    text: str
    kinds: frozenset[str]


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
# libphonenumber at most _PHONE_CHECKS times per field; past that budget a phone-shaped number is
# redacted unchecked, so a field of many numbers costs no more than a bounded number of checks.
# google-re2 would guarantee linear matching for any pattern, but each match through its Python
# binding cost several times what it costs in re, which made match-dense hostile input (an
# "a@a@a@..." storm) slower, not faster; see docs/privacy.md.
#
# All rules read a *view* of the text with the same length, so a span in the view is a span in the
# text: ASCII lower case; any Unicode decimal digit (full-width, Arabic-Indic, ...) as its ASCII
# digit; every kind of space, NBSP and zero-width character as " "; full-width and small "@" as "@";
# dashes as "-"; accented letters as their base letter ("fünf" -> "funf"); anything else as "#".


def _view_char(code: int) -> int:
    char = chr(code)
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1 and folded.isascii():
        return ord(folded.lower())
    if char.isdecimal():
        return 48 + unicodedata.decimal(char)
    category = unicodedata.category(char)
    if category in ("Zs", "Zl", "Zp", "Cf", "Cc"):
        return 32  # NBSP, thin and zero-width spaces, soft hyphens, line separators
    if category == "Pd":
        return 45
    if char.isalpha():
        base = unicodedata.normalize("NFKD", char)[0]
        return ord(base.lower()) if base.isascii() and base.isalpha() else ord("x")
    return ord("#")


class _ViewTable(dict[int, int]):
    """str.translate table for the view, filled in as characters are first seen."""

    def __missing__(self, code: int) -> int:
        value = self[code] = _view_char(code)
        return value


_VIEW = _ViewTable({code: ord(chr(code).lower()) for code in range(128)})


def _view(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_VIEW)


# --- E-mail addresses ------------------------------------------------------------------------------
# Found from their middle: each "@", "(at)", "[at]" or spoken " at " is an anchor; the local part is
# matched leftwards (on the reversed view) and the domain rightwards, each with bounded patterns.
# Written forms: jane@x.com, john @ example.com, root@localhost, "john doe"@x.com, jane(at)x.de,
# jane [at] x [dot] com; spoken: jane at gmail dot com, j underscore doe at mail punkt de.
# Starting each branch with a character of its own lets re skip ahead at C speed; the spaces around
# an anchor ("john @ example.com") are taken in Python, at most _AT_SPACES on each side.
_AT = re.compile(r"@| at(?= )|[(\[{<] {0,2}at {0,2}[)\]}>]")
_AT_SPACES = 2
_AT_HINT = re.compile(r" at |[(\[{<] {0,2}at {0,2}[)\]}>]")
_LOCAL_CHARS = r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_SPOKEN_LOCAL_CHARS = r"[a-z0-9_.-]{1,64}"
# The joins of a spoken local part, reversed: " dot ", " punkt ", " underscore ", ...
_SPOKEN_JOINS = ("dot", "punkt", "underscore", "unterstrich", "dash", "hyphen", "bindestrich", "minus")
_SPOKEN_JOIN_REVERSED = " {1,3}(?:" + "|".join(word[::-1] for word in _SPOKEN_JOINS) + ") {1,3}"
_LOCAL_REVERSED = re.compile(rf"\"[^\"\r\n]{{1,62}}\"|{_LOCAL_CHARS}(?:{_SPOKEN_JOIN_REVERSED}{_LOCAL_CHARS}){{0,4}}")
_SPOKEN_LOCAL_REVERSED = re.compile(
    rf"{_SPOKEN_LOCAL_CHARS}(?:{_SPOKEN_JOIN_REVERSED}{_SPOKEN_LOCAL_CHARS}){{0,4}}"
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LOCAL_END = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-\"")
_LABEL_START = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_DOMAIN_JOIN = r"(?:\.| {1,3}(?:dot|punkt) {1,3}| {0,2}[(\[](?:dot|punkt)[)\]] {0,2})"
_DOMAIN = re.compile(rf"{_LABEL}(?:{_DOMAIN_JOIN}{_LABEL}){{0,8}}")
_DOMAIN_SPLIT = re.compile(r" {0,3}[(\[](?:dot|punkt)[)\]] {0,3}| {1,3}(?:dot|punkt) {1,3}|\.")
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


def _find_emails(view: str, spans: list[tuple[int, int, str]]) -> None:
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


# --- Digit sequences: cards and phones ---------------------------------------------------------------
# A sequence is digits and digit words ("four", "oh", "double five", "vier") joined by short runs
# of separators: "4111 1111 1111 1111", "415/555/0100", "four one five, five five five", "4111 one
# one one ...". Cards are Luhn-valid windows of its groups; phones are windows libphonenumber
# accepts for the skill's region.
_WORD_VALUES = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "null": "0", "eins": "1", "zwei": "2", "zwo": "2", "drei": "3", "vier": "4", "funf": "5", "fuenf": "5",
    "sechs": "6", "sieben": "7", "acht": "8", "neun": "9",
}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3, "doppel": 2, "doppelte": 2}
# "five five five, oh one hundred": only after a digit of the same sequence.
_ZEROS = {"hundred": "00", "thousand": "000", "hundert": "00", "tausend": "000"}
_TOKEN = re.compile(
    r"[0-9]+|\b(?:" + "|".join(sorted([*_WORD_VALUES, *_REPEATS, *_ZEROS, "plus"], key=len, reverse=True)) + r")\b"
)
# Every word that stands for digits except "o", which would count every letter o.
_COUNTED_WORDS = tuple(word for word in [*_WORD_VALUES, *_REPEATS, *_ZEROS] if word != "o")
_SEPARATORS = frozenset(" ,./_()-")
_MAX_GAP = 4
# Tokens joined by separators: a cheap first cut (one pass, each attempt bounded: a separator run
# is at most _MAX_GAP long and cannot be confused with a token) that _split_stretch refines.
_STRETCH = re.compile(rf"(?:{_TOKEN.pattern})(?:[ ,./_()-]{{1,{_MAX_GAP}}}(?:{_TOKEN.pattern}))*")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS = b"0123456789"
# A sequence needs this many digits to be a phone (a 7-digit local number) or a card (13).
_MIN_DIGITS = 7

# Words just before a number that say it is not personal: "order 4155550100", "tracking 9400 ...".
_NOT_PERSONAL_CUES = frozenset(
    "order orders confirmation reference ref tracking invoice ticket booking reservation flight room "
    "table zip zipcode postcode postal plate plates license licence registration serial model part "
    "item sku product isbn transaction policy case claim version pin code voucher coupon "
    "gift promo parcel package shipment store branch employee badge locker seat gate bus train route "
    "bestellnummer bestellung auftragsnummer auftrag rechnungsnummer rechnung kundennummer "
    "sendungsnummer buchungsnummer buchung referenz kennzeichen postleitzahl plz artikelnummer "
    "ticketnummer flug zimmer tisch gutschein paket filiale vorgangsnummer".split()
)
_CUE_WINDOW = 40  # characters before a sequence that are searched for a cue
# Words right after a number that make it a quantity or a price: "1000000 dollars".
_UNIT_CUES = frozenset(
    "dollars dollar bucks cents euro euros pounds pence percent points items pieces pizzas times "
    "years people steps calories miles kilometers meters feet km kg lbs".split()
)

# A bounded number of libphonenumber checks per field (each costs tens of microseconds).
_PHONE_CHECKS = 64
# Regions tried for a national number that starts with a trunk "0" and is not one of the locale's.
_OTHER_REGIONS = ("GB", "DE", "FR", "IN", "AU", "IE", "AT", "CH", "IT", "ES", "NL")
_NANPA = frozenset({"US", "CA", "PR", "GU", "VI", "AS", "MP", "BS", "BB", "JM", "TT", "DO"})


@dataclass(slots=True)
class _Group:
    start: int
    end: int
    digits: str
    spoken: bool


@dataclass(slots=True)
class _Sequence:
    groups: list[_Group]
    plus: int  # the position of a leading "+" or "plus", or -1


def _sequences(view: str) -> list[_Sequence]:
    """The digit sequences of ``view``, each a list of groups joined by separators."""
    out: list[_Sequence] = []
    for stretch in _STRETCH.finditer(view):
        start, end = stretch.span()
        if end - start >= _MIN_DIGITS:  # seven digits take seven characters at least
            _split_stretch(view, start, end, out)
    return [seq for seq in out if sum(len(g.digits) for g in seq.groups) >= _MIN_DIGITS]


def _may_hold_sequence(view: str, digit_count: int) -> bool:
    """Whether ``view`` holds enough digits and digit words for a sequence: a cheap test (substring
    counts run at C speed) that spares most text without numbers the pass over its tokens."""
    count = digit_count
    if count >= _MIN_DIGITS:
        return True
    for word in _COUNTED_WORDS:
        count += view.count(word)
        if count >= _MIN_DIGITS:
            return True
    return False


def _split_stretch(view: str, stretch_start: int, stretch_end: int, out: list[_Sequence]) -> None:
    """Append the sequences of one stretch of tokens and separators to ``out``."""
    current: _Sequence | None = None
    last_end = -_MAX_GAP - 1
    repeat = 0
    repeat_start = -1
    for match in _TOKEN.finditer(view, stretch_start, stretch_end):
        start, end = match.span()
        word = match.group()
        if word[0].isdigit():
            # "ORD-12345678", "7abc123", "1z999": digits glued to letters are an identifier.
            before = view[start - 1] if start else " "
            if before in _LETTERS or (before in "-_/" and start > 1 and view[start - 2] in _LETTERS):
                current, repeat = None, 0
                continue
            if end < len(view) and view[end] in _LETTERS:
                current, repeat = None, 0
                continue
            group = _Group(start, end, word, False)
        elif word in _REPEATS:
            repeat, repeat_start = _REPEATS[word], start
            joined = current is not None and start - last_end <= _MAX_GAP and _is_gap(view, last_end, start)
            if not joined:
                current = None
            last_end = end
            continue
        elif word == "plus":
            current = _Sequence([], start)
            out.append(current)
            last_end = end
            repeat = 0
            continue
        elif word in _ZEROS:
            joined = current is not None and start - last_end <= _MAX_GAP and _is_gap(view, last_end, start)
            if current is None or not joined or not current.groups:
                current, repeat = None, 0
                continue
            group = _Group(start, end, _ZEROS[word], True)
        else:
            group = _Group(start, end, _WORD_VALUES[word], True)
        if repeat:
            if start - last_end <= _MAX_GAP and _is_gap(view, last_end, start):
                group = _Group(repeat_start, end, group.digits * repeat, True)
                start = repeat_start
            repeat = 0
        joined = current is not None and start - last_end <= _MAX_GAP and _is_gap(view, last_end, start)
        if current is None or not joined:
            plus = start - 1 if start and view[start - 1] == "+" else -1
            current = _Sequence([], plus)
            out.append(current)
        current.groups.append(group)
        last_end = end


def _is_gap(view: str, start: int, end: int) -> bool:
    gap = view[start:end]
    # A sentence ends the number: "... 4327. One two three" is two.
    return all(char in _SEPARATORS for char in gap) and ". " not in gap and ".." not in gap


_CARD_LENGTH_RANK = {length: rank for rank, length in enumerate((16, 15, 14, 19, 13, 17, 18))}


def _strong(gap: str) -> bool:
    """Whether the separator between two groups ends a number: ",", ".", "/", a bracket or two spaces."""
    return len(gap) > 1 or any(char in ",./()" for char in gap)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cue_before(view: str, start: int) -> bool:
    """Whether one of the last three words before ``start`` says the number is not personal."""
    before = view[max(0, start - _CUE_WINDOW) : start]
    sentence = max(before.rfind(". "), before.rfind("? "), before.rfind("! "), before.rfind(";"))
    words = before[sentence + 1 :].replace("#", " ").replace(":", " ").split()
    return any(word.strip(".,;!?'\"()") in _NOT_PERSONAL_CUES for word in words[-3:])


def _unit_after(view: str, end: int) -> bool:
    words = view[end : end + 20].split(maxsplit=1)
    return bool(words) and words[0].strip(".,;!?") in _UNIT_CUES


def _find_cards(view: str, seq: _Sequence, used: list[bool], spans: list[tuple[int, int, str]]) -> None:
    groups = seq.groups
    if seq.plus >= 0:
        return  # "+49 (0)30 29468841" is dialled, not charged
    cue = None
    # A card starts the sequence, or follows a stray spoken word ("oh, four one ...") or a strong
    # separator ("2, 4111 ..."): starting anywhere in a long reference number would find a
    # Luhn-valid stretch one time in ten.
    starts = {0}
    if len(groups) > 1 and (groups[0].spoken or _strong(view[groups[0].end : groups[1].start])):
        starts.add(1)
    first = 0
    while first < len(groups):
        if first not in starts:
            first += 1
            continue
        best = None
        best_rank = (2, 2, 0)
        digits = ""
        gaps: set[str] = set()
        for last in range(first, len(groups)):
            if last > first:
                gaps.add(view[groups[last - 1].end : groups[last].start])
            digits += groups[last].digits
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] != "0" and _luhn_ok(digits):
                # Of several Luhn-valid windows the one that reads as a card wins: one separator
                # throughout, then ending where the sequence ends or its separator changes, then
                # the most common card length. "4111 1111 1111 1111, 42 Wallaby Way" is a 16-digit
                # card, "4864,3676,3756,4030,030" and "4 8 3 6 ... 1 6 0" 19-digit ones.
                after = view[groups[last].end : groups[last + 1].start] if last + 1 < len(groups) else None
                ends = after is None or (len(gaps) == 1 and after not in gaps) or (not gaps and _strong(after))
                rank = (0 if len(gaps) <= 1 else 1, 0 if ends else 1, _CARD_LENGTH_RANK[len(digits)])
                if rank < best_rank:
                    best, best_rank = (last, digits), rank
        if best is not None:
            last, digits = best
            # After "tracking", "order", ...: a number the major networks do not issue, or one that
            # runs on past the card ("track parcel 4669 3896 7754 9108 2245 36"), is that number.
            if digits[0] not in "23456" or best_rank[1]:
                if cue is None:
                    cue = _cue_before(view, groups[0].start)
                if cue:
                    first += 1
                    continue
            spans.append((groups[first].start, groups[last].end, "CARD"))
            for index in range(first, last + 1):
                used[index] = True
            starts |= {last + 1, last + 2}
            first = last + 1
        else:
            first += 1


@lru_cache(maxsize=64)
def _region_of(locale: str | None) -> str:
    if locale:
        region = locale.replace("_", "-").rpartition("-")[2].upper()
        if len(region) == 2 and region.isalpha():
            return region
    return "US"


@lru_cache(maxsize=4096)
def _phone_verdict(digits: str, region: str, plus: bool) -> int:
    """2 for a valid number, 1 for one of a possible length only, 0 for neither."""
    # Imported on the first digit run that could be a phone number, not by every process that
    # answers turns (20-80 ms of a cold start); the verdicts are cached.
    import phonenumbers

    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, None if plus else region)
    except phonenumbers.NumberParseException:
        return 0
    if phonenumbers.is_valid_number(number):
        return 2
    return 1 if phonenumbers.is_possible_number(number) else 0


def _plausible_length(digits: str, region: str, plus: bool) -> bool:
    if plus:
        return 8 <= len(digits) <= 15
    if region in _NANPA and digits[0] != "0":
        return len(digits) == 10 or (len(digits) == 11 and digits[0] == "1") or len(digits) == 7
    if digits.startswith("00"):
        return 10 <= len(digits) <= 17
    return digits[0] == "0" and 9 <= len(digits) <= 13 or len(digits) == 10


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = _PHONE_CHECKS


def _is_phone(view: str, seq: _Sequence, window: list[_Group], region: str, budget: _Budget, first: bool) -> bool:
    digits = "".join(group.digits for group in window)
    plus = first and seq.plus >= 0
    if not _plausible_length(digits, region, plus):
        return False
    spoken = any(group.spoken for group in window)
    shaped = len(window) >= 2 and all(2 <= len(group.digits) <= 5 for group in window[:-1])
    if len(digits) == 7 and [len(group.digits) for group in window] != [3, 4]:
        return False  # a local number only as "555-0100": seven digits read out are more often a count
    if len(window) == 4 and all(len(group.digits) <= 3 for group in window):
        if all(view[a.end : b.start] == "." for a, b in zip(window, window[1:], strict=False)):
            return False  # 192.168.95.71
    strong = plus or "(" in view[window[0].start - 1 : window[-1].end]
    if not strong and _cue_before(view, window[0].start):
        return False
    # "1,234,567,890 dollars" is an amount; "200-200-0000 dollars" is still a phone number.
    if _unit_after(view, window[-1].end) and all(
        view[a.end : b.start] in (",", ".") for a, b in zip(window, window[1:], strict=False)
    ):
        return False
    if budget.left <= 0:
        return True  # over budget: a phone-shaped number is redacted unchecked
    budget.left -= 1
    if digits.startswith("00") and not plus and region not in _NANPA:
        verdict = _phone_verdict(digits[2:], region, True)
    else:
        verdict = _phone_verdict(digits, region, plus)
        if verdict < 2 and not plus and digits[0] != "0" and region not in _NANPA and len(digits) in (10, 11):
            # No trunk "0": a North American number said to a skill in another locale.
            if budget.left > 0:
                budget.left -= 1
                verdict = max(verdict, _phone_verdict(digits, "US", False))
        if verdict < 2 and not plus and digits[0] == "0":
            # A trunk "0" is never dialled in the locale's region (NANPA) or the number is from
            # elsewhere: a British number said to a US skill is still a phone number.
            for other in _OTHER_REGIONS:
                if other != region and budget.left > 0:
                    budget.left -= 1
                    verdict = max(verdict, _phone_verdict(digits, other, False))
                    if verdict == 2:
                        break
    if verdict == 2:
        return True
    # Possible but not valid (a fictional 555 number, an unassigned area code): still a phone when
    # it is written or spoken like one, not when it is one bare run of digits.
    return verdict == 1 and (shaped or spoken or len(digits) == 7)


def _bounded(view: str, groups: list[_Group], limit: int, index: int, *, before: bool) -> bool:
    """Whether a window may start (``before``) or end at group ``index`` of a run ending at ``limit``.

    A window may leave out up to two digits of its run ("oh, 415 555 0100", "... 0100 2 pizzas"); to
    leave out more, the separator there must be a strong one (",", ".", "/", a bracket or a double
    space), or a long spoken number would be cut into a phone and a remainder.
    """
    if before:
        left_out = sum(len(group.digits) for group in groups[max(limit, index - 3) : index])
        gap = view[groups[index - 1].end : groups[index].start] if index > limit else ""
    else:
        left_out = sum(len(group.digits) for group in groups[index : min(limit, index + 3)])
        gap = view[groups[index - 1].end : groups[index].start] if index < limit else ""
    return left_out <= 2 or _strong(gap)


def _find_phones(
    view: str, seq: _Sequence, used: list[bool], region: str, budget: _Budget, spans: list[tuple[int, int, str]]
) -> None:
    groups = seq.groups
    # Runs of groups that no card took.
    index = 0
    while index < len(groups):
        if used[index]:
            index += 1
            continue
        run_end = index
        while run_end < len(groups) and not used[run_end]:
            run_end += 1
        _phones_in_run(view, seq, groups, index, run_end, region, budget, spans)
        index = run_end


def _phones_in_run(
    view: str,
    seq: _Sequence,
    groups: list[_Group],
    lo: int,
    hi: int,
    region: str,
    budget: _Budget,
    spans: list[tuple[int, int, str]],
) -> None:
    # Starts tried: the run's first two groups and the group after each phone found. Ends: the
    # longest window of at most 15 digits first, so "415 555 0100" wins over "415 555".
    starts = {lo, lo + 1}
    if hi - lo > 1 and groups[lo].spoken and _strong(view[groups[lo].end : groups[lo + 1].start]):
        starts.discard(lo)  # "oh, 415 555 0100": an interjection, not a leading zero
    first = lo
    while first < hi:
        if first not in starts:
            first += 1
            continue
        found = None
        total = 0
        last = first
        while last < hi and total + len(groups[last].digits) <= 15:
            total += len(groups[last].digits)
            last += 1
        if not _bounded(view, groups, lo, first, before=True):
            first += 1
            continue
        for end in range(last, first, -1):
            window = groups[first:end]
            if sum(len(group.digits) for group in window) < _MIN_DIGITS:
                break
            if not _bounded(view, groups, hi, end, before=False):
                continue
            if _is_phone(view, seq, window, region, budget, first == 0):
                found = end
                break
        if found is None:
            first += 1
            continue
        start = seq.plus if first == 0 and seq.plus >= 0 else groups[first].start
        if start == groups[first].start and start and view[start - 1] == "(":
            start -= 1
        spans.append((start, groups[found - 1].end, "PHONE"))
        starts |= {found, found + 1}
        first = found


# --- Street addresses and coordinates ----------------------------------------------------------------
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


def _find_addresses(view: str, spans: list[tuple[int, int, str]]) -> None:
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


def _find_coordinates(view: str, spans: list[tuple[int, int, str]]) -> None:
    for match in _COORDINATES.finditer(view):
        if abs(float(match.group("lat"))) <= 90 and abs(float(match.group("lon"))) <= 180:
            spans.append((match.start(), match.end(), "COORDINATES"))


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
        kinds = self.kinds
        view = _view(text)
        spans: list[tuple[int, int, str]] = []
        if "EMAIL" in kinds and ("@" in view or ("at" in view and _AT_HINT.search(view))):
            _find_emails(view, spans)
        digit_count = len(view) - len(view.encode("ascii").translate(None, _DIGITS))
        if digit_count and "COORDINATES" in kinds and digit_count >= 10 and "." in view:
            _find_coordinates(view, spans)
        if "CARD" in kinds or "PHONE" in kinds:
            budget = _Budget()
            region = _region_of(locale)
            coordinates = [(start, end) for start, end, kind in spans if kind == "COORDINATES"]
            for seq in _sequences(view) if _may_hold_sequence(view, digit_count) else ():
                if coordinates and any(
                    start < seq.groups[-1].end and seq.groups[0].start < end for start, end in coordinates
                ):
                    continue  # "37.7749, -122.4194" is not a phone number
                used = [False] * len(seq.groups)
                if "CARD" in kinds:
                    _find_cards(view, seq, used, spans)
                if "PHONE" in kinds:
                    _find_phones(view, seq, used, region, budget, spans)
        if digit_count and "ADDRESS" in kinds:
            _find_addresses(view, spans)
        for pattern, kind in self._custom:
            _find(pattern, kind, text, spans)
        return spans

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
