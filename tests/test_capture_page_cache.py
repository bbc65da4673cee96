"""A capture's connection keeps the index pages captures keep writing: many developers' newest pages, without reading them back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

USERS = 200


def row(i: int, rng: random.Random) -> dict:
    """A row of one of 500 developers (1,000 skills): each capture writes one of 2,000 newest index pages (8 MB)."""
    return {"developer_id": f"dev-{rng.randrange(500)}", "skill": f"skill-{rng.randrange(1000)}",
            "user_id": f"amzn1.ask.account.{rng.randrange(USERS):06d}{'X' * 60}", "session_id": f"s{i}",
            "request_id": f"r{i}", "speech": f"Answer {i}", "created_at": f"2026-01-01T00:00:{i % 60:02d}.000Z"}


def read_calls() -> int:
    """This thread's read system calls so far: SQLite reads a page it has not cached with one ``pread``."""
    with open("/proc/thread-self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("syscr"))


def reads_per_capture(path: str, cache_kib: int | None, rng: random.Random, first: int) -> float:
    """Warm a new ledger object's capture connection with 2,000 captures, then count the reads of 300 more."""
    ledger = SQLiteLedger(path)
    if cache_kib is not None:
        ledger.capture_cache_kib = cache_kib
    try:
        for i in range(first, first + 2000):
            ledger.record(row(i, rng))
        before = read_calls()
        for i in range(first + 2000, first + 2300):
            ledger.record(row(i, rng))
        return (read_calls() - before) / 300
    finally:
        ledger.close()


@pytest.mark.skipif(not __import__("os").path.exists("/proc/thread-self/io"), reason="needs Linux's per-thread I/O counts")
def test_a_warm_capture_connection_reads_far_fewer_pages_than_sqlites_default_cache(tmp_path):
    path = str(tmp_path / "big.db")
    rng = random.Random(5)
    seed = SQLiteLedger(path)
    # 60,000 rows: the developer, developer-time and skill-time indexes have 2,000 newest pages
    # where captures land, four times SQLite's default 2 MB cache.
    seed.record_many([row(i, rng) for i in range(60_000)])
    seed.checkpoint("TRUNCATE")
    seed.close()
    # Counted in a process whose WAL reads are pread()s: the ledger's VFS otherwise copies the pages a
    # capture misses from a mapping of the WAL (tests/test_wal_reads.py), which no read call counts.
    code = (f"import json, random, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            "from test_capture_page_cache import reads_per_capture as r; rng = random.Random(6); "
            f"print(json.dumps([r({path!r}, 2000, rng, 100_000), r({path!r}, None, rng, 200_000)]))")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, SKILLS_WAL_READS="pread"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    default, ours = json.loads(done.stdout)  # SQLite's own default cache (-2000 KiB), then the capture's
    assert default > 1.0, f"the ledger is too small to miss the default cache ({default:.2f} reads a capture)"
    assert ours * 4 < default, f"{ours:.2f} reads a capture with the capture cache, {default:.2f} with SQLite's default"
