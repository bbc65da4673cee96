"""The view all redaction rules read: the text in ASCII lower case, position for position."""

from __future__ import annotations

import unicodedata

__all__ = ["view"]

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


def view(text: str) -> str:
    """``text`` as the rules read it: same length, ASCII lower case (``"Ｊane＠Ｘ.de"`` -> ``"jane@x.de"``)."""
    return text.lower() if text.isascii() else text.translate(_VIEW)

