"""The ``skills`` CLI: export formats and filters, and errors that say what to do."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import build_greeter, ledger_host, make_envelope

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptStore

EXPORT_KEYS = {"developer_id", "skill", "user_id", "session_id", "request_id", "request_type", "intent", "speech",
               "created_at"}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.db"
    host = ledger_host([build_greeter()], TranscriptStore(path))
    host.handle("greeter", make_envelope("LaunchRequest", user_id="alice"))
    host.handle("greeter", make_envelope(intent="MoodIntent", slots={"mood": "happy"}, user_id="bob"))
    return str(path)


def test_export_jsonl_has_the_contract_keys(db):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2
    assert all(EXPORT_KEYS <= set(r) for r in rows)
    assert rows[0]["intent"] is None and rows[1]["intent"] == "MoodIntent"
    assert rows[0]["created_at"].endswith("Z")


def test_export_filters_by_user(db):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--user", "bob"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["user_id"] for r in rows] == ["bob"]


def test_a_command_line_export_is_in_the_audit_trail(db):
    from skills_sdk.transcripts.audit import iter_audit

    for fmt in ("jsonl", "csv"):
        result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--user", "bob", "--format", fmt])
        assert result.exit_code == 0, result.output
    exports = [a for a in iter_audit(TranscriptStore(db)) if a["action"] == "export"]
    assert [(a["actor"], a["rows"]) for a in exports] == [("cli", 1), ("cli", 1)]


def test_export_csv_has_a_header_and_rows(db):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2 and rows[1]["speech"] == "Glad to know you are happy."


def test_export_time_range(db):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--since", "2999-01-01"])
    assert result.exit_code == 0 and result.output == ""


def test_export_of_missing_database_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2
    assert "No transcript database" in result.output and "--db" in result.output


def test_bad_time_names_the_option_and_the_format(db):
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--since", "yesterday-ish"])
    assert result.exit_code == 2
    assert "--since" in result.output and "ISO-8601" in result.output


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert "serve" in result.output and "transcripts" in result.output


@pytest.mark.parametrize("command", [["keys", "create", "--developer", "d"], ["say", "pizza", "hi"]])
def test_a_file_that_is_not_a_ledger_is_one_line_naming_it_not_a_traceback(tmp_path, command):
    (tmp_path / "notes.db").write_text("hello")
    result = CliRunner().invoke(main, [*command, "--db", str(tmp_path / "notes.db")])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == f"Error: Cannot open transcript database '{tmp_path / 'notes.db'}': file is not a database."


@pytest.mark.parametrize("command", [["keys", "create", "--developer", "d"], ["say", "pizza", "hi"]])
def test_a_ledger_in_a_missing_folder_is_refused_naming_the_mkdir_not_made(tmp_path, command):
    typo = tmp_path / "srv" / "skils" / "t.db"  # a typo'd folder must not become a new, empty ledger
    result = CliRunner().invoke(main, [*command, "--db", str(typo)])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: No folder {typo.parent} for the transcript database '{typo}'. "
                                      f"Create it (mkdir -p {typo.parent}) or give the path of an existing one.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["keys", "create", "--developer", "d"], ["say", "pizza", "hi"]])
def test_a_ledger_under_a_file_is_refused_naming_the_file_not_a_mkdir(tmp_path, command):
    (tmp_path / "notes").write_text("hello")
    result = CliRunner().invoke(main, [*command, "--db", str(tmp_path / "notes" / "t.db")])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: The transcript database '{tmp_path / 'notes' / 't.db'}' cannot be made: "
                                      f"{tmp_path / 'notes'} is a file, not a folder. Give a --db (or SKILLS_DB) path "
                                      "under a folder.")


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in: an owner-only read one, or (root writes anywhere) sysfs."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        return folder
    try:  # sysfs takes no new files, not even root's
        os.close(os.open("/sys/skills-probe", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink("/sys/skills-probe")
    except OSError:
        return pathlib.Path("/sys")
    pytest.skip("running as root with no folder it cannot write to")


@pytest.mark.parametrize("command", [["keys", "create", "--developer", "d"], ["say", "pizza", "hi"]])
def test_a_ledger_in_a_folder_not_writable_is_one_line_naming_the_ledger(tmp_path, command):
    folder = _unwritable_folder(tmp_path)
    result = CliRunner().invoke(main, [*command, "--db", str(folder / "t.db")])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: Cannot create transcript database '{folder / 't.db'}': Permission "
                                      f"denied in {folder}. Give a --db (or SKILLS_DB) in a folder this user can write to.")


def test_a_missing_var_folder_is_made_as_the_default_ledger_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SKILLS_DB", raising=False)
    result = CliRunner().invoke(main, ["keys", "create", "--developer", "d"])  # --db var/transcripts.db
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "transcripts.db").exists()
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_in_use_says_so_naming_the_option_before_loading_anything(tmp_path, workers):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(main, ["serve", "--port", str(port), "--workers", workers,
                                           "--db", str(tmp_path / "t.db"), "--skills", "no_such_module:skill"])
    finally:
        taken.close()
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: Port {port} on 127.0.0.1 is in use by another program (another "
                                      f"`skills serve`?). Stop it, or pass a free port: --port {port + 1}.")
    assert list(tmp_path.iterdir()) == []  # no ledger made for a server that never started


def test_serve_on_an_address_not_this_machines_names_host_and_port(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--host", "192.0.2.1", "--db", str(tmp_path / "t.db")])  # TEST-NET-1
    assert result.exit_code == 1, result.output
    assert result.output.strip() == ("Error: Cannot listen on 192.0.2.1:8000: Cannot assign requested address. "
                                      "Check --host and --port.")


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(("variable", "value", "said"), [
    ("SKILLS_SPOOL_RESERVE", "abc", "SKILLS_SPOOL_RESERVE must be a number, got 'abc'; unset it for the default (33554432)."),
    ("SKILLS_SPOOL_FLOOR", "-5", "SKILLS_SPOOL_FLOOR must be >= 0, got '-5'"),
    ("SKILLS_LEDGER_INTERVAL", "nan", "SKILLS_LEDGER_INTERVAL must be >= 0, got 'nan'"),
    ("SKILLS_SPOOL_RESERVE", "1000", "SKILLS_SPOOL_RESERVE (1000 bytes) is below SKILLS_SPOOL_FLOOR (1048576)"),
    ("SKILLS_WAL_WRITES", "bogus", "SKILLS_WAL_WRITES must be 'together' or 'each'"),
    ("SKILLS_WAL_RESERVE", "64MB", "SKILLS_WAL_RESERVE must be a number of bytes (0 for none), got '64MB'"),
    ("SKILLS_BACKGROUND", "bogus", "SKILLS_BACKGROUND must be 'thread'"),
    # the example skills' own partner_session() starts from PartnerSession.from_env() too
    ("SKILLS_HTTP_TIMEOUT", "abc", "SKILLS_HTTP_TIMEOUT='abc' is not a number of seconds; e.g. SKILLS_HTTP_TIMEOUT=3."),
    ("SKILLS_PARTNER_PIZZA_URL", "localhost:9000", "SKILLS_PARTNER_PIZZA_URL='localhost:9000' is not an http://"),
])
def test_serve_refuses_a_bad_setting_in_one_line_before_any_worker_starts(tmp_path, monkeypatch, variable, value,
                                                                             said, workers):
    from _server import free_port

    port = free_port()
    monkeypatch.setenv(variable, value)

    def no_exec(*args):  # a value let through would start gunicorn in place of this test process
        raise AssertionError(f"gunicorn started despite {variable}={value!r}")

    monkeypatch.setattr(os, "execve", no_exec)
    result = CliRunner().invoke(main, ["serve", "--port", str(port), "--workers", workers, "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_serve_with_workers_refuses_skills_without_an_application_id_in_one_line_before_gunicorn(tmp_path, monkeypatch):
    """The example skills have no application_id: with verification on, one line, not a traceback from every worker."""
    from _server import free_port

    def no_exec(*args):
        raise AssertionError("gunicorn started with skills that would answer any skill's requests")

    monkeypatch.setattr(os, "execve", no_exec)
    result = CliRunner().invoke(main, ["serve", "--port", str(free_port()), "--workers", "2", "--production",
                                       "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2, result.output
    assert "Skill(s) 'music', 'grocery', 'ride', 'pizza' have no application_id" in result.output
    assert "--any-application" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_log_level_comes_from_skills_log_level_when_the_option_is_not_given(monkeypatch, tmp_path):
    monkeypatch.setenv("SKILLS_LOG_LEVEL", "verbose")
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2 and "'verbose' is not one of" in result.output


def test_an_export_whose_audit_entry_cannot_be_written_says_so_in_one_line(tmp_path, monkeypatch):
    """On a full disk the rows were printed, then the audit entry's INSERT was a traceback: not recorded, not said."""
    from skills_sdk.cli import transcripts as cli_transcripts
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db]).exit_code == 0

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(cli_transcripts, "audit", full)
    result = CliRunner().invoke(main, ["transcripts", "export", "--db", db])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == ("Error: The export wrote 1 rows, but its entry in the audit trail could not "
                                              "be written (database or disk is full): free space and export again, so "
                                              "that the access is recorded.")


def test_the_first_year_is_a_time_like_any_other_on_the_command_line(tmp_path):
    """strftime wrote year 1 as "1": '1-01-01T00:00:00.000Z', which the next parse refused with a traceback."""
    from skills_sdk.transcripts.record import to_iso

    assert to_iso("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00.000Z"
    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db]).exit_code == 0
    purged = CliRunner().invoke(main, ["transcripts", "purge", "--db", db, "--now", "0001-01-01T00:00:00Z"])
    assert purged.exit_code == 0, purged.output
    exported = CliRunner().invoke(main, ["transcripts", "export", "--db", db, "--since", "0001-01-01"])
    assert exported.exit_code == 0 and len(exported.output.splitlines()) == 1, exported.output


@pytest.mark.parametrize("command", [["transcripts", "verify"], ["keys", "create", "--developer", "d"],
                                     ["transcripts", "export"]])
def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path, command):
    """verify added the ledger's tables to a foreign database, then reported it "Intact"."""
    from skills_sdk.transcripts.sqlite.driver import sqlite3

    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    result = CliRunner().invoke(main, [*command, "--db", str(other)])
    assert result.exit_code == 2, result.output
    assert "is a SQLite database but not a transcript ledger (it holds users, no transcripts table)" in result.output
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


@pytest.mark.parametrize("developer", ["   ", "acme\nkey_000000000000 developer pronto-pizza-labs", " acme", "a\tb"])
def test_a_key_for_an_id_that_is_blank_or_not_printable_is_refused_in_one_line(tmp_path, developer):
    """A newline in a developer id let `keys list` print a forged line; a blank one was a traceback."""
    result = CliRunner().invoke(main, ["keys", "create", "--developer", developer, "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2 and "Invalid value for --developer: a developer" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "said"), [
    (["transcripts", "erase", "--user", " "], "Invalid value for --user: is empty: give the id of the user to erase"),
    (["transcripts", "erase", "--user", "u1", "--skill", ""], "Invalid value for --skill: is empty: leave it out"),
    (["privacy", "consent", "--user", "", "--mode", "full"], "Invalid value for --user: is empty"),
    (["transcripts", "copy", "--from", "{db}", "--to", ""], "Invalid value for --to: is empty: give a SQLite path"),
    (["transcripts", "copy", "--from", "{tmp}/nosuch.db", "--to", "{tmp}/x.db"],
     "No transcript database at '{tmp}/nosuch.db'. Pass --from with the file"),
])
def test_an_empty_or_missing_id_or_ledger_is_named_by_its_option(tmp_path, args, said):
    """They were Python's wording (pass None, erase_user needs...), a FileNotFoundError, or named --db for --from;
    consent for the user '' was recorded."""
    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db, "--user", "u1"]).exit_code == 0
    args = [a.format(db=db, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(main, [*args, *(["--db", db] if args[1] in ("erase", "consent") else [])])
    assert result.exit_code == 2, result.output
    assert said.format(tmp=tmp_path) in " ".join(result.output.split())
    assert [r["user_id"] for r in TranscriptStore(db).iter_transcripts()] == ["u1"]


def test_a_purge_far_in_the_future_is_refused_unless_meant(tmp_path):
    """--now 2126-... (a typo for 2026) with a retention purged every row: none had expired."""
    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db]).exit_code == 0
    args = ["transcripts", "purge", "--db", db, "--retention-days", "30", "--now", "2126-12-31T00:00:00Z"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "days ahead of this machine's clock" in " ".join(refused.output.split())
    assert TranscriptStore(db).count() == 1
    meant = CliRunner().invoke(main, [*args, "--future"])
    assert meant.exit_code == 0, meant.output
    assert TranscriptStore(db).count() == 0


def test_erasing_a_user_with_nothing_recorded_says_so_beside_the_receipt(tmp_path):
    """A wrong-case id erased nothing and exited 0 with a receipt for 0 rows: nothing said the id matched nobody."""
    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["say", "pizza", "open pizza shop", "--db", db, "--user", "amzn1.ask.account.ABC"]
                              ).exit_code == 0
    result = CliRunner().invoke(main, ["transcripts", "erase", "--db", db, "--user", "amzn1.ask.account.abc"])
    assert result.exit_code == 0 and '"transcripts": 0' in result.output
    assert "Nothing of 'amzn1.ask.account.abc' was found to erase. User ids are matched exactly" in result.output
    found = CliRunner().invoke(main, ["transcripts", "erase", "--db", db, "--user", "amzn1.ask.account.ABC"])
    assert found.exit_code == 0 and "was found to erase" not in found.output


def test_revoking_a_key_twice_says_it_was_already_revoked(tmp_path):
    db = str(tmp_path / "t.db")
    made = CliRunner().invoke(main, ["keys", "create", "--developer", "acme", "--db", db])
    key_id = re.search(r"id (key_[0-9a-f]+)", made.output).group(1)
    first = CliRunner().invoke(main, ["keys", "revoke", "--db", db, key_id])
    assert first.exit_code == 0 and first.output.startswith(f"Revoked {key_id} (developer key for acme) at ")
    again = CliRunner().invoke(main, ["keys", "revoke", "--db", db, key_id])
    assert again.exit_code == 0 and again.output.startswith(f"{key_id} (developer key for acme) was already revoked, at ")


@pytest.mark.parametrize("command", [["keys", "create", "--developer", "d1"],
                                     ["privacy", "consent", "--user", "amzn1.ask.account.A", "--mode", "full"]])
def test_a_command_that_makes_a_new_ledger_says_so_once(tmp_path, command):
    db = str(tmp_path / "transcript.db")  # one letter short of the server's file
    skills = os.path.join(os.path.dirname(sys.executable), "skills")
    first = subprocess.run([skills, *command, "--db", db], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"there was no ledger at {db}; made a new, empty one" in first.stderr
    assert "Check the spelling" in first.stderr
    again = subprocess.run([skills, *command, "--db", db], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "no ledger" not in again.stderr
