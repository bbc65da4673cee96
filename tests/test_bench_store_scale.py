"""The store-at-scale benchmark runs end to end at a tiny size and reports every figure; JSONL export is exact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skills_sdk.transcripts import TranscriptStore

ROOT = Path(__file__).resolve().parents[1]

FIGURES = [
    "rows", "capture_us", "capture_rows_per_s", "bulk_rows_per_s", "raw_sqlite_rows_per_s", "bulk_vs_raw",
    "user_history_p50_ms", "user_history_p99_ms", "dev_page_p50_ms", "dev_page_p99_ms",
    "session_p50_ms", "session_p99_ms", "fts_p50_ms", "fts_p99_ms", "erase_1000_ms", "erase_1000_max_ms", "erase_rows",
    "capture_p50_us", "capture_p99_us", "capture_unchained_p50_us", "chain_cost_p50_us", "verify_rows_per_s",
    "purge_day_ms", "purge_day_rows", "export_rows_per_s", "export_rows", "export_peak_rss_mb",
    "export_day_peak_rss_mb", "bytes_per_row", "bytes_per_row_no_fts", "open_ms", "schema_objects", "developers",
    "dirty_mb_before", "sync_before_ms", "fts_merge_steps", "fts_warm_ms",
]


def test_benchmark_reports_every_figure_at_a_tiny_size(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "store_scale.py"), "--rows", "2000", "--queries", "20",
         "--db", str(tmp_path / "ledger.db")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    missing = [k for k in FIGURES if figures.get(k) is None]
    assert not missing, f"figures without a value: {missing}"
    assert figures["rows"] > 1500 and figures["erase_rows"] > 0 and figures["purge_day_rows"] > 0
    assert figures["bytes_per_row"] > figures["bytes_per_row_no_fts"] > 0
    assert figures["verify_ok"] is True  # erasure, purge and capture left the chain whole


EDGE_ROWS = [
    {"speech": 'héllo "q" \\ \n\t\x01\x7f\u2028 </script>', "slots": {"a": "é", "n": 1.5, "x": [1, None, True]},
     "card": '{"bad json', "directives": ["AudioPlayer.Play"], "end_session": 1, "latency_ms": 36.62,
     "transaction": {"kind": "order", "amount": "12.50", "currency": "USD"}, "redacted": "CARD,PHONE"},
    {"end_session": 0, "latency_ms": 0.1 + 0.2, "redacted": "CARD", "slots": "5", "card": "null"},
    {"latency_ms": 3.0, "redacted": ",X,,Y,", "card": '{"n": 1e2, "m": 1.50, "u": "\\u00e9", "z": -0}'},
    {"latency_ms": 1234567.125, "redacted": "", "slots": "{}", "card": 5, "directives": '"text"'},
    {"latency_ms": 1e-7, "transaction": "1E5"},
    {"latency_ms": 1e20, "utterance": "order a large pizza"},
]


@pytest.mark.parametrize("filters", [{}, {"developer_id": "acme"}, {"skill": "pizza"}, {"user_id": "u1"}])
def test_jsonl_export_built_in_sqlite_equals_json_dumps_of_each_row(filters):
    store = TranscriptStore(":memory:")
    store.record_many([dict(r, developer_id="acme", skill="pizza", user_id="u1",
                            created_at=f"2026-01-01T00:00:0{i}.000Z") for i, r in enumerate(EDGE_ROWS)])
    expected = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in store.iter_transcripts(**filters)]
    assert list(store.iter_jsonl(**filters)) == expected


def test_rows_spread_over_many_developers_with_a_long_tail():
    sys.path.insert(0, str(ROOT / "bench"))
    import _ledger

    counts: dict[str, int] = {}
    for batch in _ledger.generate(20_000, developers=1000, users=5_000):
        for row in batch:
            counts[row["developer_id"]] = counts.get(row["developer_id"], 0) + 1
            assert row["skill"].endswith(row["developer_id"][4:])  # a developer's own skill names
    sizes = sorted(counts.values(), reverse=True)
    assert len(sizes) > 500  # most of the thousand have some traffic
    assert sizes[0] > 0.1 * 20_000  # a few big ones...
    assert sizes[len(sizes) // 2] < 0.002 * 20_000  # ...and a long tail of small ones
    four = {row["developer_id"] for batch in _ledger.generate(2_000) for row in batch}
    assert four == set(_ledger.DEVELOPERS)  # the default stays the four example companies
