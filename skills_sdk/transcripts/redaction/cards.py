"""Payment cards: Luhn-valid windows of 13 to 19 digits in a digit sequence, with any separators."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from .numbers import Sequence, cue_before, strong

__all__ = ["MIN_CARD_DIGITS", "find_cards", "luhn_ok"]

#: The fewest digits a card number has.
MIN_CARD_DIGITS = 13

_CARD_LENGTH_RANK = {length: rank for rank, length in enumerate((16, 15, 14, 19, 13, 17, 18))}
# Each digit doubled, less 9 when that is over 9: the digits Luhn adds for every second position.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    """Whether ``digits`` (ASCII) pass the Luhn check every payment card number passes."""
    # Byte sums run in C: the digits' codes less 48 each are the digits.
    kept, doubled = digits[-1::-2], digits[-2::-2].translate(_DOUBLED)
    return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0


def find_cards(
    view: str, seq: Sequence, used: list[bool], spans: list[tuple[int, int, str]], cue_words: bool = True
) -> None:
    """Append the span of each card in ``seq`` to ``spans`` and mark its groups ``used``.

    :param cue_words: as for :func:`~.numbers.cue_before`.
    """
    groups = seq.groups
    if seq.plus >= 0:
        return  # "+49 (0)30 29468841" is dialled, not charged
    if len(seq.digits) < MIN_CARD_DIGITS:
        return
    all_digits, offsets = seq.digits, seq.offsets
    cue = None
    # A card starts the sequence, or follows a stray spoken word ("oh, four one ...") or a strong
    # separator ("2, 4111 ..."): starting anywhere in a long reference number would find a
    # Luhn-valid stretch one time in ten.
    starts = {0}
    if len(groups) > 1 and (groups[0][3] or strong(view[groups[0][1] : groups[1][0]])):
        starts.add(1)
    count = len(groups)
    first = 0
    while first < count:
        if first not in starts:
            first = min((start for start in starts if start > first), default=count)
            continue
        best = None
        best_rank = (2, 2, 0)
        at = offsets[first]
        if all_digits[at] != "0":
            # The windows of 13 to 19 digits from here end at groups lo_end - 1 to hi_end - 2:
            # offsets only grow, so bisect finds them without visiting shorter or longer ones.
            lo_end = bisect_left(offsets, at + MIN_CARD_DIGITS, first + 1)
            hi_end = bisect_right(offsets, at + 19, first + 1)
            for end in range(lo_end, hi_end):
                digits = all_digits[at : offsets[end]]
                if luhn_ok(digits):
                    # Of several Luhn-valid windows the one that reads as a card wins: one separator
                    # throughout, then ending where the sequence ends or its separator changes, then
                    # the most common card length. "4111 1111 1111 1111, 42 Wallaby Way" is a 16-digit
                    # card, "4864,3676,3756,4030,030" and "4 8 3 6 ... 1 6 0" 19-digit ones.
                    last = end - 1
                    gaps = {view[groups[index - 1][1] : groups[index][0]] for index in range(first + 1, end)}
                    after = view[groups[last][1] : groups[end][0]] if end < count else None
                    ends = after is None or (len(gaps) == 1 and after not in gaps) or (not gaps and strong(after))
                    rank = (0 if len(gaps) <= 1 else 1, 0 if ends else 1, _CARD_LENGTH_RANK[len(digits)])
                    if rank < best_rank:
                        best, best_rank = (last, digits), rank
        if best is not None:
            last, digits = best
            # After "tracking", "order", ...: a number the major networks do not issue, or one that
            # runs on past the card ("track parcel 4669 3896 7754 9108 2245 36"), is that number.
            if digits[0] not in "23456" or best_rank[1]:
                if cue is None:
                    cue = cue_before(view, groups[0][0], cue_words)
                if cue:
                    first += 1
                    continue
            spans.append((groups[first][0], groups[last][1], "CARD"))
            for index in range(first, last + 1):
                used[index] = True
            starts |= {last + 1, last + 2}
            first = last + 1
        else:
            first += 1
