"""Faults of the ledger: every answered turn has exactly one row after recovery, and /readyz says why when it cannot.

Each test breaks the database the way an operator or a machine would (a full file system, a lock
held by another process, the file moved or removed, permissions taken away, an I/O error), keeps
talking to the server through it, recovers, and counts: every request answered 200 has exactly
one row, every refused one (503, before its handler ran) has none, and the database is sound.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import pytest
from _server import free_port, post, start, stop
from conftest import build_greeter, make_envelope

from skills_sdk.server import create_app as _create_app
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.guard import Reserve
from skills_sdk.transcripts.sqlite.driver import sqlite3

#: A small spool for these tests: its reserve and the floor under which turns are refused.
SMALL = {"SKILLS_SPOOL_RESERVE": 256 * 1024, "SKILLS_SPOOL_FLOOR": 16 * 1024, "SKILLS_LEDGER_INTERVAL": 0.05}


_STARTED = []


def create_app(*args, **kwargs):
    """The server's ``create_app``, remembering the app so that its ledger is stopped when the test ends."""
    _STARTED.append(_create_app(*args, **kwargs))
    return _STARTED[-1]


@pytest.fixture(autouse=True)
def stopped_at_the_end():
    """No guard or indexer thread of one test goes on running (on files a later clean-up removes) into the next."""
    yield
    while _STARTED:
        _STARTED.pop().extensions["skills_sdk"]["store"].stop()


class Tally:
    """Request ids of the turns a server answered (200) and of those it refused (503)."""

    def __init__(self, send: Callable[[dict], tuple[int, dict]]) -> None:
        self.send = send
        self.answered: list[str] = []
        self.refused: list[str] = []

    def turns(self, n: int, *, until_refused: bool = False) -> Tally:
        for i in range(n):
            env = make_envelope("LaunchRequest", user_id=f"amzn1.ask.account.U{i % 7}")
            status, body = self.send(env)
            rid = env["request"]["requestId"]
            if status == 200:
                assert "outputSpeech" in body["response"], body
                self.answered.append(rid)
            else:
                assert status == 503 and body["error"]["code"] == "ledger_unavailable", (status, body)
                assert body["error"]["cause"] in body["error"]["message"]
                self.refused.append(rid)
                if until_refused:
                    break
        return self

    def check(self, db: str) -> None:
        """0 lost, 0 duplicated, nothing recorded for a refused turn, and an intact database."""
        with sqlite3.connect(db) as conn:
            ids = [r[0] for r in conn.execute("SELECT request_id FROM transcripts")]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        missing = set(self.answered) - set(ids)
        assert not missing, f"{len(missing)} answered turn(s) have no row: {sorted(self.answered.index(m) for m in missing)} of {len(self.answered)}"
        assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} row(s) recorded twice"
        assert set(ids) == set(self.answered), "a refused turn has a row"


def in_process(app) -> Tally:
    client = app.test_client()

    def send(env: dict) -> tuple[int, dict]:
        resp = client.post("/alexa/greeter", json=env)
        return resp.status_code, resp.json

    return Tally(send)


def ready(get: Callable[[], tuple[int, dict]], *, want: int, saying: str = "", timeout: float = 20.0) -> dict:
    """Poll /readyz until it answers ``want`` (with ``saying`` in its reason); returns its body."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = get()
        if status == want and saying in body["store"]:
            return body
        assert time.monotonic() < deadline, f"/readyz still {status} {body} after {timeout} s"
        time.sleep(0.05)


def recovered(tally: Tally, readyz: Callable[[], tuple[int, dict]], db: str, *, answered: int) -> None:
    """Once /readyz answers 200 again: three more turns are answered, then every turn is counted."""
    ready(readyz, want=200)
    tally.turns(3)
    assert len(tally.answered) == answered
    tally.check(db)


def app_ready(app) -> Callable[[], tuple[int, dict]]:
    client = app.test_client()
    return lambda: (lambda r: (r.status_code, r.json))(client.get("/readyz"))


def fill(path: str) -> None:
    """Write ``path`` until the file system has no byte left."""
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def test_full_disk_spools_into_its_reserve_then_refuses_and_loses_nothing(small_fs):
    db = str(small_fs / "t.db")
    app = create_app([build_greeter()], store=TranscriptStore(db), test_config=SMALL)
    tally = in_process(app).turns(5)
    ballast = str(small_fs / "ballast")
    fill(ballast)
    tally.turns(2000, until_refused=True)
    assert tally.refused, "the reserve never ran out"
    spooled = len(tally.answered) - 5
    assert spooled > 50  # a full disk still took these, in the space reserved at start-up
    body = ready(app_ready(app), want=503)
    assert body["ledger"] == "refusing" and "full" in body["store"]
    tally.turns(3)
    assert len(tally.refused) == 4  # still refused, before the handler: no row, no spool line

    os.remove(ballast)  # space returns
    body = ready(app_ready(app), want=200)
    assert body["reserve"] == {"held": 256 * 1024, "size": 256 * 1024}  # refilled
    tally.turns(5)
    ready(app_ready(app), want=200)
    tally.check(db)
    assert app.extensions["skills_sdk"]["spool"].files() == []


HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_lock_held_by_another_process_past_the_busy_timeout_spools_then_replays_once(tmp_path):
    db = str(tmp_path / "t.db")
    app = create_app([build_greeter()], store=TranscriptStore(db, busy_timeout_ms=200), test_config=SMALL)
    tally = in_process(app).turns(3)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        tally.turns(20)
        body = ready(app_ready(app), want=503)
        assert body["ledger"] == "spooling" and "locked" in body["store"]
        assert app.extensions["skills_sdk"]["spool"].pending() == 20
    finally:
        holder.communicate("\n", timeout=10)
    recovered(tally, app_ready(app), db, answered=26)
    assert not tally.refused


HOLD_WRITE_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1] + "-lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("holder_code, says", [
    (HOLD, "database is locked"),  # SQLite's own lock: a writer that is not a ledger
    (HOLD_WRITE_LOCK, "write lock"),  # the ledger's lock file: another server's or a CLI's long write
])
def test_a_capture_waits_its_short_timeout_not_the_busy_timeout_then_spools(tmp_path, holder_code, says):
    # The busy timeout stays 10 s for other work (an erasure, a key); the turn waits 0.3 s for its
    # row, not 10 s, which would be past Alexa's 8 s for the whole turn.
    db = str(tmp_path / "t.db")
    store = TranscriptStore(db, capture_timeout_ms=300)
    app = create_app([build_greeter()], store=store, test_config=SMALL)
    tally = in_process(app).turns(2)
    holder = subprocess.Popen([sys.executable, "-c", holder_code, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        tally.turns(1)
        assert time.monotonic() - t0 < 5, "the turn waited out the 10 s busy timeout"
        assert says in ready(app_ready(app), want=503)["store"]
        assert app.extensions["skills_sdk"]["spool"].pending() == 1
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    finally:
        holder.communicate("\n", timeout=10)
    recovered(tally, app_ready(app), db, answered=6)


def test_file_moved_away_spools_and_recovers_when_it_is_back(tmp_path):
    db = str(tmp_path / "t.db")
    app = create_app([build_greeter()], store=TranscriptStore(db), test_config=SMALL)
    tally = in_process(app).turns(3)
    files = [db + suffix for suffix in ("", "-wal", "-shm") if os.path.exists(db + suffix)]
    for f in files:
        os.rename(f, f + ".moved")
    tally.turns(10)
    body = ready(app_ready(app), want=503)
    assert "was removed" in body["store"] and body["ledger"] == "spooling"
    assert not os.path.exists(db)  # no empty database was made in its place
    for f in files:
        os.rename(f + ".moved", f)
    recovered(tally, app_ready(app), db, answered=16)


def test_file_removed_and_restored_from_a_backup_replays_the_spool_into_it_once(tmp_path):
    db = str(tmp_path / "t.db")
    store = TranscriptStore(db)
    app = create_app([build_greeter()], store=store, test_config=SMALL)
    tally = in_process(app).turns(3)
    backup = str(tmp_path / "backup.db")
    with sqlite3.connect(backup) as out:
        store.db.conn.backup(out)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    tally.turns(10)
    assert "was removed" in ready(app_ready(app), want=503)["store"]
    shutil.copy(backup, db)  # the operator restores the backup: a new file
    body = ready(app_ready(app), want=503, saying="was replaced")
    assert "restart" in body["store"]
    tally.turns(2)  # still spooled: never written into a file the connections do not have open
    # The restart: a new server on the restored file replays the spool at start-up.
    restarted = create_app([build_greeter()], store=TranscriptStore(db), test_config=SMALL)
    assert ready(app_ready(restarted), want=200)["spooled_files"] == 0
    tally.send = in_process(restarted).send
    tally.turns(3)
    assert len(tally.answered) == 18
    tally.check(db)


def http_tally(base: str) -> tuple[Tally, Callable[[], tuple[int, dict]]]:
    def send(env: dict) -> tuple[int, dict]:
        return post(base + "/alexa/pizza", json.dumps(env).encode())

    def readyz() -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    return Tally(send), readyz


def server_env() -> dict[str, str]:
    return {**os.environ, **{k: str(v) for k, v in SMALL.items()}}


def remount_read_only(folder) -> None:
    """``mount -o remount,bind,ro``, again while the kernel says busy: it refuses while a file under the
    mount is open for writing, and the ledger's background thread may hold one for a moment (as an
    operator's remount would be refused and repeated)."""
    deadline = time.monotonic() + 10
    while True:
        done = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if done.returncode == 0:
            return
        assert "busy" in done.stderr and time.monotonic() < deadline, done.stderr
        time.sleep(0.05)


def test_read_only_file_system_refuses_before_the_handler_and_recovers(tmp_path):
    folder = tmp_path / "ledger"
    folder.mkdir()
    db = str(folder / "t.db")
    app = create_app([build_greeter()], store=TranscriptStore(db), test_config=SMALL)
    tally = in_process(app).turns(3)
    # The folder turns read-only for everything opened from now on, as after a read-only remount
    # (the kernel refuses to remount a file system that has files open for writing).
    # Bound and made read-only in one command: a thread that opens a file for writing between a bind
    # and a later remount (a new connection of the ledger's) keeps the remount refused as busy.
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True, text=True)
    if done.returncode != 0 and "busy" not in done.stderr:  # busy: bound, its remount step refused
        pytest.skip(f"a read-only bind mount needs root: {done.stderr.strip()}")
    try:
        try:
            if not os.statvfs(folder).f_flag & os.ST_RDONLY:  # its remount step met a file open for writing
                remount_read_only(folder)
            tally.turns(5)
            assert len(tally.refused) == 5  # the spool beside it is read-only too: no row would have a place
            body = ready(app_ready(app), want=503, saying="not writable")
            assert body["ledger"] == "refusing"
        finally:
            # The operator makes the file system writable again. (Not an unmount: a background
            # thread may have opened the database through the read-only mount meanwhile, and an
            # unmount with files open fails "target is busy", as it would for an operator.)
            subprocess.run(["mount", "-o", "remount,bind,rw", str(folder)], check=True)
        recovered(tally, app_ready(app), db, answered=6)
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_io_error_from_a_size_limited_file_spools_then_a_restart_replays(tmp_path):
    db = str(tmp_path / "t.db")
    conn = sqlite3.connect(db)  # the database, at the size the server will not get past
    TranscriptStore(db).record({"developer_id": "d", "skill": "s", "user_id": "u", "request_id": "seed"})
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    limit = max(os.path.getsize(db), 128 * 1024)
    env = {**server_env(), "SKILLS_SPOOL_RESERVE": str(64 * 1024), "SKILLS_SPOOL_FLOOR": str(8 * 1024)}
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        proc = start(["serve", "--db", db], port, env=env, fsize_limit=limit, stdout=log)
    tally, readyz = http_tally(f"http://127.0.0.1:{port}")
    tally.answered.append("seed")
    try:
        tally.turns(400, until_refused=True)
        assert tally.refused, "the file never reached its size limit"
    finally:
        stop(proc)
    said = (tmp_path / "server.log").read_text()
    assert "cannot take rows (the transcript database cannot be written: disk I/O error)" in said
    assert "spooled to" in said
    port = free_port()  # the operator lifts the limit and restarts: the spool is replayed at start-up
    with open(tmp_path / "server2.log", "wb") as log:
        proc = start(["serve", "--db", db], port, env=env, stdout=log)
    tally.send = http_tally(f"http://127.0.0.1:{port}")[0].send
    try:
        tally.turns(3)
    finally:
        stop(proc)
    assert not os.path.exists(db + ".spool")
    tally.check(db)


def test_a_reserve_whose_folder_is_removed_never_closes_a_descriptor_twice(tmp_path):
    # The guard's thread asks the reserve for its size every tick. With the folder removed, the
    # reserve's file can be neither found nor made again: it must close its old descriptor once and
    # not, at every later tick, close the same number again, by then another file's (the database's).
    folder = tmp_path / "var"
    folder.mkdir()
    reserve = Reserve(folder / "t.db.spool.reserve", 64 * 1024)
    assert reserve.fill() == 64 * 1024
    stale = reserve._fd[1]
    shutil.rmtree(folder)
    assert reserve.held() == 0
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT)
    if other != stale:
        os.dup2(other, stale)  # another file now has the number the reserve had
        os.close(other)
    try:
        assert reserve.held() == 0
        with pytest.raises(OSError):
            reserve.fill()
        os.fstat(stale)  # still open: the reserve did not close it
    finally:
        os.close(stale)
    folder.mkdir()  # the folder is back: the reserve is made again
    assert reserve.fill() == 64 * 1024 and reserve.held() == 64 * 1024


def test_the_reserve_leaves_a_small_disk_as_much_free_as_it_holds_however_often_refilled(tmp_path, monkeypatch):
    """On a 3 MiB disk the 32 MiB reserve took every byte, and the first turn spooled (an audit of a full disk)."""
    disk = 3 * 2**20
    reserve = Reserve(tmp_path / "t.db.spool.reserve", 32 * 2**20)
    real = os.fstatvfs

    def small_disk(fd):  # a 3 MiB file system holding only the reserve (fd): free is what the reserve has not taken
        got = real(fd)
        free = max(0, disk - os.fstat(fd).st_size)
        return os.statvfs_result((got.f_bsize, 1, disk, free, free, *tuple(got)[5:]))

    monkeypatch.setattr(os, "fstatvfs", small_disk)
    assert reserve.fill() == disk // 2
    for _ in range(5):  # refilled every replay interval: it must not creep toward the whole disk
        assert reserve.fill() == disk // 2
    assert reserve.take(1500) and reserve.fill() == disk // 2


def test_an_outage_logs_its_spooled_rows_once_every_ten_seconds_counting_them(tmp_path, caplog, monkeypatch):
    """A full disk spooled a row at every turn and logged each: 3,069 warnings in 2 s, on that disk."""
    import logging
    import types

    from skills_sdk.transcripts import spool as spool_module
    from skills_sdk.transcripts.spool import Spool

    clock = [1000.0]
    monkeypatch.setattr(spool_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))  # this module's only
    spool = Spool(tmp_path / "t.db.spool")
    with caplog.at_level(logging.WARNING, logger="skills_sdk.transcripts"):
        for i in range(50):
            assert spool.append({"request_id": f"r{i}", "user_id": "u"}, OSError("disk full"))
        clock[0] += 10.5
        assert spool.append({"request_id": "r50", "user_id": "u"}, OSError("disk full"))
    said = [r.getMessage() for r in caplog.records if "spooled to" in r.getMessage()]
    assert said == [f"transcript for request r0 spooled to {spool.path}: disk full",
                    f"transcript for request r50 spooled to {spool.path}: disk full (49 more spooled in the last 10 s)"]
    assert spool.pending() == 51  # every row is in the spool; only the lines about them are fewer
