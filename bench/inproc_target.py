"""In-process round-trip target for the peer harness: ``handle_json(body: str) -> str``.

Serves the example pizza skill with transcript capture ON into a temporary SQLite file (WAL,
synchronous=NORMAL: each row is committed before the response string is returned). The pizza
partner is the embedded stand-in, as under ``skills serve``. Set ``SKILLS_BENCH_CAPTURE=0`` to
time the same round trip without capture.

    PYTHONPATH=bench bash ../shared/bench/run.sh inproc --target inproc_target:handle_json --name skills_sdk
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from example_skills import partner_session
from example_skills.pizza import create_skill
from skills_sdk import SkillHost
from skills_sdk.transcripts import TranscriptStore

_CAPTURE = os.environ.get("SKILLS_BENCH_CAPTURE", "1") != "0"
_DIR = tempfile.mkdtemp(prefix="skills-bench-")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
STORE = TranscriptStore(os.path.join(_DIR, "transcripts.db")) if _CAPTURE else None
HOST = SkillHost([create_skill()], store=STORE, http=partner_session())


def handle_json(body: str) -> str:
    """The whole round trip: JSON text in, response JSON text out."""
    return HOST.handle_json("pizza", body)
