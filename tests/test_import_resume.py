"""An import of a file killed between its batches, or stopped by a full disk, is finished by running it again: each row once."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sqlite3
import subprocess

import pytest
from _server import SKILLS, command, wait_until

from skills_sdk.cli.transcripts import IMPORT_BATCH
from skills_sdk.transcripts import open_ledger

#: Rows in the file: enough batches that the import cannot end between its first commit and the kill.
ROWS = 8 * IMPORT_BATCH



def _file(tmp_path) -> str:
    path = tmp_path / "export.jsonl"
    with open(path, "w") as f:
        for i in range(ROWS):
            f.write(json.dumps({"developer_id": "dev", "skill": "notes", "user_id": f"u{i % 7}", "request_id": f"r{i}",
                                "speech": f"noted {i}", "created_at": "2026-11-28T09:30:00.000Z"}) + "\n")
    return str(path)


def _kill_after_first_batch(args: list[str], count, hold, env: dict[str, str]) -> int:
    """Run ``skills <args>``, let its first batch commit, hold its next one back with ``hold``, SIGKILL it; rows kept."""
    proc = subprocess.Popen([SKILLS, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until("the import's first batch", lambda: count() >= IMPORT_BATCH or proc.poll() is not None, 120)
        with hold():  # the import waits for the lock with its next batch: it cannot finish before the kill
            proc.kill()
            proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = count()
    assert IMPORT_BATCH <= kept < ROWS, f"the import was not cut between its batches ({kept} of {ROWS} rows)"
    return kept


def test_an_import_killed_between_batches_is_resumed_by_running_it_again(tmp_path):
    db, file = str(tmp_path / "t.db"), _file(tmp_path)

    def count() -> int:
        if not os.path.exists(db):
            return 0
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
            try:
                return conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
            except sqlite3.OperationalError:  # the table is being made
                return 0

    @contextlib.contextmanager
    def hold():
        with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
            conn.execute("BEGIN EXCLUSIVE")
            yield
            conn.execute("ROLLBACK")

    kept = _kill_after_first_batch(["transcripts", "import", "--db", db, file], count, hold, dict(os.environ))
    again = command(["transcripts", "import", "--db", db, file])
    assert again.returncode == 0, again.out
    assert f"stopped after line {kept}" in again.out
    assert f"imported {ROWS - kept} transcripts" in again.out
    with open_ledger(db) as led:
        ids = collections.Counter(r["request_id"] for r in led.iter_transcripts())
        assert ids == collections.Counter(f"r{i}" for i in range(ROWS))
        assert led.verify_chain().ok
        (entry,) = [e for e in led.iter_audit() if e["action"] == "import"]
        assert entry["rows"] == ROWS - kept and entry["filters"]["rows_before"] == kept
    # Finished: the same file imported once more adds its rows again, as an import always has.
    assert command(["transcripts", "import", "--db", db, file]).returncode == 0
    with open_ledger(db) as led:
        assert led.count() == 2 * ROWS


def test_an_import_killed_between_batches_into_postgresql_is_resumed_once(postgres_url, tmp_path):
    import psycopg

    file = _file(tmp_path)
    env = {**os.environ, "SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key")}

    def count() -> int:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('transcripts')").fetchone()[0] is None:
                return 0
            return conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]

    @contextlib.contextmanager
    def hold():
        with psycopg.connect(postgres_url) as conn:
            conn.execute("LOCK TABLE transcripts IN EXCLUSIVE MODE")
            yield

    kept = _kill_after_first_batch(["transcripts", "import", "--db", postgres_url, file], count, hold, env)
    again = command(["transcripts", "import", "--db", postgres_url, file], env=env)
    assert again.returncode == 0, again.out
    assert f"imported {ROWS - kept} transcripts" in again.out
    with psycopg.connect(postgres_url) as conn:
        stored = collections.Counter(r[0] for r in conn.execute("SELECT request_id FROM transcripts"))
    assert stored == collections.Counter(f"r{i}" for i in range(ROWS))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_an_import_stopped_by_a_full_disk_says_what_it_wrote_and_a_rerun_adds_only_the_rest(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db, file = str(mnt / "t.db"), _file(tmp_path)
        first = command(["transcripts", "import", "--db", db, file])
        assert first.returncode == 1 and "disk is full" in first.out, first.out
        with contextlib.closing(sqlite3.connect(db)) as conn:
            kept = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
        assert kept, "no batch fitted on the disk"
        assert f"The {kept} rows of lines 1-{kept} were imported" in first.out
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        again = command(["transcripts", "import", "--db", db, file])
        assert again.returncode == 0, again.out
        with open_ledger(db) as led:
            ids = collections.Counter(r["request_id"] for r in led.iter_transcripts())
        assert ids == collections.Counter(f"r{i}" for i in range(ROWS))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)

