"""Group commit: concurrent captures of one process share a transaction, and each still gets exactly its outcome."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from skills_sdk.errors import StoreError
from skills_sdk.transcripts.guard import Unguarded
from skills_sdk.transcripts.sqlite.driver import sqlite3
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger


def row(i: int, **extra) -> dict:
    return {"developer_id": "acme", "skill": "pizza", "user_id": f"u{i % 5}", "session_id": f"s{i % 3}",
            "request_id": f"r{i}", "speech": f"Answer {i} \u2028 \U0001f355", **extra}


def count_commits(store: SQLiteLedger) -> list[str]:
    """Every COMMIT run on the connections ``store`` opens from now on (each capture thread opens its own)."""
    commits: list[str] = []
    connect = store._connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        return conn

    store._connect = traced
    return commits


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + 60  # a loaded machine schedules threads late; this is no speed test
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def capture_together(store: SQLiteLedger, rows: list[dict], record=None) -> dict[str, object]:
    """Capture ``rows`` from one thread each while a capture leads, then let them go: what each capture got."""
    record = record or store.record
    outcomes: dict[str, object] = {}

    def one(r: dict) -> None:
        try:
            outcomes[r["request_id"]] = record(r)
        except Exception as exc:  # the outcome under test
            outcomes[r["request_id"]] = exc

    group = store.group_commit
    assert group.lead_alone()  # as a capture mid-write would: every row below queues behind it
    threads = [threading.Thread(target=one, args=(r,)) for r in rows]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: group.waiting == len(rows), f"{len(rows)} queued rows")
    finally:
        group.end_lead()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return outcomes


@pytest.fixture
def store(tmp_path):
    s = SQLiteLedger(tmp_path / "t.db", capture_timeout_ms=60_000)
    yield s
    s.close()


def request_ids(store: SQLiteLedger) -> collections.Counter:
    return collections.Counter(r[0] for r in store.conn.execute("SELECT request_id FROM transcripts"))


def test_concurrent_captures_commit_together_each_row_once_and_the_chain_verifies(store):
    commits = count_commits(store)
    rows = [row(i) for i in range(12)]
    outcomes = capture_together(store, rows)
    assert sorted(outcomes.values()) == list(range(1, 13))  # each capture got its own row's id
    for r in rows:
        assert store.get(outcomes[r["request_id"]])["request_id"] == r["request_id"]
    assert request_ids(store) == collections.Counter(r["request_id"] for r in rows)
    assert commits == ["COMMIT"] and store.group_commit.commits == 1
    assert store.verify_chain().ok and store.verify_chain().rows == 12
    store.record(row(99))  # alone again: its own commit, after the batch's chain entries
    assert store.group_commit.commits == 2 and store.verify_chain().ok


def test_many_threads_capturing_at_once_record_every_row_once_in_fewer_commits(store):
    commits = count_commits(store)
    rows = [row(i) for i in range(400)]
    barrier = threading.Barrier(8)

    def worker(part: list[dict]) -> None:
        barrier.wait()
        for r in part:
            store.record(r, state='{"n": 1}')

    group = store.group_commit
    assert group.lead_alone()  # the first round queues whole: at least one commit holds eight rows
    threads = [threading.Thread(target=worker, args=(rows[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: group.waiting == 8, "eight queued rows")
    group.end_lead()
    for t in threads:
        t.join(120)
    assert request_ids(store) == collections.Counter(r["request_id"] for r in rows)
    assert len(commits) == group.commits < len(rows)
    assert store.verify_chain().ok
    assert store.load_state("acme", "pizza", "u1") == {"n": 1}


def test_a_row_that_fails_in_a_batch_fails_alone_and_the_others_commit(store):
    store.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON transcripts WHEN NEW.request_id = 'r3' "
                       "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END")
    spooled: list[tuple[str, BaseException]] = []
    guard = Unguarded(store, fallback=lambda r, exc: spooled.append((r["request_id"], exc)))
    rows = [row(i) for i in range(6)]
    outcomes = capture_together(store, rows, lambda r: guard.record(r, user_state='{"seen": true}'))
    assert outcomes["r3"] is None and [rid for rid, _ in spooled] == ["r3"]
    assert "refused by a trigger" in str(spooled[0][1])
    assert request_ids(store) == collections.Counter(f"r{i}" for i in (0, 1, 2, 4, 5))
    assert sorted(v for k, v in outcomes.items() if k != "r3") == [1, 2, 3, 4, 5]
    assert store.group_commit.commits == 1 and store.verify_chain().ok


def test_a_failure_of_the_batchs_transaction_reaches_every_row_of_it(store):
    # The database's own error (here a table gone from under a trigger), not a row's: no row of it is kept.
    store.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON transcripts BEGIN INSERT INTO gone VALUES (1); END")
    rows = [row(i) for i in range(4)]
    outcomes = capture_together(store, rows)
    assert all(isinstance(o, sqlite3.OperationalError) and "gone" in str(o) for o in outcomes.values()), outcomes
    assert request_ids(store) == collections.Counter()  # rolled back whole
    store.conn.execute("DROP TRIGGER refuse")
    assert store.record(row(7)) >= 1 and store.verify_chain().ok


def test_a_queued_capture_gives_up_after_its_timeout_and_is_never_written(tmp_path):
    store = SQLiteLedger(tmp_path / "t.db", capture_timeout_ms=50)
    group = store.group_commit
    assert group.lead_alone()  # a capture that never ends its write
    try:
        with pytest.raises(StoreError, match="waited more than 50 ms"):
            store.record(row(1))
        assert group.waiting == 0
    finally:
        group.end_lead()
    store.record(row(2))
    assert request_ids(store) == collections.Counter(["r2"]) and store.verify_chain().ok
    store.close()


def test_an_erasure_between_batches_leaves_a_chain_that_verifies(store):
    capture_together(store, [row(i) for i in range(10)])
    store.erase_user("u1", check=False)
    capture_together(store, [row(i) for i in range(10, 20)])
    assert sum(request_ids(store).values()) == 20 - 2
    report = store.verify_chain()
    assert report.ok and report.tombstones == 2


_KILLED = textwrap.dedent("""
    import sys, threading
    from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger
    store = SQLiteLedger(sys.argv[1], capture_timeout_ms=60_000)
    out = threading.Lock()
    def worker(k):
        for i in range(100_000):
            rid = f"t{k}-{i}"
            store.record({"developer_id": "acme", "skill": "pizza", "user_id": f"u{k}", "request_id": rid,
                          "speech": "Hi."})
            with out:  # after the row's commit, as a reply leaves after it
                print(rid, store.group_commit.commits, flush=True)
    for k in range(8):
        threading.Thread(target=worker, args=(k,), daemon=True).start()
    threading.Event().wait()
""")


def test_sigkill_while_threads_capture_in_batches_loses_no_returned_row(tmp_path):
    db = str(tmp_path / "t.db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, db], stdout=subprocess.PIPE, text=True, env=env)
    returned: list[str] = []
    commits = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            rid, commits_so_far = line.split()
            returned.append(rid)
            commits = int(commits_so_far)
            if len(returned) >= 1500 and commits < len(returned) or len(returned) >= 20_000:
                proc.send_signal(signal.SIGKILL)  # captures are queued and one leads a batch by now
                break
        proc.wait(30)
        returned.extend(line.split()[0] for line in proc.stdout)  # printed before the kill, read after
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert commits < len(returned), "no batch formed: the test did not test a kill among batches"
    store = SQLiteLedger(db)
    recorded = request_ids(store)
    assert set(returned) <= set(recorded), "a capture returned, but its row is not in the ledger"
    assert [r for r, n in recorded.items() if n > 1] == []
    assert store.verify_chain().ok
    store.close()
