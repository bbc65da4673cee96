"""The PostgreSQL export's line: the compiled twin (``_jsonl.c``) against the Python code it mirrors, byte for byte."""

from __future__ import annotations

import json
import math
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.transcripts.postgres import crypto, jsonl, sealed
from skills_sdk.transcripts.record import split_kinds

needs_twin = pytest.mark.skipif(not jsonl.available(), reason="the compiled twin was not built")
KEY = AESGCM.generate_key(bit_length=256)
AWKWARD = ["", "plain", 'a "quoted" \\ back\\slash', "tab\tnew\nline\r\x08\x0c", "\x00\x01\x1f\x7f\x80",
           "ünïcödé", "日本語のテキスト", "emoji 🍕🎉 and \u2028\u2029 separators", "</script>&<>'", "x" * 5000]


def _sealed(kid: int, **words) -> bytes:
    stored = {c: (json.dumps(v, separators=(",", ":"), ensure_ascii=False) if c in ("slots", "card", "directives")
                  else v) for c, v in words.items()}
    return crypto.seal(KEY, sealed.plaintext(stored), str(kid).encode())


def _format_1(kid: int, **words) -> bytes:
    """Words as the first format sealed them: {column: stored value}, JSON columns as their text."""
    old = {c: (json.dumps(v, ensure_ascii=False) if c in ("slots", "card", "directives") else v)
           for c, v in words.items() if v is not None}
    return crypto.seal(KEY, json.dumps(old).encode(), str(kid).encode())


def _row(rid=1, *, at="2026-11-20T09:00:00.000Z", dev="dev-a", skill="notes", user="u1", session="S1",
         request="R1", rtype="IntentRequest", intent="NoteIntent", end=True, txn=None, locale="en-US",
         latency=12.5, status="ok", red="", mode="full", kid=7, blob=b"") -> tuple:
    return (rid, at, dev, skill, user, session, request, rtype, intent, end, txn, locale, latency, status, red, mode,
            kid, blob)


def _pack(rows: list[tuple]) -> list[bytes]:
    """The rows as a binary COPY sends them: one message a row, the file's header before the first, its end after."""
    out = []
    for row in rows:
        fields = [struct.pack("!h", len(row))]
        for kind, value in zip("qtttttttt?ttdtttqb", row, strict=True):
            if value is not None:
                value = value.encode() if kind == "t" else value if kind == "b" else struct.pack("!" + kind, value)
            fields.append(struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value)
        out.append(b"".join(fields))
    out[0] = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 3) + b"ext" + out[0]
    return [*out, struct.pack("!h", -1)]


def _both(rows: list[tuple], opened: dict | None = None) -> tuple[list[str], list[str]]:
    """The rows' lines by the Python code (from the rows as psycopg loads them) and by the twin (from their COPY messages)."""
    opened = {7: (AESGCM(KEY), b"7"), 8: None} if opened is None else opened
    args = (opened, jsonl.Encoded(split_kinds, {None: "[]"}), sealed.fragments)
    messages = _pack(rows)
    assert repr([jsonl.parse(m) for m in messages]) == repr([*rows, None])  # (repr: a NaN is not equal to itself)
    return jsonl.python_lines()(rows, *args), jsonl.formatter()(messages, *args) if jsonl.compiled() else []


def _awkward_rows() -> list[tuple]:
    rows = []
    for n, text in enumerate(AWKWARD):
        words = {"utterance": text, "speech": text[::-1], "reprompt": None if n % 2 else text,
                 "slots": {"size": {"value": text, "n": 2**70, "f": 0.1}}, "card": {"title": text, "list": [1, None]},
                 "directives": [{"type": "Hint", "text": text}] if n % 3 else None, "error": text if n % 2 else None}
        blob = _sealed(7, **words) if n % 4 else _format_1(7, **words)
        rows.append(_row(n, at=text, dev=text or None, skill=text, user=text, session=None if n % 2 else text,
                         request=text if n % 3 else None, rtype=text, intent=None if n % 5 else text, locale=text,
                         status=text, mode=text, blob=blob, end=[True, False, None][n % 3],
                         txn=[None, "", '{"amount":"9.50","note":"ü"}'][n % 3], red=[None, "", "CARD,PHONE"][n % 3]))
    for n, latency in enumerate([0.0, -0.0, 1e16, 1e-05, 123456.789, math.nan, math.inf, -math.inf, None, 5e-324,
                                 1.7976931348623157e308, 3.0]):
        rows.append(_row(2**62 + n, latency=latency, blob=_sealed(7, utterance="hi", speech=None)))
    rows.append(_row(-(2**63), blob=_sealed(7, utterance="least id")))  # a bigint's ends
    rows.append(_row(2**63 - 1, blob=_sealed(7, utterance="big id")))
    rows.append(_row(3, kid=8, blob=_sealed(8, utterance="erased")))  # an erased key: no words
    rows.append(_row(4, kid=9, blob=_sealed(9, utterance="unknown")))  # a key id never opened: no words
    rows.append(_row(5, kid=None, blob=None))  # metadata only
    rows.append(_row(6, kid=7, blob=None))
    return rows


@needs_twin
def test_compiled_lines_equal_the_python_lines_on_awkward_rows() -> None:
    rows = _awkward_rows()
    python, compiled = _both(rows)
    assert compiled == python
    got = [json.loads(line) for line in python]
    assert got[1]["utterance"] == AWKWARD[1] and got[4]["developer_id"] == AWKWARD[4]
    assert got[3]["utterance"] == AWKWARD[3]  # a format-1 row
    assert [g["latency_ms"] for g in got[len(AWKWARD):len(AWKWARD) + 4]] == [0.0, -0.0, 1e16, 1e-05]
    assert '"latency_ms":-0.0,' in python[len(AWKWARD) + 1] and '"latency_ms":NaN,' in python[len(AWKWARD) + 5]
    assert got[-6]["id"] == -(2**63) and got[-5]["id"] == 2**63 - 1
    assert [g["utterance"] for g in got[-4:]] == [None, None, None, None]


@needs_twin
@settings(max_examples=200, deadline=None)
@given(text=st.text(), other=st.one_of(st.none(), st.text()), latency=st.one_of(st.none(), st.floats()),
       rid=st.integers(min_value=-(2**63), max_value=2**63 - 1), end=st.sampled_from([True, False, None]))
def test_compiled_lines_equal_the_python_lines_on_any_text(text, other, latency, rid, end) -> None:
    rows = [_row(rid, at=text, dev=other, skill=text, user=text, session=other, request=other, rtype=other,
                 intent=other, end=end, txn=other, locale=other, latency=latency, status=other, red=other, mode=other,
                 blob=_sealed(7, utterance=text, speech=other, slots={"t": text}, error=other)),
            _row(rid, blob=_format_1(7, utterance=text, card={"t": other}))]
    python, compiled = _both(rows)
    assert compiled == python


@needs_twin
@pytest.mark.parametrize("field", ["at", "user"])
def test_a_missing_required_text_raises_the_same_error_on_both(field) -> None:
    rows = [_row(**{field: None})]
    with pytest.raises(TypeError) as python:
        jsonl.python_lines()(rows, {}, {}, sealed.fragments)
    with pytest.raises(TypeError) as compiled:
        jsonl.formatter()(_pack(rows), {}, {}, sealed.fragments)
    assert str(compiled.value) == str(python.value)


@pytest.mark.parametrize("code", ["compiled", "python"])
def test_a_message_that_is_not_an_export_row_is_refused_by_both(code, monkeypatch) -> None:
    if code == "compiled" and not jsonl.available():
        pytest.skip("the compiled twin was not built")
    monkeypatch.setattr(jsonl, "_compiled", code == "compiled")
    good = _pack([_row(blob=_sealed(7, utterance="hi"))])[0]
    for bad in (good[:-1], good + b"x", struct.pack("!h", 3) + good[2:], good[:30]):
        with pytest.raises((ValueError, struct.error)):
            jsonl.formatter()([bad], {}, {}, sealed.fragments)
    opened = {7: (AESGCM(KEY), b"7")}
    row = _pack([_row(kid=9, blob=b"x"), _row(kid=7, blob=b"y"), _row(kid=10, blob=None), _row(kid=11, blob=b"z")])
    assert jsonl.key_finder()(row, opened) == {9, 11}  # only the rows with words whose key is not open yet


def test_use_false_runs_the_python_code(monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "_compiled", jsonl.compiled())
    jsonl.use(False)
    assert not jsonl.compiled()
    assert jsonl.formatter() is not getattr(jsonl._jsonl, "lines", None)  # noqa: SLF001
    jsonl.use(True)
    assert jsonl.compiled() == jsonl.available()


@settings(max_examples=200, deadline=None)
@given(text=st.text(), other=st.one_of(st.none(), st.text()))
def test_a_reads_words_equal_sealed_words_in_both_formats(text, other) -> None:
    """The reads parse format 2 with json's scanner alone (reads._words): the same words as sealed.words."""
    from skills_sdk.transcripts.postgres import reads

    for words in [{"utterance": t, "speech": o, "slots": {"t": t, "n": [1, 2.5, None]}, "card": {"o": o}, "error": o}
                  for t, o in [(text, other), *((a, AWKWARD[-n]) for n, a in enumerate(AWKWARD, 1))]]:
        for blob in (_sealed(7, **words), _format_1(7, **words)):
            opened = crypto.unseal(KEY, blob, b"7")
            assert reads._words(opened) == sealed.words(opened)  # noqa: SLF001
            assert "v" not in reads._words(opened)  # noqa: SLF001
