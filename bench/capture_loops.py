"""Why one ``record()`` costs more in one loop than in another: the same captures under each loop's conditions.

``store_scale.py --only write`` and ``fsync_floor.py --capture`` time the same call on the same
ledger and used to disagree by ~90 us. This runs ``SQLiteLedger.record`` on a copy of a ledger
under each condition apart, each variant in a fresh process, the variants interleaved round by
round, and reports per capture: wall time (mean, p50, p99), the thread's user and system CPU,
its read and write system calls (``/proc/thread-self/io``: ``pread`` of pages the connection had
to fetch, ``pwrite`` of WAL frames), and the background thread's CPU per captured row.

Variants:
  started      the ledger's background thread runs (indexing, checkpoints): fsync_floor's loop
  unstarted    not started: checkpoints on the process's shared thread, no indexing (store_scale's);
               after the loop, the rows are indexed and checkpointed as the background thread
               would, and that CPU is reported per row (index_cpu_us, checkpoint_cpu_us)
  reserved     unstarted, the WAL first written out to its working size as a started ledger's thread
               does (``reserve_wal``): the first pass writes over it instead of growing it
  steady       unstarted, timed once the WAL has started over (a server's WAL, written over its
               cached frames, where a fresh copy's WAL grows with every frame)
  interleaved  unstarted, and every 4th capture followed by an insert on another connection of the
               same process (store_scale's loop before this change: its unchained comparison insert)
  interleaved-capture-conn  the same, the insert on the capture's own connection

    python bench/capture_loops.py --db /work/data/n1000.db --copy /tmp/loops.db --runs 3 -n 2000
    python bench/capture_loops.py --db /work/data/n1000.db --copy /tmp/loops.db --root <before> --root . \
        --variants unstarted --runs 3     # two trees side by side, interleaved
    python bench/capture_loops.py --db /work/data/n1000.db --copy /tmp/loops.db --developers 1000 \
        --variants unstarted,started --wal-writes each,gathered --runs 3   # the WAL's writes, one tree
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("started", "unstarted", "reserved", "steady", "interleaved", "interleaved-capture-conn")


def thread_io() -> tuple[int, int]:
    """This thread's read and write system calls so far (``syscr``, ``syscw``)."""
    with open("/proc/thread-self/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


def thread_cpu() -> tuple[float, float]:
    """This thread's user and system CPU seconds."""
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_utime, r.ru_stime


def process_cpu() -> float:
    t = os.times()
    return t.user + t.system


def child(variant: str, copy: str, n: int, developers: int = 4) -> dict[str, float]:
    """One variant's loop in this process: ``n`` captures after 50 unmeasured ones."""
    sys.path[:0] = [HERE]
    import _ledger

    from skills_sdk.transcripts.sqlite.ledger import INSERT_SQL, SQLiteLedger

    store = SQLiteLedger(copy)
    if variant == "started":
        store.start_background()
    rows = next(_ledger.generate(n + 50, seed=int(time.time()) % 1000, end_ms=int(time.time() * 1000), days=1,
                                 heavy_users=0, batch=n + 50, developers=developers))
    if variant == "reserved":
        store.reserve_wal()
    for row in rows[:50]:
        store.record(row)
    if variant == "steady":
        # A server's WAL has started over many times and is written over its old, cached frames;
        # a fresh copy's grows (appended frames cost the kernel more). Capture until it started over.
        def salt() -> bytes:
            with open(copy + "-wal", "rb") as f:
                return f.read(24)[12:24]
        first, i = salt(), 0
        while salt() == first:
            store.record(dict(rows[i % 50], request_id=f"{rows[i % 50]['request_id']}s{i}"))
            i += 1
    other = store.capture_conn if variant == "interleaved-capture-conn" else store.conn
    from skills_sdk.transcripts.record import storage_values

    took: list[float] = []
    extra_ids: list[int] = []
    main_cpu = 0.0
    wal0 = os.path.getsize(copy + "-wal")
    r0, w0 = thread_io()
    u0, s0 = thread_cpu()
    p0 = process_cpu()
    for i, row in enumerate(rows[50:]):
        t = time.perf_counter()
        store.record(row)
        took.append(time.perf_counter() - t)
        if variant.startswith("interleaved") and i % 4 == 0:
            c0 = thread_cpu()
            values = storage_values(dict(row, request_id=row["request_id"] + "b"))
            with store.writing():
                extra_ids.append(other.execute(INSERT_SQL, values).lastrowid)
            c1 = thread_cpu()
            main_cpu += (c1[0] - c0[0]) + (c1[1] - c0[1])  # the extra insert's own CPU, taken out below
    u1, s1 = thread_cpu()
    r1, w1 = thread_io()
    p1 = process_cpu()
    wal1 = os.path.getsize(copy + "-wal")
    others = (p1 - p0) - ((u1 - u0) + (s1 - s0))  # every other thread: indexer, checkpoints, lock waiter
    if extra_ids:
        store.conn.execute(f"DELETE FROM transcripts WHERE id IN ({','.join(map(str, extra_ids))})")
    background = {}
    if variant == "unstarted":
        # The background thread's work for these rows, on this thread, timed: the full-text index
        # filled as the started ledger's thread does it (slices under the write lock, each followed
        # by a merge step), then one checkpoint of everything the captures and the index wrote.
        from skills_sdk.transcripts.sqlite.fts import CHANGE_SLICE, index_pending, merge_step

        conn = store.conn
        c0, indexed = time.thread_time(), 0
        while True:
            with store.writing(yielding=True):
                got = index_pending(conn, limit=store.index_slice, merge=False, changes=CHANGE_SLICE)
            if not got:
                break
            indexed += got
            with store.writing(yielding=True):
                merge_step(conn)
        c1 = time.thread_time()
        store.checkpoint("PASSIVE")
        c2 = time.thread_time()
        background = {"indexed": indexed, "index_cpu_us": (c1 - c0) / max(indexed, 1) * 1e6,
                      "checkpoint_cpu_us": (c2 - c1) / n * 1e6}
    if variant == "started":
        store.stop_background()
    store.close()
    s = sorted(took)
    return {"mean_us": statistics.fmean(took) * 1e6, "p50_us": s[len(s) // 2] * 1e6,
            "p99_us": s[int(len(s) * 0.99)] * 1e6,
            # the tail's share of the mean: captures over 1 ms (waits, stalls), their time beyond the p50
            "over_1ms": sum(t > 1e-3 for t in took),
            "over_1ms_us": sum(t - s[len(s) // 2] for t in took if t > 1e-3) / n * 1e6,
            # the thread's CPU less the extra inserts' own (measured around each)
            "cpu_us": ((u1 - u0) + (s1 - s0) - main_cpu) / n * 1e6,
            "user_us": (u1 - u0) / n * 1e6, "system_us": (s1 - s0) / n * 1e6,
            "extra_insert_cpu_us": main_cpu / n * 1e6,
            # frames written past the WAL's end (the file grew), per capture
            "appended_frames": max(0, wal1 - wal0) / 4120 / n,
            "reads": (r1 - r0) / n, "writes": (w1 - w0) / n, "other_threads_cpu_us": others / n * 1e6,
            **background}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="the ledger to copy (never written)")
    ap.add_argument("--copy", help="where the copy goes (made once, reused by every run; removed at the end); without --db, an existing copy, kept")
    ap.add_argument("--root", action="append", default=[], help="a source tree to run (repeatable; default .)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--developers", type=int, default=4,
                    help="spread the captures over this many developers (the ledger's own: 1,000 for n1000.db)")
    ap.add_argument("--wal-writes", default=os.environ.get("SKILLS_WAL_WRITES", ""),
                    help="SKILLS_WAL_WRITES for the runs, comma-separated to interleave: 'each,gathered' "
                         "(SQLite's own two writes a frame against a commit's frames in one)")
    ap.add_argument("--child", nargs=2, metavar=("VARIANT", "COPY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.n, args.developers)))
        return 0
    roots = [os.path.abspath(r) for r in args.root] or [os.path.dirname(HERE)]
    variants = args.variants.split(",")
    if args.db:
        shutil.copyfile(args.db, args.copy)
        os.sync()
    results: dict[str, list[dict[str, float]]] = {}
    try:
        for run in range(args.runs):
            for root, writes in ((r, w) for r in roots for w in args.wal_writes.split(",")):
                for variant in variants:
                    env = dict(os.environ, PYTHONPATH=root, SKILLS_WAL_WRITES=writes)
                    out = subprocess.run([sys.executable, os.path.abspath(__file__), "-n", str(args.n), "--developers", str(args.developers),
                                          "--child", variant, args.copy], env=env, check=True,
                                         capture_output=True, text=True, cwd=root).stdout
                    got = json.loads(out.splitlines()[-1])
                    key = f"{os.path.basename(root) or root} {variant}" + (f" {writes}" if "," in args.wal_writes else "")
                    results.setdefault(key, []).append(got)
                    print(f"run {run + 1} {key:<40} " + "  ".join(f"{k} {v:.1f}" for k, v in got.items()),
                          flush=True)
    finally:
        for suffix in ("", "-wal", "-shm", "-lock", ".spool") if args.db else ():
            if os.path.exists(args.copy + suffix):
                os.remove(args.copy + suffix)
    print(f"\nmedians of {args.runs} runs, {args.n} captures each (load {os.getloadavg()[0]:.1f}):")
    for key, runs in results.items():
        med = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]}
        print(f"{key:<44} " + "  ".join(f"{k} {v:.1f}" for k, v in med.items()))
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "capture-loops"
    sys.exit(main())
