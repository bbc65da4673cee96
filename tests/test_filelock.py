"""The cross-process write lock: a waiter woken by the holder's release, a wait given up that leaves the lock free,
a waiter seen by the other processes."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from skills_sdk.errors import StoreError
from skills_sdk.transcripts.sqlite import filelock
from skills_sdk.transcripts.sqlite.filelock import FileLock

HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""

# Exit 0 when the lock is free now, 1 when someone holds it.
TRY = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
"""

# Takes the lock, waiting for it; killed by its alarm if nobody ever lets go.
TAKE = """
import fcntl, os, signal, sys
signal.alarm(20)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
"""


# Waits for the lock as a ledger's writer does (its timeout: a capture's), takes it, lets go.
WAIT = """
import sys
from skills_sdk.transcripts.sqlite.filelock import FileLock
lock = FileLock(sys.argv[1])
lock.release(lock.acquire(20_000))
"""

# Holds the lock as a ledger's writer does, until told to let go through FileLock.release.
HOLD_AS_WRITER = """
import sys
from skills_sdk.transcripts.sqlite.filelock import FileLock
lock = FileLock(sys.argv[1])
fd = lock.acquire(10_000)
print("held", flush=True)
sys.stdin.readline()
lock.release(fd)
"""

# Says it waits, then waits 60 s for a lock that stays held; a SIGTERM ends it as a gunicorn worker's does.
WAIT_LONG = """
import signal, sys
from skills_sdk.transcripts.sqlite.filelock import FileLock
signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by its signal"))
print("waiting", flush=True)
FileLock(sys.argv[1]).acquire(60_000)
"""

needs_futex = pytest.mark.skipif(filelock._lockwake is None, reason="_lockwake.c not built (Linux only)")


@pytest.fixture(params=["futex", "thread"])
def way(request, monkeypatch):
    """Each way a timed wait can go: the futex (_lockwake.c), and the thread that serves where it is not built."""
    if request.param == "thread":  # the locks made meanwhile map no word (the module stays: older ones release through it)
        monkeypatch.setattr(filelock, "_map_word", lambda fd: None)
    elif filelock._lockwake is None:
        pytest.skip("_lockwake.c not built (Linux only)")
    return request.param


def waiting_thread(path):
    return [t for t in threading.enumerate() if t.name == f"skills-write-lock {path}"]


def held_elsewhere(path, script=HOLD):
    holder = subprocess.Popen([sys.executable, "-c", script, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def free_elsewhere(path):
    return subprocess.run([sys.executable, "-c", TRY, path]).returncode == 0


def test_a_writer_waits_for_another_process_and_then_holds_the_lock_alone(tmp_path, way):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    holder = held_elsewhere(path)
    got = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(60_000)))
    waiter.start()
    try:
        time.sleep(0.3)  # the writer waits meanwhile (were it late, it would simply take a free lock)
        assert not got  # still waiting: the other process holds it
        assert not lock.others_waiting()  # this process's own wait is not another's
    finally:
        holder.communicate("\n", timeout=10)
    waiter.join(timeout=30)
    assert got, "the waiter was not woken when the other process let go"
    assert not free_elsewhere(path)  # taken through the waiting thread's file, it excludes other processes
    lock.release(got[0])
    assert subprocess.run([sys.executable, "-c", TAKE, path], timeout=30).returncode == 0


def test_a_wait_given_up_raises_and_leaves_the_lock_to_others_once_the_holder_lets_go(tmp_path, way):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    holder = held_elsewhere(path)
    try:
        with pytest.raises(StoreError, match=r"another process held its write lock .*db-lock.* for more than 50 ms"):
            lock.acquire(50)
    finally:
        holder.communicate("\n", timeout=10)
    # The given-up wait's thread gets the lock when the holder lets go, and must let go of it at once.
    assert subprocess.run([sys.executable, "-c", TAKE, path], timeout=30).returncode == 0
    fd = lock.acquire(10_000)  # and this process can take it again
    assert not free_elsewhere(path)
    lock.release(fd)


def test_a_free_lock_is_taken_without_a_waiting_thread(tmp_path, way):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    lock.release(lock.acquire(100))
    assert not waiting_thread(path)


def test_a_writer_waiting_in_another_process_is_seen_until_it_has_the_lock(tmp_path, way):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    assert not lock.others_waiting()
    fd = lock.acquire(100)
    waiter = subprocess.Popen([sys.executable, "-c", WAIT, path])
    try:
        deadline = time.monotonic() + 30
        while not lock.others_waiting() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock.others_waiting(), "the other process's waiting writer was not seen"
    finally:
        lock.release(fd)
        assert waiter.wait(timeout=30) == 0
    assert not lock.others_waiting()  # it had the lock, let go and left: nobody waits


@needs_futex
@pytest.mark.parametrize("holder_script", [HOLD_AS_WRITER, HOLD], ids=["a writer's release wakes it", "a bare flock"])
def test_a_timed_wait_runs_on_the_callers_thread_and_gets_the_lock_when_the_holder_lets_go(tmp_path, holder_script):
    # A holder that does not wake waiters (a bare flock: an older release, another tool) is noticed at the next try.
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    holder = held_elsewhere(path, holder_script)
    got = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(20_000)))
    waiter.start()
    try:
        time.sleep(0.3)
        assert not got
        assert not waiting_thread(path), "the wait started a thread of its own"
    finally:
        holder.communicate("\n", timeout=10)
    waiter.join(timeout=30)
    assert got, "the waiter did not get the lock once the other process let go"
    assert not free_elsewhere(path)
    lock.release(got[0])
    assert free_elsewhere(path)


@needs_futex
def test_a_signal_ends_a_timed_wait_at_once(tmp_path):
    path = str(tmp_path / "db-lock")
    holder = held_elsewhere(path)
    waiter = subprocess.Popen([sys.executable, "-c", WAIT_LONG, path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout.readline().strip() == "waiting"
        time.sleep(0.3)
        waiter.send_signal(signal.SIGTERM)
        _, err = waiter.communicate(timeout=10)  # not the 60 s the wait was given
    finally:
        waiter.kill()
        holder.communicate("\n", timeout=10)
    assert "stopped by its signal" in err


LOCK_AND_RELEASE = """
import sys
from skills_sdk.transcripts.sqlite.filelock import FileLock
lock = FileLock(sys.argv[1])
lock.release(lock.acquire(timeout_ms=100))
print("released", flush=True)
"""


@needs_futex
def test_a_lock_file_made_on_a_full_disk_is_waited_for_on_the_thread_not_killed_by_sigbus(small_fs):
    # The wake-up word's block cannot be allocated: storing into a mapped hole would be a SIGBUS.
    _fill(small_fs)
    done = subprocess.run([sys.executable, "-c", LOCK_AND_RELEASE, str(small_fs / "t.db-lock")],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "released"), done.stderr


def _fill(directory):
    """Write to ``directory`` until its file system is full (ENOSPC)."""
    fd = os.open(directory / "fill", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
