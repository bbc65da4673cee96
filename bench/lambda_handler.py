"""The Lambda path side by side: ``skills_sdk.aws.handler`` against ask-sdk-core's ``SkillBuilder.lambda_handler()``.

Both answer the same event (the peer harness's ``intent_envelope.json`` as a dict, which is what
Lambda hands a handler) with the same work: read two slots, speak, show a Simple card. Ours runs
each event through the same Flask app as ``skills_sdk.wsgi:app`` (routing, checks, capture); it is
timed with the transcript row committed to a SQLite file, and with capture off. Cold start is the
import plus the first event, in a fresh interpreter, as a new Lambda instance pays it.

Run it with the peer harness's venv (it has ask-sdk-core), this checkout on the path:

    PYTHONPATH=.:bench:../shared/bench /tmp/anchors-venv/bin/python bench/lambda_handler.py [N] [REPEATS]

Prints microseconds per event (median of the repeats) and the ratios. The machine is shared: only
the ratios of one run mean something.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

PEER = pathlib.Path(os.environ.get("PEER_BENCH", pathlib.Path(__file__).resolve().parents[2] / "shared" / "bench"))
EVENT = json.loads((PEER / "intent_envelope.json").read_text())

SKILL_MODULE = '''
from inproc_target import same_work_skill

def skills():
    skill = same_work_skill()
    skill.application_id = "amzn1.ask.skill.5c3e1f7a-2b64-4d1e-9a3c-7f0e8d2b6a41"
    return [skill]
'''


def ask_sdk_handler():
    from ask_sdk_core.skill_builder import SkillBuilder
    from pizza_skill import SKILL_ID, CatchAllExceptionHandler, LaunchHandler, OrderPizzaHandler

    sb = SkillBuilder()
    sb.skill_id = SKILL_ID
    sb.add_request_handler(LaunchHandler())
    sb.add_request_handler(OrderPizzaHandler())
    sb.add_exception_handler(CatchAllExceptionHandler())
    return sb.lambda_handler()


def ours_handler(db: str):
    from skills_sdk.aws import Gateway
    from skills_sdk.wsgi import build_app

    folder = tempfile.mkdtemp(prefix="skills-lambda-bench-")
    pathlib.Path(folder, "lambda_bench_skills.py").write_text(SKILL_MODULE)
    sys.path.insert(0, folder)
    app = build_app({"SKILLS_DB": db, "SKILLS_SKILLS": "lambda_bench_skills:skills", "SKILLS_LOG_LEVEL": "ERROR"})
    if db == ":memory:":
        from skills_sdk.server import get_host

        get_host(app).capture = None  # measured without capture: the chain without its outermost step
        host = get_host(app)
        host._chains["pizza"] = host.skills["pizza"].pipeline([])
    return Gateway(app)


def per_event_us(handlers: dict, n: int, repeats: int) -> dict[str, float]:
    """Median microseconds per event of each handler; the handlers take turns, so load hits all alike."""
    for handler in handlers.values():
        for _ in range(200):
            handler(EVENT, None)
    runs: dict[str, list[float]] = {name: [] for name in handlers}
    for _ in range(repeats):
        for name, handler in handlers.items():
            start = time.perf_counter()
            for _ in range(n):
                handler(EVENT, None)
            runs[name].append((time.perf_counter() - start) / n * 1e6)
    return {name: statistics.median(r) for name, r in runs.items()}


COLD = {
    "ask-sdk-core": "import bench.lambda_handler as b; h = b.ask_sdk_handler(); h(b.EVENT, None)",
    "skills_sdk (capture to file)": "import bench.lambda_handler as b, tempfile, os; "
                                    "h = b.ours_handler(os.path.join(tempfile.mkdtemp(), 'l.db')); h(b.EVENT, None)",
}


def cold_ms(codes: dict[str, str], repeats: int = 7) -> dict[str, float]:
    """Median milliseconds from a fresh interpreter to the first answer, the variants taking turns."""
    runs: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeats):
        for name, code in codes.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "SKILLS_LOG_LEVEL": "ERROR"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(r) for name, r in runs.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"== {os.cpu_count()} CPUs, loadavg {open('/proc/loadavg').read().split()[:3]}, N={n} x {repeats}")
    peer = ask_sdk_handler()
    answer = peer(EVENT, None)
    assert "pepperoni" in json.dumps(answer)
    with tempfile.TemporaryDirectory() as folder:
        ours = ours_handler(os.path.join(folder, "ledger.db"))
        assert "pepperoni" in json.dumps(ours(EVENT, None))
        bare = ours_handler(":memory:")
        figures = per_event_us({"ask-sdk-core lambda_handler": peer, "skills_sdk.aws.handler, capture to file": ours,
                                "skills_sdk.aws.handler, no capture": bare}, n, repeats)
    base = figures["ask-sdk-core lambda_handler"]
    for name, us in figures.items():
        print(f"{name:45s} {us:8.1f} us/event  {us / base:5.2f}x ask-sdk-core")
    cold = cold_ms(COLD)
    for name, ms in cold.items():
        print(f"cold start {name:34s} {ms:8.1f} ms  {ms / cold['ask-sdk-core']:5.2f}x ask-sdk-core")


if __name__ == "__main__":
    main()
