"""The transcript store at scale: write, read, search, erase, purge and export on a big ledger.

    python bench/store_scale.py --rows 1000000                       # generate in a temp dir, measure
    python bench/store_scale.py --rows 10000000 --db /tmp/skills-bench/10m.db --reuse
    python bench/store_scale.py --rows 10000000 --db /tmp/skills-bench/10m.db --generate-only

Generates a realistic ledger (4 developers, 8 skills, 100,000 long-tailed users, sessions of 1-8
turns, 10% with a transaction) through ``TranscriptStore.record_many``, then measures everything on
that database, prints a table, and ends with one JSON line holding every figure. ``--reuse`` keeps
an existing database of the right size (erasure and purge remove a few users and the oldest day on
each run; the rows they take are topped up with new ones first).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _ledger  # noqa: E402

from skills_sdk.transcripts import store as _store_module  # noqa: E402
from skills_sdk.transcripts.sqlite.chain import chain_removed, returning_content  # noqa: E402
from skills_sdk.transcripts.sqlite.queries import rows as read_rows  # noqa: E402
from skills_sdk.transcripts.store import _INSERT_COLUMNS, TranscriptStore  # noqa: E402

# The SQLite the store runs on (it may be a newer build than the stdlib's): the plain reference
# must use the same one.
sqlite3 = _store_module.sqlite3

TTY = sys.stderr.isatty()


class Progress:
    """A one-line progress counter on stderr, shown only on a terminal."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.t0, self.last = label, max(total, 1), time.perf_counter(), 0.0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if TTY and (now - self.last > 0.5 or done >= self.total):
            self.last = now
            rate = done / max(now - self.t0, 1e-9)
            sys.stderr.write(f"\r  {self.label}: {done:,}/{self.total:,} ({100 * done / self.total:.0f}%) "
                             f"{rate:,.0f} rows/s   ")
            if done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- generation ---------------------------------------------------------------------------------
def generate(store: TranscriptStore, rows: int, *, seed: int = 7, end_ms: int | None = None,
             developers: int = 4) -> float:
    """Fill ``store`` with ``rows`` generated transcripts via ``record_many``; returns rows/s."""
    # A bulk import may use a larger page cache on its own connection; the default 2 MB makes every
    # insert into the (user_id, id) index a read from the OS page cache once the index outgrows it.
    store.conn.execute("PRAGMA cache_size = -262144")
    progress = Progress("generate", rows)
    t0 = time.perf_counter()
    done = 0
    for batch in _ledger.generate(rows, seed=seed, end_ms=end_ms, batch=20_000, developers=developers):
        done += store.record_many(batch)
        progress.update(done)
    store.conn.execute("PRAGMA cache_size = -2000")
    store.checkpoint("TRUNCATE")
    return rows / (time.perf_counter() - t0)


def open_ledger(args: argparse.Namespace) -> tuple[TranscriptStore, str, float | None]:
    """Open (or generate) the big database; returns the store, its path and the generation rate."""
    path = args.db or os.path.join(args.tmp, f"ledger-{args.rows}.db")
    rate = None
    if os.path.exists(path) and not args.reuse:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    store = TranscriptStore(path)
    have = store.count()
    if have == 0:
        log(f"generating {args.rows:,} transcripts into {path}")
        rate = generate(store, args.rows, seed=args.seed, developers=args.developers)
    elif have < args.rows:
        # A reused ledger that earlier runs purged and erased from: top it up with newer rows so the
        # table keeps its size (new sessions, so they land at the newest end like real traffic).
        last = store.conn.execute("SELECT max(created_at) FROM transcripts").fetchone()[0]
        log(f"reusing {path}: {have:,} rows, topping up {args.rows - have:,}")
        end = _ms(last) + 86_400_000
        for batch in _ledger.generate(args.rows - have, seed=int(time.time()), end_ms=end, days=1,
                                      heavy_users=0, developers=args.developers):
            store.record_many(batch)
    else:
        log(f"reusing {path}: {have:,} rows")
    index_fts(store)
    return store, path, rate


def index_fts(store: TranscriptStore) -> None:
    """Bring the full-text index up to date first (the store indexes new rows in batches)."""
    try:
        from skills_sdk.transcripts.sqlite.fts import index_pending
    except ImportError:
        return
    t = time.perf_counter()
    while True:
        try:
            n = index_pending(store.conn)
            break
        except sqlite3.OperationalError:  # the checkpoint thread is indexing them: wait for it
            time.sleep(1)
    if n:
        log(f"indexed {n:,} rows for full-text search in {time.perf_counter() - t:.1f} s")


def _ms(iso: str) -> int:
    return int(time.mktime(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="transcripts in the ledger")
    ap.add_argument("--db", help="database file (default: a temp dir, removed at the end)")
    ap.add_argument("--reuse", action="store_true", help="keep an existing --db instead of regenerating it")
    ap.add_argument("--generate-only", action="store_true", help="generate the ledger and stop")
    ap.add_argument("--queries", type=int, default=300, help="random queries per read measurement")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--developers", type=int, default=4,
                    help="developers the rows are spread over: 4 (the example companies) or any N, long-tailed")
    ap.add_argument("--only", default=None, metavar="STEPS",
                    help="measure only these steps, comma-separated (open, reads, write, export, erase, purge, "
                         "verify, size); default: all")
    ap.add_argument("--fts-buckets", type=int, default=None,
                    help="full-text tables per day of a newly generated ledger (default: the store's own)")
    args = ap.parse_args(argv)
    if args.fts_buckets is not None:
        from skills_sdk.transcripts.sqlite import fts

        fts.FTS_BUCKETS = args.fts_buckets
    args.tmp = tempfile.mkdtemp(prefix="skills-store-scale-")
    try:
        store, path, rate = open_ledger(args)
        if args.generate_only:
            log(f"generated at {rate or 0:,.0f} rows/s")
            return 0
        return measure(store, path, rate, args)
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)


# -- measuring ----------------------------------------------------------------------------------
def pct(samples: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0-100) of ``samples``."""
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def latencies(fn: Callable[[Any], Any], inputs: list[Any], cpu: dict[str, float] | None = None,
              name: str = "") -> tuple[float, float]:
    """p50 and p99 in ms of ``fn(x)`` over ``inputs`` (after a short warm-up).

    With ``cpu``, the p50 and p99 of this thread's CPU time per call are stored there too, as
    ``{name}_cpu_p50_ms`` and ``{name}_cpu_p99_ms``: on a shared machine the wall-clock p99 is
    mostly time spent waiting for a core, which the CPU time leaves out.
    """
    for x in inputs[:10]:
        fn(x)
    out, used = [], []
    for x in inputs:
        c, t = time.thread_time(), time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
        used.append((time.thread_time() - c) * 1000)
    if cpu is not None:
        cpu[f"{name}_cpu_p50_ms"], cpu[f"{name}_cpu_p99_ms"] = pct(used, 50), pct(used, 99)
    return pct(out, 50), pct(out, 99)


def privacy_api() -> dict[str, Callable[..., Any]]:
    """The real erase / purge / search / developer-page functions, where they exist yet."""
    found: dict[str, Callable[..., Any]] = {}
    try:
        from skills_sdk.transcripts.erasure import erase_user
        found["erase"] = erase_user
    except ImportError:
        pass
    try:
        from skills_sdk.transcripts.retention import purge
        found["purge"] = purge
    except ImportError:
        pass
    try:
        from skills_sdk.transcripts.search import parse_filters, search

        def dev_page(store: TranscriptStore, developer_id: str, *, since: str, until: str, limit: int) -> Any:
            # What GET /v1/transcripts?since=..&until=.. runs for a developer's key.
            return search(store, parse_filters({"since": since, "until": until}), developer_id=developer_id,
                          limit=limit)

        def text_search(store: TranscriptStore, developer_id: str, words: str, limit: int) -> Any:
            # What GET /v1/transcripts?q=... runs for a developer's key.
            return search(store, parse_filters({"q": words}), developer_id=developer_id, limit=limit)

        found["dev_page"] = dev_page
        found["search"] = text_search
    except ImportError:
        pass
    return found


def random_rows(store: TranscriptStore, n: int, rng: random.Random, cols: str) -> list[tuple[Any, ...]]:
    """``n`` random existing rows (by random id), as tuples of ``cols``."""
    conn = store.conn
    lo, hi = conn.execute("SELECT min(id), max(id) FROM transcripts").fetchone()
    out: list[tuple[Any, ...]] = []
    while len(out) < n:
        r = conn.execute(f"SELECT {cols} FROM transcripts WHERE id >= ? ORDER BY id LIMIT 1",
                         (rng.randint(lo, hi),)).fetchone()
        if r:
            out.append(r)
    return out


def copy_schema(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """Create in ``dst`` every table, index, trigger and virtual table ``src`` has (not FTS shadows)."""
    objs = src.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    virtual = [n for t, n, sql in objs if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    for kind, name, sql in sorted(objs, key=lambda o: {"table": 0, "index": 1, "view": 2, "trigger": 3}[o[0]]):
        if name.startswith("sqlite_") or any(name.startswith(v + "_") and kind == "table" for v in virtual):
            continue
        dst.execute(sql)


def wal_size(path: str) -> int:
    try:
        return os.path.getsize(path + "-wal")
    except OSError:
        return 0


def thread_reads() -> int:
    """Read system calls this thread made so far (``syscr``; 0 where ``/proc`` has no such file)."""
    try:
        with open("/proc/thread-self/io") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("syscr"))
    except OSError:
        return 0


def run_queue_s() -> float:
    """Seconds this thread has waited, runnable, for a CPU (``/proc/thread-self/schedstat``; 0 where there is none)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def measure_write(store: TranscriptStore, tmp: str, rows: int, developers: int = 4) -> dict[str, float]:
    """Durable single capture on the big ledger; bulk import against plain sqlite3 on fresh files."""
    out: dict[str, float] = {}
    n = 2000
    now_ms = int(time.time() * 1000)
    # The ledger's own spread of developers: with 1,000, captures land on 1,000 developers' newest
    # index pages (and 2,000 skills'), not on the four example companies' few.
    capture_rows = next(_ledger.generate(n, seed=99, end_ms=now_ms, days=1, heavy_users=0, batch=n,
                                         developers=developers))
    # What a started ledger's background thread does first: the WAL written out to its working
    # size, so the captures below write over its blocks as a running server's do.
    reserve = getattr(store, "reserve_wal", None)
    if reserve is not None:
        t = time.perf_counter()
        reserve()
        out["wal_reserve_ms"] = (time.perf_counter() - t) * 1e3
    for row in capture_rows[:50]:
        store.record(dict(row, request_id=row["request_id"] + "w"))
    each, bare, bare_ids, queued = [], [], [], []
    # The capture's own connection: an insert on another one (as this step made before) leaves
    # the capture connection's page cache stale, and the next capture reads its pages again
    # (16 reads a capture against 1.3, bench/capture_loops.py), which no server's capture pays.
    conn = getattr(store, "capture_conn", None) or store.db.conn
    frame = 24 + conn.execute("PRAGMA page_size").fetchone()[0]
    wal = wal_size(store.path)
    holds0 = getattr(store, "wal_holds", 0), getattr(store, "wal_hold_s", 0.0)
    a = thread_reads()
    sampling = thread_reads() - a  # what a thread_reads() call adds between two samples
    a = thread_reads()
    run_queue_s()
    own_reads = thread_reads() - a - sampling  # one run_queue_s() call's
    reads0 = thread_reads()
    cpu = 0.0
    for i, row in enumerate(capture_rows):
        q1 = run_queue_s()
        c1 = time.thread_time()
        t1 = time.perf_counter()
        store.record(row)          # what Capture does per turn: the row with its seal, one commit
        each.append(time.perf_counter() - t1)
        cpu += time.thread_time() - c1
        queued.append(run_queue_s() - q1)
        if i % 4 == 0:
            # Side by side, interleaved: the same insert as one autocommit statement with no seal
            # (the capture before tamper evidence); those rows are deleted again below.
            values = _store_module._values(dict(row, request_id=row["request_id"] + "b"))
            t1 = time.perf_counter()
            with store.writing():
                bare_ids.append(conn.execute(_store_module._INSERT_SQL, values).lastrowid)
            bare.append(time.perf_counter() - t1)
    # The captures' own time and CPU only: the loop's two /proc reads a capture (run_queue_s, 19-24 us
    # each here) and the side-by-side insert's values were counted in, some 45 us of a capture's mean.
    dt = sum(each)
    # Less the loop's own: each run_queue_s() reads /proc (2 read calls), twice a capture; counted
    # in, they made 4 of the "5.4 page reads a capture" the previous sitting reported.
    reads = thread_reads() - reads0 - 2 * n * own_reads
    out["capture_appended_frames"] = max(0, wal_size(store.path) - wal) / frame / n
    with store.writing():  # as an erasure would: tombstones, so verify below finds no gap where they were
        conn.execute("BEGIN IMMEDIATE")
        gone = conn.execute(f"DELETE FROM transcripts WHERE id IN ({','.join(map(str, bare_ids))})"
                            + returning_content(conn)).fetchall()
        chain_removed(conn, store.secret(), gone, "erase")
        conn.execute("COMMIT")
    out["capture_us"] = dt / n * 1e6
    # On a shared machine the wall clock carries other processes; the thread's CPU does not.
    out["capture_cpu_us"] = cpu / n * 1e6
    out["capture_reads"] = reads / n  # read system calls a capture made (pages not in its cache), the bare inserts' included
    out["capture_rows_per_s"] = n / dt
    # The mean carries the waits behind the background full-text indexer; the p50 does not.
    out["capture_p50_us"], out["capture_p99_us"] = pct(each, 50) * 1e6, pct(each, 99) * 1e6
    # The mean less the p50, split: waiting for a CPU while runnable (other processes: the machine),
    # held off while a checkpoint let the WAL start over (the ledger's), and the rest (cache misses
    # read from the disk, checkpoints under way, the collector).
    out["capture_above_p50_us"] = out["capture_us"] - out["capture_p50_us"]
    out["capture_run_queue_us"] = sum(queued) / n * 1e6
    out["capture_wal_holds"] = getattr(store, "wal_holds", 0) - holds0[0]
    out["capture_wal_hold_us"] = (getattr(store, "wal_hold_s", 0.0) - holds0[1]) / n * 1e6
    # The same captures again, now that the WAL has started over (the loop above passed its bound,
    # 16,384 frames): a fresh copy's WAL grows with every frame, a running server's is written
    # over its cached frames, which costs the kernel less (bench/capture_loops.py --variants steady).
    steady_rows = next(_ledger.generate(n, seed=98, end_ms=now_ms, days=1, heavy_users=0, batch=n))
    steady = []
    wal = wal_size(store.path)
    cpu0 = time.thread_time()
    for row in steady_rows:
        t1 = time.perf_counter()
        store.record(row)
        steady.append(time.perf_counter() - t1)
    out["capture_steady_cpu_us"] = (time.thread_time() - cpu0) / n * 1e6
    # frames written past the WAL file's end, per capture (0 when it is written over throughout)
    out["capture_steady_appended_frames"] = max(0, wal_size(store.path) - wal) / frame / n
    out["capture_steady_us"] = sum(steady) / n * 1e6
    out["capture_steady_p50_us"], out["capture_steady_p99_us"] = pct(steady, 50) * 1e6, pct(steady, 99) * 1e6
    out["capture_unchained_p50_us"] = pct(bare, 50) * 1e6
    out["chain_cost_p50_us"] = out["capture_p50_us"] - out["capture_unchained_p50_us"]
    out["chained_vs_unchained"] = out["capture_p50_us"] / out["capture_unchained_p50_us"]

    m = min(100_000, max(rows, 2000))
    sample = next(_ledger.generate(m, seed=11, batch=m))
    bulk = TranscriptStore(os.path.join(tmp, "bulk.db"))
    t = time.perf_counter()
    bulk.record_many(sample)
    out["bulk_rows_per_s"] = m / (time.perf_counter() - t)
    raw = sqlite3.connect(os.path.join(tmp, "raw.db"), isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = NORMAL")
    raw.execute("PRAGMA wal_autocheckpoint = 0")  # as the store: no checkpoint inside the timed commit
    copy_schema(bulk.conn, raw)
    tuples = [tuple(r.get(c) for c in _INSERT_COLUMNS) for r in sample]
    sql = "INSERT INTO transcripts ({}) VALUES ({})".format(", ".join(f'"{c}"' for c in _INSERT_COLUMNS),
                                                            ", ".join("?" * len(_INSERT_COLUMNS)))
    t = time.perf_counter()
    raw.execute("BEGIN")
    raw.executemany(sql, tuples)
    raw.execute("COMMIT")
    out["raw_sqlite_rows_per_s"] = m / (time.perf_counter() - t)
    out["bulk_vs_raw"] = out["bulk_rows_per_s"] / out["raw_sqlite_rows_per_s"]
    raw.close()
    bulk.close()
    return out


def measure_reads(store: TranscriptStore, api: dict[str, Callable[..., Any]], q: int,
                  rng: random.Random) -> dict[str, float]:
    """p50/p99 of a user's history, a developer's page, a session's turns and a full-text search."""
    out: dict[str, float] = {}
    picks = random_rows(store, q, rng, "user_id, developer_id, session_id, created_at, speech")
    p = latencies(lambda r: store.user_history(r[0], limit=50), picks, out, "user_history")
    out["user_history_p50_ms"], out["user_history_p99_ms"] = p
    conn = store.conn
    first, last = conn.execute("SELECT min(created_at), max(created_at) FROM transcripts").fetchone()
    dev_page = api.get("dev_page")

    def page(r: tuple[Any, ...]) -> Any:
        # A day-long window ending at a random row's time, newest 50 first.
        until = r[3]
        since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(_ms(until) / 1000 - 86400))
        if dev_page is not None:
            return dev_page(store, r[1], since=since, until=until, limit=50)
        return read_rows(store.conn, "SELECT * FROM transcripts WHERE developer_id = ? AND created_at >= ? "
                         "AND created_at < ? ORDER BY created_at DESC, id DESC LIMIT 50", (r[1], since, until))

    out["dev_page_p50_ms"], out["dev_page_p99_ms"] = latencies(page, picks, out, "dev_page")
    if dev_page is not None:
        # The first page a developer sees: no time range, newest 50 (a few runs: it can be slow).
        from skills_sdk.transcripts.search import search
        devs = [r[1] for r in picks[:3]]
        t = time.perf_counter()
        for d in devs:
            search(store, {}, developer_id=d, limit=50)
        out["dev_newest_page_ms"] = (time.perf_counter() - t) * 1000 / len(devs)
    out["session_p50_ms"], out["session_p99_ms"] = latencies(lambda r: store.session_turns(r[2]), picks)
    search = api.get("search")
    if search is not None:
        # Words from real rows' speech, searched within that row's developer.
        queries = [(r[1], w.strip(".,?!").lower()) for r in picks for w in (r[4] or "").split()
                   if len(w.strip(".,?!")) > 4]
        rng.shuffle(queries)
        queries = queries[:q] or [(picks[0][1], "pizza")]
        out.update(merge_segments(store))
        # A server's reading connection prepared each day's full-text statement long ago: a word no row
        # holds reaches every day's table once (the first such search on a new connection here: some
        # 60 ms of CPU, counted in the p99 of 300 otherwise).
        t = time.perf_counter()
        search(store, queries[0][0], "zzqxjvv", 50)
        out["fts_warm_ms"] = (time.perf_counter() - t) * 1e3
        out["fts_p50_ms"], out["fts_p99_ms"] = latencies(lambda x: search(store, x[0], x[1], 50), queries, out, "fts")
    else:
        out["fts_p50_ms"] = out["fts_p99_ms"] = None  # type: ignore[assignment]
    return out


def merge_segments(store: TranscriptStore, most: int = 10_000) -> dict[str, float]:
    """Merge the full-text index's segments as a running server's maintenance would, before a search is timed.

    Each bench process that captures leaves its rows' segments and exits before merging them; a
    server merges today's tables at each indexing slice.
    """
    try:
        from skills_sdk.transcripts.sqlite import fts_merge
    except ImportError:  # another ledger (or a tree from before the merges)
        return {}
    conn = getattr(store, "capture_conn", None) or store.conn
    steps, t = 0, time.perf_counter()
    with store.writing():
        while steps < most and fts_merge.merge_step(conn):
            steps += 1
    return {"fts_merge_steps": steps, "fts_merge_ms": (time.perf_counter() - t) * 1e3}


def measure_erase(store: TranscriptStore, api: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """Erase seeded users holding the most rows (1,000 at full size), through the real erasure."""
    erase = api.get("erase")
    conn = store.conn
    heavy = conn.execute(
        "SELECT user_id, count(*) FROM transcripts WHERE user_id >= ? AND user_id < ? GROUP BY user_id "
        "ORDER BY count(*) DESC, user_id", (_ledger.HEAVY_PREFIX, _ledger.HEAVY_PREFIX + "~")).fetchall()
    if not heavy:
        log("erasure not measured: earlier --reuse runs erased every seeded 1,000-row user (three per run); "
            "generate the ledger again to measure it")
    if erase is None or not heavy:
        return {"erase_1000_ms": None, "erase_1000_max_ms": None, "erase_rows": heavy[0][1] if heavy else 0}
    # A ledger that scrubs after the reply (its background thread does, in a server) is timed as a
    # server answers: the reply, then the scrub on its own; otherwise the whole erasure is the reply.
    two_steps = "scrub" in inspect.signature(store.erase_user).parameters
    times, used, scrub_times, scrub_used = [], [], [], []
    pause = 2.0 if heavy[0][1] >= 1000 else 0.0  # at full size, let the previous one's checkpoint settle
    for user_id, _count in heavy[:3]:  # three users: the median is the figure
        time.sleep(pause)
        c, t = time.thread_time(), time.perf_counter()
        if two_steps:
            store.erase_user(user_id, actor="bench", scrub=False)  # rows, state, receipt: one commit
        else:
            erase(store, user_id, actor="bench")   # delete, full-text deletes, wal_checkpoint(TRUNCATE)
        times.append((time.perf_counter() - t) * 1000)
        used.append((time.thread_time() - c) * 1000)
        if two_steps:
            c, t = time.thread_time(), time.perf_counter()
            if not store.finish_scrubs():  # full-text deletes, wal_checkpoint(TRUNCATE)
                raise SystemExit(f"the scrub of {user_id}'s erasure could not empty the WAL")
            scrub_times.append((time.perf_counter() - t) * 1000)
            scrub_used.append((time.thread_time() - c) * 1000)
        left = store.count(user_id=user_id)
        if left:
            raise SystemExit(f"erasure of {user_id} left {left} rows")
    mid = len(times) // 2
    return {"erase_1000_ms": sorted(times)[mid], "erase_1000_max_ms": max(times),
            "erase_1000_cpu_ms": sorted(used)[mid], "erase_rows": heavy[0][1],
            "erase_scrub_ms": sorted(scrub_times)[mid] if scrub_times else None,
            "erase_scrub_cpu_ms": sorted(scrub_used)[mid] if scrub_used else None}


def measure_purge(store: TranscriptStore, api: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """Purge the oldest day of rows through the real retention purge."""
    purge = api.get("purge")
    remove = getattr(store, "remove_purged", None)  # a purge in two steps: the rows an earlier run hid
    if remove is not None:
        remove()
    first = store.conn.execute("SELECT min(created_at) FROM transcripts").fetchone()[0]
    cutoff = time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime(_ms(first) / 1000 + 86400))
    n = store.conn.execute("SELECT count(*) FROM transcripts WHERE created_at < ?", (cutoff,)).fetchone()[0]
    if purge is None:
        return {"purge_day_ms": None, "purge_day_rows": n}
    io = _io()
    c, t = time.thread_time(), time.perf_counter()
    # Every skill keeps 0 days, "now" is the end of the oldest day: exactly that day is expired.
    report = purge(store, default_days=0, now=cutoff)
    dt = (time.perf_counter() - t) * 1000
    if report["deleted"] != n:
        raise SystemExit(f"purge deleted {report['deleted']} rows, {n} were older than {cutoff}")
    done = _io()
    # What this process wrote and read meanwhile (the WAL's frames, then the checkpoint's pages).
    moved = {f"purge_day_{k}_mb": (done[k] - io[k]) / 1e6 for k in io} if io else {}
    fig = {"purge_day_ms": dt, "purge_day_cpu_ms": (time.thread_time() - c) * 1000, "purge_day_rows": n,
           "purge_day_pending": report.get("pending", 0), **moved}
    return {**fig, **measure_removal(store)} if report.get("pending") else fig


def measure_removal(store: TranscriptStore) -> dict[str, Any]:
    """The purge's second step as the background thread runs it (slices that give way), to the end."""
    from skills_sdk.transcripts.sqlite.removal import remove_hidden

    holds: list[float] = []
    io = _io()
    c, t = time.thread_time(), time.perf_counter()
    remove_hidden(store, seconds=3600.0, holds=holds)
    dt = (time.perf_counter() - t) * 1000
    done = _io()
    holds.sort()
    moved = {f"removal_{k}_mb": (done[k] - io[k]) / 1e6 for k in io} if io else {}
    return {"removal_ms": dt, "removal_cpu_ms": (time.thread_time() - c) * 1000, "removal_slices": len(holds),
            "removal_hold_p50_ms": holds[len(holds) // 2] * 1000,
            "removal_hold_p99_ms": holds[min(len(holds) - 1, int(len(holds) * 0.99))] * 1000, **moved}


def _io() -> dict[str, int]:
    """This process's bytes written and read by system calls so far (Linux's /proc/self/io), or {}."""
    try:
        with open("/proc/self/io") as f:
            got = dict(line.split(": ") for line in f.read().splitlines())
    except OSError:
        return {}
    return {"written": int(got["wchar"]), "read": int(got["rchar"])}


def run_export(path: str, *extra: str) -> tuple[int, float, float, float]:
    """Run ``skills transcripts export --format jsonl`` in a child; returns lines, seconds, peak RSS MB, CPU seconds."""
    import subprocess
    # The child reports its own peak (VmHWM): ru_maxrss of a forked child counts this big parent's pages.
    code = ("import atexit, sys; atexit.register(lambda: sys.stderr.write(open('/proc/self/status').read())); "
            "from skills_sdk.cli import main; sys.argv[0] = 'skills'; main()")
    out_path = path + ".export.jsonl"
    with open(out_path, "wb") as sink:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, "transcripts", "export", "--db", path,
                                 "--format", "jsonl", *extra], stdout=sink, stderr=subprocess.PIPE)
        err = proc.stderr.read().decode() if proc.stderr else ""
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"export failed with exit code {proc.returncode}")
    with open(out_path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    os.remove(out_path)
    hwm = [int(line.split()[1]) for line in err.splitlines() if line.startswith("VmHWM:")]
    return lines, dt, (hwm[0] if hwm else usage.ru_maxrss) / 1024, usage.ru_utime + usage.ru_stime


def measure_verify(store: TranscriptStore) -> dict[str, Any]:
    """Walk the tamper-evident chain over the whole ledger (``skills transcripts verify``)."""
    t = time.perf_counter()
    report = store.verify_chain()
    dt = time.perf_counter() - t
    return {"verify_ok": report.ok, "verify_s": dt, "verify_rows_per_s": (report.rows + report.tombstones) / dt,
            "verify_unchained_rows": report.unchained}


def measure_export(store: TranscriptStore, path: str) -> dict[str, Any]:
    """Export a developer's transcripts, and one day of them, through the CLI.

    The smallest developer holding at least 10% of the rows (15% with the four example companies;
    the biggest one of a long tail): the rate of a handful of rows would be the process's start.
    """
    conn = store.conn
    dev, n = conn.execute("SELECT developer_id, count(*) AS n FROM transcripts GROUP BY developer_id "
                          "ORDER BY n >= (SELECT count(*) / 10 FROM transcripts) DESC, "
                          "CASE WHEN n >= (SELECT count(*) / 10 FROM transcripts) THEN n ELSE -n END "
                          "LIMIT 1").fetchone()
    last = conn.execute("SELECT max(created_at) FROM transcripts WHERE developer_id = ?", (dev,)).fetchone()[0]
    day = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_ms(last) / 1000 - 86400))
    small_lines, _, small_rss, _ = run_export(path, "--developer", dev, "--since", day)
    lines, dt, rss, used = run_export(path, "--developer", dev)
    if lines != n:
        raise SystemExit(f"export of {dev} wrote {lines} lines, the table holds {n}")
    # Rows per CPU second of the child (user + system): what the wall-clock rate would be with a
    # core to itself.
    return {"export_rows": lines, "export_rows_per_s": lines / dt, "export_rows_per_cpu_s": lines / used,
            "export_peak_rss_mb": rss,
            "export_day_rows": small_lines, "export_day_peak_rss_mb": small_rss}


def measure_size(store: TranscriptStore) -> dict[str, Any]:
    """Bytes on disk per transcript, with and without the full-text index's tables."""
    conn = store.conn
    store.checkpoint("TRUNCATE")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    used = (conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0])
    n = store.count()
    virtual = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%' AND sql LIKE '%fts5%'")]
    fts_bytes = 0
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    shadows = [n for n in tables if any(n.startswith(v + "_") for v in virtual)]  # FTS data, idx, docsize...
    # dbstat is missing from some SQLite builds; the stdlib's has it and reads the same file.
    import sqlite3 as stdlib_sqlite3
    stat = stdlib_sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    for name in shadows:
        fts_bytes += stat.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
    stat.close()
    total = used * page
    return {"rows": n, "db_mb": total / 1e6, "bytes_per_row": total / n, "bytes_per_row_no_fts": (total - fts_bytes) / n}


def measure_open(store: TranscriptStore) -> dict[str, Any]:
    """What every CLI command, worker start and console request pays first: connect plus one query.

    SQLite parses the whole schema on a connection's first statement, so this grows with the
    number of schema objects (each full-text table is four). Median of 20 new connections
    (3 when one takes over 200 ms).
    """
    times: list[float] = []
    for _ in range(20):
        if len(times) == 3 and times[0] > 200:
            break
        t = time.perf_counter()
        conn = sqlite3.connect(store.path)
        conn.execute("SELECT id FROM transcripts ORDER BY id DESC LIMIT 1").fetchall()
        times.append((time.perf_counter() - t) * 1000)
        conn.close()
    c = store.conn
    return {"open_ms": statistics.median(times),
            "schema_objects": c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
            "developers": c.execute("SELECT count(DISTINCT developer_id) FROM transcripts").fetchone()[0]}


FIGURES = [
    ("write", [("wal_reserve_ms", "the WAL written out to its working size first, ms"),
               ("capture_us", "durable single capture (record), us/row"),
               ("capture_cpu_us", "  its thread's CPU, us/row"),
               ("capture_reads", "  read system calls per capture"),
               ("capture_p50_us", "  p50 us"), ("capture_p99_us", "  p99 us"), ("capture_rows_per_s", "  = rows/s"),
               ("capture_above_p50_us", "  mean less p50, us"),
               ("capture_run_queue_us", "    of it waiting for a CPU (the machine), us"),
               ("capture_wal_hold_us", "    held off while the WAL started over, us"),
               ("capture_wal_holds", "    times the WAL started over"),
               ("capture_appended_frames", "  frames appended to the WAL per capture"),
               ("capture_steady_us", "  the same, the WAL started over (a running server's), us/row"),
               ("capture_steady_cpu_us", "    its thread's CPU, us/row"),
               ("capture_steady_p50_us", "    p50 us"), ("capture_steady_p99_us", "    p99 us"),
               ("capture_steady_appended_frames", "    frames appended to the WAL per capture"),
               ("capture_unchained_p50_us", "  same insert without its chain entry, p50 us"),
               ("chain_cost_p50_us", "  the chain's cost per capture, p50 us"),
               ("chained_vs_unchained", "  chained / unchained"),
               ("bulk_rows_per_s", "bulk import (record_many), rows/s"),
               ("raw_sqlite_rows_per_s", "plain sqlite3 executemany, rows/s"), ("bulk_vs_raw", "bulk / plain")]),
    ("read", [("user_history_p50_ms", "user history, newest 50, p50 ms"), ("user_history_p99_ms", "  p99 ms"),
              ("dev_page_p50_ms", "developer page by time, 50 rows, p50 ms"), ("dev_page_p99_ms", "  p99 ms"),
              ("dev_newest_page_ms", "developer's newest page (no time range), mean ms"),
              ("session_p50_ms", "session turns, p50 ms"), ("session_p99_ms", "  p99 ms"),
              ("fts_merge_steps", "full-text segments merged first (steps)"),
              ("fts_warm_ms", "  a search reaching every day first, ms"),
              ("fts_p50_ms", "full-text search, p50 ms"), ("fts_p99_ms", "  p99 ms"),
              ("user_history_cpu_p99_ms", "user history, CPU p99 ms"), ("dev_page_cpu_p99_ms", "developer page, CPU p99 ms"),
              ("fts_cpu_p50_ms", "full-text search, CPU p50 ms"), ("fts_cpu_p99_ms", "  CPU p99 ms")]),
    ("privacy", [("erase_1000_ms", "erase one user (secure delete, FTS, WAL), median of 3, ms"),
                 ("erase_1000_max_ms", "  slowest of the 3, ms"), ("erase_1000_cpu_ms", "  its CPU (this thread), ms"), ("erase_rows", "  rows erased"),
                 ("erase_scrub_ms", "  then its scrub (FTS deletes, WAL), ms"), ("erase_scrub_cpu_ms", "  the scrub's CPU, ms"),
                 ("purge_day_ms", "retention purge of one day, ms"), ("purge_day_cpu_ms", "  its CPU (this thread), ms"),
                 ("purge_day_rows", "  rows purged"), ("purge_day_written_mb", "  MB written meanwhile (WAL, checkpoint)"),
                 ("purge_day_read_mb", "  MB read meanwhile"), ("purge_day_pending", "  rows left to the removal"),
                 ("removal_ms", "then the removal of those rows (background slices), ms"),
                 ("removal_cpu_ms", "  its CPU, ms"), ("removal_slices", "  slices"),
                 ("removal_hold_p50_ms", "  a slice's write-lock hold, p50 ms"), ("removal_hold_p99_ms", "  p99 ms"),
                 ("removal_written_mb", "  MB written"), ("removal_read_mb", "  MB read"),
                 ("verify_s", "verify the tamper-evident chain, s"), ("verify_rows_per_s", "  rows/s"),
                 ("verify_unchained_rows", "  rows older than the chain (not covered)")]),
    ("export", [("export_rows_per_s", "export one developer as JSONL, rows/s"),
                ("export_rows_per_cpu_s", "  rows per CPU second of the export process"), ("export_rows", "  rows"),
                ("export_peak_rss_mb", "  peak RSS, MB"), ("export_day_peak_rss_mb", "  peak RSS for one day, MB")]),
    ("settle", [("dirty_mb_before", "pending writes before measuring, MB"),
                ("sync_before_ms", "  written out first (sync), ms")]),
    ("schema", [("open_ms", "open: connect + first query, median ms"), ("schema_objects", "  schema objects"),
                ("developers", "  developers with rows")]),
    ("disk", [("bytes_per_row", "bytes per transcript"), ("bytes_per_row_no_fts", "  without the full-text index"),
              ("db_mb", "database, MB")]),
]


def dirty_mb() -> float:
    """The page cache's data not yet written to disk, MB (``Dirty`` + ``Writeback`` of /proc/meminfo)."""
    try:
        with open("/proc/meminfo") as f:
            kb = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f)}
    except OSError:
        return float("nan")
    return (kb.get("Dirty", 0) + kb.get("Writeback", 0)) / 1024


def settle() -> dict[str, float]:
    """Let the file system write out what is pending before anything is measured.

    A ledger copied or generated just before (8.7 GB at 10M rows) leaves gigabytes of dirty pages;
    written back while the captures run, they take the disk from them (at 10M rows, right after a
    copy: 271 us a capture against 50-64 us once it had reached the disk). What was pending is reported.
    """
    before, t = dirty_mb(), time.perf_counter()
    os.sync()
    return {"dirty_mb_before": before, "sync_before_ms": (time.perf_counter() - t) * 1e3}


def measure(store: TranscriptStore, path: str, rate: float | None, args: argparse.Namespace) -> int:
    """Run every measurement on the ledger at ``path``; print the table and the JSON line."""
    rng = random.Random(args.seed)
    api = privacy_api()
    fig: dict[str, Any] = {"rows": store.count(), "generate_rows_per_s": rate, **settle()}
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("open", lambda: measure_open(store)),
        ("reads", lambda: measure_reads(store, api, args.queries, rng)),
        ("write", lambda: measure_write(store, args.tmp, args.rows, args.developers)),
        ("export", lambda: measure_export(store, path)),
        ("erase", lambda: measure_erase(store, api)),
        ("purge", lambda: measure_purge(store, api)),
        ("verify", lambda: measure_verify(store)),
        ("size", lambda: measure_size(store)),
    ]
    only = set(args.only.split(",")) if args.only else {name for name, _ in steps}
    unknown = only - {name for name, _ in steps}
    if unknown:
        raise SystemExit(f"--only: no step {sorted(unknown)[0]!r}; the steps are {', '.join(n for n, _ in steps)}")
    for name, step in steps:
        if name not in only:
            continue
        log(f"measuring {name}")
        fig.update(step())
    fig["api"] = sorted(api)
    print(f"\ntranscript store at {fig['rows']:,} rows ({path})")
    for section, rows in FIGURES:
        print(f"{section}")
        for key, label in rows:
            v = fig.get(key)
            shown = "n/a" if v is None else (f"{v:,.3f}" if isinstance(v, float) and v < 10 else
                                              f"{v:,.0f}" if isinstance(v, (int, float)) else str(v))
            print(f"  {label:<48} {shown:>14}")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in fig.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
