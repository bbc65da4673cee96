"""The view all redaction rules read: the text in ASCII lower case, position for position."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["view"]

# All rules read a *view* of the text with the same length, so a span in the view is a span in the
# text: ASCII lower case; any Unicode decimal digit (full-width, Arabic-Indic, ...) as its ASCII
# digit; every kind of space, NBSP and zero-width character as " "; full-width and small "@" as "@";
# dashes (and the minus sign) as "-"; accented letters as their base letter ("fünf" -> "funf");
# anything else as "#". ASCII's tab, line feed and the other control spaces count as spaces too:
# "4111<TAB>1111<TAB>1111<TAB>1111" in a card's text is a card number as much as with spaces.


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
    if category == "Pd" or char in _DASH_LIKE:
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


#: Characters that join digits as a dash does but are not in Unicode's dash category (Pd).
_DASH_LIKE = frozenset("\u2212\u2043\u02d7")  # minus sign, hyphen bullet, modifier minus
#: ASCII's whitespace other than " ": read as " ", like every Unicode space.
_ASCII_SPACES = "\t\n\v\f\r"
_HAS_ASCII_SPACE = re.compile(f"[{_ASCII_SPACES}]")
_SPACES = str.maketrans(_ASCII_SPACES, " " * len(_ASCII_SPACES))
_VIEW = _ViewTable({code: 32 if chr(code) in _ASCII_SPACES else ord(chr(code).lower()) for code in range(128)})


def view(text: str) -> str:
    """``text`` as the rules read it: same length, ASCII lower case (``"Ｊane＠Ｘ.de"`` -> ``"jane@x.de"``)."""
    if not text.isascii():
        return text.translate(_VIEW)
    low = text.lower()
    return low.translate(_SPACES) if _HAS_ASCII_SPACE.search(low) else low

