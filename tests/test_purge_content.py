"""A purge's and an erasure's rows' content, built without json_patch, is the capture's content text exactly."""

from __future__ import annotations

import pytest

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.sqlite.chain import _CONTENT_LEAN, RETURNING_CONTENT, returning_content
from skills_sdk.transcripts.sqlite.content import CONTENT


def row(value, **kw):
    base = {"developer_id": "acme", "skill": "pizza", "user_id": "u", "session_id": "s", "request_id": "r",
            "request_type": "IntentRequest", "speech": value, "utterance": value}
    return {**base, **kw}


@pytest.mark.parametrize("value", ["plain", "quote \" back \\ slash", "tab\tnew\nline\x01\x1f\x7f", "é 漢 \u2028 🍕",
                                   "", None, "{\"json\": [1, 2.5e-300]}"])
def test_the_lean_content_is_the_contents_text_exactly(value):
    # A purge's tombstone digests its rows' content as the capture did: one byte apart, verify fails.
    store = TranscriptStore(":memory:")
    store.record(row(value, latency_ms=12.345, slots={"a": value}))
    store.record(row(value, latency_ms=1e20, status=None))
    store.record(row(value, latency_ms=-0.000123456789, end_session=True))
    store.conn.execute("UPDATE transcripts SET latency_ms = 0.1 + 0.2, intent = 7 WHERE id = 1")  # around the store
    got = store.conn.execute(f"SELECT {CONTENT}, {_CONTENT_LEAN} FROM transcripts").fetchall()
    assert len(got) == 3
    for plain, lean in got:
        assert lean == plain


def test_this_sqlite_gets_the_lean_content_and_a_purged_ledger_verifies(tmp_path):
    from skills_sdk.transcripts.retention import purge

    store = TranscriptStore(tmp_path / "t.db")
    assert returning_content(store.conn) != RETURNING_CONTENT  # SQLite 3.44+ (the bundled one is)
    store.record_many([row(f"row {i}", created_at=f"2026-09-0{1 + i % 3}T10:00:00.000Z") for i in range(30)])
    report = purge(store, default_days=0, now="2026-09-03T00:00:00.000Z")
    assert report["deleted"] == 20
    assert store.verify_chain().ok
    store.close()
