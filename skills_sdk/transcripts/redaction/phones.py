"""Phone numbers: windows of a digit sequence that libphonenumber accepts for the skill's region."""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from . import verdicts
from .numbers import MIN_DIGITS, Group, Sequence, cue_before, strong, unit_after

__all__ = ["Budget", "checked", "find_phones", "region_of"]

# A bounded number of libphonenumber checks per field (each costs microseconds to tens of them).
_PHONE_CHECKS = 64
# Regions tried for a national number that starts with a trunk "0" and is not one of the locale's.
_OTHER_REGIONS = ("GB", "DE", "FR", "IN", "AU", "IE", "AT", "CH", "IT", "ES", "NL")
_NANPA = frozenset({"US", "CA", "PR", "GU", "VI", "AS", "MP", "BS", "BB", "JM", "TT", "DO"})
# How the words for "00" and "000" in a sequence begin (numbers._ZEROS: hundred, hundert, thousand,
# tausend): no digit word or repeat word begins so.
_ZERO_WORDS = ("hund", "thou", "taus")


@lru_cache(maxsize=64)
def region_of(locale: str | None) -> str:
    """The region of a locale (``"en-GB"`` -> ``"GB"``), ``"US"`` when there is none."""
    if locale:
        region = locale.replace("_", "-").rpartition("-")[2].upper()
        if len(region) == 2 and region.isalpha():
            return region
    return "US"


class Budget:
    """How many libphonenumber checks one field may still make."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = _PHONE_CHECKS


def _plausible_length(digits: str, region: str, plus: bool) -> bool:
    if plus:
        return 8 <= len(digits) <= 15
    if region in _NANPA and digits[0] != "0":
        return len(digits) == 10 or (len(digits) == 11 and digits[0] == "1") or len(digits) == 7
    if digits.startswith("00"):
        return 10 <= len(digits) <= 17
    return digits[0] == "0" and 9 <= len(digits) <= 13 or len(digits) == 10


def _is_phone(
    view: str, seq: Sequence, first: int, end: int, region: str, budget: Budget, cues: dict[int, bool], cue_words: bool
) -> bool:
    """Whether groups ``first`` to ``end - 1`` of ``seq`` are a phone number."""
    offsets = seq.offsets
    digits = seq.digits[offsets[first] : offsets[end]]
    plus = first == 0 and seq.plus >= 0
    if not _plausible_length(digits, region, plus):
        return False
    window = seq.groups[first:end]
    if len(digits) == 7 and (len(window) != 2 or offsets[first + 1] - offsets[first] != 3) and not _said_local(view, seq, first, end):
        return False  # a local number only as "555-0100": seven digits read out are more often a count
    if len(window) == 4 and offsets[end] - offsets[end - 1] <= 3 and all(
        view[a[1] : b[0]] == "." for a, b in zip(window, window[1:], strict=False)
    ):
        if all(offsets[index + 1] - offsets[index] <= 3 for index in range(first, end)):
            return False  # 192.168.95.71
    start = window[0][0]
    if not plus and "(" not in view[start - 1 : window[-1][1]]:
        cue = cues.get(start)
        if cue is None:
            cue = cues[start] = cue_before(view, start, cue_words)
        if cue:
            return False
    # "1,234,567,890 dollars" is an amount; "200-200-0000 dollars" and "200.200.0000 kg" (a last
    # group of four: no thousands) are still phone numbers.
    if unit_after(view, window[-1][1]) and all(
        view[a[1] : b[0]] in (",", ".") for a, b in zip(window, window[1:], strict=False)
    ) and all(offsets[index + 1] - offsets[index] == 3 for index in range(first + 1, end)):
        return False
    return checked(seq, first, end, digits, region, plus, budget)


def _said_local(view: str, seq: Sequence, first: int, end: int) -> bool:
    """Whether groups ``first`` to ``end - 1``, seven digits, are a local number said digit by digit
    ("five five five, one two three four"): all of the sequence between strong separators, every
    group a digit word or a repeat ("double five"), an exchange that does not start with 0 or 1, and
    no count ("seven six five four three two one"). "six thousand one hundred" and the first seven
    of "seven double nine one two three double one three" are not."""
    groups = seq.groups
    if (first and not strong(view[groups[first - 1][1] : groups[first][0]])) or (
        end < len(groups) and not strong(view[groups[end - 1][1] : groups[end][0]])
    ):
        return False
    for index in range(first, end):
        if not groups[index][3] or view.startswith(_ZERO_WORDS, groups[index][0]):
            return False
    digits = seq.digits[seq.offsets[first] : seq.offsets[end]]
    if digits[0] in "01":
        return False
    steps = {ord(b) - ord(a) for a, b in zip(digits, digits[1:], strict=False)}
    return steps != {1} and steps != {-1}


def checked(seq: Sequence, first: int, end: int, digits: str, region: str, plus: bool, budget: Budget) -> bool:
    """Whether groups ``first`` to ``end - 1`` of ``seq``, which are shaped like a phone number, are
    one by libphonenumber's verdict: the part of :func:`_is_phone` that ``_speedups.c`` leaves to
    Python. ``digits`` are the window's, ``plus`` whether it starts with the sequence's "+"."""
    if budget.left <= 0:
        return True  # over budget: a phone-shaped number is redacted unchecked
    budget.left -= 1
    offsets = seq.offsets
    verdict = verdicts.verdict
    if digits.startswith("00") and not plus and region not in _NANPA:
        found = verdict(digits[2:], region, True)
    else:
        found = verdict(digits, region, plus)
        if found < 2 and not plus and digits[0] != "0" and region not in _NANPA and len(digits) in (10, 11):
            # No trunk "0": a North American number said to a skill in another locale.
            if budget.left > 0:
                budget.left -= 1
                found = max(found, verdict(digits, "US", False))
        if found < 2 and not plus and digits[0] == "0":
            # A trunk "0" is never dialled in the locale's region (NANPA) or the number is from
            # elsewhere: a British number said to a US skill is still a phone number.
            for other in _OTHER_REGIONS:
                if other != region and budget.left > 0:
                    budget.left -= 1
                    found = max(found, verdict(digits, other, False))
                    if found == 2:
                        break
    if found == 2:
        return True
    if found == 0:
        return False
    # Possible but not valid (a fictional 555 number, an unassigned area code): still a phone when
    # it is written or spoken like one, not when it is one bare run of digits.
    if len(digits) == 7 or any(group[3] for group in seq.groups[first:end]):
        return True
    if len(digits) == 11 and offsets[first + 1] - offsets[first] == 1:
        first += 1  # "1-200-200-0000": the calling code, then a number written like one
    return end - first >= 2 and all(2 <= offsets[index + 1] - offsets[index] <= 5 for index in range(first, end - 1))


def _bounded(view: str, seq: Sequence, limit: int, index: int, *, before: bool) -> bool:
    """Whether a window may start (``before``) or end at group ``index`` of a run ending at ``limit``.

    A window may leave out up to two digits of its run ("oh, 415 555 0100", "... 0100 2 pizzas"); to
    leave out more, the separator there must be a strong one (",", ".", "/", a bracket or a double
    space), or a long spoken number would be cut into a phone and a remainder.
    """
    offsets, groups = seq.offsets, seq.groups
    if before:
        if index == limit or offsets[index] - offsets[max(limit, index - 3)] <= 2:
            return True
    elif index == limit or offsets[min(limit, index + 3)] - offsets[index] <= 2:
        return True
    return _breaks(view, groups, index)


def _breaks(view: str, groups: list[Group], index: int) -> bool:
    """Whether a number may be cut between groups ``index - 1`` and ``index``: at a strong separator,
    or where digits written meet digits said ("200-200-0000 thousand", "one two three 415 555 0100"),
    which no one does inside one number.
    """
    return groups[index - 1][3] != groups[index][3] or strong(view[groups[index - 1][1] : groups[index][0]])


def find_phones(
    view: str,
    seq: Sequence,
    used: list[bool],
    region: str,
    budget: Budget,
    spans: list[tuple[int, int, str]],
    cue_words: bool = True,
) -> None:
    """Append the span of each phone number in the groups of ``seq`` no card ``used`` to ``spans``.

    :param cue_words: as for :func:`~.numbers.cue_before`.
    """
    groups = seq.groups
    if True not in used:  # no card in it (the commonest case): one run of every group
        _phones_in_run(view, seq, 0, len(groups), region, budget, spans, cue_words)
        return
    index = 0
    while index < len(groups):
        if used[index]:
            index += 1
            continue
        run_end = index
        while run_end < len(groups) and not used[run_end]:
            run_end += 1
        _phones_in_run(view, seq, index, run_end, region, budget, spans, cue_words)
        index = run_end


def _phones_in_run(
    view: str,
    seq: Sequence,
    lo: int,
    hi: int,
    region: str,
    budget: Budget,
    spans: list[tuple[int, int, str]],
    cue_words: bool,
) -> None:
    groups, offsets = seq.groups, seq.offsets
    cues: dict[int, bool] = {}
    # Starts tried: the run's first two groups and the group after each phone found. Ends: the
    # longest window of at most 15 digits first, so "415 555 0100" wins over "415 555".
    starts = {lo, lo + 1}
    if hi - lo > 1 and groups[lo][3] and strong(view[groups[lo][1] : groups[lo + 1][0]]):
        starts.discard(lo)  # "oh, 415 555 0100": an interjection, not a leading zero
    starts.update(index for index in range(lo + 2, hi) if groups[index - 1][3] != groups[index][3])
    first = lo
    while first < hi:
        if first not in starts:
            first = min((start for start in starts if start > first), default=hi)
            continue
        found = None
        # The last group of the longest window of at most 15 digits: offsets only grow.
        last = bisect_right(offsets, offsets[first] + 15, first, hi + 1) - 1
        if offsets[last] - offsets[first] < MIN_DIGITS or not _bounded(view, seq, lo, first, before=True):
            first += 1
            continue
        for end in range(last, first, -1):
            if offsets[end] - offsets[first] < MIN_DIGITS:
                break
            # _bounded(view, seq, hi, end, before=False), its commonest answers without a call
            if end != hi and offsets[min(hi, end + 3)] - offsets[end] > 2 and not _breaks(view, groups, end):
                continue
            if _is_phone(view, seq, first, end, region, budget, cues, cue_words):
                found = end
                break
        if found is None:
            first += 1
            continue
        start = seq.plus if first == 0 and seq.plus >= 0 else groups[first][0]
        if start == groups[first][0] and start and view[start - 1] == "(":
            start -= 1
        spans.append((start, groups[found - 1][1], "PHONE"))
        starts |= {found, found + 1}
        first = found
