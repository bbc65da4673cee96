"""User-space instructions per request (callgrind), per checkout: a before/after figure a loaded machine cannot blur.

Each checkout named by ``--root`` answers the peer harness's envelope with the same-work pizza skill
``--few`` and then ``--many`` times, each count in its own process under ``valgrind --tool=callgrind``;
the difference of the two totals divided by the difference of the counts is what one request costs,
start-up and imports cancelled out. The paths:

``wsgi``    ``POST /alexa/pizza`` through ``create_app(...).wsgi_app`` as a gunicorn worker runs it (the
            ledger's background work in another process: ``SKILLS_BACKGROUND=elsewhere``; the environ
            a gunicorn sync worker makes for the harness's request), JSON access log on (to
            ``/dev/null``), capture on;
``bare``    the peer harness's bare Flask app (``app_bare.py`` beside the envelope) given the same
            environ: it reads the body and answers fixed bytes (our reply's, for the same length);
``serving`` where the serving layer's instructions go: ``wsgi`` again with one piece taken out at a
            time (``SERVING``: the access line, the metrics, the ledger guard's file checks, the
            per-request start check), and ``answer``: the endpoint's ``answer()`` called alone, the
            skill and the capture without the WSGI endpoint, its observers and its start check;
``inproc``  ``inproc_target.handle_json_same_work`` (the peer harness's in-process target), capture on,
            its background thread not started, so that no indexing batch falls into one count only;
``stages``  the in-process request's stages, each repeated alone on the same envelope (see ``STAGES``):
            where its instructions go. A stage alone runs with warm caches, which changes its time,
            not its instruction count.

The kernel's share (the WAL's writes, the locks) is not counted. ``PYTHONHASHSEED=0`` in every
process: with random hashing the same code moves by about 0.4% from process to process.

    python bench/request_instructions.py --root . --root ../before            # both paths
    python bench/request_instructions.py --root . --kind wsgi --few 200 --many 1200
    python bench/request_instructions.py --root . --root ../before --kind stages
    python bench/request_instructions.py --root . --kind stages --stage build_row --stage json
    python bench/request_instructions.py --root . --kind wsgi --kind bare --kind serving
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ENVELOPE = os.path.join(HERE, "..", "..", "shared", "bench", "intent_envelope.json")


#: What ``--kind serving`` takes out of the ``wsgi`` request, one at a time, and ``answer`` alone.
SERVING = ("no_access_line", "no_metrics", "no_guard_checks", "no_start_check", "answer")

#: The environ a gunicorn sync worker makes for the harness's request (wrk's headers; ``wsgi.input`` added per request).
GUNICORN_ENVIRON = {
    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": False, "wsgi.multiprocess": True,
    "wsgi.run_once": False, "wsgi.input_terminated": True, "SERVER_SOFTWARE": "gunicorn/23.0.0",
    "REQUEST_METHOD": "POST", "QUERY_STRING": "", "RAW_URI": "/alexa/pizza", "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "127.0.0.1:18080", "CONTENT_TYPE": "application/json; charset=utf-8",
    "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "18080",
    "PATH_INFO": "/alexa/pizza", "SCRIPT_NAME": "",
}


#: The in-process request's stages, in the order a request runs them (``--kind stages``).
STAGES = ("parse_body", "load_request", "handle_no_capture", "build_row", "record", "json", "inproc")


def stage(name: str, n: int, body: str) -> None:
    """Run one stage of the in-process same-work request ``n`` times on ``body``'s envelope."""
    import inproc_target
    from same_work import same_work_skill

    from skills_sdk import SkillHost
    from skills_sdk.envelope import load_request, parse_body
    from skills_sdk.transcripts.capture import Capture

    host = inproc_target.SAME_WORK
    data = parse_body(body)
    envelope = load_request(data)
    plain = SkillHost([same_work_skill()])
    result = host.handle("pizza", data)
    capture = next(m for m in host._outer if isinstance(m, Capture))
    row = {k: v for k, v in result.transcript.items() if k != "id"}
    run = {  # each the work of one request's stage, as the request does it
        "parse_body": lambda: parse_body(body),
        "load_request": lambda: load_request(data),
        "handle_no_capture": lambda: plain.handle("pizza", envelope),  # Turn, dispatch, handler, envelope
        "build_row": lambda: capture.build_row(result.turn, result.response),  # with its consent SELECT
        "record": lambda: capture.store.record(row),  # sealing, insert, chain link, commit
        "json": result.json,
        "inproc": lambda: inproc_target.handle_json_same_work(body),
    }[name]
    for _ in range(n):
        run()


def child(root: str, kind: str, n: int, envelope: str) -> None:
    """Answer ``n`` requests through ``kind`` with the checkout at ``root`` (run under callgrind)."""
    sys.path[:0] = [os.path.join(root, "bench"), root]
    body = open(envelope, "rb").read()
    if kind.startswith("stage:"):
        stage(kind[6:], n, body.decode())
        return
    if kind == "inproc":
        import inproc_target

        text = body.decode()
        for _ in range(n):
            inproc_target.handle_json_same_work(text)
        return
    environ = {**GUNICORN_ENVIRON, "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_LENGTH": str(len(body))}
    tmp = tempfile.mkdtemp(prefix="skills-instr-")
    if kind == "bare":
        with open(os.path.join(tmp, "reply.json"), "wb") as f:  # our reply's length (its bytes are the peer's)
            f.write(b"x" * 374)
        os.environ["BARE_RESPONSE_FILE"] = f.name
        sys.path.insert(0, os.path.dirname(os.path.abspath(envelope)))
        import app_bare

        app = app_bare.app.wsgi_app
        environ.update(PATH_INFO="/", RAW_URI="/")
    else:
        app, ext = _our_app(kind, os.path.join(tmp, "instr.db"))
    if kind == "serving:answer":
        from skills_sdk.server.alexa import answer

        for _ in range(n):
            answer(ext, "pizza", "application/json", {}, body, {})
    else:
        for _ in range(n):
            b"".join(app({**environ, "wsgi.input": io.BytesIO(body)}, lambda *a: None))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


def _our_app(kind: str, db: str) -> tuple[Any, dict[str, Any]]:
    """``create_app(...).wsgi_app`` of the same-work skill, with the ``serving:`` kind's piece taken out."""
    import time

    from same_work import same_work_skill

    from skills_sdk.server import create_app
    from skills_sdk.server.ops import configure_logging

    configure_logging("INFO", stream=open(os.devnull, "w"))
    flask_app = create_app([same_work_skill()], db=db)
    ext = flask_app.extensions["skills_sdk"]
    piece = kind.partition(":")[2]
    if piece == "no_access_line":
        ext["observers"][:] = [o for o in ext["observers"] if o.__name__ != "write"]
    elif piece == "no_metrics":
        ext["observers"][:] = [o for o in ext["observers"] if o.__name__ != "count"]
        ext["guard"].listeners.clear()
    elif piece == "no_guard_checks":
        ext["guard"]._path = None  # no database file to stat: what a server database's guard checks
    elif piece == "no_start_check":
        ext["request_started"] = time.perf_counter
    return flask_app.wsgi_app, ext


def total(root: str, kind: str, n: int, envelope: str) -> int:
    """The instructions callgrind counted in a process answering ``n`` requests."""
    with tempfile.TemporaryDirectory(prefix="skills-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = {**os.environ, "PYTHONHASHSEED": "0", "SKILLS_BACKGROUND": "elsewhere"}
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                        os.path.abspath(__file__), "--child", root, kind, str(n), envelope],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            return int(re.search(r"^totals: (\d+)", f.read(), re.M).group(1))  # type: ignore[union-attr]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", help="a checkout to measure (repeatable; default .)")
    ap.add_argument("--kind", choices=("wsgi", "inproc", "bare", "serving", "stages"), action="append",
                    help="default: wsgi and inproc")
    ap.add_argument("--stage", choices=STAGES, action="append", help="with --kind stages: only these (default: all)")
    ap.add_argument("--few", type=int, default=200)
    ap.add_argument("--many", type=int, default=1200)
    ap.add_argument("--envelope", default=os.environ.get("ENVELOPE", ENVELOPE))
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in (args.root or ["."])]
    kinds = args.kind or ["wsgi", "inproc"]
    if "stages" in kinds:
        kinds = [k for k in kinds if k != "stages"] + [f"stage:{name}" for name in args.stage or STAGES]
    if "serving" in kinds:
        kinds = [k for k in kinds if k != "serving"] + [f"serving:{name}" for name in SERVING]
    for kind in kinds:
        base = None
        for root in roots:
            per = (total(root, kind, args.many, args.envelope) - total(root, kind, args.few, args.envelope)) / (
                args.many - args.few)
            base = base or per
            print(f"{kind:24s} {os.path.relpath(root):30s} {per:12,.0f} instructions/request  ({per / base:.3f}x)",
                  flush=True)


if __name__ == "__main__":
    main()
