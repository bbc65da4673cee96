"""The ledger commands on a real PostgreSQL: ``skills ledger migrate``, ``skills ledger ratchet``, ``skills transcripts copy``."""

from __future__ import annotations

from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import open_ledger


def _run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_migrate_applies_the_schema_once_and_then_has_nothing_to_do(postgres_url, tmp_path):
    env = {"SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key")}
    first = _run("ledger", "migrate", "--db", postgres_url, env=env)
    assert first.exit_code == 0 and "Applied migration(s) 1, 2" in first.output
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
    assert "Copied 12 transcript(s)" in done.output
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
