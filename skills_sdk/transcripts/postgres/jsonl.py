"""A stored row's export line: the Python code, which is the specification, and its compiled twin (``_jsonl.c``).

:func:`formatter` gives the function that turns rows of the export's columns into their lines;
both give the same text byte for byte (the tests compare them on awkward values). The C twin is
built by ``pip install`` where a C compiler is found (``setup.py``) and skipped where none is;
:func:`compiled` says which runs. ``SKILLS_EXPORT_PURE=1`` in the environment before the import,
or :func:`use` with ``False``, runs the Python code even where the twin was built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from . import sealed as sealed_words

__all__ = ["PURE_ENV", "Lines", "available", "compiled", "formatter", "python_lines", "use"]

#: The environment variable that makes the export run its Python code only.
PURE_ENV = "SKILLS_EXPORT_PURE"
#: Rows of ``export._COLUMNS`` in, their lines out: ``(rows, opened, kinds, fragments) -> list[str]``.
Lines = Callable[[list[tuple[Any, ...]], dict[Any, Any], dict[Any, str], Callable[[bytes], tuple[str, str]]],
                 list[str]]

_ENCODE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # json's own (C) string encoder
_BOOL = {True: "true", False: "false", None: "null"}
#: Distinct values kept encoded per low-variety column (skills, intents, locales, latencies...): a bound for odd data.
MEMO = 65536
_V2, _ERROR = sealed_words.V2, sealed_words.ERROR

try:
    from . import _jsonl
except ImportError:  # built without a compiler: the Python code runs
    _jsonl: Any = None


class Encoded(dict):  # type: ignore[type-arg]
    """Values of low-variety columns (skills, intents, locales…) and their JSON, made on first sight."""

    def __init__(self, encode: Callable[[Any], str], first: dict[Any, str] | None = None) -> None:
        super().__init__(first or {None: "null"})
        self.encode = encode
        self.first = dict(self)

    def __missing__(self, value: Any) -> str:
        text = self[value] = self.encode(value)
        return text

    def reset(self) -> None:
        """Forget all but the first values once there are more than :data:`MEMO`."""
        if len(self) > MEMO:
            self.clear()
            self.update(self.first)


def number(value: float | None) -> str:
    """A float as Python's json writes it (``repr``; NaN and the infinities by their JSON-ish names), or null."""
    if value is None:
        return "null"
    text = repr(value)
    return text if text[-1].isdigit() else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[text]


def python_lines() -> Lines:
    """The line in Python: a function of rows with its own memos of the low-variety columns' JSON.

    ``opened`` maps a key id to ``(AESGCM(key), aad)`` (None for an erased key: the row exports without
    words), ``kinds`` a stored ``redacted`` text to its JSON list, ``fragments`` is
    :func:`.sealed.fragments` for words sealed in format 1.
    """
    encode, memo, numbers = _ENCODE, Encoded(_ENCODE), Encoded(number)
    no_words, nulls = sealed_words.NO_WORDS, (None, None)

    def lines(rows: list[tuple[Any, ...]], opened: dict[Any, Any], kinds: dict[Any, str],
              fragments: Callable[[bytes], tuple[str, str]]) -> list[str]:
        memo.reset()
        numbers.reset()
        out = []
        for rid, at, dev, skill, user, session, request, rtype, intent, end, txn, locale, latency, status, red, \
                mode, kid, sealed in rows:
            aead, aad = opened.get(kid) or nulls if sealed is not None else nulls
            if aead is None:
                said, error = no_words
            else:
                text = aead.decrypt(sealed[:12], sealed[12:], aad).decode()
                if text.startswith(_V2):  # sealed.fragments, inline: most of the rows of an export
                    cut = text.rfind(_ERROR)
                    said, error = text[7:cut], text[cut + 9:-1]
                else:
                    said, error = fragments(text.encode())
            # (0.0 and -0.0 are one key of a dict: they, and None, are written without the memo)
            out.append(f'{{"id":{rid},"created_at":{encode(at)},"developer_id":{memo[dev]},"skill":{memo[skill]},'
                       f'"user_id":{encode(user)},"session_id":{"null" if session is None else encode(session)},'
                       f'"request_id":{"null" if request is None else encode(request)},"request_type":{memo[rtype]},'
                       f'"intent":{memo[intent]},{said},"end_session":{_BOOL[end]},"transaction":{txn or "null"},'
                       f'"locale":{memo[locale]},"latency_ms":{numbers[latency] if latency else number(latency)},'
                       f'"status":{memo[status]},"error":{error},"redacted":{kinds[red]},"capture_mode":{memo[mode]}}}')
        return out

    return lines


def available() -> bool:
    """Whether the compiled twin was built for this interpreter."""
    return _jsonl is not None


def compiled() -> bool:
    """Whether exports started now run the compiled twin."""
    return _compiled


def use(compiled: bool) -> None:
    """Run the compiled twin (``True``, where :func:`available`) or the Python code (``False``)."""
    global _compiled
    _compiled = compiled and _jsonl is not None


def formatter() -> Lines:
    """The function an export formats its rows with: the compiled twin, or a fresh :func:`python_lines`."""
    return _jsonl.lines if _compiled else python_lines()


_compiled = False
use(os.environ.get(PURE_ENV, "") in ("", "0"))
