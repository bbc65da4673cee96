"""``skills transcripts import``: exports round-trip, bad lines are named and import nothing; progress on a terminal."""

from __future__ import annotations

import io
import json
import sys

import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.cli import transcripts as cli
from skills_sdk.cli._progress import Progress
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import iter_audit
from skills_sdk.transcripts.sqlite.fts import index_pending

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


@pytest.fixture
def exported(tmp_path):
    source = tmp_path / "source.db"
    seed(source)
    dump = tmp_path / "dump.jsonl"
    dump.write_text(export_lines(source))
    return source, dump


# -- the round trip ---------------------------------------------------------------------
def test_export_then_import_gives_the_same_rows(exported, tmp_path):
    source, dump = exported
    target = tmp_path / "target.db"
    result = run_import(target, dump)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"imported 3 transcripts into {target}\n"
    assert read_all(target) == read_all(source)
    # The exported shapes come back as the store keeps them.
    rows = read_all(target)
    assert rows[0]["redacted"] == ["CARD", "PHONE"] and rows[2]["redacted"] == []
    assert [r["end_session"] for r in rows] == [False, True, None]
    assert rows[0]["latency_ms"] == 0.3 and rows[1]["latency_ms"] == 0.0  # kept to the microsecond
    assert rows[2]["slots"] == "not json at all" and rows[2]["card"] == "123"
    assert export_lines(target) == dump.read_text()  # and exports to the same text again


def test_import_stores_what_capture_stores(exported, tmp_path):
    _, dump = exported
    target = tmp_path / "target.db"
    run_import(target, dump)
    store = TranscriptStore(target)
    raw = store.db.conn.execute("SELECT redacted, end_session FROM transcripts ORDER BY id").fetchall()
    assert raw == [("CARD,PHONE", 0), ("EMAIL", 1), (None, None)]  # a comma list or NULL, an int


def test_import_from_stdin_appends_with_new_ids(exported, tmp_path):
    source, dump = exported
    result = run_import(source, "-", input=dump.read_bytes())
    assert result.exit_code == 0, result.output
    store = TranscriptStore(source)
    assert store.count() == 6
    assert [r["id"] for r in store.iter_transcripts()] == [1, 2, 3, 4, 5, 6]
    assert read_all(source)[3:] == read_all(source)[:3]


def test_blank_lines_are_skipped(tmp_path):
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n" + good_lines(1)[0] + "\n\n  \n" + good_lines(1)[0] + "\n")
    result = run_import(tmp_path / "t.db", dump)
    assert result.exit_code == 0, result.output
    assert TranscriptStore(tmp_path / "t.db").count() == 2


def test_import_is_audited(exported, tmp_path):
    _, dump = exported
    target = tmp_path / "target.db"
    run_import(target, dump)
    [entry] = [r for r in iter_audit(TranscriptStore(target)) if r["action"] == "import"]
    assert entry["actor"] == "cli" and entry["rows"] == 3 and entry["filters"] == {"file": str(dump)}


def test_imported_rows_are_in_the_search_index_at_once(exported, tmp_path):
    _, dump = exported
    target = tmp_path / "target.db"
    run_import(target, dump)
    assert index_pending(TranscriptStore(target).db.conn) == 0  # nothing left for the first search to index


def test_a_missing_file_is_a_usage_error(tmp_path):
    result = run_import(tmp_path / "t.db", tmp_path / "missing.jsonl")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "t.db").exists()


# -- bad input ----------------------------------------------------------------------------
BAD = [
    ('{"developer_id": "acme" "skill": "pizza"}', ["not valid JSON", "Expecting ',' delimiter"]),
    ("[1, 2]", ["a JSON list where a transcript object was expected"]),
    (json.dumps({**OWNER, "speach": "hi"}), ["unknown key 'speach'"]),
    (json.dumps({"developer_id": "acme", "skill": "pizza"}), ["user_id must be a non-empty string"]),
    (json.dumps({**OWNER, "user_id": ""}), ["user_id must be a non-empty string"]),
    (json.dumps({**OWNER, "created_at": 17}), ["created_at must be a string"]),
    (json.dumps({**OWNER, "created_at": "28/11/2026"}), ["created_at must be an ISO-8601 UTC time"]),
    (json.dumps({**OWNER, "end_session": "yes"}), ["end_session must be true, false or null"]),
    (json.dumps({**OWNER, "redacted": "CARD"}), ["redacted must be a list"]),
    (json.dumps({**OWNER, "latency_ms": "fast"}), ["latency_ms must be a number"]),
    (json.dumps({**OWNER, "speech": 5}), ["speech must be a string or null"]),
    (b'{"developer_id": "\xff"}', ["not UTF-8"]),
    # Each of these was checked only as its batch was written: the batches before it stayed imported.
    (json.dumps({**OWNER, "user_id": "u1\u0000x"}), ["user_id: Holds a NUL character."]),
    (json.dumps({**OWNER, "speech": "hi \ud800"}), ["speech: Not valid Unicode (a lone surrogate)."]),
    (json.dumps({**OWNER, "slots": {"size": "\u0000"}}), ["slots.size: Holds a NUL character."]),
    (json.dumps({**OWNER, "latency_ms": float("nan")}), ["latency_ms: Not a finite number."]),
    (json.dumps({**OWNER, "latency_ms": 1e999}), ["latency_ms: Not a finite number."]),
    ('{"slots": ' + "[" * 5000 + "]" * 5000 + "}", ["nests arrays and objects too deep"]),
    (json.dumps({**OWNER, "created_at": "9999-12-31T23:59:59.999Z"}), ["created_at must be an ISO-8601 UTC time"]),
    ("developer_id,skill,user_id", ["not valid JSON", "import reads JSON lines, as export writes them"]),
]


@pytest.mark.parametrize(("line", "says"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_line_in_a_file_is_named_and_nothing_is_imported(tmp_path, monkeypatch, line, says):
    monkeypatch.setattr(cli, "IMPORT_BATCH", 2)  # the bad line comes after two full batches
    target = tmp_path / "t.db"
    seed(target, ROWS[:1])
    dump = tmp_path / "dump.jsonl"
    line = line if isinstance(line, bytes) else line.encode()
    dump.write_bytes(b"\n".join([*(g.encode() for g in good_lines(4)), line, good_lines(1)[0].encode()]) + b"\n")
    result = run_import(target, dump)
    assert result.exit_code == 1
    assert "line 5: " in result.output and all(s in result.output for s in says), result.output
    assert "Nothing was imported; fix or remove the line and run the import again." in result.output
    store = TranscriptStore(target)
    assert store.count() == 1
    assert not [r for r in iter_audit(store) if r["action"] == "import"]


def test_a_bad_file_does_not_create_the_database(tmp_path):
    dump = tmp_path / "dump.jsonl"
    dump.write_text("{oops\n")
    result = run_import(tmp_path / "t.db", dump)
    assert result.exit_code == 1 and "line 1: not valid JSON" in result.output
    assert not (tmp_path / "t.db").exists()


def test_a_bad_line_on_stdin_keeps_the_batches_before_it_and_says_how_to_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "IMPORT_BATCH", 2)
    target = tmp_path / "t.db"
    lines = good_lines(3) + ['{"skill": "pizza"}'] + good_lines(2)
    result = run_import(target, "-", input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert "line 4: developer_id must be a non-empty string" in result.output
    assert "The 2 rows of lines 1-2 were imported" in result.output and "tail -n +3" in result.output
    store = TranscriptStore(target)
    assert [r["speech"] for r in store.iter_transcripts()] == ["turn 0", "turn 1"]  # line 3 was not written
    [entry] = [r for r in iter_audit(store) if r["action"] == "import"]
    assert entry["rows"] == 2


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


def test_import_of_a_file_shows_the_total_and_the_percentage(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "IMPORT_BATCH", 2)
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(good_lines(5)) + "\n")
    out, err = run_with_tty_stderr(monkeypatch, ["transcripts", "import", "--db", str(tmp_path / "t.db"), str(dump)])
    assert out == f"imported 5 transcripts into {tmp_path / 't.db'}\n"
    assert "\rchecked 5 rows" in err
    assert "\rimported 2 of 5 rows (40%)" in err and "\rimported 5 of 5 rows (100%)" in err
    assert err.endswith("\n")
