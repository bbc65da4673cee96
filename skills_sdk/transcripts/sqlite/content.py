"""A transcript row's content text, as SQLite spells it, and its keyed digest: the input of the row's seal.

:data:`CONTENT` is the text in SQL (verify, a purge's and an erasure's tombstones read it back);
:func:`content_utf8` makes the same text from the values a capture has in hand; :func:`row_digest` is
its HMAC under the database's secret, and :func:`values_digest` the two at once, what a capture
seals its row with. The Python here is the specification; ``_content.c`` makes the text and the
digest where it was built (and found hashlib's SHA-256), and the seal's SQL function too
(:func:`define_seal_in_c`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from ..record import COLUMNS, INSERT_COLUMNS, compact_json, picker
from .driver import library, sqlite3

try:  # the content text in C, where pip built it (setup.py); else the Python below, the same text
    from . import _content as _compiled  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - an install without a C compiler
    _compiled = None

__all__ = ["CONTENT", "HEADS", "KINDS", "PROBE", "available", "content_in_python", "content_of", "content_utf8",
           "define_seal_in_c", "digest_compiled", "row_digest", "seal_compiled", "values_digest"]


def available() -> bool:
    """Whether the compiled twin (``_content.c``) was built: then it writes a capture's content text."""
    return _compiled is not None


# The row's content as SQLite stores it, in one deterministic text: every column but the id that
# holds a value, by name (json_patch drops the NULL ones, so a column added by a later version
# leaves old rows' digests as they were). The same expression digests a row when it is written
# and when it is checked.
CONTENT = "json_patch('{}', json_object(" + ", ".join(f"'{c}', \"{c}\"" for c in INSERT_COLUMNS) + "))"


# The same text built in Python from the values just inserted, which saves the capture a SELECT
# of the row it has in hand (a fifth of its cost). Only where the result is certain: each value
# of its column's storage type (so SQLite's type affinity changes nothing), a text escaped as
# SQLite escapes it (json.dumps with ensure_ascii=False does exactly that, every code point
# checked), and a float whose shortest spelling has at most 15 significant digits in fixed
# notation (SQLite prints "%!.15g", which then equals Python's repr; longer ones round
# differently). Anything else, and any SQLite whose rendering differs from this on the probe
# row below, takes the SELECT.
KINDS = tuple(COLUMNS[c] for c in INSERT_COLUMNS)
PROBE = tuple({str: "\"q\" \\ \n\t\x01\x7f é \u2028 \U0001f355", int: 1, float: 12.345}[k] for k in KINDS)
_python_content_ok: dict[type, bool] = {}
#: For each tuple of the values' types seen so far: which columns the content names, how to pick
#: their values, which of them are floats to check, and the names spelled with their punctuation
#: for ``_content.c`` (``b'{"created_at":'``, ``b',"developer_id":'``, ..., ``b'}'``); None when a
#: value is not of its column's storage type. Rows of a skill have few shapes, so a capture looks
#: its shape up instead of testing 22 values one by one.
_Shape = tuple[tuple[str, ...], Callable[[Sequence[Any]], Any], tuple[int, ...], tuple[bytes, ...]]
_shapes: dict[tuple[type, ...], _Shape | None] = {}


def _shape_of(values: Sequence[Any]) -> _Shape | None:
    """The shape of ``values`` whose content is certain (floats checked), or None: SQLite must say."""
    types = tuple(map(type, values))
    try:
        shape = _shapes[types]
    except KeyError:
        shape = _shape(types)
        if len(_shapes) < 256:
            _shapes[types] = shape
    if shape is None:
        return None
    for i in shape[2]:
        if not _exact_float(values[i]):
            return None
    return shape


def content_of(values: Sequence[Any]) -> str | None:
    """What :data:`CONTENT` gives for a row just inserted with ``values`` (INSERT_COLUMNS order), or None."""
    shape = _shape_of(values)
    return None if shape is None else _text(shape, values)


def content_utf8(values: Sequence[Any]) -> bytes | None:
    """:func:`content_of` as UTF-8 (what the digest hashes), written by ``_content.c`` where it was built."""
    shape = _shape_of(values)
    if shape is None:
        return None
    if _compiled is None:
        return _text(shape, values).encode()
    return _compiled.content(shape[3], shape[1](values))


def _text(shape: _Shape, values: Sequence[Any]) -> str:
    return compact_json(dict(zip(shape[0], shape[1](values), strict=True)))


def _shape(types: tuple[type, ...]) -> _Shape | None:
    """How :func:`content_of` reads values of these types, or None when one is not its column's storage type."""
    if len(types) != len(INSERT_COLUMNS):
        raise ValueError(f"a row has {len(INSERT_COLUMNS)} values, got {len(types)}")
    kept = [i for i, t in enumerate(types) if t is not type(None)]
    for i in kept:
        t, kind = types[i], KINDS[i]
        if t is not kind and not (kind is str and issubclass(t, str)):
            return None
    names = tuple(INSERT_COLUMNS[i] for i in kept)
    keys = tuple(("{" if j == 0 else ",").encode() + compact_json(name).encode() + b":" for j, name in enumerate(names))
    return names, picker(kept), tuple(i for i in kept if types[i] is float), (*keys, b"}" if keys else b"{}")


def _exact_float(v: float) -> bool:
    """True when SQLite's ``%!.15g`` of ``v`` is Python's repr: fixed notation, at most 15 significant digits."""
    a = abs(v)
    return 1e-4 <= a < 1e15 and len(repr(a).replace(".", "").strip("0")) <= 15


def content_in_python(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite renders a row's content as :func:`content_of` and :func:`content_utf8` do (asked once per driver)."""
    ok = _python_content_ok.get(type(conn))
    if ok is None:
        sql = "SELECT json_patch('{}', json_object(" + ", ".join(f"'{c}', ?" for c in INSERT_COLUMNS) + "))"
        text = conn.execute(sql, PROBE).fetchone()[0]
        ok = _python_content_ok[type(conn)] = text == content_of(PROBE) and text.encode() == content_utf8(PROBE)
    return ok


def row_digest(secret: bytes, content: str | bytes) -> str:
    """HMAC-SHA256 of a row's content text (or its UTF-8) under the database's ``secret``, in hex.

    >>> row_digest(b"k", '{"a":1}') == row_digest(b"k", b'{"a":1}')
    True
    """
    # Keyed, so a removed row's digest cannot be matched against guesses of what it said
    # without the database's secret. HMAC-SHA256 spelled out from the key's two padded states,
    # hashed once per secret: hmac.new() set them up again for every row (4.5 of its 6 us).
    pads = _pads.get(secret)
    if pads is None:
        key = (hashlib.sha256(secret).digest() if len(secret) > 64 else secret).ljust(64, b"\0")
        pads = _pads[secret] = (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))
    inner, outer = pads[0].copy(), pads[1].copy()
    inner.update(content if type(content) is bytes else content.encode())
    outer.update(inner.digest())
    return outer.hexdigest()


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_pads: dict[bytes, tuple[Any, Any]] = {}


#: Each column's name as the content text spells it before its value (``b'"speech":'``), for ``_content.c``.
HEADS = tuple(compact_json(name).encode() + b":" for name in INSERT_COLUMNS)
_Digest = Callable[[Sequence[Any]], "str | None"]
_digests: dict[bytes, _Digest] = {}


def values_digest(secret: bytes, values: Sequence[Any]) -> str | None:
    """``row_digest(secret, content_utf8(values))``, or None where :func:`content_utf8` is None.

    >>> values_digest(b"k", PROBE) == row_digest(b"k", content_utf8(PROBE))
    True

    One call of ``_content.c`` where it hashes (:func:`digest_compiled`): the row's shape, its
    floats' spellings, the content text and the HMAC in C, the key's padded states hashed once per
    secret. The same in Python cost a capture some 33,000 instructions besides the hashing.
    """
    digest = _digests.get(secret)
    if digest is None:
        if _hashing:
            digest = _compiled.Key(secret, HEADS, KINDS).digest
        else:
            def digest(values: Sequence[Any]) -> str | None:
                content = content_utf8(values)
                return None if content is None else row_digest(secret, content)
        if len(_digests) < 64:
            _digests[secret] = digest
    return digest(values)


def digest_compiled() -> bool:
    """Whether ``_content.c`` digests a capture's row (built, hashlib's SHA-256 found, the probe row's digest the same)."""
    return _hashing


def seal_compiled() -> bool:
    """Whether ``_content.c`` defines the seal's SQL function (it hashes, and found the driver's SQLite functions)."""
    return _sealing


def define_seal_in_c(conn: sqlite3.Connection) -> bool:
    """Define ``skills_seal(id, digest)`` (:func:`.seal.seal_sql`) on ``conn`` in C; False where ``_content.c`` cannot."""
    if not _sealing or not isinstance(conn, sqlite3.Connection):  # (the module reads the driver's own object)
        return False
    _compiled.define_seal(conn)
    return True


def _bind() -> tuple[bool, bool]:
    """Whether ``_content.c`` can hash (SHA-256 from hashlib's own libcrypto) and define SQL functions (the driver's SQLite)."""
    if _compiled is None:
        return False, False
    try:
        import _hashlib  # the OpenSSL hashlib runs: no libcrypto linked into _content.c, no header to build it

        _compiled.bind_hashing(_hashlib.__file__)
    except (ImportError, OSError, AttributeError):  # a Python without OpenSSL, a libcrypto without SHA256_Init
        return False, False
    probe = _text(_shape(tuple(map(type, PROBE))), PROBE).encode()  # type: ignore[arg-type]
    if _compiled.Key(b"probe", HEADS, KINDS).digest(PROBE) != row_digest(b"probe", probe):
        return False, False  # pragma: no cover - a libcrypto whose SHA256_CTX is not OpenSSL's
    try:
        _compiled.bind_sqlite(library())
    except (OSError, KeyError, AttributeError, TypeError):  # no SQLite functions to find
        return True, False
    return True, True


_hashing, _sealing = _bind()
