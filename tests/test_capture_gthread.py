"""gunicorn's threaded workers under concurrent load: every answer has its transcript, once, and the chain verifies."""

from __future__ import annotations

import sys

from _server import free_port
from test_concurrency import answer_under_load

from skills_sdk.host import DEFAULT_SKILLS
from skills_sdk.transcripts.sqlite.ledger import SQLiteLedger


def test_gthread_workers_under_concurrent_load_record_every_answer_once(tmp_path):
    port = free_port()
    # Two workers of four threads: captures overlap inside each process (group commit) and across them.
    answer_under_load(tmp_path, [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4",
                                 "-b", f"127.0.0.1:{port}", "-c", "python:skills_sdk.server.gunicorn_hooks",
                                 "skills_sdk.wsgi:app"], port, clients=16,
                      env={"SKILLS_DB": str(tmp_path / "t.db"), "SKILLS_VERIFY": "0",
                           "SKILLS_SKILLS": DEFAULT_SKILLS, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    store = SQLiteLedger(tmp_path / "t.db")
    assert store.verify_chain().ok
    store.close()
