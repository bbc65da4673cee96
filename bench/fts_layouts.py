"""Full-text index layouts side by side, for 4 and for 1,000 developers: which one keeps the schema small?

    python bench/fts_layouts.py                                  # every layout, N=4 and N=1000
    python bench/fts_layouts.py --rows 300000 --days 30 --developers 4 1000 --layouts dev_day day_token

A standalone prototype: it builds a transcripts table like the store's (rows spread over
``--developers`` developers with a long tail: a few big, many small) and one full-text layout on
it, then measures what the ledger needs of an index whose schema must not grow with developers x
days:

| layout | FTS5 tables | a developer's search | purge of a day |
|---|---|---|---|
| ``dev_day`` | one per developer and day (the store today) | that developer's tables only | drop the day's tables |
| ``day_token`` | one per day; an indexed ``dev`` column holds one token per developer | ``dev:tok AND (words)``: FTS5 intersects the two doclists, skipping | drop the day's table |
| ``day_bucket`` | ``--buckets`` per day, a developer's bucket by a hash of its id; the ``dev`` token column as ``day_token`` | ``dev:tok AND (words)`` in the developer's bucket | drop the day's tables |
| ``day_filter`` | one per day, text only | every match of the words in the day, then ``developer_id = ?`` | drop the day's table |
| ``one_token`` | one, with the ``dev`` token column | as ``day_token`` | delete the day's rows token by token |

Every table is external-content on ``transcripts`` (through a view for the token column),
``columnsize=0``, with FTS5's ``secure-delete`` on, as the store's partitions are. Figures: open
(connect plus a first query, median of 20 new connections), schema objects, index build rows/s,
search p50/p99 (newest 50 of one developer's matches for a word drawn like real speech), erasure of
a 1,000-row user (its index entries and rows, one transaction), purge of the oldest day. The last
line is one JSON object per layout and N.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from skills_sdk.transcripts._sqlite import FTS5_SECURE_DELETE, sqlite3  # noqa: E402

LAYOUTS = ("dev_day", "day_token", "day_bucket", "day_filter", "one_token")
BUCKETS = 4  # day_bucket: tables per day (--buckets)
_WORDS = [f"w{i}" for i in range(4000)]  # a Zipf vocabulary: w0 is the commonest word
_SCHEMA = """
CREATE TABLE transcripts (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
  developer_id TEXT NOT NULL, user_id TEXT NOT NULL, utterance TEXT, speech TEXT);
CREATE INDEX t_user ON transcripts (user_id, id);
CREATE INDEX t_dev ON transcripts (developer_id, id);
CREATE TABLE devs (seq INTEGER PRIMARY KEY, developer_id TEXT UNIQUE NOT NULL);
CREATE VIEW fts_src AS SELECT t.id AS id, 'dev' || d.seq AS dev, t.utterance, t.speech
  FROM transcripts t JOIN devs d ON d.developer_id = t.developer_id;
CREATE TABLE parts (name TEXT PRIMARY KEY, day TEXT NOT NULL, developer_id TEXT);
"""


def zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


def generate(conn: sqlite3.Connection, rows: int, days: int, developers: int, rng: random.Random) -> None:
    """Rows over ``days`` days and ``developers`` developers (Zipf 1.1: a few big, a long tail of small)."""
    devs = [f"dev-{i:04d}" for i in range(developers)]
    conn.executemany("INSERT INTO devs (developer_id) VALUES (?)", [(d,) for d in devs])
    dev_w = zipf_weights(developers, 1.1)
    word_w = zipf_weights(len(_WORDS), 1.0)
    start = time.mktime((2026, 9, 1, 0, 0, 0, 0, 0, 0))
    batch = []
    for i in range(rows):
        t = start + (i / rows) * days * 86400
        dev = rng.choices(devs, dev_w)[0]
        user = f"u{int(rng.paretovariate(1.2)) % 50_000}"
        words = rng.choices(_WORDS, word_w, k=18)
        batch.append((time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z", dev, user,
                      " ".join(words[:6]), " ".join(words[6:])))
        if len(batch) == 20_000:
            conn.executemany("INSERT INTO transcripts (created_at, developer_id, user_id, utterance, speech) "
                             "VALUES (?, ?, ?, ?, ?)", batch)
            batch = []
    if batch:
        conn.executemany("INSERT INTO transcripts (created_at, developer_id, user_id, utterance, speech) "
                         "VALUES (?, ?, ?, ?, ?)", batch)
    # A user with exactly 1,000 rows over every day and several developers, three times, for erasure.
    ids = [r[0] for r in conn.execute("SELECT id FROM transcripts ORDER BY random() LIMIT 3000")]
    for k in range(3):
        conn.execute(f"UPDATE transcripts SET user_id = 'HEAVY{k}' WHERE id IN ({','.join(map(str, ids[k::3]))})")


def create(conn: sqlite3.Connection, layout: str, name: str) -> None:
    if layout in _TOKEN:
        conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(dev, utterance, speech, content='fts_src', "
                     "content_rowid='id', columnsize=0)")
    else:
        conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5(utterance, speech, content='transcripts', "
                     "content_rowid='id', columnsize=0)")
    if FTS5_SECURE_DELETE:
        conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('secure-delete', 1)")


_TOKEN = ("day_token", "day_bucket", "one_token")


def bucket(dev: str) -> int:
    return zlib.crc32(dev.encode()) % BUCKETS


def part_of(layout: str, day: str, dev: str, devseq: dict[str, int]) -> str:
    d = day.replace("-", "")
    if layout == "day_bucket":
        return f"fts_{d}_b{bucket(dev)}"
    return {"dev_day": f"fts_{d}_{devseq[dev]}", "day_token": f"fts_{d}", "day_filter": f"fts_{d}",
            "one_token": "fts_all"}[layout]


def build(conn: sqlite3.Connection, layout: str) -> float:
    """Create the partitions and index every row; returns rows/s."""
    devseq = dict(conn.execute("SELECT developer_id, seq FROM devs"))
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    pairs = conn.execute("SELECT DISTINCT substr(created_at, 1, 10), developer_id FROM transcripts").fetchall()
    made = set()
    for day, dev in pairs:
        name = part_of(layout, day, dev, devseq)
        if name not in made:
            create(conn, layout, name)
            conn.execute("INSERT INTO parts VALUES (?, ?, ?)", (name, day, dev if layout == "dev_day" else
                                                                str(bucket(dev)) if layout == "day_bucket" else None))
            made.add(name)
    for name, day, dev in conn.execute("SELECT name, day, developer_id FROM parts").fetchall():
        cols, src = ("dev, utterance, speech", "fts_src") if layout in _TOKEN else \
            ("utterance, speech", "transcripts")
        where = "substr(t.created_at, 1, 10) = ?" if layout != "one_token" else "1"
        args: list[str] = [day] if layout != "one_token" else []
        if layout == "dev_day":
            where += " AND t.developer_id = ?"
            args.append(dev)
        elif layout == "day_bucket":
            where += " AND bucket_of(t.developer_id) = ?"
            args.append(int(dev))
        conn.execute(f"INSERT INTO {name} (rowid, {cols}) SELECT s.id, {', '.join('s.' + c for c in cols.split(', '))} "
                     f"FROM {src} s JOIN transcripts t ON t.id = s.id WHERE {where}", args)
    conn.execute("COMMIT")
    n = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
    return n / (time.perf_counter() - t0)


def open_ms(path: str) -> float:
    times: list[float] = []
    for _ in range(20):
        if times and times[0] > 200 and len(times) == 3:
            break  # seconds per open: three say enough
        t0 = time.perf_counter()
        c = sqlite3.connect(path)
        c.execute("SELECT id FROM transcripts WHERE id = 1").fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        c.close()
    return statistics.median(times)


def search(conn: sqlite3.Connection, layout: str, dev: str, devseq: dict[str, int], word: str, parts: list) -> int:
    """Newest 50 of ``dev``'s rows whose utterance or speech has ``word``, as the store pages them."""
    found: list[int] = []
    text = f'{{utterance speech}} : "{word}"'
    for name, _day, pdev in parts:
        if layout == "dev_day" and pdev != dev or layout == "day_bucket" and int(pdev) != bucket(dev):
            continue
        if layout in _TOKEN:
            q = f'dev : "dev{devseq[dev]}" AND {text}'
            sql = f"SELECT rowid FROM {name} WHERE {name} MATCH ? ORDER BY rowid DESC LIMIT ?"
            got = [r[0] for r in conn.execute(sql, (q, 50 - len(found)))]
        elif layout == "day_filter":
            sql = (f"SELECT t.id FROM {name} f JOIN transcripts t ON t.id = f.rowid WHERE {name} MATCH ? "
                   "AND t.developer_id = ? ORDER BY f.rowid DESC LIMIT ?")
            got = [r[0] for r in conn.execute(sql, (text, dev, 50 - len(found)))]
        else:
            sql = f"SELECT rowid FROM {name} WHERE {name} MATCH ? ORDER BY rowid DESC LIMIT ?"
            got = [r[0] for r in conn.execute(sql, (text, 50 - len(found)))]
        found += got
        if len(found) >= 50:
            break
    return len(found)


def erase(conn: sqlite3.Connection, layout: str, user: str, devseq: dict[str, int]) -> float:
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute("SELECT id, created_at, developer_id, utterance, speech FROM transcripts WHERE user_id = ?",
                        (user,)).fetchall()
    for rid, created, dev, utt, sp in rows:
        name = part_of(layout, created[:10], dev, devseq)
        if layout in _TOKEN:
            conn.execute(f"INSERT INTO {name} ({name}, rowid, dev, utterance, speech) VALUES ('delete', ?, ?, ?, ?)",
                         (rid, f"dev{devseq[dev]}", utt, sp))
        else:
            conn.execute(f"INSERT INTO {name} ({name}, rowid, utterance, speech) VALUES ('delete', ?, ?, ?)",
                         (rid, utt, sp))
    conn.execute("DELETE FROM transcripts WHERE user_id = ?", (user,))
    conn.execute("COMMIT")
    return (time.perf_counter() - t0) * 1000


def purge_day(conn: sqlite3.Connection, layout: str, devseq: dict[str, int]) -> tuple[float, int]:
    day = conn.execute("SELECT min(day) FROM parts").fetchone()[0]
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    if layout == "one_token":
        for rid, dev, utt, sp in conn.execute("SELECT id, developer_id, utterance, speech FROM transcripts "
                                              "WHERE created_at < ?", (day + "T99",)).fetchall():
            conn.execute("INSERT INTO fts_all (fts_all, rowid, dev, utterance, speech) VALUES ('delete', ?, ?, ?, ?)",
                         (rid, f"dev{devseq[dev]}", utt, sp))
    else:
        for (name,) in conn.execute("SELECT name FROM parts WHERE day = ?", (day,)).fetchall():
            conn.execute(f"DROP TABLE {name}")
        conn.execute("DELETE FROM parts WHERE day = ?", (day,))
    n = conn.execute("DELETE FROM transcripts WHERE created_at < ?", (day + "T99",)).rowcount
    conn.execute("COMMIT")
    return (time.perf_counter() - t0) * 1000, n


def run(layout: str, developers: int, args: argparse.Namespace, folder: str) -> dict:
    rng = random.Random(args.seed)
    days = args.days
    if layout == "dev_day" and developers > 100:
        days = args.dev_day_days  # one table per developer and day: more would take hours to make
    path = os.path.join(folder, f"{layout}-{developers}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_function("bucket_of", 1, bucket, deterministic=True)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA secure_delete = ON")
    conn.executescript(_SCHEMA)
    rows = args.rows if days == args.days else args.rows * days // args.days
    conn.execute("BEGIN")
    generate(conn, rows, days, developers, rng)
    conn.execute("COMMIT")
    rate = build(conn, layout)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = {"layout": layout if layout != "day_bucket" else f"day_bucket{BUCKETS}", "developers": developers, "rows": rows, "days": days,
           "schema_objects": conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
           "fts_tables": conn.execute("SELECT count(*) FROM parts").fetchone()[0],
           "build_rows_per_s": round(rate), "open_ms": round(open_ms(path), 2)}
    devseq = dict(conn.execute("SELECT developer_id, seq FROM devs"))
    parts = conn.execute("SELECT name, day, developer_id FROM parts ORDER BY day DESC, name").fetchall()
    picks = conn.execute(f"SELECT developer_id, speech FROM transcripts ORDER BY random() LIMIT {args.queries + 10}")
    times = []
    for i, (dev, speech) in enumerate(picks.fetchall()):
        word = rng.choice(speech.split())
        t0 = time.perf_counter()
        search(conn, layout, dev, devseq, word, parts)
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    out["search_p50_ms"] = round(times[len(times) // 2], 2)
    out["search_p99_ms"] = round(times[int(len(times) * 0.99) - 1], 2)
    out["erase_1000_ms"] = round(statistics.median(erase(conn, layout, f"HEAVY{k}", devseq) for k in range(3)), 1)
    out["purge_day_ms"], out["purge_day_rows"] = purge_day(conn, layout, devseq)
    out["purge_day_ms"] = round(out["purge_day_ms"], 1)
    out["bytes_per_row"] = round(os.path.getsize(path) / rows)
    conn.close()
    os.remove(path)
    return out


def main() -> None:
    global BUCKETS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--dev-day-days", type=int, default=4,
                    help="days for dev_day with more than 100 developers (its table count is developers x days)")
    ap.add_argument("--developers", type=int, nargs="+", default=[4, 1000])
    ap.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    ap.add_argument("--buckets", type=int, default=BUCKETS, help="day_bucket: tables per day")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", default=None, help="where the databases go (default: a temp folder)")
    args = ap.parse_args()
    BUCKETS = args.buckets
    folder = args.dir or tempfile.mkdtemp(prefix="fts-layouts-")
    print(f"SQLite {sqlite3.sqlite_version}, secure-delete {'on' if FTS5_SECURE_DELETE else 'unavailable'}; "
          f"{args.rows:,} rows over {args.days} days", file=sys.stderr)
    results = []
    for n in args.developers:
        for layout in args.layouts:
            r = run(layout, n, args, folder)
            results.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
