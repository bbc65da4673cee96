"""User-space instructions per durable capture (callgrind), per checkout: ``SQLiteLedger.record`` alone.

Each checkout named by ``--root`` records ``--few`` and then ``--many`` rows (50 warm-up rows
first) into a fresh small ledger, each count in its own process under ``valgrind
--tool=callgrind`` with checkpoints off (``SKILLS_BACKGROUND=elsewhere``: no checkpoint thread
whose passes would fall into one count only) and ``PYTHONHASHSEED=0``. The difference of the two
totals over the difference of the counts is one capture, start-up and imports cancelled out. The
kernel's share (the WAL's writes, the locks) is not counted.

    python bench/capture_instructions.py --root . --root ../before            # 100 and 1,100 rows
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile


def record(root: str, n: int, folder: str) -> None:
    """Record 50 + ``n`` rows with the checkout at ``root`` into a new ledger in ``folder`` (run under callgrind)."""
    sys.path.insert(0, root)
    from skills_sdk.transcripts import TranscriptStore

    store = TranscriptStore(os.path.join(folder, "count.db"))
    for i in range(50 + n):
        store.record({"developer_id": f"dev{i % 7}", "skill": "pizza", "user_id": f"amzn1.ask.account.U{i % 97}",
                      "session_id": f"s{i % 31}", "request_id": f"r{i}", "intent": "OrderPizzaIntent",
                      "utterance": "a large pepperoni pizza please",
                      "speech": f"Your large pepperoni pizza is ordered, {i}.", "latency_ms": 12.5, "end_session": 1})
    store.close()


def counted(root: str, n: int) -> int:
    """The instructions callgrind counted in a process recording 50 + ``n`` rows."""
    with tempfile.TemporaryDirectory(prefix="skills-capture-count-") as folder:
        out = os.path.join(folder, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                        os.path.abspath(__file__), "--record", root, str(n), folder],
                       env={**os.environ, "PYTHONHASHSEED": "0", "SKILLS_BACKGROUND": "elsewhere"}, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            found = re.search(r"^totals: (\d+)", f.read(), re.M)
        assert found is not None, "callgrind wrote no totals"
        return int(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--record"]:
        record(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default .)")
    ap.add_argument("--few", type=int, default=100)
    ap.add_argument("--many", type=int, default=1100)
    args = ap.parse_args()
    first = None
    for root in [os.path.abspath(r) for r in (args.root or ["."])]:
        per = (counted(root, args.many) - counted(root, args.few)) / (args.many - args.few)
        first = first or per
        print(f"{os.path.relpath(root):30s} {per:12,.0f} instructions/capture  ({per / first:.3f}x)", flush=True)


if __name__ == "__main__":
    main()
