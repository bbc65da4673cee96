"""User-space instructions per durable capture (callgrind), per checkout: ``SQLiteLedger.record`` alone, and where they go.

Each checkout named by ``--root`` records 50 warm-up rows and then ``-n`` counted rows into a ledger,
in its own process under ``valgrind --tool=callgrind`` with checkpoints off
(``SKILLS_BACKGROUND=elsewhere``: no checkpoint thread whose passes would fall into one count only)
and ``PYTHONHASHSEED=0``. Only the counted rows' ``record()`` calls are counted: they run inside one
``functools.reduce`` call, and callgrind collects inside that function only (``--toggle-collect``),
so start-up, imports, the ledger's opening and the rows' making are left out. The kernel's share
(the WAL's writes, the locks) is not counted.

Without ``--db`` the ledger is a new small one and the rows are one skill's short turns (the figures
of earlier sittings). ``--db LEDGER`` copies that ledger for each checkout and records rows as
``store_scale.py --only write`` does (``bench/_ledger.py``, ``--developers`` of them), so the count is
that of a capture at the ledger's size: at 1M rows, ``--db /work/data/n1000.db --developers 1000``.
``--breakdown`` splits each count by who ran the instructions: SQLite (B-tree work, the WAL's
checksums and index, the pager, the VDBE), pysqlite, hashing (OpenSSL), JSON, our C modules, the
Python interpreter, libc.

    python bench/capture_instructions.py --root . --root ../before                     # small ledger
    python bench/capture_instructions.py --root . --root ../before --db /work/data/n1000.db --developers 1000 --breakdown
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def record(root: str, n: int, folder: str, developers: int) -> None:
    """Record 50 + ``n`` rows with the checkout at ``root`` into ``folder``/count.db (run under callgrind).

    ``developers`` 0: one skill's short turns into a new ledger; else ``_ledger``'s rows spread over
    that many developers, ending now, as ``store_scale.py`` captures them.
    """
    sys.path[:0] = [HERE, root]
    from skills_sdk.transcripts import TranscriptStore

    if developers:
        import _ledger

        rows = next(_ledger.generate(50 + n, seed=99, end_ms=int(time.time() * 1000), days=1, heavy_users=0,
                                     batch=50 + n, developers=developers))
    else:
        rows = [{"developer_id": f"dev{i % 7}", "skill": "pizza", "user_id": f"amzn1.ask.account.U{i % 97}",
                 "session_id": f"s{i % 31}", "request_id": f"r{i}", "intent": "OrderPizzaIntent",
                 "utterance": "a large pepperoni pizza please",
                 "speech": f"Your large pepperoni pizza is ordered, {i}.", "latency_ms": 12.5, "end_session": 1}
                for i in range(50 + n)]
    store = TranscriptStore(os.path.join(folder, "count.db"))
    for row in rows[:50]:
        store.record(row)
    functools.reduce(lambda _, row: store.record(row), rows[50:], None)  # callgrind counts inside reduce only
    store.close()


def counted(root: str, n: int, db: str | None, developers: int) -> tuple[int, str]:
    """The instructions callgrind counted in ``n`` captures, and its annotated profile (self cost per function)."""
    with tempfile.TemporaryDirectory(prefix="skills-capture-count-") as folder:
        if db:
            shutil.copyfile(db, os.path.join(folder, "count.db"))
        out = os.path.join(folder, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
                        "--toggle-collect=functools_reduce", sys.executable, os.path.abspath(__file__),
                        "--record", root, str(n), folder, str(developers)],
                       env={**os.environ, "PYTHONHASHSEED": "0", "SKILLS_BACKGROUND": "elsewhere"}, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            found = re.search(r"^totals: (\d+)", f.read(), re.M)
        assert found is not None, "callgrind wrote no totals"
        profile = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True, text=True,
                                 check=True).stdout
        return int(found.group(1)), profile


#: Who ran an instruction, by the function's name (SQLite's own are named by what they do).
_SQLITE = (
    ("SQLite: WAL checksums", r"walChecksumBytes"),
    ("SQLite: WAL index, frames", r"(sqlite3)?[Ww]al"),
    ("SQLite: B-tree descents, inserts, splits",
     r"(?i)btree|balance|moveto|cell|accessPayload|getAndInitPage|decodeFlags|freeSpace|allocateSpace|defragment"
     r"|copyNodeContent|assemblePage|rebuildPage|editPage|page(Insert|Free)Array|zeroPage|pageFindSlot|RecordCompare"
     r"|RecordUnpack|FindCompare"),
    ("SQLite: pager, page cache", r"(?i)pcache|pager|getPage"),
    ("SQLite: VDBE, binding, values", r"(?i)vdbe|^sqlite3_(step|reset|bind|column|clear)|sqlite3Mem|releaseMemArray"
     r"|allocateCursor"),
    ("SQLite: mutexes, memory", r"(?i)mutex|malloc|free|realloc|memsize"),
)


def _who(path: str, fn: str, obj: str) -> str:
    where = obj or path
    if "skills_sdk" in where:  # before the JSON encoder's test: _json_text.h is ours
        if path.endswith((".c", ".h")):
            return "ours: " + os.path.basename(path)
        return "ours: " + os.path.basename(where).split(".")[0] + ".c"
    if fn.startswith(("py_encode_basestring", "encoder_")) or "_json" in where:
        return "JSON encoding (Python's C encoder)"
    if "libcrypto" in where or "_hashlib" in where:
        return "hashing (OpenSSL: the digest, the seal)"
    if "pysqlite3" in where or "sqlite3" in os.path.basename(where):
        if "/src/" in path:
            return "pysqlite: statements, binding, callbacks"
        return next((name for name, pattern in _SQLITE if re.search(pattern, fn)), "SQLite: other")
    if "libc.so" in where or path.startswith("./"):
        return "libc (memcpy, malloc, pthread mutexes)"
    if "python" in where.lower():
        return "Python: interpreter, objects"
    return "other"


def breakdown(profile: str) -> dict[str, int]:
    """Instructions by who ran them, from ``callgrind_annotate``'s self cost per function."""
    out: collections.Counter[str] = collections.Counter()
    for line in profile.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*?):(\S+?)(?:'\d+)?(?: \[(.*)\])?$", line)
        if m and m.group(2) != "PROGRAM TOTALS":
            out[_who(m.group(2), m.group(3), m.group(4) or "")] += int(m.group(1).replace(",", ""))
    return out


def main() -> None:
    if sys.argv[1:2] == ["--record"]:
        record(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 0)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default .)")
    ap.add_argument("-n", type=int, default=1000, help="captures counted (default 1000)")
    ap.add_argument("--db", help="a ledger to capture into (copied for each checkout; default: a new small one)")
    ap.add_argument("--developers", type=int, default=1000, help="with --db: the rows' developers (default 1000)")
    ap.add_argument("--breakdown", action="store_true", help="also split each count by who ran the instructions")
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or ["."])]
    results = []
    for root in roots:
        total, profile = counted(root, args.n, args.db, args.developers if args.db else 0)
        results.append((root, total / args.n, breakdown(profile)))
        first = results[0][1]
        print(f"{os.path.relpath(root):30s} {total / args.n:12,.0f} instructions/capture  ({total / args.n / first:.3f}x)",
              flush=True)
    if args.breakdown:
        names = sorted({k for _, _, parts in results for k in parts}, key=lambda k: -results[0][2].get(k, 0))
        print(f"\n{'per capture':42s}" + "".join(f"{os.path.relpath(r)[-14:]:>16s}" for r, _, _ in results))
        for name in names:
            print(f"{name:42s}" + "".join(f"{parts.get(name, 0) / args.n:16,.0f}" for _, _, parts in results))


if __name__ == "__main__":
    main()
