"""A PostgreSQL ledger as operators leave it: a schema newer than this host's, timeouts set on the role or database."""

from __future__ import annotations

import json
import os
import urllib.request

import psycopg
import pytest
from _server import command, free_port, start, stop
from conftest import make_envelope

from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.postgres import schema


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "SKILLS_LEDGER_KEY_FILE": str(tmp_path / "ledger.key"),
            "SKILLS_SPOOL": str(tmp_path / "ledger.spool")}


def test_a_host_older_than_the_ledgers_schema_refuses_every_command_in_one_line(postgres_ledger_url, tmp_path):
    env = _env(tmp_path)
    with open_ledger(postgres_ledger_url, key_file=env["SKILLS_LEDGER_KEY_FILE"]) as led:
        led.record({"developer_id": "d", "skill": "s", "user_id": "u1", "speech": "kept"})
    with psycopg.connect(postgres_ledger_url, autocommit=True) as conn:  # as a newer skills_sdk's migration leaves it
        conn.execute("UPDATE ledger_meta SET value = %s WHERE name = 'schema_version'", (str(len(schema.MIGRATIONS) + 1),))
    for args in (["ledger", "migrate"], ["transcripts", "export"], ["transcripts", "erase", "--user", "u1"]):
        done = command([*args, "--db", postgres_ledger_url], env=env)
        assert done.returncode == 1, done.out
        assert "newer than this skills_sdk knows" in done.out and "upgrade skills_sdk" in done.out
        assert "Traceback" not in done.out
    with psycopg.connect(postgres_ledger_url) as conn:
        assert conn.execute("SELECT count(*) FROM transcripts WHERE user_id = 'u1'").fetchone()[0] == 1


@pytest.mark.parametrize("setting", ["statement_timeout", "lock_timeout"])
def test_a_timeout_set_on_the_database_names_itself_and_the_fix_and_erases_nothing_by_half(
        postgres_ledger_url, tmp_path, setting):
    env = _env(tmp_path)
    with open_ledger(postgres_ledger_url, key_file=env["SKILLS_LEDGER_KEY_FILE"]) as led:
        led.record_many([{"developer_id": "d", "skill": "s", "user_id": "u1", "speech": f"turn {i}"} for i in range(3)])
    name = postgres_ledger_url.split("/")[3].split("?")[0]
    with psycopg.connect(postgres_ledger_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET {setting} = 50')
    # Another session holds the table: the erasure's statement waits, and the operator's timeout ends the wait.
    with psycopg.connect(postgres_ledger_url) as holder:
        holder.execute("LOCK TABLE transcripts IN ACCESS EXCLUSIVE MODE")
        done = command(["transcripts", "erase", "--db", postgres_ledger_url, "--user", "u1"], env=env)
    assert done.returncode == 1, done.out
    assert f"the {setting} set for this role or database" in done.out
    assert f"PGOPTIONS='-c {setting}=0'" in done.out and "cannot be reached" not in done.out
    assert "Traceback" not in done.out
    with psycopg.connect(postgres_ledger_url) as conn:
        assert conn.execute("SELECT count(*) FROM transcripts WHERE user_id = 'u1'").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM user_keys WHERE user_id = 'u1'").fetchone()[0] == 1
    lifted = command(["transcripts", "erase", "--db", postgres_ledger_url, "--user", "u1"],
                     env={**env, "PGOPTIONS": f"-c {setting}=0"})
    assert lifted.returncode == 0, lifted.out


def test_a_turn_is_answered_while_another_session_holds_the_transcripts_table_and_its_row_kept_once(
        postgres_ledger_url, tmp_path):
    env = _env(tmp_path)
    port = free_port()
    server = start(["serve", "--db", postgres_ledger_url], port, env=env, timeout=90,
                   stdout=open(tmp_path / "serve.log", "ab"))
    turn = make_envelope(intent="AMAZON.HelpIntent", user_id="amzn1.ask.account.LOCKED")
    try:
        # What a migration rebuilding the table holds until it commits (say, 16 s per million rows).
        with psycopg.connect(postgres_ledger_url) as holder:
            holder.execute("LOCK TABLE transcripts IN ACCESS EXCLUSIVE MODE")
            request = urllib.request.Request(f"http://127.0.0.1:{port}/alexa/pizza", data=json.dumps(turn).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as answer:  # answered with the lock still held
                assert answer.status == 200 and b"outputSpeech" in answer.read()
    finally:
        stop(server)
    replayed = command(["transcripts", "replay", "--db", postgres_ledger_url], env=env)
    assert replayed.returncode == 0, replayed.out
    with psycopg.connect(postgres_ledger_url) as conn:
        assert conn.execute("SELECT count(*) FROM transcripts WHERE request_id = %s",
                            (turn["request"]["requestId"],)).fetchone()[0] == 1
