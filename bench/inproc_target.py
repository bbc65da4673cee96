"""In-process round-trip targets for the peer harness: ``handle_json(body: str) -> str``.

``handle_json`` serves the example pizza skill with transcript capture ON into a temporary SQLite
file (WAL, synchronous=NORMAL: each row is committed before the response string is returned),
started as a server starts it (checkpoints and indexing on its background thread). It
places a real order with the embedded PizzaPronto stand-in through ``requests``, as under
``skills serve``, and saves the order in the user's persistent state.

``handle_json_same_work`` serves a skill that does exactly what the peer's ``pizza_skill.py`` does
(read two slots, speak, show a Simple card; no partner call), also with capture ON: it isolates
what the SDK itself costs, which is what a comparison of SDKs should compare.

Set ``SKILLS_BENCH_CAPTURE=0`` to time both without capture.

    PYTHONPATH=bench bash ../shared/bench/run.sh inproc --target inproc_target:handle_json --name example-pizza
    PYTHONPATH=bench bash ../shared/bench/run.sh inproc --target inproc_target:handle_json_same_work --name same-work
"""

from __future__ import annotations

import atexit
import os

from same_work import same_work_skill

from skills_sdk import Skill, SkillHost
from skills_sdk.transcripts import TranscriptStore

_CAPTURE = os.environ.get("SKILLS_BENCH_CAPTURE", "1") != "0"


def _scratch_dir() -> str:
    # Made without tempfile and removed at exit without shutil: those two modules (and the bz2, lzma
    # and random modules they load) are a tenth of this module's cold start and none of the SDK's;
    # shutil, imported at exit, still cost every process 1 ms of CPU after its first request.
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"skills-bench-{os.getpid()}-{os.urandom(4).hex()}")
    os.mkdir(path, 0o700)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    # The ledgers' files only (the database, its -wal, -shm and -lock, a spool): no folders inside.
    for name in os.listdir(path):
        try:
            os.unlink(os.path.join(path, name))
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


_DIR = _scratch_dir()


def _store(name: str) -> TranscriptStore | None:
    # Started, as create_app starts it: WAL checkpoints and full-text indexing run on the ledger's
    # background thread (their CPU is still this process's), not inside the request that happened
    # to cross SQLite's auto-checkpoint threshold.
    return TranscriptStore(os.path.join(_DIR, name)).start() if _CAPTURE else None


def _host(skills: list[Skill], db: str, **kwargs) -> SkillHost:
    # Composed as create_app composes it: the ledger's middleware outermost, when capturing.
    ledger = _store(db)
    if ledger is None:
        return SkillHost(skills, **kwargs)
    from skills_sdk.transcripts.compose import ledger_middleware

    return SkillHost(skills, state=ledger, middleware=ledger_middleware(ledger), **kwargs)


SAME_WORK = _host([same_work_skill()], "same_work.db")
_EXAMPLE: list[SkillHost] = []


def _example() -> SkillHost:
    # Built on first use, so the same-work target's cold start does not pay for the example skills,
    # their partner stand-ins and requests, which its requests never touch.
    if not _EXAMPLE:
        from example_skills import partner_session
        from example_skills.pizza import create_skill

        _EXAMPLE.append(_host([create_skill()], "example.db", http=partner_session()))
    return _EXAMPLE[0]


def handle_json(body: str) -> str:
    """The example pizza skill: JSON text in, response JSON text out."""
    return _example().handle_json("pizza", body)


def handle_json_same_work(body: str) -> str:
    """The peer-equivalent pizza skill: JSON text in, response JSON text out."""
    return SAME_WORK.handle_json("pizza", body)
