"""The capture of each backend at each durability, side by side in one process: the same rows, blocks alternated.

    python bench/ledger_capture.py --sqlite /tmp/b/1m.db --pg 'postgresql://postgres@/bench?host=/tmp/pg' \
        --rows 250 --rounds 4

Four ways to commit a capture, measured in one process on the same generated rows
(bench/_ledger.py, stamped now, as capture stamps them, so every row goes to today's day
partition): SQLite with ``synchronous=NORMAL`` (its default: a row survives a killed process, not
a power cut) and ``FULL`` (it survives a power cut: an ``fsync`` at each commit), and PostgreSQL
with the cluster's ``fsync`` and ``full_page_writes`` off (a commit written to the OS, as SQLite's
NORMAL does) and on (PostgreSQL's default: a commit waits for its WAL flush, and survives a power
cut). ``synchronous_commit`` stays on throughout: every row is committed before ``record``
returns. The PostgreSQL settings are switched with ``ALTER SYSTEM`` and a reload between blocks,
so the cluster must be one this benchmark may reconfigure (a throw-away one: the connection is a
superuser's); they are put back to what they were at the end.

Each round records ``--rows`` rows per configuration, the configurations in a rotating order, so
load that comes and goes falls on all of them. Printed: per configuration the mean, p50 and p99 of
``record`` (µs), this process's CPU per capture (``time.process_time``: with the ledgers' background
threads, so one backend's checkpoints can land in another's block) and the capturing thread's own
(``time.thread_time``: the capture path alone), and on PostgreSQL the
server's execution time per capture (``pg_stat_statements``, when the extension is there), the
CPU of the ledger's backends per capture (/proc: the statement with its parsing, binding and
commit), and with fsync on the WAL's flushes per capture and their time (``pg_stat_wal`` with
``track_wal_io_timing``, which the benchmark turns on: a durable commit's wait for the disk, timed
by the server; read 11 s after the last block, when the backends have reported it); then
the ratios PostgreSQL ÷ SQLite at each backend's default (fsync on ÷ NORMAL), at equal durability
(fsync on ÷ FULL) and with neither flushing (fsync off ÷ NORMAL); then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "--code" in sys.argv:  # another checkout's skills_sdk (a before/after pair, one process each)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

import _ledger  # noqa: E402

from skills_sdk.transcripts import open_ledger  # noqa: E402
from skills_sdk.transcripts.record import utcnow_iso  # noqa: E402

#: The PostgreSQL cluster's fsync and full_page_writes per configuration (reloadable: ``sighup``);
#: ``pg_fsync_on_lz4`` also compresses the WAL's full-page images (``wal_compression``, a superuser's).
_PG_FLUSH = {"pg_fsync_off": "off", "pg_fsync_on": "on", "pg_fsync_on_lz4": "on"}


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]


def _set_flush(admin: Any, value: str, compression: str = "off") -> None:
    """fsync and full_page_writes of the whole cluster, and its wal_compression, reloaded and seen by new statements."""
    for name, v in (("fsync", value), ("full_page_writes", value), ("wal_compression", compression)):
        admin.execute(f"ALTER SYSTEM SET {name} = {v}")
    admin.execute("SELECT pg_reload_conf()")
    for _ in range(200):  # the reload reaches backends at their next command
        if admin.execute("SHOW fsync").fetchone()[0] == value and admin.execute("SHOW wal_compression").fetchone()[0] \
                == compression:
            return
        time.sleep(0.01)
    raise SystemExit(f"the cluster did not take fsync = {value}, wal_compression = {compression}")


def _server(admin: Any) -> tuple[float, ...] | None:
    """What the cluster did so far, or None without pg_stat_statements: execution time (ms), WAL bytes,
    statements, and the CPU seconds of this database's other backends (from /proc)."""
    try:
        row = admin.execute("SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(wal_bytes), 0), "
                            "coalesce(sum(calls), 0) FROM pg_stat_statements "
                            "WHERE query NOT LIKE '%pg_stat_statements%'").fetchone()
    except Exception:
        return None
    return float(row[0]), float(row[1]), int(row[2]), _backends_cpu(admin)


def _flushes(admin: Any) -> tuple[float, float]:
    """The cluster's WAL flushes so far and their time in ms (pg_stat_wal, timed with ``track_wal_io_timing``).

    A backend reports them only when it has been idle a while (up to 10 s after a busy spell), so
    the caller waits that long first: they are read once before the timed blocks and once after.
    With ``fsync`` off the server flushes nothing, so every flush counted is a commit of a block with fsync on
    (``pg_fsync_on``, ``pg_fsync_on_lz4``): the figure is per capture of those blocks together.
    """
    time.sleep(11)
    row = admin.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
    return float(row[0]), float(row[1])


def _backends_cpu(admin: Any) -> float:
    """CPU seconds of the backends of ``admin``'s database but its own (/proc's schedstat, in ns; 0 elsewhere)."""
    pids = [r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid()").fetchall()]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # gone meanwhile, or on another machine
            continue
    return total / 1e9


#: The WAL written between two positions, by relation and record type: (relation, record, bytes, of which
#: full-page images, records). A record's first block names its relation (a relfilenode of this database,
#: else the number).
_WAL_BY_RELATION = (
    "WITH r AS (SELECT resource_manager || ' ' || record_type AS rec, record_length, fpi_length, "
    "(regexp_match(block_ref, 'rel \\d+/\\d+/(\\d+)'))[1]::oid AS node FROM pg_get_wal_records_info(%s, %s)) "
    "SELECT coalesce(c.relname, r.node::text, '-'), rec, sum(record_length), sum(fpi_length), count(*) FROM r "
    "LEFT JOIN pg_class c ON c.relfilenode = r.node GROUP BY 1, 2")


def _wal_since(admin: Any, start: str, into: dict[tuple[str, str], list[float]]) -> None:
    """Add the WAL written since ``start`` (an LSN), by relation and record type, to ``into``."""
    end = admin.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    for rel, rec, size, fpi, n in admin.execute(_WAL_BY_RELATION, (start, end)).fetchall():
        got = into.setdefault((rel, rec), [0.0, 0.0, 0.0])
        for i, v in enumerate((size, fpi, n)):
            got[i] += float(v)


def _print_wal(by_config: dict[str, dict[tuple[str, str], list[float]]], captures: dict[str, int]) -> None:
    """Per PostgreSQL configuration, the relations and record types that wrote the most WAL per capture."""
    for name, got in by_config.items():
        n = captures[name]
        print(f"\nWAL per capture, {name}, largest first (bytes, of which full-page images; records):")
        print("| relation | record | bytes | full pages | records |")
        print("|---|---|---:|---:|---:|")
        for (rel, rec), (size, fpi, count) in sorted(got.items(), key=lambda kv: -kv[1][0])[:15]:
            print(f"| {rel} | {rec} | {size / n:,.0f} | {fpi / n:,.0f} | {count / n:.2f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sqlite", help="a SQLite ledger (a copy: it is written to)")
    ap.add_argument("--pg", help="a PostgreSQL ledger URL on a throw-away cluster (a copy: it is written to)")
    ap.add_argument("--rows", type=int, default=250, help="rows per configuration and round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--warm", type=int, default=20, help="untimed captures per configuration first")
    ap.add_argument("--only", help="comma-separated configurations (sqlite_normal, sqlite_full, pg_fsync_off, "
                                   "pg_fsync_on, and on request only pg_fsync_on_lz4: fsync on with the server's "
                                   "wal_compression = lz4)")
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--code", help="measure with this checkout's skills_sdk")
    ap.add_argument("--wal", action="store_true",
                    help="also print the WAL per capture by relation and record type (pg_walinspect, made in the copy)")
    ap.add_argument("--checkpoint", action="store_true",
                    help="a CHECKPOINT before each PostgreSQL block: every page's first change in it is a full-page "
                         "image (with full_page_writes on), as after each checkpoint of a running server")
    args = ap.parse_args(argv)
    ledgers: dict[str, Any] = {}
    if args.sqlite:
        ledgers["sqlite_normal"] = open_ledger(args.sqlite, synchronous="NORMAL")
        ledgers["sqlite_full"] = open_ledger(args.sqlite, synchronous="FULL")
    admin = restore = None
    if args.pg:
        import psycopg

        pg = open_ledger(args.pg)
        ledgers["pg_fsync_off"] = ledgers["pg_fsync_on"] = pg
        if args.only and "pg_fsync_on_lz4" in args.only.split(","):  # the server's option, measured on request
            ledgers["pg_fsync_on_lz4"] = pg
        admin = psycopg.connect(args.pg, autocommit=True)
        restore = {n: admin.execute(f"SHOW {n}").fetchone()[0] for n in ("fsync", "full_page_writes",
                                                                          "track_wal_io_timing", "wal_compression")}
        admin.execute("ALTER SYSTEM SET track_wal_io_timing = on")  # the flush's time in pg_stat_wal
        admin.execute("SELECT pg_reload_conf()")
        if "pg_stat_statements" in admin.execute("SHOW shared_preload_libraries").fetchone()[0]:
            admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if args.wal:
            admin.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    names = [n for n in ledgers if not args.only or n in args.only.split(",")]
    for led in {id(v): v for v in ledgers.values()}.values():
        led.start()  # as a server runs them: SQLite checkpoints off the commit, PostgreSQL's maintenance
    if not names:
        raise SystemExit("nothing to measure: give --sqlite and/or --pg")
    per = args.rows * args.rounds + args.warm
    rows = next(_ledger.generate(per * len(names), end_ms=int(time.time() * 1000), seed=args.seed,
                                 batch=per * len(names)))
    mine = {n: rows[i::len(names)] for i, n in enumerate(names)}  # dealt, so each gets the same mix of users
    lat: dict[str, list[float]] = {n: [] for n in names}
    cpu = dict.fromkeys(names, 0.0)
    own = dict.fromkeys(names, 0.0)
    server: dict[str, list[float]] = {}
    wal: dict[str, dict[tuple[str, str], list[float]]] = {}

    def block(name: str, todo: list[dict[str, Any]], timed: bool) -> None:
        led = ledgers[name]
        if name in _PG_FLUSH:
            _set_flush(admin, _PG_FLUSH[name], "lz4" if name == "pg_fsync_on_lz4" else "off")
            if args.checkpoint:
                admin.execute("CHECKPOINT")
        s0 = _server(admin) if name in _PG_FLUSH else None
        lsn = admin.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0] if args.wal and name in _PG_FLUSH else None
        c0, o0 = time.process_time(), time.thread_time()
        for row in todo:
            row["created_at"] = utcnow_iso()
            t0 = time.perf_counter()
            led.record(row)
            if timed:
                lat[name].append((time.perf_counter() - t0) * 1e6)
        if timed:
            cpu[name] += time.process_time() - c0
            own[name] += time.thread_time() - o0
            s1 = _server(admin) if name in _PG_FLUSH else None
            if s0 is not None and s1 is not None:
                got = server.setdefault(name, [0.0] * len(s0))
                for i in range(len(s0)):
                    got[i] += s1[i] - s0[i]
            if lsn is not None:
                _wal_since(admin, lsn, wal.setdefault(name, {}))

    f0 = f1 = None
    flushing: list[str] = []
    try:
        for name in names:
            block(name, mine[name][:args.warm], timed=False)
        flushing = [n for n in names if n.startswith("pg_fsync_on")]
        if flushing:
            f0 = _flushes(admin)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                lo = args.warm + r * args.rows
                block(name, mine[name][lo:lo + args.rows], timed=True)
            print(f"-- round {r + 1}/{args.rounds} done; load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        if f0 is not None:
            f1 = _flushes(admin)
    finally:
        if admin is not None and restore is not None:
            for n, v in restore.items():
                admin.execute(f"ALTER SYSTEM SET {n} = {v}")
            admin.execute("SELECT pg_reload_conf()")
            admin.close()
        for led in {id(v): v for v in ledgers.values()}.values():
            led.stop()
    flushed = sum(len(lat[n]) for n in flushing) or 1  # the flushes are the cluster's: shared by these blocks
    fig = {n: {"mean_us": round(sum(v) / len(v)), "p50_us": round(pct(v, 0.5)), "p99_us": round(pct(v, 0.99)),
               "cpu_us": round(cpu[n] / len(v) * 1e6), "thread_cpu_us": round(own[n] / len(v) * 1e6),
               **({"server_us": round(server[n][0] * 1000 / len(v)), "wal_bytes": round(server[n][1] / len(v)),
                   "statements": round(server[n][2] / len(v), 2), "backend_cpu_us": round(server[n][3] * 1e6 / len(v)),
                   **({"wal_flushes": round((f1[0] - f0[0]) / flushed, 2),
                       "wal_flush_us": round((f1[1] - f0[1]) * 1000 / flushed)}
                      if n in flushing and f0 is not None and f1 is not None else {})} if n in server else {})}
           for n, v in lat.items()}
    print("| configuration | mean µs | p50 µs | p99 µs | client CPU µs | its thread's µs | server µs "
          "| backend CPU µs | WAL flush µs | WAL bytes | statements |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, f in fig.items():
        print(f"| {n} | {f['mean_us']:,} | {f['p50_us']:,} | {f['p99_us']:,} | {f['cpu_us']:,} | "
              f"{f['thread_cpu_us']:,} | {f.get('server_us', '')} | {f.get('backend_cpu_us', '')} | "
              f"{f.get('wal_flush_us', '')} | {f.get('wal_bytes', '')} | {f.get('statements', '')} |")
    _print_wal(wal, {n: len(v) for n, v in lat.items()})
    pairs = {"default durability (pg_fsync_on ÷ sqlite_normal)": ("pg_fsync_on", "sqlite_normal"),
             "equal durability (pg_fsync_on ÷ sqlite_full)": ("pg_fsync_on", "sqlite_full"),
             "equal durability, WAL compressed (pg_fsync_on_lz4 ÷ sqlite_full)": ("pg_fsync_on_lz4", "sqlite_full"),
             "neither flushes (pg_fsync_off ÷ sqlite_normal)": ("pg_fsync_off", "sqlite_normal")}
    ratios = {}
    for label, (a, b) in pairs.items():
        if a in fig and b in fig:
            ratios[label] = {k: round(fig[a][k] / fig[b][k], 2) for k in ("mean_us", "p50_us", "cpu_us",
                                                                            "thread_cpu_us")}
            print(f"{label}: mean {ratios[label]['mean_us']}x, p50 {ratios[label]['p50_us']}x, "
                  f"client CPU {ratios[label]['cpu_us']}x (its thread {ratios[label]['thread_cpu_us']}x)")
    print(json.dumps({"rows": args.rows, "rounds": args.rounds, "load": os.getloadavg()[0], "figures": fig,
                      "ratios": ratios}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
