"""The ledger commands on a real PostgreSQL: ``skills ledger migrate``, ``skills ledger ratchet``, ``skills transcripts copy``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import open_ledger


def _run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_migrate_applies_the_schema_once_and_then_has_nothing_to_do(postgres_url, tmp_path):
    env = {"SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key")}
    first = _run("ledger", "migrate", "--db", postgres_url, env=env)
    assert first.exit_code == 0 and "Applied migration(s) 1, 2, 3" in first.output
    again = _run("ledger", "migrate", "--db", postgres_url, env=env)
    assert again.exit_code == 0 and "Nothing to do" in again.output


def test_migrate_refuses_a_sqlite_ledger_naming_why(tmp_path):
    done = CliRunner().invoke(main, ["ledger", "migrate", "--db", str(tmp_path / "t.db")])
    assert done.exit_code == 2 and "postgresql://" in done.output


def test_copy_moves_a_sqlite_ledger_into_postgresql_row_for_row(postgres_url, tmp_path):
    sqlite_path = tmp_path / "t.db"
    rows = [{"developer_id": f"dev-{i % 2}", "skill": "notes", "user_id": f"u{i}", "utterance": f"note {i}",
             "speech": f"Noted {i}.", "slots": {"note": {"value": str(i)}}, "latency_ms": 1.25 * i,
             "created_at": f"2026-11-{10 + i:02d}T08:00:00.000Z"} for i in range(12)]
    with open_ledger(sqlite_path) as src:
        src.record_many(rows)
        expected = list(src.iter_jsonl())
    env = {"SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key")}
    done = _run("transcripts", "copy", "--from", f"sqlite:///{sqlite_path}", "--to", postgres_url, env=env)
    assert done.exit_code == 0, done.output
    assert "Copied 12 transcript(s)" in done.output and "0 API key(s)" in done.output
    with open_ledger(postgres_url, key_file=env["SKILLS_LEDGER_KEY_FILE"]) as dst:
        assert list(dst.iter_jsonl()) == expected
        assert dst.search("note 7", developer_id="dev-1")[0][0]["user_id"] == "u7"


def test_ratchet_moves_the_key_file_on_and_keeps_every_row_readable(postgres_url, tmp_path):
    key_file = str(tmp_path / "ledger.key")
    with open_ledger(postgres_url, key_file=key_file) as led:
        rid = led.record({"developer_id": "d", "skill": "s", "user_id": "u", "speech": "still here"})
    done = _run("ledger", "ratchet", "--db", postgres_url, env={"SKILLS_LEDGER_KEY_FILE": key_file})
    assert done.exit_code == 0 and "epoch 1" in done.output
    with open_ledger(postgres_url, key_file=key_file) as led:
        assert led.get(rid)["speech"] == "still here"


def _fill_everything(led, rows) -> dict:
    """Transcripts, a capture mode, saved state, a live and a revoked key, and a scheduled erasure."""
    from datetime import UTC, datetime, timedelta

    led.record_many(rows)
    led.set_capture_mode("u1", "metadata")
    led.save_state("dev-0", "notes", "u2", {"last_note": "buy milk", "count": 2})
    _, live = led.create_key("developer", "dev-0")
    revoked_info, revoked = led.create_key("user", "u3")
    led.revoke_key(revoked_info.id)
    led.schedule_erasure("u4", skill="notes", due=datetime.now(UTC) + timedelta(days=3))
    return {"live": live, "revoked": revoked}


@pytest.mark.parametrize("direction", ["sqlite-to-postgres", "postgres-to-sqlite"])
def test_copy_carries_capture_modes_state_keys_and_scheduled_erasures_both_ways(postgres_url, tmp_path, direction):
    key_file = str(tmp_path / "ledger.key")
    sqlite_url = f"sqlite:///{tmp_path / 't.db'}"
    source, target = (sqlite_url, postgres_url) if direction == "sqlite-to-postgres" else (postgres_url, sqlite_url)
    rows = [{"developer_id": "dev-0", "skill": "notes", "user_id": f"u{i}", "utterance": f"note {i}",
             "speech": f"Noted {i}.", "created_at": f"2026-11-{10 + i:02d}T08:00:00.000Z"} for i in range(5)]
    with open_ledger(source, key_file=key_file) if source == postgres_url else open_ledger(source) as src:
        keys = _fill_everything(src, rows)
        expected_rows = list(src.iter_jsonl())
    done = _run("transcripts", "copy", "--from", source, "--to", target, env={"SKILLS_LEDGER_KEY_FILE": key_file})
    assert done.exit_code == 0, done.output
    assert ("Copied 5 transcript(s)" in done.output and "1 capture mode(s), 1 saved state(s), 2 API key(s) and "
            "1 scheduled erasure(s)" in done.output)
    with open_ledger(target, key_file=key_file) if target == postgres_url else open_ledger(target) as dst:
        assert list(dst.iter_jsonl()) == expected_rows
        assert dst.capture_mode("u1") == "metadata" and dst.capture_mode("u2") == "redacted"
        assert dst.load_state("dev-0", "notes", "u2") == {"last_note": "buy milk", "count": 2}
        assert dst.verify_key(keys["live"]).subject == "dev-0"  # the key handed out before still opens
        assert dst.verify_key(keys["revoked"]) is None
        assert len(dst.purge(now="2099-01-01T00:00:00.000Z")["erasures"]) == 1  # u4's scheduled erasure came too


def test_an_unreachable_server_is_named_with_its_own_reason_not_the_pools_timeout(tmp_path):
    import socket

    from skills_sdk.errors import StoreError
    from skills_sdk.transcripts.postgres.store import PostgresLedger

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match=rf"Cannot reach the PostgreSQL ledger at postgresql://nobody:\*\*\*@127.0.0.1:{port}/x "
                                         r"\(connection failed: .*Connection refused.*\); is the server up"):
        PostgresLedger(f"postgresql://nobody:secret@127.0.0.1:{port}/x", timeout=0.5,
                       key_file=str(tmp_path / "ledger.key"))


OPEN_UNREACHABLE = """
import logging, socket, sys
from skills_sdk.cli._common import opening_ledger
from skills_sdk.errors import StoreError
from skills_sdk.transcripts.postgres.store import PostgresLedger

if sys.argv[1] == "configured":
    logging.basicConfig(format="app: %(name)s %(message)s")
with socket.socket() as s:  # a port nothing listens on
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
try:
    with opening_ledger():
        PostgresLedger(f"postgresql://nobody@127.0.0.1:{port}/x", timeout=0.5, key_file=sys.argv[2])
except StoreError as exc:
    print("Error:", str(exc).split(" (")[0], file=sys.stderr)
with opening_ledger():  # a ledger that opened after the pool's complaints: they are printed after all
    logging.getLogger("psycopg.pool").warning("error connecting in 'skills-ledger': a retry that worked")
"""


@pytest.mark.parametrize("logging_configured", [False, True])
def test_an_unreachable_server_is_one_line_without_the_pools_warnings_unless_logging_is_configured(
        tmp_path, logging_configured):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", OPEN_UNREACHABLE, "configured" if logging_configured else "plain",
                          str(tmp_path / "ledger.key")], capture_output=True, text=True, timeout=60)
    lines = run.stderr.splitlines()
    assert "Error: Cannot reach the PostgreSQL ledger at postgresql://nobody@127.0.0.1:" in lines[-2]
    complaints = [line for line in lines if "error connecting in 'skills-ledger': connection failed" in line]
    if logging_configured:  # the application's handler had them as they came
        assert complaints and all(line.startswith("app: psycopg.pool ") for line in complaints)
    else:
        assert complaints == []
    assert lines[-1].endswith("error connecting in 'skills-ledger': a retry that worked")


def test_copy_refuses_the_same_ledger_however_spelled_and_a_target_that_holds_rows(postgres_url, tmp_path, monkeypatch):
    """./a.db for a.db copied a ledger into itself, reading its own new rows back until the disk filled; a
    second copy (or one run again after a kill) added every row again."""
    key_file = str(tmp_path / "ledger.key")
    monkeypatch.chdir(tmp_path)
    with open_ledger(str(tmp_path / "a.db")) as led:
        led.record_many([{"developer_id": "d", "skill": "notes", "user_id": f"u{i}", "utterance": "hi", "speech": "ok",
                          "created_at": "2026-11-10T08:00:00.000Z"} for i in range(3)])
    (tmp_path / "link.db").symlink_to(tmp_path / "a.db")
    for target in ("./a.db", f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path / "link.db")):
        done = _run("transcripts", "copy", "--from", "a.db", "--to", target, env={})
        assert done.exit_code == 2, done.output
        assert "--from and --to are one ledger (or copies of one" in " ".join(done.output.split())
    env = {"SKILLS_LEDGER_KEY_FILE": key_file}
    assert _run("transcripts", "copy", "--from", "a.db", "--to", postgres_url, env=env).exit_code == 0
    options = postgres_url + ("&" if "?" in postgres_url else "?") + "application_name=other"
    for source, target in ((postgres_url, options), ("a.db", postgres_url)):
        done = _run("transcripts", "copy", "--from", source, "--to", target, env=env)
        assert done.exit_code == 2, done.output
    said = " ".join(done.output.split())
    assert "--to already holds 3 transcript(s); copy fills an empty ledger" in said
    with open_ledger(postgres_url, key_file=key_file) as dst, open_ledger(str(tmp_path / "a.db")) as src:
        assert dst.count() == 3 and src.count() == 3  # neither grew


def test_a_database_without_a_ledger_is_refused_by_reading_commands_and_left_empty(postgres_url, tmp_path):
    """verify on an empty database made 28 tables and a key file, then reported "Intact: 0 rows"."""
    import psycopg

    key_file = tmp_path / "ledger.key"
    with psycopg.connect(postgres_url) as conn:  # another program's table of the same name, as the audit had
        conn.execute("CREATE TABLE transcripts (x int)")
    for command in (["transcripts", "verify"], ["transcripts", "export"], ["keys", "list"]):
        done = _run(*command, "--db", postgres_url, env={"SKILLS_LEDGER_KEY_FILE": str(key_file)})
        assert done.exit_code == 2, done.output
        assert "holds no transcript ledger. Pass --db with the ledger's URL" in " ".join(done.output.split())
    with psycopg.connect(postgres_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert tables == ["transcripts"] and not key_file.exists()


def test_replay_with_nothing_spooled_names_this_hosts_spool_file_not_the_url(postgres_url, tmp_path):
    spool = tmp_path / "host.spool"
    env = {"SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key"), "SKILLS_SPOOL": str(spool)}
    assert _run("ledger", "migrate", "--db", postgres_url, env=env).exit_code == 0
    done = _run("transcripts", "replay", "--db", postgres_url, env=env)
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"Nothing to replay: no spooled rows in {spool}."
