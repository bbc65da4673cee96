"""Digit sequences, written and spoken ("415 555 0100", "four one five, double five"), and the words around them."""

from __future__ import annotations

import re
from itertools import accumulate

from .lazy import LazyPattern

__all__ = [
    "MIN_DIGITS", "TOKEN_WORD", "Group", "Sequence", "any_cue", "cue_before", "sequence_words", "sequences", "strong",
    "survey", "unit_after", "word_branches", "words_of",
]  # fmt: skip

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


def _trie(words: list[str]) -> str:
    """An alternation of ``words`` that shares their prefixes ("o(?:h|ne)?"): re tries the words
    one after another at every position of the text, and a shared first letter is tried once."""
    rests: dict[str, list[str]] = {}
    for word in words:
        if word:
            rests.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(first) + _trie(rest) for first, rest in sorted(rests.items())]
    if "" in words and branches:
        return "(?:" + "|".join(branches) + ")?"
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")" if branches else ""


_TOKEN = LazyPattern(r"[0-9]+|\b" + _trie([*_WORD_VALUES, *_REPEATS, *_ZEROS, "plus"]) + r"\b")
_MAX_GAP = 4


def word_branches(words: list[str]) -> list[str]:
    """``words`` as branches that each start with one literal character ("f(?<!...)..."), so that re,
    looking for one, skips in C to the next character a word can start with instead of trying every
    word at every position. The "\\b" before a word becomes a check, after its first letter, that the
    character before that letter is not a word character (the view is ASCII: its word characters
    are [0-9a-z_])."""
    rests: dict[str, list[str]] = {}
    for word in words:
        rests.setdefault(word[0], []).append(word[1:])
    return [rf"{first}(?<![0-9a-z_].){_trie(rest)}\b" for first, rest in sorted(rests.items())]


def _word_branches() -> list[str]:
    """The words of _TOKEN as :func:`word_branches`."""
    return word_branches([*_WORD_VALUES, *_REPEATS, *_ZEROS, "plus"])


#: Any word that stands for digits ("four", "oh", "double", "plus"), as a pattern of branches that
#: each start with a literal character.
TOKEN_WORD = "|".join(_word_branches())


def _first_token() -> str:
    """_TOKEN as branches that each start with one literal character ("4[0-9]*", "f(?<!...)...")."""
    return "|".join([f"{digit}[0-9]*" for digit in "0123456789"] + _word_branches())


# Tokens joined by separators (" ,./_()-", at most _MAX_GAP of them): one pass over the text in
# which each attempt is bounded (a separator run cannot be confused with a token), so it is linear.
# Every token of a stretch is at most _MAX_GAP separators from the next, so reading a stretch's
# tokens needs no further gap check but one: a sentence end (". ", "..") inside it splits it.
_STRETCH = LazyPattern(rf"(?:{_first_token()})(?:[ ,./_()-]{{1,{_MAX_GAP}}}(?:{_TOKEN.pattern}))*")
# The same stretches where the text has no word a token can be (most text with numbers): one
# character class first, so re skips from digit to digit in C instead of trying every token word
# at every position.
_NUMERAL_STRETCH = LazyPattern(rf"[0-9][0-9]*(?:[ ,./_()-]{{1,{_MAX_GAP}}}[0-9]+)*")
# Every word that stands for digits, and how many: a text whose digits and digit words add up to
# fewer than MIN_DIGITS holds no sequence, and most speech is such text. A token word stands
# between word boundaries (\b), so it is one whole run of letters, digits and "_": the text's
# bytes with every other character made a space, split, are its candidates, compared in C.
_DIGITS_SAID = {
    word.encode(): said
    for word, said in {**dict.fromkeys(_WORD_VALUES, 1), **_REPEATS, **{w: len(z) for w, z in _ZEROS.items()}}.items()
}
_TOKEN_WORDS = frozenset([*_DIGITS_SAID, b"plus"])
_DIGITS = b"0123456789"
_WORD_RUNS = bytes(code if chr(code).isascii() and (chr(code).isalnum() or code == 95) else 32 for code in range(256))
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# Splits a stretch into token, gap, token, ..., token, where each gap is a run of separators
# without its first one: a pattern that opens with a character class lets re skip in C to the
# next separator, where one that opens with a group ("([ ,./_()-]+)") is tried at every position.
_SEPARATOR_RUN = re.compile("[ ,./_()-]([ ,./_()-]*)")
# A digit run glued to the word before it by one "-", "_" or "/" ("four-5"): see _glued.
_WORD_THEN_NUMERAL = re.compile("[a-z][-_/][0-9]")
_SPECIAL_WORD = LazyPattern(r"\b" + _trie([*_REPEATS, *_ZEROS, "plus"]) + r"\b")
#: A sequence needs this many digits to be a phone (a 7-digit local number) or a card (13).
MIN_DIGITS = 7

# Words just before a number that say it is not personal: "order 4155550100", "tracking 9400 ...".
NOT_PERSONAL_CUES = frozenset(
    "order orders confirmation reference ref tracking invoice ticket booking reservation flight room "
    "table zip zipcode postcode postal plate plates license licence registration serial model part "
    "item sku product isbn transaction policy case claim version pin code voucher coupon "
    "gift promo parcel package shipment store branch employee badge locker seat gate bus train route "
    "bestellnummer bestellung auftragsnummer auftrag rechnungsnummer rechnung kundennummer "
    "sendungsnummer buchungsnummer buchung referenz kennzeichen postleitzahl plz artikelnummer "
    "ticketnummer flug zimmer tisch gutschein paket filiale vorgangsnummer".split()
)
# cue_before strips a word of punctuation that is not a word character: a cue it finds is one of the
# text's words_of.
_CUE_WORDS = frozenset(word.encode() for word in NOT_PERSONAL_CUES)
_CUE_WINDOW = 40  # characters before a sequence that are searched for a cue
# Words right after a number that make it a quantity or a price: "1000000 dollars".
_UNIT_CUES = frozenset(
    "dollars dollar bucks cents euro euros pounds pence percent points items pieces pizzas times "
    "years people steps calories miles kilometers meters feet km kg lbs".split()
)

#: One group of a sequence: ``(start, end, digits, spoken)``, its span in the view, the digits it
#: stands for ("double five" -> "55") and whether it was said in words. A tuple: a sequence reader
#: makes thousands of them per megabyte.
Group = tuple[int, int, str, bool]


class Sequence:
    """Groups of digits joined by separators, and the position of a leading "+" or "plus" (or -1).

    :func:`sequences` also sets ``digits``, every group's digits in one string, and ``offsets``,
    where each group's digits start in it (and, last, their length): the digits of groups ``i``
    to ``j - 1`` are ``digits[offsets[i]:offsets[j]]``.
    """

    __slots__ = ("digits", "groups", "offsets", "plus")

    def __init__(self, plus: int) -> None:
        self.groups: list[Group] = []
        self.plus = plus
        self.digits = ""
        self.offsets: list[int] = []

    def __repr__(self) -> str:
        return f"Sequence({self.groups!r}, plus={self.plus})"


def words_of(view: bytes) -> list[bytes]:
    """The runs of letters, digits and "_" in the view's ASCII bytes: the words a "\\b"-delimited
    pattern finds, split off in C (``b"call 415-555"`` -> ``[b"call", b"415", b"555"]``)."""
    return view.translate(_WORD_RUNS).split()


def sequence_words(words: list[bytes], digit_count: int) -> bool | None:
    """Whether a text with these :func:`words_of` and digits holds enough digits and digit words for
    a sequence: ``None`` when it does not, else whether any of the words a sequence can hold
    ("four", "double", "plus") occurs, which :func:`sequences` then reads too. A cheap test before
    :func:`sequences`.
    """
    if _TOKEN_WORDS.isdisjoint(words):
        return False if digit_count >= MIN_DIGITS else None
    if digit_count < MIN_DIGITS:
        said = _DIGITS_SAID
        digit_count += sum(said[word] for word in words if word in said)
        if digit_count < MIN_DIGITS:
            return None
    return True


def any_cue(words: list[bytes]) -> bool:
    """Whether any of a text's :func:`words_of` is a word that can make a number not personal
    ("order", "tracking"): where none is, :func:`cue_before` is false everywhere in it."""
    return not _CUE_WORDS.isdisjoint(words)


def survey(view: str) -> tuple[int, bool | None, bool]:
    """What a view's cheap tests say before any rule reads it: how many digits it holds, whether
    it holds a sequence (:func:`sequence_words`: ``None`` none, ``True`` one with digit words), and,
    where it may, whether a cue word is among its words (:func:`any_cue`, else ``False``)."""
    raw = view.encode("ascii")  # the view is ASCII: bytes methods count and split it in C
    digit_count = len(raw) - len(raw.translate(None, _DIGITS))
    words = words_of(raw)
    said = sequence_words(words, digit_count)
    return digit_count, said, said is not None and any_cue(words)


def sequences(view: str, words: bool = True) -> list[Sequence]:
    """The digit sequences of ``view`` with at least :data:`MIN_DIGITS` digits.

    Example::

        [seq.groups for seq in sequences("call 415 555 0100")]
        # [[(5, 8, '415', False), (9, 12, '555', False), (13, 17, '0100', False)]]

    :param words: whether to read digit words too; ``False`` (digits only) when
        :func:`sequence_words` found none.
    """
    out: list[Sequence] = []
    for stretch in (_STRETCH if words else _NUMERAL_STRETCH).finditer(view):
        start, end = stretch.span()
        if end - start < MIN_DIGITS:  # seven digits take seven characters at least
            continue
        chunk = stretch.group()
        if (
            ". " in chunk
            or ".." in chunk
            # every word of _SPECIAL_WORD has a "u" or a "p": most stretches skip the search
            or (words and ("u" in chunk or "p" in chunk) and _SPECIAL_WORD.search(chunk) is not None)
            or not _read_plain(view, start, chunk, out, words)
        ):
            _read_stretch(view, start, end, chunk, out)
    return out


def _read_plain(view: str, lo: int, chunk: str, out: list[Sequence], words: bool = True) -> bool:
    """Append the sequence of a stretch without "double", "hundred", "plus" or a sentence end
    ("415-555-0100", "four one five, 555 0100") to ``out``; or return False, when one of its digit
    runs touches a letter, and leave it to :func:`_read_stretch`.

    What :func:`_read_stretch` does for any stretch, for the commonest ones: every token is a
    group, and all groups are one sequence. The tokens are split off at C speed (a separator
    never occurs in a token) rather than matched token by token, and a digit run is checked for
    letters around it only where one can be. ``words=False``: the stretch holds digits only, so
    no digit run in it follows a word. Doing the per-token work with map, accumulate and zip
    instead of this loop was measured: it costs more for the typical three or four tokens.
    """
    pieces = _SEPARATOR_RUN.split(chunk)  # token, separators but the first, token, ..., token
    hi = lo + len(chunk)
    # Inside a stretch a token is followed by separators, so a digit run can touch a letter only at
    # the stretch's two ends, or after a word and one "-", "_" or "/" ("four-5"): see _glued.
    if pieces[0][0] <= "9" and lo and (
        view[lo - 1] in _LETTERS or (view[lo - 1] in "-_/" and lo > 1 and view[lo - 2] in _LETTERS)
    ):
        return False
    if (hi < len(view) and view[hi] in _LETTERS and pieces[-1][0] <= "9") or (
        words and len(pieces) > 2 and _WORD_THEN_NUMERAL.search(chunk) is not None
    ):
        return False
    values = _WORD_VALUES
    groups: list[Group] = []
    parts: list[str] = []
    offsets = [0]
    count = 0
    pieces.append("")
    end = lo
    for word, gap in zip(pieces[0::2], pieces[1::2], strict=True):
        start, end = end, end + len(word)
        if word[0] <= "9":
            groups.append((start, end, word, False))
        else:
            word = values[word]
            groups.append((start, end, word, True))
        parts.append(word)
        count += len(word)
        offsets.append(count)
        end += len(gap) + 1
    if count >= MIN_DIGITS:
        seq = Sequence(lo - 1 if lo and view[lo - 1] == "+" else -1)
        seq.groups, seq.digits, seq.offsets = groups, "".join(parts), offsets
        out.append(seq)
    return True


def _read_stretch(view: str, lo: int, hi: int, chunk: str, out: list[Sequence]) -> None:
    """Append the sequences of one stretch of tokens and separators to ``out``."""
    read: list[Sequence] = []
    if _read_tokens(view, lo, hi, chunk, read, numeral_repeats=True):
        # "double 1 000000000009": a repeat word before a one-digit numeral may be a word of its own.
        # Both readings are searched; what either finds is replaced.
        _read_tokens(view, lo, hi, chunk, read, numeral_repeats=False)
    for seq in read:
        parts = [group[2] for group in seq.groups]
        seq.digits = "".join(parts)
        if len(seq.digits) >= MIN_DIGITS:
            seq.offsets = list(accumulate(map(len, parts), initial=0))
            out.append(seq)


def _read_tokens(view: str, lo: int, hi: int, chunk: str, out: list[Sequence], *, numeral_repeats: bool) -> bool:
    """Append the sequences of a stretch's tokens to ``out``; return whether a repeat word was read
    as repeating a written digit ("double 5"), the reading that ``numeral_repeats=False`` leaves out."""
    # A sentence ends the number: "... 4327. One two three" is two.
    sentences = ". " in chunk or ".." in chunk
    repeated_numeral = False
    current: Sequence | None = None
    last_end = lo
    repeat = 0
    repeat_start = -1
    for match in _TOKEN.finditer(view, lo, hi):
        start, end = match.span()
        word = match.group()
        joins = current is not None and not (sentences and _sentence_between(view, last_end, start))
        if word[0] <= "9":
            if _glued(view, start, end):
                current, repeat = None, 0
                continue
            group: Group = (start, end, word, False)
        elif word in _REPEATS:
            repeat, repeat_start = _REPEATS[word], start
            if not joins:
                current = None
            last_end = end
            continue
        elif word == "plus":
            current = Sequence(start)
            out.append(current)
            last_end = end
            repeat = 0
            continue
        elif word in _ZEROS:
            if not joins or current is None or not current.groups:
                current, repeat = None, 0
                continue
            group = (start, end, _ZEROS[word], True)
        else:
            group = (start, end, _WORD_VALUES[word], True)
        if repeat:
            # "double five", "double 5": a repeat word doubles one digit. Before "200" it is just a
            # word ("double 200-200-0000"), and the numeral keeps its own digits.
            if (
                len(group[2]) == 1
                and (numeral_repeats or group[3])
                and not (sentences and _sentence_between(view, last_end, start))
            ):
                repeated_numeral = repeated_numeral or not group[3]
                group = (repeat_start, end, group[2] * repeat, True)
                start = repeat_start
                joins = current is not None  # the repeat word already joined or ended the sequence
            repeat = 0
        if current is None or not joins:
            current = Sequence(start - 1 if start and view[start - 1] == "+" else -1)
            out.append(current)
        current.groups.append(group)
        last_end = end
    return repeated_numeral


def _glued(view: str, start: int, end: int) -> bool:
    """Whether the digits at ``start:end`` touch a letter: "ORD-12345678", "7abc123" are identifiers."""
    before = view[start - 1] if start else " "
    return (
        before in _LETTERS
        or (before in "-_/" and start > 1 and view[start - 2] in _LETTERS)
        or (end < len(view) and view[end] in _LETTERS)
    )


def _sentence_between(view: str, start: int, end: int) -> bool:
    gap = view[start:end]
    return ". " in gap or ".." in gap


def strong(gap: str) -> bool:
    """Whether the separator between two groups ends a number: ",", ".", "/", a bracket or two spaces."""
    return len(gap) > 1 or any(char in ",./()" for char in gap)


def cue_before(view: str, start: int, cue_words: bool = True) -> bool:
    """Whether one of the last three words before ``start`` says the number is not personal.

    :param cue_words: ``False`` when :func:`any_cue` found no such word in the whole text: then
        only a word cut by the window's start ("re|order") or by ``start`` ("order|s") could be
        one, and the window is read only when it cuts one.
    """
    if (
        not cue_words
        and (start <= _CUE_WINDOW or view[start - _CUE_WINDOW - 1] not in _WORD_CHARACTERS)
        and (start == 0 or view[start - 1] not in _WORD_CHARACTERS)
    ):
        return False
    before = view[max(0, start - _CUE_WINDOW) : start]
    sentence = max(before.rfind(". "), before.rfind("? "), before.rfind("! "), before.rfind(";"))
    words = before[sentence + 1 :].replace("#", " ").replace(":", " ").split()
    return any(word.strip(".,;!?'\"()") in NOT_PERSONAL_CUES for word in words[-3:])


def unit_after(view: str, end: int) -> bool:
    """Whether the word after ``end`` makes the number a quantity or a price ("1000000 dollars")."""
    words = view[end : end + 20].split(maxsplit=1)
    return bool(words) and words[0].strip(".,;!?") in _UNIT_CUES
