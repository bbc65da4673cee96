"""Which B-trees a durable capture reads pages of: ``record()``'s page reads, each put down to its table or index.

A capture walks the transcript table and its five indexes from their roots; a page missing from
the capture connection's cache is read back (``pread``) from the OS's cache or the disk. This
records ``--phases`` loops of ``-n`` captures each (the ledger's own spread of ``--developers``,
as ``store_scale.py --only write`` draws them, 50 unmeasured first) on one connection, in a child
process under ``strace -ff -e trace=pread64,openat``: the first loop is a fresh process's, as the
write step's is; the later ones show what stays cached. Each read of the database file is named
by the B-tree owning its page (``dbstat``, read after the run); reads of the WAL are counted
apart. Only the capturing thread's calls are counted (not the checkpoint thread's).

    python bench/capture_pages.py --db /work/data/n1000.db --copy /tmp/pages.db --phases 3
    python bench/capture_pages.py --copy EXISTING_COPY --cache-kib 16384,65536   # one run per cache size, same copy
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_OPEN = re.compile(r'openat\(AT_FDCWD, "([^"]+)".*= (\d+)$')
_PREAD = re.compile(r'pread64\((\d+), .*, \d+, (\d+)\) = \d+$')


def child(copy: str, n: int, phases: int, developers: int, cache_kib: int) -> None:
    """The captures, each phase between two opens of ``COPY.mark`` (the marks :func:`attribute` finds in the trace)."""
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    import _ledger

    from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger

    store = SQLiteLedger(copy)
    # Counts, not times: a capture may wait for a checkpoint's hold as long as strace makes it.
    store.capture_timeout_ms = 60_000
    if cache_kib:
        store.capture_cache_kib = cache_kib
    rows = next(_ledger.generate(50 + n * phases, seed=99, end_ms=int(time.time() * 1000), days=1, heavy_users=0,
                                 batch=50 + n * phases, developers=developers))
    for row in rows[:50]:
        store.record(row)
    for p in range(phases):
        os.close(os.open(copy + ".mark", os.O_RDONLY | os.O_CREAT))
        for row in rows[50 + p * n:50 + (p + 1) * n]:
            store.record(row)
        os.close(os.open(copy + ".mark", os.O_RDONLY | os.O_CREAT))
    store.close()


def main_thread_trace(prefix: str, mark: str) -> str:
    """Of ``strace -ff``'s files, one a thread, the capturing thread's: the one that opened ``mark``.

    One file for all threads splits a call that another thread's interrupts over two lines
    (``<unfinished ...>``, ``<... resumed>``), and marks read so were missed.
    """
    for name in sorted(glob.glob(prefix + ".*")):
        with open(name) as f:
            if f'"{mark}"' in f.read():
                return name
    raise SystemExit(f"no thread of the child opened {mark}: did it run?")


def attribute(trace: str, db: str, n: int) -> list[dict[str, float]]:
    """Per phase: read calls a capture of the database file and of the WAL, and of each B-tree's pages (``trace``: the capturing thread's)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    fds: dict[int, str] = {}
    marks = 0
    phases: list[tuple[collections.Counter[str], collections.Counter[int]]] = []
    with open(trace) as f:
        for line in f:
            if m := _OPEN.match(line.rstrip()):
                if m.group(1) == db + ".mark":
                    marks += 1
                    if marks % 2:
                        phases.append((collections.Counter(), collections.Counter()))
                fds[int(m.group(2))] = {db: "db", db + "-wal": "wal"}.get(m.group(1), m.group(1))
            elif (m := _PREAD.match(line.rstrip())) and marks % 2:
                kind = fds.get(int(m.group(1)), "?")
                phases[-1][0][kind] += 1
                if kind == "db":
                    phases[-1][1][int(m.group(2)) // page_size + 1] += 1
    wanted = set().union(*(pages for _, pages in phases))
    owner = {pageno: f"{name.removeprefix('idx_transcripts_')} {kind}" for pageno, name, kind in
             conn.execute("SELECT pageno, name, pagetype FROM dbstat") if pageno in wanted}
    conn.close()
    out = []
    for kinds, pages in phases:
        by_tree: collections.Counter[str] = collections.Counter()
        for pageno, count in pages.items():
            by_tree[owner.get(pageno, "free")] += count
        out.append({"db": kinds["db"] / n, "wal": kinds["wal"] / n,
                    **{tree: count / n for tree, count in by_tree.most_common()}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="the ledger to copy (never written)")
    ap.add_argument("--copy", help="the copy captured into (made from --db, else an existing one, kept)")
    ap.add_argument("-n", type=int, default=2000, help="captures a phase")
    ap.add_argument("--phases", type=int, default=2)
    ap.add_argument("--developers", type=int, default=1000)
    ap.add_argument("--cache-kib", default="0", help="the capture connection's cache, comma-separated (0: the ledger's)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        copy, *nums = args.child
        child(copy, *map(int, nums))
        return
    if not args.copy:
        raise SystemExit("capture_pages.py needs --copy: the ledger it captures into (made from --db, or kept from a run before).")
    if shutil.which("strace") is None:
        raise SystemExit("capture_pages.py needs strace on the PATH (apt-get install strace).")
    if args.db:
        shutil.copyfile(args.db, args.copy)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(args.copy + suffix):
                os.remove(args.copy + suffix)
    trace = args.copy + ".strace"
    for cache in args.cache_kib.split(","):
        subprocess.run(["strace", "-ff", "-qq", "-e", "trace=pread64,openat", "-o", trace, sys.executable,
                        os.path.abspath(__file__), "--child", os.path.abspath(args.copy), str(args.n),
                        str(args.phases), str(args.developers), cache], check=True)
        copy = os.path.abspath(args.copy)
        result = attribute(main_thread_trace(trace, copy + ".mark"), copy, args.n)
        for name in glob.glob(trace + ".*"):
            os.remove(name)
        os.remove(args.copy + ".mark")
        if args.json:
            print(json.dumps({"cache_kib": int(cache), "phases": result}))
            continue
        print(f"capture cache {cache} KiB" if cache != "0" else "the ledger's capture cache")
        for p, counts in enumerate(result):
            trees = "; ".join(f"{tree} {v:.3f}" for tree, v in counts.items() if tree not in ("db", "wal") and v >= 0.001)
            print(f"  phase {p}: read calls a capture: database {counts['db']:.3f}, WAL {counts['wal']:.3f}\n    {trees}")


if __name__ == "__main__":
    main()
