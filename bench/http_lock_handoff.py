"""The cross-process write lock's hand-off: from the holder's release to the waiter's return, FileLock against a bare flock.

A second process takes the lock, holds it 0.3 ms and lets go, ``--rounds`` times; this process waits
for it each time, either through :class:`~skills_sdk.transcripts.sqlite.filelock.FileLock` on both
sides, as two gunicorn workers do (a futex in the lock file woken by the release, or where
``_lockwake.c`` is not built a helper thread blocked in ``flock`` that wakes the caller: two
wake-ups and the GIL), or with a bare blocking ``flock`` on both (one wake-up, but no timeout:
the floor).

    PYTHONPATH=. python bench/http_lock_handoff.py --rounds 1500
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing as mp
import os
import resource
import tempfile
import time
from typing import Any

from skills_sdk.transcripts.sqlite.filelock import FileLock

HOLD_NS = 300_000


def holder(mode: str, path: str, rounds: int, released: Any, go: Any, held: Any) -> None:
    lock, fd = FileLock(path), os.open(path, os.O_RDWR | os.O_CREAT)
    for _ in range(rounds):
        go.wait()
        go.clear()
        if mode == "FileLock":
            got = lock.acquire(5000)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        held.set()  # the waiter starts waiting now
        until = time.perf_counter_ns() + HOLD_NS
        while time.perf_counter_ns() < until:
            pass
        released.value = time.perf_counter_ns()
        if mode == "FileLock":
            lock.release(got)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)


def measure(mode: str, rounds: int, folder: str) -> tuple[list[float], float]:
    """The hand-offs' delays (us), and the waiting process's voluntary context switches a round (its threads'
    sleeps and wake-ups, a count the machine's load does not change: the round's own wait for the holder and
    its 0.1 ms sleep are the same in every way)."""
    path = os.path.join(folder, f"{mode}-lock")
    released, go, held = mp.Value("q", 0), mp.Event(), mp.Event()
    other = mp.Process(target=holder, args=(mode, path, rounds, released, go, held))
    other.start()
    lock, fd = FileLock(path), os.open(path, os.O_RDWR | os.O_CREAT)
    delays = []
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    for _ in range(rounds):
        go.set()
        held.wait()
        held.clear()
        time.sleep(0.0001)  # waiting before the release, as a capture behind another worker's transaction
        if mode == "FileLock":
            got = lock.acquire(5000)
            now = time.perf_counter_ns()
            lock.release(got)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = time.perf_counter_ns()
            fcntl.flock(fd, fcntl.LOCK_UN)
        delays.append((now - released.value) / 1e3)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches
    other.join()
    os.close(fd)
    return sorted(delays), switches / rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=2, help="interleaved runs of each way")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lock-handoff-") as folder:
        for _ in range(args.runs):
            for mode in ("FileLock", "bare flock"):
                d, switches = measure(mode, args.rounds, folder)
                p50, p90, p99 = (d[min(len(d) - 1, int(len(d) * f))] for f in (0.5, 0.9, 0.99))
                print(f"{mode:10s} {len(d)} hand-offs: p50 {p50:6.1f} p90 {p90:7.1f} p99 {p99:7.1f} us, "
                      f"{switches:.2f} voluntary switches a round (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
