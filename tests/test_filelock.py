"""The cross-process write lock: a waiter woken by the holder's release, a wait given up that leaves the lock free,
a waiter seen by the other processes."""

import subprocess
import sys
import threading
import time

import pytest

from skills_sdk.errors import StoreError
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


def waiting_thread(path):
    return [t for t in threading.enumerate() if t.name == f"skills-write-lock {path}"]


def held_elsewhere(path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def free_elsewhere(path):
    return subprocess.run([sys.executable, "-c", TRY, path]).returncode == 0


def test_a_writer_waits_for_another_process_and_then_holds_the_lock_alone(tmp_path):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    holder = held_elsewhere(path)
    got = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(60_000)))
    waiter.start()
    try:
        # Let go only once the writer waits on its thread: let go sooner and it would simply take a free lock.
        deadline = time.monotonic() + 30
        while not waiting_thread(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting_thread(path), "the writer did not wait for the lock on a thread of its own"
        assert not got  # still waiting: the other process holds it
        assert not lock.others_waiting()  # this process's own wait is not another's
    finally:
        holder.communicate("\n", timeout=10)
    waiter.join(timeout=30)
    assert got, "the waiter was not woken when the other process let go"
    assert not free_elsewhere(path)  # taken through the waiting thread's file, it excludes other processes
    lock.release(got[0])
    assert subprocess.run([sys.executable, "-c", TAKE, path], timeout=30).returncode == 0


def test_a_wait_given_up_raises_and_leaves_the_lock_to_others_once_the_holder_lets_go(tmp_path):
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


def test_a_free_lock_is_taken_without_a_waiting_thread(tmp_path):
    path = str(tmp_path / "db-lock")
    lock = FileLock(path)
    lock.release(lock.acquire(100))
    assert not waiting_thread(path)


def test_a_writer_waiting_in_another_process_is_seen_until_it_has_the_lock(tmp_path):
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
