"""The audit trail: every read, export, erasure, purge, key change and consent change leaves a row nobody can alter."""

from __future__ import annotations

import json

import pytest
from _privacy_kit import note_skill, speak
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.server import create_app, get_host
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import audit, iter_audit
from skills_sdk.transcripts.erasure import erase_user
from skills_sdk.transcripts.keys import create_key, revoke_key
from skills_sdk.transcripts.retention import purge
from skills_sdk.transcripts.sqlite.driver import sqlite3  # the driver the store uses: one SQLite per process

USER = "amzn1.ask.account.AUDITED"


@pytest.fixture
def served(tmp_path):
    store = TranscriptStore(tmp_path / "t.db")
    app = create_app(skills=[note_skill("notes", "dev-a")], store=store,
                     test_config={"TESTING": True, "SECRET_KEY": "x"})
    speak(get_host(app), "notes", USER, "secret words")
    return app, store, tmp_path / "t.db"


def _last(store):
    return next(iter_audit(store, limit=1))


@pytest.mark.parametrize("url, method, action, rows", [
    ("/v1/transcripts?skill=notes", "get", "list", 1),
    ("/v1/transcripts/1", "get", "get", 1),
    ("/v1/transcripts/export", "get", "export", 1),
])
def test_each_developer_read_is_audited_with_its_key_and_row_count(served, url, method, action, rows):
    app, store, _ = served
    info, key = create_key(store, "developer", "dev-a")
    r = getattr(app.test_client(), method)(url, headers={"Authorization": f"Bearer {key}"})
    r.get_data()  # a streamed export is audited when it finishes
    row = _last(store)
    assert (row["actor"], row["action"], row["rows"]) == (info.id, action, rows)


def test_user_reads_erasure_and_consent_over_http_are_audited(served):
    app, store, _ = served
    info, token = create_key(store, "user", USER)
    c, h = app.test_client(), {"Authorization": f"Bearer {token}"}
    c.get(f"/v1/users/{USER}/transcripts", headers=h)
    c.put(f"/v1/users/{USER}/capture-mode", headers=h, json={"mode": "full"})
    c.delete(f"/v1/users/{USER}/transcripts", headers=h)
    rows = [(r["actor"], r["action"], r["rows"]) for r in iter_audit(store, limit=3)][::-1]
    assert rows == [(info.id, "user_list", 1), (info.id, "consent", 1), (info.id, "erase", 1)]


def test_key_changes_purges_and_cli_erasures_are_audited(served):
    app, store, _ = served
    info, _key = create_key(store, "developer", "dev-a")
    revoke_key(store, info.id)
    purge(store, {}, default_days=1, now="2099-01-01T00:00:00Z")
    erase_user(store, "amzn1.ask.account.OTHER")
    actions = [r["action"] for r in iter_audit(store, limit=4)][::-1]
    assert actions == ["key_create", "key_revoke", "purge", "erase"]


def test_audit_rows_hold_no_user_id_or_search_text(served):
    app, store, path = served
    _, key = create_key(store, "developer", "dev-a")
    app.test_client().get(f"/v1/transcripts?user_id={USER}&q=secret", headers={"Authorization": f"Bearer {key}"})
    erase_user(store, USER)
    dump = json.dumps(list(iter_audit(store)))
    assert USER not in dump and "secret" not in dump


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"])
def test_audit_rows_cannot_be_changed_or_deleted(served, sql):
    app, store, _ = served
    audit(store, "cli", "purge", None, 0)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.conn.execute(sql)
    assert len(list(iter_audit(store))) >= 1


def test_no_api_endpoint_writes_the_audit_log_directly(served):
    app, store, _ = served
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert not any("audit" in rule for rule in rules)


def test_cli_audit_shows_rows_as_text_and_json(served):
    app, store, path = served
    erase_user(store, USER)
    text = CliRunner().invoke(main, ["audit", "--db", str(path), "--limit", "1"])
    as_json = CliRunner().invoke(main, ["audit", "--db", str(path), "--json"])
    assert text.exit_code == 0 and " erase " in text.output
    assert json.loads(as_json.output.splitlines()[0])["action"] == "erase"


def test_a_skill_disabled_erasure_is_audited_as_such(served):
    from conftest import make_envelope

    app, store, _ = served
    event = make_envelope("AlexaSkillEvent.SkillDisabled", user_id=USER)
    del event["session"]
    app.test_client().post("/alexa/notes", json=event)
    row = _last(store)
    assert (row["actor"], row["action"], row["rows"]) == ("skill-disabled", "skill_disabled", 1)
    assert store.count(user_id=USER) == 0
