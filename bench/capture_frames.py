"""What one durable capture writes: WAL frames per commit, and the B-tree each frame's page belongs to.

Records ``-n`` captures (``SQLiteLedger.record``, as ``store_scale.py`` times them) into ``--db``
(give it a copy: the rows stay) with checkpoints held off, so the WAL keeps every frame; then reads
the WAL's frame headers back (a frame whose header carries the database size ends a commit) and
names each frame's page through SQLite's ``dbstat`` table. Prints the frames per commit, how many
commits wrote how many frames, and the frames per capture of each B-tree; ends with a JSON line.

    python bench/capture_frames.py --db /tmp/copy-of-n1000.db -n 2000
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import _ledger  # noqa: E402

from skills_sdk.transcripts import TranscriptStore  # noqa: E402
from skills_sdk.transcripts.sqlite import checkpoints  # noqa: E402

_WAL_HEADER, _FRAME_HEADER = 32, 24


def frames_of(wal: str, page_size: int) -> list[list[int]]:
    """The page numbers each commit in ``wal`` wrote, commit by commit."""
    commits, pages = [], []
    with open(wal, "rb") as f:
        f.seek(_WAL_HEADER)
        while len(header := f.read(_FRAME_HEADER)) == _FRAME_HEADER:
            page, db_size = struct.unpack(">II", header[:8])
            if len(f.read(page_size)) < page_size:
                break
            pages.append(page)
            if db_size:  # the commit's last frame
                commits.append(pages)
                pages = []
    return commits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a ledger file to add the captures to (a copy)")
    ap.add_argument("-n", type=int, default=2000, help="captures to record (default 2000)")
    args = ap.parse_args()
    checkpoints.serve = lambda ledger: None  # no checkpoint: the WAL keeps every frame
    store = TranscriptStore(args.db)
    store.checkpoint("TRUNCATE")  # the WAL starts empty: every frame in it is a capture's
    rows = next(_ledger.generate(args.n, seed=99, end_ms=int(time.time() * 1000), days=1, heavy_users=0,
                                 batch=args.n))
    for row in rows:
        store.record(dict(row, request_id=row["request_id"] + "-frames"))
    # The WAL is read while the ledger is open (its last connection to close checkpoints and removes
    # it); the pages are named after, through the standard library's SQLite (its build has dbstat),
    # never open on the file beside the ledger's own library.
    commits = frames_of(args.db + "-wal", store.conn.execute("PRAGMA page_size").fetchone()[0])
    store.close()
    conn = sqlite3.connect(args.db)
    names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    conn.close()
    if len(commits) != args.n:
        raise SystemExit(f"expected {args.n} commits in the WAL, found {len(commits)}")
    sizes = collections.Counter(len(c) for c in commits)
    per_tree = collections.Counter(names.get(p, "?") for c in commits for p in c)
    mean = sum(len(c) for c in commits) / len(commits)
    print(f"{len(commits)} captures; frames per commit: mean {mean:.2f}")
    print("commits by frames written: " + ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items())))
    for name, count in per_tree.most_common():
        print(f"  {count / len(commits):6.3f}  {name}")
    print(json.dumps({"captures": len(commits), "frames_per_commit": round(mean, 3),
                      "commits_by_frames": {str(k): v for k, v in sorted(sizes.items())},
                      "frames_per_capture": {k: round(v / len(commits), 3) for k, v in per_tree.most_common()}}))


if __name__ == "__main__":
    main()
