"""What a row's sealed words hold: one JSON object, laid out so that an export splices it into its line unparsed.

Format 2 (written since the export stopped decoding rows) is the words as the export prints them,
in the export's key order, after a version key::

    {"v":2,"slots":{"size":"large"},"utterance":"a large one","speech":"…","reprompt":null,
     "card":null,"directives":null,"error":null}

Every key is present (null when empty); JSON columns hold their JSON value, not its text. So an
export line takes everything between ``{"v":2,`` and ``,"error":`` as it is (the words sit
together in the line's column order) and the error value after it: no parse, no re-encoding. The
last ``,"error":`` is the error's key, because that value is a string or null, and a string holds
no unescaped quote.

Format 1 (rows sealed before) is ``{column: stored value}`` of the non-empty words, JSON columns as
their stored text; both are read.
"""

from __future__ import annotations

import json
from typing import Any

from ..record import JSON_COLUMNS, compact_json

__all__ = ["WORDS", "NO_WORDS", "V2", "ERROR", "plaintext", "words", "fragments"]

#: The sealed columns in the export's key order (``error`` comes later in a line, apart from the rest).
WORDS = ("slots", "utterance", "speech", "reprompt", "card", "directives", "error")
_JSON = frozenset(JSON_COLUMNS)
#: How format 2 starts, and the key before the error's value (see :func:`fragments`).
V2 = '{"v":2,'
ERROR = ',"error":'
_LOADS = json.JSONDecoder().decode
#: The fragments of a row with no words (or whose key is erased): every word null.
NO_WORDS = (",".join(f'"{c}":null' for c in WORDS[:-1]), "null")


def plaintext(stored: dict[str, Any]) -> bytes:
    """The format-2 text to seal, from the words' stored values (JSON columns as the ledger's canonical JSON text)."""
    parts = []
    for c in WORDS:
        v = stored.get(c)
        parts.append(f'"{c}":' + ("null" if v is None else v if c in _JSON else compact_json(v)))
    return ("{\"v\":2," + ",".join(parts) + "}").encode()


def words(text: bytes) -> dict[str, Any]:
    """The unsealed words as readers get them (JSON columns decoded), from either format."""
    got = _LOADS(text.decode())
    if got.pop("v", None) == 2:
        return got
    for c in _JSON:  # format 1: JSON columns as their stored text
        v = got.get(c)
        if isinstance(v, str):
            try:
                got[c] = _LOADS(v)
            except ValueError:
                pass
    return got


def fragments(text: bytes) -> tuple[str, str]:
    """The export line's pieces of one row: ``"slots":…,"directives":…`` and the error's JSON value."""
    s = text.decode()
    if s.startswith(V2):
        cut = s.rfind(ERROR)
        return s[7:cut], s[cut + 9:-1]
    got = words(text)
    parts = []
    for c in WORDS[:-1]:
        v = got.get(c)
        parts.append(f'"{c}":' + compact_json(v))
    return ",".join(parts), compact_json(got.get("error"))
