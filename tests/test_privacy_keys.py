"""API keys from the command line, and the plain-text privacy report."""

from __future__ import annotations

import re

from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.keys import create_key, list_keys, verify_key


def test_cli_creates_a_key_shown_once_and_stores_only_its_hash(tmp_path):
    db = str(tmp_path / "t.db")
    result = CliRunner().invoke(main, ["keys", "create", "--db", db, "--developer", "dev-a"])
    key = result.stdout.strip().splitlines()[0]
    store = TranscriptStore(db)
    assert result.exit_code == 0
    assert re.fullmatch(r"sk_dev_[A-Za-z0-9_-]{32}", key)
    assert verify_key(store, key).subject == "dev-a"
    assert key not in str(store.db.conn.execute("SELECT * FROM api_keys").fetchall())


def test_cli_user_tokens_list_and_revoke_by_id_or_key(tmp_path):
    db = str(tmp_path / "t.db")
    runner = CliRunner()
    token = runner.invoke(main, ["keys", "create", "--db", db, "--user", "amzn1.ask.account.U"]).stdout.strip()
    store = TranscriptStore(db)
    (info,) = list_keys(store)
    listed = runner.invoke(main, ["keys", "list", "--db", db]).output

    revoked = runner.invoke(main, ["keys", "revoke", "--db", db, token])

    assert token.startswith("sk_user_") and info.id in listed and "active" in listed
    assert revoked.exit_code == 0 and info.id in revoked.output
    assert verify_key(store, token) is None
    _, other = create_key(store, "developer", "dev-b")
    assert runner.invoke(main, ["keys", "revoke", "--db", db, list_keys(store)[1].id]).exit_code == 0
    assert verify_key(store, other) is None


def test_cli_key_errors_say_what_to_do(tmp_path):
    db = str(tmp_path / "t.db")
    runner = CliRunner()
    both = runner.invoke(main, ["keys", "create", "--db", db, "--developer", "d", "--user", "u"])
    no_db = runner.invoke(main, ["keys", "list", "--db", db])
    TranscriptStore(db)
    missing = runner.invoke(main, ["keys", "revoke", "--db", db, "key_nope"])
    assert both.exit_code == 2 and "exactly one" in both.output
    assert no_db.exit_code == 2 and "--db" in no_db.output
    assert missing.exit_code == 1 and "skills keys list" in missing.output


def test_privacy_report_names_retention_readers_erasure_and_disable_behaviour():
    result = CliRunner().invoke(main, ["privacy", "report", "--skills", "_privacy_kit:retention_skills",
                                       "--retention-days", "14"])
    out = result.output
    assert result.exit_code == 0
    shop = out.split("shop (developer dev-b)")[1].split("\n\n")[0]
    assert "Retention: 30 days" in shop and "Receipt retention: 365 days" in shop
    assert "skills transcripts erase --user USER_ID [--skill shop]" in shop
    assert "DELETE /v1/users/<user_id>/transcripts" in shop and "GET /v1/transcripts" in shop
    assert "erased at once" in shop and "CARD" in shop
    assert "Retention: 14 days (server default)" in out.split("forever (developer dev-c)")[1]


def test_privacy_report_says_what_a_metadata_row_keeps_of_an_error_as_capture_stores_it(tmp_path):
    from skills_sdk import Skill
    from skills_sdk.testing import SkillClient
    from skills_sdk.transcripts import open_ledger

    skill = Skill("failing", developer_id="dev-f", invocation_name="failing shop")

    @skill.launch
    def welcome(ctx):
        raise LookupError("no table for ann at 555 0100")

    with open_ledger(str(tmp_path / "t.db")) as ledger:
        ledger.set_capture_mode("amzn1.ask.account.META", "metadata")
        reply = SkillClient(skill, store=ledger, user_id="amzn1.ask.account.META").launch()
        assert reply.transcript["error"] == "LookupError" and reply.transcript["utterance"] is None
    report = CliRunner().invoke(main, ["privacy", "report", "--skills", "_privacy_kit:retention_skills"]).output
    line = next(line for line in report.splitlines() if "metadata  -" in line)
    assert "error keeps only its type" in line and "error are left empty" not in line, line
