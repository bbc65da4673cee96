"""Paging a developer's transcripts through a time window: every row once, newest first, in any id order."""

from __future__ import annotations

import random

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.search import iter_search, parse_filters, search


def _ledger(n: int = 400) -> TranscriptStore:
    store = TranscriptStore(":memory:")
    rng = random.Random(7)
    rows = []
    for i in range(n):
        # Imported rows: created_at is not in id order, and many share a timestamp.
        minute = rng.randrange(0, 180)
        rows.append({"developer_id": "dev-a" if i % 3 else "dev-b", "skill": "pizza", "user_id": f"u{i % 17}",
                     "created_at": f"2026-11-28T{minute // 60:02d}:{minute % 60:02d}:00.000Z", "speech": f"row {i}"})
    store.record_many(rows)
    return store


def test_time_window_pages_return_every_row_once_newest_first():
    store = _ledger()
    filters = parse_filters({"since": "2026-11-28T00:30:00Z", "until": "2026-11-28T02:30:00Z"})
    seen = list(iter_search(store, filters, developer_id="dev-a", batch=7))
    expected = [r for r in store.iter_transcripts(developer_id="dev-a")
                if "2026-11-28T00:30:00.000Z" <= r["created_at"] < "2026-11-28T02:30:00.000Z"]
    assert sorted(r["id"] for r in seen) == sorted(r["id"] for r in expected)
    assert len({r["id"] for r in seen}) == len(seen)
    keys = [(r["created_at"], r["id"]) for r in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(r["developer_id"] == "dev-a" for r in seen)


def test_time_window_first_page_is_the_newest_rows():
    store = _ledger()
    filters = parse_filters({"since": "2026-11-28T00:00:00Z"})
    rows, last = search(store, filters, developer_id="dev-b", limit=10)
    newest = sorted(((r["created_at"], r["id"]) for r in store.iter_transcripts(developer_id="dev-b")), reverse=True)
    assert [(r["created_at"], r["id"]) for r in rows] == newest[:10]
    assert last == rows[-1]["id"]
