"""A capture's digest, seal and INSERT made with C (``_content.c``) are the Python specification's, byte for byte."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite import content, inserts, seal
from skills_sdk.transcripts.sqlite.content import HEADS, KINDS, PROBE, content_of, row_digest, values_digest
from skills_sdk.transcripts.sqlite.driver import sqlite3
from skills_sdk.transcripts.sqlite.seal import seal_of, seal_sql

compiled = pytest.mark.skipif(not content.digest_compiled(), reason="_content.c was not built or found no SHA-256 "
                                                                     "(test_compiled_modules says why)")


def python_digest(secret: bytes, values) -> str | None:
    """The specification: the content text in Python, its HMAC with hashlib's."""
    text = content_of(values)
    return None if text is None else hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


_VALUE = {str: st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),  # quotes, controls, any plane
          int: st.integers(-2**70, 2**70), float: st.floats(1e-4, 1e15) | st.floats(-1e15, -1e-4)}
# Values only SQLite can spell for sure: floats out of fixed notation or past 15 digits, a bool in an
# INTEGER column, a value of another column's type.
_ODD = st.floats(allow_nan=True) | st.booleans() | st.sampled_from(["", 0, 1.5, 1e300, 123456789.123456789])


@compiled
@settings(max_examples=500, deadline=None)
@given(secret=st.binary(max_size=130), values=st.tuples(*(st.none() | _VALUE[kind] | _ODD for kind in KINDS)),
       as_list=st.booleans())
def test_the_compiled_digest_of_a_row_is_the_python_one(secret, values, as_list):
    # A capture's seal is made of this digest; verify recomputes it from the stored row in Python.
    key = content._compiled.Key(secret, HEADS, KINDS)
    assert key.digest(list(values) if as_list else values) == python_digest(secret, values)


@compiled
@settings(max_examples=200, deadline=None)
@given(secret=st.binary(max_size=130), data=st.binary(max_size=300))
def test_the_compiled_hmac_is_hmac_sha256(secret, data):
    assert content._compiled.Key(secret, HEADS, KINDS).hmac(data) == hmac.new(secret, data, hashlib.sha256).hexdigest()


def test_a_row_of_the_wrong_length_is_refused_naming_both_lengths():
    with pytest.raises(ValueError, match=f"a row has {len(KINDS)} values, got 2"):
        values_digest(b"k", ("a", "b"))


def test_values_digest_is_the_row_digest_of_the_content_text():
    assert values_digest(b"k", PROBE) == row_digest(b"k", content_of(PROBE)) == python_digest(b"k", PROBE)
    assert values_digest(b"k", (None,) * len(KINDS)) == python_digest(b"k", (None,) * len(KINDS))


def _sealing_conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    seal.define_seal(conn)
    return conn


@settings(max_examples=300, deadline=None)
@given(rid=st.integers(-2**63, 2**63 - 1),
       digest=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80))
def test_the_seal_in_sql_is_seal_of(rid, digest):
    # The seal a capture's INSERT writes (in C where built) is what verify checks with seal_of. (A
    # digest is hex; the driver hands a Python function's text only up to a NUL, so none is drawn.)
    conn = _sealing_conn()
    assert conn.execute("SELECT skills_seal(?, ?)", (rid, digest)).fetchone()[0] == seal_of(rid, digest)
    assert conn.execute("SELECT skills_seal(?, NULL)", (rid,)).fetchone()[0] is None


@pytest.mark.parametrize("args", [("1", "ab"), (1, b"ab"), (1, 2)])
def test_a_seal_of_anything_but_an_integer_id_and_a_text_digest_is_an_error(args):
    with pytest.raises(sqlite3.OperationalError):
        _sealing_conn().execute("SELECT skills_seal(?, ?)", args).fetchone()
    with pytest.raises((TypeError, AttributeError)):  # the Python twin refuses them too
        seal_sql(*args)


@compiled
def test_a_ledgers_connections_seal_in_c():
    assert content.define_seal_in_c(sqlite3.connect(":memory:"))
    assert seal._c_seal_ok.get(sqlite3.Connection) is not False


def test_rows_sealed_in_python_and_in_c_are_the_same_and_verify(tmp_path, monkeypatch):
    rows = [{"developer_id": "d", "skill": "s", "user_id": f"u{i}", "speech": f'say "{i}" é\n', "latency_ms": 12.5 + i,
             "end_session": i % 2, "created_at": "2026-01-01T00:00:00.000Z"} for i in range(5)]
    sealed = []
    for in_c in (True, False):
        if not in_c:  # what an install without the compiled module runs
            monkeypatch.setattr(content, "_hashing", False)
            monkeypatch.setattr(content, "_sealing", False)
            monkeypatch.setattr(content, "_digests", {})
        store = TranscriptStore(tmp_path / f"{in_c}.db")
        store.conn.execute("UPDATE privacy_meta SET value = ? WHERE name = 'secret'", ("ab" * 32,))
        store._privacy_secret = None
        for row in rows:
            store.record(row)
        sealed.append(store.conn.execute("SELECT id, seal FROM transcripts ORDER BY id").fetchall())
        assert store.verify_chain().ok
        store.close()
    assert sealed[0] == sealed[1]


@pytest.mark.skipif(inserts._present is None, reason="_content.c was not built (test_compiled_modules says why)")
@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.none() | st.integers() | st.text(max_size=3) | st.booleans(), min_size=len(KINDS),
                       max_size=len(KINDS)), as_tuple=st.booleans())
def test_a_captures_insert_names_the_same_columns_with_the_values_found_in_c(values, as_tuple):
    given_values = tuple(values) if as_tuple else values
    found = inserts.insert_by_shape(given_values, "SELECT 7")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(inserts, "_present", None)  # what an install without the compiled module runs
        assert found == inserts.insert_by_shape(given_values, "SELECT 7")
