"""Data commands on a full disk: they name the disk as the cause, keep every row, and finish when run again."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import pytest
from _server import command
from conftest import mounted_tmpfs

from skills_sdk.transcripts import open_ledger


@pytest.fixture
def disk(tmp_path):
    """A 16 MB tmpfs (root only): room for a ledger whose erasure spills more pages than SQLite's cache holds."""
    yield from mounted_tmpfs(tmp_path, "16m")


def _filled(folder, rows: list[dict]) -> tuple[str, str, dict[str, int]]:
    """A ledger of ``rows`` in ``folder``, a ballast file filling the disk, and the rows per user.

    The rows are counted before the disk fills, through a read-only connection, which leaves the
    ledger's shared-memory file in place as a running server would (making it needs room).
    """
    db, ballast = str(folder / "t.db"), str(folder / "ballast")
    with open_ledger(db) as led:
        led.record_many(rows)
        led.index_pending()
    users = _users(db)
    with open(ballast, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    return db, ballast, users


def _users(db: str) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return dict(conn.execute("SELECT user_id, count(*) FROM transcripts GROUP BY 1"))


def test_erase_on_a_full_disk_says_the_disk_is_full_keeps_every_row_and_finishes_when_run_again(disk):
    db, ballast, before = _filled(disk, [{"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 2}",
                                          "request_id": f"r{i}", "speech": f"noted {i} at the corner shop"}
                                         for i in range(12000)])  # half of them u0's: their DELETE spills pages
    done = command(["transcripts", "erase", "--db", db, "--user", "u0"])
    assert done.returncode == 1, done.out
    assert "Traceback" not in done.out, done.out
    assert "database or disk is full" in done.out and "run the same erase again" in done.out
    os.remove(ballast)
    assert _users(db) == before  # nothing half-done: every row is there
    again = command(["transcripts", "erase", "--db", db, "--user", "u0"])
    assert again.returncode == 0, again.out
    assert '"transcripts": ' + str(before["u0"]) in again.out and '"scrubbed": true' in again.out
    assert _users(db) == {u: n for u, n in before.items() if u != "u0"}
    with open_ledger(db) as led:
        assert led.verify_chain().ok


def test_purge_on_a_full_disk_says_the_disk_is_full_and_finishes_when_run_again(disk):
    db, ballast, _ = _filled(disk, [{"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 7}",
                                     "speech": f"noted {i}", "created_at": f"2026-11-{1 + i % 20:02d}T09:30:00.000Z"}
                                    for i in range(12000)])
    purge = ["transcripts", "purge", "--db", db, "--retention-days", "10", "--now", "2026-11-21T00:00:00Z"]
    done = command(purge)
    assert done.returncode == 1, done.out
    assert "Traceback" not in done.out, done.out
    assert "database or disk is full" in done.out and "run the same purge again" in done.out
    os.remove(ballast)
    again = command(purge)
    assert again.returncode == 0, again.out
    with open_ledger(db) as led:
        assert {r["created_at"][:10] for r in led.iter_transcripts()} == {"2026-11-11", *(f"2026-11-{d}" for d in range(12, 21))}
        assert led.verify_chain().ok
