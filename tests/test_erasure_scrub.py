"""Erasure in two steps: the rows are unreadable at the reply; the index and the log are scrubbed after, even across a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from _privacy_kit import (
    ALICE,
    BOB,
    fts_integrity_check,
    fts_rowids,
    ledger,  # noqa: F401 (the fixture)
    marker,
    occurrences,
    scrubbed_later,
    speak,
)

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.query import TranscriptFilter, fts_query, scope_where
from skills_sdk.transcripts.sqlite.fts import index_pending
from skills_sdk.transcripts.sqlite.search import _text_page


def said(store, host, n: int = 4) -> tuple[list[str], str]:
    """Alice says ``n`` markers (captured word for word) and Bob one; all indexed and in the database file."""
    store.set_capture_mode(ALICE, "full")
    mine = [marker() for _ in range(n)]
    for i, m in enumerate(mine):
        speak(host, "notes" if i % 2 else "shop", ALICE, m)
    theirs = marker()
    speak(host, "notes", BOB, theirs)
    assert index_pending(store.db.conn) == n + 1
    store.checkpoint("PASSIVE")
    return mine, theirs


def stale_search(store, words: str, developer_id: str | None, user_id: str | None) -> list[dict]:
    """A search page read straight from the full-text tables as they stand (no queued change applied first)."""
    f = TranscriptFilter(q=fts_query(words))
    clauses, params = scope_where(f, developer_id, user_id)
    return _text_page(store.db.conn, f, clauses, params, developer_id, None, 10)[0]


def test_the_rows_are_unreadable_at_the_reply_and_leave_no_byte_once_scrubbed(ledger):
    store, host, path = ledger
    mine, theirs = said(store, host)

    receipt = store.erase_user(ALICE, scrub=False)

    assert receipt["transcripts"] == 4 and receipt["scrubbed"] is False
    places = {m["place"]: m["what"] for m in receipt["manifest"]["removed"]}
    assert "point at nothing" in places["search index"] and places["write-ahead log"].startswith("Not yet")
    # Their index entries are still there, and no read returns anything of theirs.
    assert fts_rowids(store, f'"{mine[0]}"') != []
    for scope in (("dev-a", None), ("dev-b", None), (None, ALICE)):
        assert [stale_search(store, m, *scope) for m in mine] == [[]] * len(mine)
    assert [r["user_id"] for r in stale_search(store, theirs, "dev-a", None)] == [BOB]
    assert store.count(user_id=ALICE) == 0 and store.user_history(ALICE) == []
    assert not any(m in line for line in store.iter_jsonl() for m in mine)
    assert store.search(mine[0], user_id=ALICE)[0] == []
    assert [r["scrubbed"] for r in store.receipts(user_id=ALICE)] == [False]

    assert store.finish_scrubs() is True

    assert [r["scrubbed"] for r in store.receipts(user_id=ALICE)] == [True]
    assert fts_rowids(store, f'"{mine[0]}"') == []
    assert [m for m in mine if occurrences(path, m)] == []
    assert occurrences(path, theirs) > 0
    fts_integrity_check(store)


def test_a_started_ledger_answers_before_the_scrub_and_its_thread_finishes_it(ledger):
    store, host, path = ledger
    mine, theirs = said(store, host)
    store.start()

    receipt = store.erase_user(ALICE)

    assert receipt["scrubbed"] is False and store.count(user_id=ALICE) == 0
    assert scrubbed_later(store, receipt["receipt_id"])
    assert [m for m in mine if occurrences(path, m)] == []
    assert occurrences(path, theirs) > 0


_ERASE_THEN_DIE = """
import os, signal, sys
from skills_sdk.transcripts import TranscriptStore
store = TranscriptStore(sys.argv[1])
store.erase_user(sys.argv[2], scrub=False)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crash_between_the_erasure_and_its_scrub_is_finished_by_the_next_start(ledger):
    store, host, path = ledger
    mine, theirs = said(store, host)
    store.close()

    died = subprocess.run([sys.executable, "-c", _ERASE_THEN_DIE, str(path), ALICE], capture_output=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=60)

    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    after = TranscriptStore(path)
    try:
        (receipt,) = after.receipts(user_id=ALICE)
        assert receipt["scrubbed"] is False and after.count(user_id=ALICE) == 0
        assert all(occurrences(path, m) for m in mine)  # the scrub was owed: their words are still in the files
        after.start()
        assert scrubbed_later(after, receipt["receipt_id"])
        assert [m for m in mine if occurrences(path, m)] == []
        assert occurrences(path, theirs) > 0
        fts_integrity_check(after)
    finally:
        after.stop()


def test_the_cli_scrubs_before_it_exits(ledger):
    from click.testing import CliRunner

    from skills_sdk.cli import main

    store, host, path = ledger
    mine, _ = said(store, host)

    result = CliRunner().invoke(main, ["transcripts", "erase", "--db", str(path), "--user", ALICE])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scrubbed"] is True
    assert [m for m in mine if occurrences(path, m)] == []


def test_a_scrub_that_fails_on_the_background_thread_is_tried_again(ledger, monkeypatch):
    from skills_sdk.transcripts.sqlite import erasure
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    store, host, path = ledger
    mine, _ = said(store, host)
    real, calls = erasure.finish_scrubs, []

    def busy_once(*args, **kwargs):
        calls.append(kwargs.get("conn"))
        if len(calls) == 2:  # the first tick's check finds nothing owed; the erasure's tick fails
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(erasure, "finish_scrubs", busy_once)
    store.start()
    deadline = time.monotonic() + 15
    while not calls and time.monotonic() < deadline:  # the first tick's check
        time.sleep(0.05)
    assert calls

    receipt = store.erase_user(ALICE)

    assert receipt["scrubbed"] is False
    assert scrubbed_later(store, receipt["receipt_id"]) and len(calls) >= 3
    assert [m for m in mine if occurrences(path, m)] == []
