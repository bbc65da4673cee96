"""The ledger's backends side by side, through the Ledger interface only: the same rows, the same queries.

    python bench/ledger_backends.py --rows 1000000 --db /tmp/b/1m.db --db postgresql://postgres@/bench?host=/tmp/pg
    python bench/ledger_backends.py --rows 1000000 --db /tmp/b/1m.db \
        --db '/work/main::postgresql://postgres@/before?host=/tmp/pg' --db 'postgresql://postgres@/after?host=/tmp/pg'

Generates the same realistic ledger (bench/_ledger.py: 4 developers, 8 skills, 100,000 long-tailed
users, 90 days) into each ``--db`` with ``record_many`` (an empty ledger is needed), then measures,
on each: capture (``record`` of one row, committed, stamped now as a server's are), a user's history, a developer's page by time
range, a full-text search, the erasure of a user with 1,000 transcripts, the purge of the oldest
day, and an export (``iter_jsonl``; also the CPU time this process spent per exported row, which
a shared machine disturbs less than the rate, and on a local PostgreSQL the server's, from /proc). Prints one table, the first ``--db`` as the
baseline, then one JSON line with every figure. PostgreSQL takes its key file from
``SKILLS_LEDGER_KEY_FILE`` with the database's position appended (``ledger.key.1``: one
database's erasures ratchet its file), or var/ledger.key.

``CHECKOUT::DB`` runs that database with the skills_sdk of another checkout (a before/after pair
in one run). ``--only reads,search,export`` measures some steps only: on a ledger filled once
(``--fill-only``, then ``--filled``), run the steps that change it (erase, purge) last. Every database is filled first, each in its own process, then measured one after
the other, so the measurements sit close together in time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "--code" in sys.argv:  # a child measuring another checkout's skills_sdk (see CHECKOUT::DB)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

import _ledger  # noqa: E402
from _proc import cpu_seconds  # noqa: E402

from skills_sdk.transcripts import open_ledger  # noqa: E402
from skills_sdk.transcripts.record import utcnow_iso  # noqa: E402

DAYS = 90


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]


def timed(fig: dict[str, Any], name: str, fn: Any, inputs: list[Any], warm: int = 10) -> None:
    """p50 and p99 of ``fn(x)`` over ``inputs`` into ``fig`` as ``{name}_p50_ms`` …, after ``warm`` untimed calls.

    Beside the wall time, this process's CPU per call (``{name}_cpu_p50_ms`` …): on a shared machine
    the wall p99 is mostly the scheduler's, the client's CPU is the call's own.
    """
    for x in inputs[:warm]:
        fn(x)
    wall, cpu = [], []
    for x in inputs:
        t0, c0 = time.perf_counter(), time.process_time()
        fn(x)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    fig[f"{name}_p50_ms"], fig[f"{name}_p99_ms"] = pct(wall, 0.5), pct(wall, 0.99)
    fig[f"{name}_cpu_p50_ms"], fig[f"{name}_cpu_p99_ms"] = pct(cpu, 0.5), pct(cpu, 0.99)


def fill(db: str, rows: int, end_ms: int, *, fast: bool = False, workers: int = 2, developers: int = 4
         ) -> dict[str, Any]:
    """Write the generated ledger into ``db`` (empty); its import rate.

    ``fast`` (PostgreSQL only): the bulk load a benchmark can afford and a live ledger cannot. The
    transcripts' secondary indexes are dropped, ``workers`` processes seal and ``COPY`` the batches
    this one generates (through ``record_many``: the same sealed words, search buckets, keys and
    chain entries as any import), then the indexes are built again in one pass each and the
    tables analysed. Building a GIN and five B-trees once costs far less than keeping them up to
    date row by row, and the sealing (AES-GCM, keyed hashes, the chain's digests) runs on every core.
    """
    led = open_ledger(db)
    try:
        if led.count():
            raise SystemExit(f"{db} is not empty: the benchmark generates its own ledger.")
        t0 = time.perf_counter()
        if not fast or "://" not in db:
            for batch in _ledger.generate(rows, end_ms=end_ms, batch=5000, developers=developers):
                led.record_many(batch)
            return {"generate_rows_per_s": round(rows / (time.perf_counter() - t0))}
        with led.connection() as conn:  # type: ignore[attr-defined]
            indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'transcripts' "
                                   "AND indexname <> 'transcripts_pkey'").fetchall()
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
    finally:
        led.close()
    _fill_parallel(db, rows, end_ms, workers, developers)
    loaded = time.perf_counter()
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _, ddl in indexes:  # "ON ONLY" would index the parent alone
            conn.execute(ddl.replace(" ON ONLY ", " ON "))
        conn.execute("VACUUM ANALYZE")
    done = time.perf_counter()
    return {"generate_rows_per_s": round(rows / (done - t0)), "fill_load_s": round(loaded - t0, 1),
            "fill_index_s": round(done - loaded, 1)}


def _fill_parallel(db: str, rows: int, end_ms: int, workers: int, developers: int) -> None:
    """``record_many`` the generated batches in ``workers`` processes, fed by this one."""
    import multiprocessing
    import queue

    from skills_sdk.transcripts.postgres import schema

    # Every day's partition is made here, before the workers start: two workers each making the
    # first days of an empty ledger once hung the fill (a dead worker's batches never taken).
    first = datetime.fromtimestamp(end_ms / 1000 - DAYS * 86400, UTC).date()
    led = open_ledger(db)
    try:
        with led.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.PARTITION_LOCK,))
            schema.ensure_days(conn, [(first + timedelta(days=d)).isoformat() for d in range(DAYS + 1)])
    finally:
        led.close()
    ctx = multiprocessing.get_context("fork")
    todo: Any = ctx.Queue(maxsize=2 * workers)

    def work() -> None:
        led = open_ledger(db)
        try:
            while (batch := todo.get()) is not None:
                led.record_many(batch)
        finally:
            led.close()

    procs = [ctx.Process(target=work, daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    def put(item: Any) -> None:  # never wait for ever on a queue whose workers died
        while True:
            try:
                return todo.put(item, timeout=5)
            except queue.Full:
                if not all(p.is_alive() for p in procs):
                    raise SystemExit("a fill worker died: see its traceback above") from None

    for batch in _ledger.generate(rows, end_ms=end_ms, batch=5000, developers=developers):
        put(batch)
    for _ in procs:
        put(None)
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a fill worker failed (exit code {p.exitcode})")


def server_cpu(db: str) -> dict[str, float] | None:
    """CPU seconds of each PostgreSQL backend serving ``db`` on this machine (from /proc), or None if none is seen.

    A backend's title is ``postgres: USER DBNAME ...``; SQLite, a remote server or one whose
    processes this user cannot read give None.
    """
    if not db.startswith("postgresql://") or not os.path.isdir("/proc"):
        return None
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(db)
    title = f"postgres: {info.get('user', 'postgres')} {info.get('dbname', '')} ".encode()
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().startswith(title):
                    continue
        except OSError:  # gone meanwhile, or not ours to read
            continue
        seconds = cpu_seconds(pid)
        if seconds is not None:
            out[pid] = seconds
    return out or None


#: The measured steps in the order they run; erase and purge change the ledger (see --only).
STEPS = ("capture", "reads", "search", "erase", "purge", "export")


def measure(db: str, rows: int, end_ms: int, queries: int, scrub_wait: float = 600,
            export_limit: int | None = None, developers: int = 4, only: frozenset[str] = frozenset(STEPS),
            erase_first: int = 0) -> dict[str, Any]:
    """Every figure but the import, on the ledger :func:`fill` made; ``only`` some of the :data:`STEPS`."""
    rng = random.Random(11)
    sample: list[dict[str, Any]] = []
    if only & {"reads", "search"}:  # the rows fill wrote, not written again
        for batch in _ledger.generate(rows, end_ms=end_ms, batch=5000, developers=developers):
            sample += rng.sample(batch, min(len(batch), 8))
    picks = rng.sample(sample, min(queries, len(sample)))
    led = open_ledger(db)
    fig: dict[str, Any] = {}
    led.start()
    try:
        if "capture" in only:
            _capture(led, fig, end_ms, developers)
        if "reads" in only:
            timed(fig, "user_history", lambda r: led.user_history(r["user_id"], limit=50), picks)

            def page(r: dict[str, Any]) -> Any:
                since = r["created_at"][:13] + ":00:00.000Z"
                until = (datetime.fromisoformat(since.replace("Z", "+00:00")) + timedelta(hours=6)).isoformat()
                return led.query({"since": since, "until": until.replace("+00:00", "Z")},
                                 developer_id=r["developer_id"], limit=50)

            timed(fig, "dev_page", page, picks)
        if "search" in only:
            words = [w for r in picks for w in (r.get("utterance") or "").split() if len(w) > 4] or ["pizza"]
            timed(fig, "search", lambda r: led.search(rng.choice(words), developer_id=r["developer_id"], limit=50),
                  picks)
        if "erase" in only:
            _erase(led, fig, scrub_wait, erase_first)
        if "purge" in only:  # retention of DAYS - 1 days, on the day after the ledger ends: the oldest day goes
            now = datetime.fromtimestamp(end_ms / 1000, UTC)
            t1 = time.perf_counter()
            report = led.purge({}, default_days=DAYS - 1, now=now)
            fig["purge_rows"], fig["purge_ms"] = report["deleted"], round((time.perf_counter() - t1) * 1000, 1)
        if "export" in only:
            _export(led, fig, db, export_limit)
    finally:
        led.stop()
    return fig


def _capture(led: Any, fig: dict[str, Any], end_ms: int, developers: int) -> None:
    """One committed row at a time, rows as capture builds them (fresh request ids) and stamped as capture stamps them, now.

    A server's captures all go to today's day partition, whose index pages are warm, never to the
    90 old days of the generated ledger (cold pages: about 4 ms an insert on PostgreSQL against
    46-103 µs for today's).
    """
    fresh = next(_ledger.generate(1000, end_ms=end_ms + 86_400_000, seed=99, batch=1000, developers=developers))
    lat = []
    for row in fresh:
        row["created_at"] = utcnow_iso()
        t1 = time.perf_counter()
        led.record(row)
        lat.append((time.perf_counter() - t1) * 1e6)
    fig["capture_mean_us"] = round(sum(lat) / len(lat))
    fig["capture_p50_us"], fig["capture_p99_us"] = round(pct(lat, 0.5)), round(pct(lat, 0.99))


def _erase(led: Any, fig: dict[str, Any], scrub_wait: float, first: int = 0) -> None:
    """The erasure of a user with (up to) 1,000 transcripts, median of three, and when its receipts say scrubbed.

    The heavy users ``first`` to ``first + 2`` (of the ten the ledger holds): a ledger measured again
    erases others than the last run did.
    """
    heavy = [f"{_ledger.HEAVY_PREFIX}{k:04d}" for k in range(first, first + 3)]
    took, sizes = [], []
    for user in heavy:
        t1 = time.perf_counter()
        sizes.append(led.erase_user(user)["transcripts"])
        took.append((time.perf_counter() - t1) * 1000)
    fig["erase_rows"], fig["erase_ms"] = sizes[1], round(sorted(took)[1], 1)
    # A server's PostgreSQL erasure leaves its key ratchet to the maintenance thread (batched):
    # how long after the last erasure every receipt says scrubbed (0 where the erasure did it).
    t1 = time.perf_counter()
    while not all(r["scrubbed"] for r in led.receipts()) and time.perf_counter() - t1 < scrub_wait:
        time.sleep(0.05)
    fig["erase_scrubbed_after_ms"] = round((time.perf_counter() - t1) * 1000, 1)


def _export(led: Any, fig: dict[str, Any], db: str, export_limit: int | None) -> None:
    """``iter_jsonl`` of everyone: rows a second, and each side's CPU per row (this process's; a local server's)."""
    t1, c1, s1 = time.perf_counter(), time.process_time(), server_cpu(db)
    n = sum(1 for _ in itertools.islice(led.iter_jsonl(), export_limit))
    fig["export_rows"], fig["export_rows_per_s"] = n, round(n / (time.perf_counter() - t1))
    fig["export_cpu_us_per_row"] = round((time.process_time() - c1) / max(n, 1) * 1e6, 2)
    s2 = server_cpu(db)  # the server's side of the same rows: the two overlap, so the larger one sets the pace
    fig["export_server_cpu_us_per_row"] = None if s1 is None or s2 is None else round(
        sum(v - s1.get(pid, 0) for pid, v in s2.items()) / max(n, 1) * 1e6, 2)


def _child(spec: str, n: int, phase: str, args: argparse.Namespace, end_ms: int) -> dict[str, Any]:
    """Run one phase for the ``n``-th ``[CHECKOUT::]DB`` in a fresh process; its figures."""
    code, _, db = spec.rpartition("::")
    env = dict(os.environ)
    if env.get("SKILLS_LEDGER_KEY_FILE"):  # a key file per database: one's erasures ratchet it
        env["SKILLS_LEDGER_KEY_FILE"] += f".{n}"
    cmd = [sys.executable, os.path.abspath(__file__), "--phase", phase, "--db", db, "--rows", str(args.rows),
           "--queries", str(args.queries), "--end-ms", str(end_ms), "--fill-workers", str(args.fill_workers),
           "--developers", str(args.developers), *(["--only", args.only] if args.only else []),
           "--scrub-wait", str(args.scrub_wait), "--erase-first", str(args.erase_first), *(["--export-limit", str(args.export_limit)] if args.export_limit else []),
           *(["--fast-fill"] if args.fast_fill else []), *(["--code", code] if code else [])]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _label(spec: str) -> str:
    code, _, db = spec.rpartition("::")
    kind = db.split("://")[0] if "://" in db else "sqlite"
    return f"{kind} ({os.path.basename(code.rstrip('/'))})" if code else kind


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--db", action="append", required=True,
                    help="a ledger path or URL, or CHECKOUT::DB to run it with another checkout (give two to compare)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--fast-fill", action="store_true",
                    help="PostgreSQL: load without the secondary indexes, in --fill-workers processes, then index")
    ap.add_argument("--fill-workers", type=int, default=2)
    ap.add_argument("--developers", type=int, default=4,
                    help="developers the rows are spread over: 4 (the example companies) or any N, long-tailed "
                         "(1000: the shape of bench/store_scale.py's 10M ledger)")
    ap.add_argument("--fill-only", action="store_true", help="fill the databases and stop (a 10M ledger by hand)")
    ap.add_argument("--filled", action="store_true",
                    help="measure databases filled before (by --fill-only, or copies of one; give its --end-ms)")
    ap.add_argument("--scrub-wait", type=float, default=600,
                    help="seconds to wait, after the erasures, for their receipts to say scrubbed (0: do not wait)")
    ap.add_argument("--only", metavar="STEPS",
                    help=f"measure only these steps, comma-separated ({', '.join(STEPS)}); erase and purge change "
                         "the ledger, so on a ledger filled once run the others first")
    ap.add_argument("--export-limit", type=int, help="export this many rows, not all (a 10M ledger by hand)")
    ap.add_argument("--erase-first", type=int, default=0, choices=range(8), metavar="K",
                    help="erase the heavy users K to K+2 (0-7; a ledger measured again: others than last time)")
    ap.add_argument("--phase", choices=("fill", "measure"), help=argparse.SUPPRESS)
    ap.add_argument("--end-ms", type=int, help="the generated ledger's end (ms since the epoch; default: today 00:00 UTC)")
    ap.add_argument("--code", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    end_ms = args.end_ms or (int(time.time()) // 86400) * 86_400_000
    only = frozenset(args.only.split(",")) if args.only else frozenset(STEPS)
    if unknown := only - set(STEPS):
        raise SystemExit(f"--only: no step {sorted(unknown)[0]!r}; the steps are {', '.join(STEPS)}")
    if args.phase:  # a child: one database, one phase
        fig = (fill(args.db[0], args.rows, end_ms, fast=args.fast_fill, workers=args.fill_workers,
                    developers=args.developers)
               if args.phase == "fill" else measure(args.db[0], args.rows, end_ms, args.queries, args.scrub_wait,
                                                    args.export_limit, args.developers, only, args.erase_first))
        print(json.dumps(fig))
        return 0
    figs: list[dict[str, Any]] = [{"db": _label(spec)} for spec in args.db]
    for phase in ("fill",) if args.fill_only else ("measure",) if args.filled else ("fill", "measure"):
        for n, (spec, fig) in enumerate(zip(args.db, figs, strict=True)):
            print(f"-- {phase} {spec.split('?')[0]}: {args.rows:,} rows", file=sys.stderr, flush=True)
            fig.update(_child(spec, n, phase, args, end_ms))
    names = [k for k in figs[0] if k != "db"]
    print("| figure | " + " | ".join(f["db"] for f in figs) + " | " + " | ".join(
        f"{f['db']} ÷ {figs[0]['db']}" for f in figs[1:]) + " |")
    print("|---|" + "---:|" * (2 * len(figs) - 1))
    for k in names:
        vals = [f.get(k) for f in figs]
        ratios = [f"{v / vals[0]:.2f}x" if isinstance(v, (int, float)) and vals[0] else "" for v in vals[1:]]
        print(f"| {k} | " + " | ".join(f"{v:,}" if isinstance(v, int) else f"{v:,.2f}" if isinstance(v, float) else f"{v}"
                                       for v in vals) + " | "
              + " | ".join(ratios) + " |")
    print(json.dumps({"rows": args.rows, "figures": figs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
