"""One import or one copy run twice at once, on either backend: every row lands once, and the second run says why it stopped."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from _server import SKILLS

from skills_sdk.errors import ProgressTaken
from skills_sdk.transcripts import open_ledger


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"developer_id": "d", "skill": "notes", "user_id": f"u{i % 7}", "speech": f"note {i}",
             "request_id": f"r{i}", "created_at": f"2026-11-{10 + i % 5:02d}T08:00:00.000Z"} for i in range(start, n)]


def test_a_batch_that_does_not_advance_its_progress_mark_is_refused_and_not_written(ledger):
    # Two runs of one import read no progress and both start at line 1; the second to commit stops.
    assert ledger.record_many(_rows(5), progress=("import:f", 5)) == 5
    with pytest.raises(ProgressTaken) as refused:
        ledger.record_many(_rows(5), progress=("import:f", 5))
    assert (refused.value.held, refused.value.wanted) == (5, 5)
    assert ledger.count() == 5 and ledger.progress("import:f") == 5
    assert ledger.record_many(_rows(8, 5), progress=("import:f", 8)) == 3  # a resumed run goes on after it
    assert ledger.count() == 8


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_two_copies_into_one_empty_ledger_at_once_copy_every_row_once(request, tmp_path, target):
    source = tmp_path / "source.db"
    with open_ledger(str(source)) as src:
        src.record_many(_rows(12_000))  # three batches
        expected = sorted(r["request_id"] for r in src.iter_transcripts())
    dst = (request.getfixturevalue("postgres_url") if target == "postgres" else str(tmp_path / "target.db"))
    env = {**os.environ, "SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key"),
           "SKILLS_SPOOL": str(tmp_path / "ledger.spool")}
    if target == "postgres":  # made first, so that neither copy waits on the other's migration
        open_ledger(dst, key_file=env["SKILLS_LEDGER_KEY_FILE"]).stop()
    copies = [subprocess.Popen([SKILLS, "transcripts", "copy", "--from", f"sqlite:///{source}", "--to", dst],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    said = [(p.wait(timeout=600), p.stdout.read()) for p in copies]
    assert sorted(code for code, _ in said) in ([0, 1], [0, 2]), said  # one copied; the other stopped, saying why
    stopped = next(out for code, out in said if code)
    assert "Traceback" not in stopped
    assert "Another copy of this ledger into --to is running" in stopped or "already holds" in stopped
    with open_ledger(dst, **({"key_file": env["SKILLS_LEDGER_KEY_FILE"]} if target == "postgres" else {})) as copied:
        assert sorted(r["request_id"] for r in copied.iter_transcripts()) == expected
        assert copied.verify_chain().ok


def test_two_imports_of_one_file_at_once_store_its_rows_once(tmp_path):
    lines = tmp_path / "rows.jsonl"
    lines.write_text("".join(json.dumps(row) + "\n" for row in _rows(12_000)))
    db = tmp_path / "t.db"
    open_ledger(str(db)).stop()  # made first, as a running server's file would be
    imports = [subprocess.Popen([SKILLS, "transcripts", "import", "--db", str(db), str(lines)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    said = [(p.wait(timeout=600), p.stdout.read()) for p in imports]
    assert all(code == 0 or "Another import of" in out and "Traceback" not in out for code, out in said), said
    with open_ledger(str(db)) as led:
        assert sorted(r["request_id"] for r in led.iter_transcripts()) == sorted(r["request_id"] for r in _rows(12_000))
