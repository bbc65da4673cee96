"""Progress on a terminal for the long ``skills transcripts`` commands."""

from __future__ import annotations

import io
import json
import sys

from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.cli import transcripts as cli
from skills_sdk.cli._progress import Progress
from skills_sdk.transcripts import TranscriptStore

OWNER = {"developer_id": "acme", "skill": "pizza", "user_id": "u1"}
ROWS = [
    {**OWNER, "created_at": "2026-11-28T09:30:00.123Z", "session_id": "s1", "request_type": "IntentRequest",
     "intent": "OrderIntent", "slots": {"size": "large", "count": 2}, "utterance": "a large one",
     "speech": "One large pizza, ok?", "card": {"title": "Order", "content": "Large — größte"},
     "directives": ["Dialog.Delegate"], "end_session": 0, "locale": "en-US", "latency_ms": 0.1 + 0.2,
     "status": "ok", "redacted": "CARD,PHONE", "capture_mode": "redacted"},
    {**OWNER, "created_at": "2026-11-28T09:30:01.000Z", "session_id": "s1", "request_type": "IntentRequest",
     "transaction": {"kind": "order", "reference": "R1", "amount": 12.5, "currency": "USD", "status": "ok"},
     "end_session": 1, "latency_ms": 1e-7, "redacted": "EMAIL", "speech": "Done."},
    {"developer_id": "other", "skill": "music", "user_id": "u2", "created_at": "2026-11-29T00:00:00.000Z",
     "slots": "not json at all", "card": '"123"', "latency_ms": 12.0, "status": "error", "error": "Boom: x"},
]


def seed(path, rows=ROWS) -> None:
    store = TranscriptStore(path)
    store.record_many(rows)
    store.close()


def read_all(path) -> list[dict]:
    store = TranscriptStore(path)
    try:
        return [{k: v for k, v in row.items() if k != "id"} for row in store.iter_transcripts()]
    finally:
        store.close()


def export_lines(path) -> str:
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def run_import(path, file="-", **kwargs):
    return CliRunner().invoke(main, ["transcripts", "import", "--db", str(path), str(file)], **kwargs)


def good_lines(n: int) -> list[str]:
    return [json.dumps({**OWNER, "speech": f"turn {i}"}) for i in range(n)]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- progress -----------------------------------------------------------------------------
def test_progress_draws_nothing_off_a_terminal():
    stream = io.StringIO()
    with Progress("imported", total=10, stream=stream) as bar:
        bar.interval = 0
        for n in range(1, 11):
            bar.update(n)
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_redraws_one_line_and_ends_it():
    stream = FakeTTY()
    with Progress("imported", total=4000, stream=stream) as bar:
        bar.interval = 0
        bar.update(1000)
        bar.update(3000)
        bar.done = 4000  # the final count, drawn by close
    out = stream.getvalue()
    assert out.startswith("\rimported 1,000 of 4,000 rows (25%), ")
    assert "\rimported 3,000 of 4,000 rows (75%), " in out and "rows/s" in out
    assert out.count("\r") == 3 and out.endswith("\n") and out.count("\n") == 1
    assert "\rimported 4,000 of 4,000 rows (100%)" in out


def test_progress_without_a_total_counts_and_wipes_a_longer_line():
    stream = FakeTTY()
    bar = Progress("purged", stream=stream)
    bar.interval = 0
    bar.update(123_456)
    first = stream.getvalue()
    bar._started -= 10**6  # a much lower rate: a shorter line
    bar.update(123_457)
    bar.close()
    bar.close()
    second = stream.getvalue()[len(first):]
    assert first.startswith("\rpurged 123,456 rows, ") and "%" not in first
    assert len(second.split("\r")[1]) >= len(first) - 1  # padded over what the first line left
    assert second.endswith("\n") and second.count("\n") == 1


def test_progress_stays_quiet_for_quick_work_and_when_disabled():
    stream = FakeTTY()
    with Progress("exported", stream=stream) as bar:  # under one interval: nothing to see
        bar.update(10)
    with Progress("exported", stream=stream, enabled=False) as bar:
        bar.interval = 0
        bar.update(10)
    assert stream.getvalue() == ""


def run_with_tty_stderr(monkeypatch, args, *, stdout_tty=False):
    out, err = (FakeTTY() if stdout_tty else io.StringIO()), FakeTTY()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(Progress, "interval", 0)
    main.main(args, prog_name="skills", standalone_mode=False)
    return out.getvalue(), err.getvalue()


def test_export_shows_progress_on_stderr_and_only_jsonl_on_stdout(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    monkeypatch.setattr(cli, "PROGRESS_EVERY", 2)
    seed(db, [{**OWNER, "speech": f"turn {i}"} for i in range(5)])
    out, err = run_with_tty_stderr(monkeypatch, ["transcripts", "export", "--db", str(db)])
    assert [json.loads(line)["speech"] for line in out.splitlines()] == [f"turn {i}" for i in range(5)]
    assert "\r" not in out
    assert "\rexported 2 rows" in err and "\rexported 4 rows" in err and "\rexported 5 rows" in err
    assert err.endswith("\n")


def test_export_draws_no_progress_when_the_rows_go_to_the_terminal(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    seed(db, ROWS)
    out, err = run_with_tty_stderr(monkeypatch, ["transcripts", "export", "--db", str(db)], stdout_tty=True)
    assert len(out.splitlines()) == 3 and err == ""

