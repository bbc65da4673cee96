"""Turns that change the user's state, through a SkillHost capturing into a ledger: µs a turn, side by side.

Each turn reads ``ctx.state`` and changes one key, as an audio skill keeps its place; the capture
stores the state with the row in one commit. ``--conflicts`` makes every other turn meet a state
another turn stored after it read (the merge's path; that save is in the turn's time). Run one checkout against another
(``--code TREE``) in alternation to compare.

    python bench/state_turns.py --db /tmp/s.db [--db postgresql://… --key-file KEYS] [--turns 3000] [--code ../before]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

if "--code" in sys.argv:  # another checkout's skills_sdk (a before/after pair, one process each)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

from skills_sdk import Skill, SkillHost, say  # noqa: E402
from skills_sdk.request_builders import intent_request  # noqa: E402
from skills_sdk.transcripts import open_ledger  # noqa: E402
from skills_sdk.transcripts.compose import ledger_middleware  # noqa: E402


def player(ledger, conflicts: bool) -> Skill:
    skill = Skill("player", developer_id="dev-player", invocation_name="jazz player")
    turn = [0]

    @skill.intent("ProgressIntent", samples=["progress"])
    def progress(ctx):
        ctx.state["offset"] = ctx.state.get("offset", 0) + 1000
        ctx.state["track"] = "t-42"
        turn[0] += 1
        if conflicts and turn[0] % 2 == 0:  # another turn of the user stores its state after this one read it
            ledger.save_state("dev-player", "player", ctx.user_id, {"offset": turn[0], "elsewhere": turn[0]})
        return say("Saved your place.")

    return skill


def run(url: str, turns: int, conflicts: bool, key_file: str | None) -> dict[str, float]:
    # A PostgreSQL ledger's key file stays with its database (SKILLS_LEDGER_KEY_FILE, or --key-file).
    ledger = open_ledger(url, **({"key_file": key_file or os.path.join(tempfile.mkdtemp(), "k")} if "://" in url else {}))
    ledger.start()
    try:
        skill = player(ledger, conflicts)
        host = SkillHost([skill], state=ledger, middleware=ledger_middleware(ledger))
        times = []
        for i in range(turns):
            user = f"amzn1.ask.account.U{i % 50}"
            env = intent_request("ProgressIntent", {}, model=skill.model, user_id=user)
            t0 = time.perf_counter()
            host.handle("player", env)
            times.append(time.perf_counter() - t0)
        times.sort()
        return {"turns": turns, "mean_us": round(statistics.fmean(times) * 1e6, 1),
                "p50_us": round(times[len(times) // 2] * 1e6, 1), "p99_us": round(times[int(len(times) * 0.99)] * 1e6, 1)}
    finally:
        ledger.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", action="append", required=True, help="a SQLite file (made fresh) or a postgresql:// URL")
    ap.add_argument("--turns", type=int, default=3000)
    ap.add_argument("--conflicts", action="store_true", help="every other turn meets another turn's state")
    ap.add_argument("--code", help="measure with this checkout's skills_sdk")
    ap.add_argument("--key-file", default=os.environ.get("SKILLS_LEDGER_KEY_FILE"),
                    help="a PostgreSQL ledger's key file (default $SKILLS_LEDGER_KEY_FILE; a new one for a new database)")
    args = ap.parse_args(argv)
    for url in args.db:
        if "://" not in url and os.path.exists(url):
            os.remove(url)
        print(json.dumps({"db": url.split("@")[-1], "code": args.code or "here", **run(url, args.turns, args.conflicts, args.key_file)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
