"""The disk's floor under one capture: N WAL-like frames written (and synced), beside the capture itself.

A commit in WAL mode writes each changed page as a frame: a 24-byte header and the page, two
``pwrite`` calls, appended to the ``-wal`` file (or over an old frame once the WAL started over).
Under ``synchronous=NORMAL`` (the ledger's default) that is all a commit does to the disk; under
``FULL`` the commit then runs ``fdatasync``. This script times exactly that, with nothing of
SQLite, for N = 1, 3 and 10 frames (a capture at 1M rows writes about 10), appended and
overwritten, with and without ``fdatasync``, in a file in ``--dir`` (put it on the ledger's disk).

``--capture DB`` then, in the same invocation, copies the ledger ``DB`` into ``--dir`` and times
``record()`` as ``store_scale.py --only write`` does (one thread, one row after the other), with
the frames each commit wrote (the WAL's growth) and the thread's user and system CPU, so a capture
can be read against the floor of its own frames; ``--synchronous FULL`` runs it as FULL.

    python bench/fsync_floor.py --dir /work/tmp --capture /work/data/n1000.db -n 2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
HEADER = 24
FRAMES = (1, 3, 10)


def summary(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"mean_us": statistics.fmean(s) * 1e6, "p50_us": s[len(s) // 2] * 1e6,
            "p99_us": s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6}


def floor(path: str, frames: int, *, sync: bool, append: bool, n: int) -> dict[str, float]:
    """Time ``n`` commits of ``frames`` frames each: appended to a growing file, or over the file's start."""
    page, header = os.urandom(PAGE), os.urandom(HEADER)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if not append:  # a WAL that started over: its frames are written over the old ones
            os.write(fd, b"\0" * (PAGE + HEADER) * frames)
            os.fsync(fd)
        off, took = 0, []
        for _ in range(n):
            t = time.perf_counter()
            for _ in range(frames):
                os.pwrite(fd, header, off)
                os.pwrite(fd, page, off + HEADER)
                off += PAGE + HEADER
            if sync:
                os.fdatasync(fd)
            took.append(time.perf_counter() - t)
            if not append:
                off = 0
        return summary(took)
    finally:
        os.close(fd)
        os.unlink(path)


def thread_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_utime, r.ru_stime


def last_frame(shm: int) -> int:
    """The WAL's last committed frame (``mxFrame`` of the wal-index header in ``-shm``, native byte order)."""
    return struct.unpack("=I", os.pread(shm, 4, 16))[0]


def capture(db: str, folder: str, n: int, synchronous: str) -> dict[str, float]:
    """``record()`` ``n`` rows one after the other on a copy of ``db``: latency, CPU and WAL frames per capture."""
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    import _ledger

    from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

    copy = os.path.join(folder, "capture.db")
    shutil.copyfile(db, copy)
    store = SQLiteLedger(copy, synchronous=synchronous)
    try:
        store.start_background()  # as a server runs it: checkpoints and indexing off the capture's thread
        rows = next(_ledger.generate(n + 50, seed=99, end_ms=int(time.time() * 1000), days=1, heavy_users=0,
                                     batch=n + 50))
        for row in rows[:50]:
            store.record(row)
        took = []
        u0, s0 = thread_cpu()
        wal_frames = 0
        shm = os.open(copy + "-shm", os.O_RDONLY)
        for row in rows[50:]:
            before = last_frame(shm)
            t = time.perf_counter()
            store.record(row)
            took.append(time.perf_counter() - t)
            after = last_frame(shm)
            wal_frames += after - before if after >= before else after  # the WAL started over meanwhile
        u1, s1 = thread_cpu()
        os.close(shm)
        out = summary(took)
        out.update(user_cpu_us=(u1 - u0) / n * 1e6, system_cpu_us=(s1 - s0) / n * 1e6,
                   wal_frames_per_capture=wal_frames / n, synchronous=synchronous)
        return out
    finally:
        store.stop_background()
        for suffix in ("", "-wal", "-shm", "-lock"):
            if os.path.exists(copy + suffix):
                os.remove(copy + suffix)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="where to write (the ledger's disk; default: a temp dir here)")
    ap.add_argument("-n", type=int, default=2000, help="commits per floor measurement and captures (default 2000)")
    ap.add_argument("--capture", metavar="DB", help="also time record() on a copy of this ledger")
    ap.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL"))
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="fsync-floor-", dir=args.dir or ".")
    results: dict[str, object] = {"dir": os.path.abspath(folder)}
    try:
        for sync in (False, True):
            for append in (True, False):
                for frames in FRAMES:
                    name = f"{'append' if append else 'overwrite'} {frames:>2} frames{' + fdatasync' if sync else ''}"
                    got = floor(os.path.join(folder, "wal"), frames, sync=sync, append=append,
                                n=args.n if not sync else max(200, args.n // 4))
                    results[name] = got
                    if not args.json:
                        print(f"{name:<36} mean {got['mean_us']:8.1f}  p50 {got['p50_us']:8.1f}  "
                              f"p99 {got['p99_us']:8.1f} us", flush=True)
        if args.capture:
            got = capture(args.capture, folder, args.n, args.synchronous)
            results["capture"] = got
            if not args.json:
                print(f"{'capture (record), ' + args.synchronous:<36} mean {got['mean_us']:8.1f}  "
                      f"p50 {got['p50_us']:8.1f}  p99 {got['p99_us']:8.1f} us; "
                      f"{got['wal_frames_per_capture']:.2f} WAL frames, CPU user {got['user_cpu_us']:.1f} + "
                      f"system {got['system_cpu_us']:.1f} us per capture")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
