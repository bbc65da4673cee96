"""What the strict body checks cost: ``json.loads`` against ``parse_body`` on the real envelopes of the corpus.

    .venv/bin/python bench/body_checks.py            # best of 9 interleaved rounds of 100 passes over the corpus

Side by side in one run, each figure the best round (the least disturbed by other load), with the
ratio. ``parse_body`` adds: a hook for floats, a count of brackets, and a search for escapes; a
walk of the parsed value only when a body has more than MAX_JSON_DEPTH containers or an escape.
"""

from __future__ import annotations

import json
import pathlib
import time

from skills_sdk.envelope import load_request, parse_body

CORPUS = sorted((pathlib.Path(__file__).parent.parent / "tests" / "fixtures" / "alexa").glob("*.json"))


def best(fns, bodies, rounds=9, passes=100):
    """Best per-body time of each of ``fns``, rounds interleaved so drifting load hits each alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(passes):
                for b in bodies:
                    fn(b)
            times[i].append((time.perf_counter() - t0) / (passes * len(bodies)))
    return [min(t) * 1e6 for t in times]


def main() -> None:
    bodies = [p.read_bytes() for p in CORPUS]
    loadable = []
    for b in bodies:
        try:
            load_request(parse_body(b))
            loadable.append(b)
        except Exception:
            pass
    plain, strict = best([json.loads, parse_body], bodies)
    print(f"{len(bodies)} envelopes, mean {sum(map(len, bodies)) // len(bodies)} bytes")
    print(f"json.loads        {plain:7.2f} us/body")
    print(f"parse_body        {strict:7.2f} us/body   ({strict / plain:.2f}x json.loads)")
    walked = sum(1 for b in bodies if b.count(b"{") + b.count(b"[") > 64 or b"\\u" in b or b"\xed" in b)
    print(f"bodies walked     {walked} of {len(bodies)}")
    load_plain, load_strict = best([lambda b: load_request(json.loads(b)), lambda b: load_request(parse_body(b))],
                                   loadable)
    print(f"json.loads + load_request   {load_plain:7.2f} us")
    print(f"parse_body + load_request   {load_strict:7.2f} us   ({load_strict / load_plain:.2f}x)")


if __name__ == "__main__":
    main()
