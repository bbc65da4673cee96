"""A stored row's export line: the Python code, which is the specification, and its compiled twin (``_jsonl.c``).

The export reads rows as a binary ``COPY`` sends them, one message a row (:func:`parse` reads
one). :func:`formatter` gives the function that turns such messages into their lines, and
:func:`key_finder` the one that lists the data keys they need; the Python code and the twin give
the same text byte for byte (the tests compare them on awkward values). The C twin is
built by ``pip install`` where a C compiler is found (``setup.py``) and skipped where none is;
:func:`compiled` says which runs. ``SKILLS_EXPORT_PURE=1`` in the environment before the import,
or :func:`use` with ``False``, runs the Python code even where the twin was built.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from typing import Any

from . import sealed as sealed_words

__all__ = ["PURE_ENV", "Lines", "available", "compiled", "formatter", "key_finder", "parse", "python_lines", "use"]

#: The environment variable that makes the export run its Python code only.
PURE_ENV = "SKILLS_EXPORT_PURE"
#: Rows in, their lines out: ``(rows, opened, kinds, fragments) -> list[str]`` (rows as tuples of
#: ``export._COLUMNS`` for :func:`python_lines`, as ``COPY`` messages for :func:`formatter`'s).
Lines = Callable[[list[Any], dict[Any, Any], dict[Any, str], Callable[[bytes], tuple[str, str]]],
                 list[str]]

_ENCODE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # json's own (C) string encoder
_BOOL = {True: "true", False: "false", None: "null"}
#: Distinct values kept encoded per low-variety column (skills, intents, locales, latencies...): a bound for odd data.
MEMO = 65536
_V2, _ERROR = sealed_words.V2, sealed_words.ERROR
#: What starts a binary COPY (its first message): the signature, flags, the header extension's length.
_HEADER = struct.Struct("!11sii")
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
#: How each of ``export._COLUMNS`` is sent in binary: a 64-bit integer, text, a bool, a double, bytes.
_TYPES = "q" + "t" * 8 + "?" + "tt" + "d" + "ttt" + "qb"

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


def parse(message: bytes | memoryview) -> tuple[Any, ...] | None:
    """One row of a binary ``COPY`` of ``export._COLUMNS`` (one message), as psycopg loads it; None for the stream's end.

    >>> parse(bytes.fromhex("ffff")) is None
    True
    """
    message, at = bytes(message), 0  # (psycopg gives a memoryview)
    if message.startswith(_SIGNATURE):
        at = _HEADER.size + _HEADER.unpack_from(message)[2]
    (fields,), at = struct.unpack_from("!h", message, at), at + 2
    if fields == -1 and at == len(message):
        return None
    if fields != len(_TYPES):
        raise ValueError(f"a COPY message that is not a row of the export's {len(_TYPES)} columns")
    row: list[Any] = []
    for kind in _TYPES:
        (n,), at = struct.unpack_from("!i", message, at), at + 4
        value = None if n == -1 else message[at:at + n]
        at += max(n, 0)
        if value is not None and kind == "t":
            value = value.decode()
        elif value is not None and kind != "b":
            (value,) = struct.unpack("!" + kind, value)
        row.append(value)
    if at != len(message):
        raise ValueError(f"a COPY message that is not a row of the export's {len(_TYPES)} columns")
    return tuple(row)


def _python_copy_lines() -> Lines:
    """:func:`python_lines` of :func:`parse`'s rows (the stream's end left out)."""
    lines = python_lines()
    return lambda messages, *args: lines([r for r in map(parse, messages) if r is not None], *args)


def _python_key_ids(messages: list[bytes], opened: dict[Any, Any]) -> set[int]:
    return {r[16] for r in map(parse, messages) if r is not None and r[17] is not None and r[16] is not None
            and r[16] not in opened}


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
    """The function an export formats its ``COPY`` messages with: the compiled twin, or a fresh Python one."""
    return _jsonl.lines if _compiled else _python_copy_lines()


def key_finder() -> Callable[[list[bytes], dict[Any, Any]], set[int]]:
    """``(messages, opened) -> set``: the key ids of the rows with words whose key is not in ``opened``."""
    return _jsonl.key_ids if _compiled else _python_key_ids


_compiled = False
use(os.environ.get(PURE_ENV, "") in ("", "0"))
