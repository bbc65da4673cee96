"""The audit trail: every read, export, erasure, purge, key change and consent change leaves a row nobody can alter."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from _privacy_kit import note_skill, speak
from click.testing import CliRunner

from skills_sdk.cli import main
from skills_sdk.server import create_app, get_host
from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import audit, iter_audit, search_hash
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


# -- counts that are true, search text under a key, each user's access log ------------------------

BOB = "amzn1.ask.account.BOBAUDITED"


@pytest.fixture
def crowd(served):
    """Eight rows of USER and three of BOB in skill notes of dev-a; a developer key; USER's token."""
    app, store, path = served
    host = get_host(app)
    for i in range(7):
        speak(host, "notes", USER, f"alice {i}", session=f"A{i}")
    for i in range(3):
        speak(host, "notes", BOB, f"bob {i}", session=f"B{i}")
    dev = create_key(store, "developer", "dev-a")
    user = create_key(store, "user", USER)
    return app, store, path, dev, user


def _sign_in(client, form: str, path: str, field: str, key: str) -> None:
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(form, data={field: key, "csrf_token": token}).status_code == 303


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_console_export_is_audited_with_the_rows_it_sent(crowd, fmt):
    app, store, _, (info, key), _ = crowd
    c = app.test_client()
    _sign_in(c, "/console/sign-in", "/console/", "key", key)
    body = c.get(f"/console/export?format={fmt}").get_data(as_text=True)
    assert body.count("dev-a") == 11
    row = _last(store)
    assert (row["actor"], row["action"], row["rows"]) == (info.id, "export", 11)


def test_a_my_data_download_is_audited_with_the_rows_it_sent(crowd):
    app, store, _, _, (info, token) = crowd
    c = app.test_client()
    _sign_in(c, "/console/me/sign-in", "/console/me", "token", token)
    assert len(json.loads(c.get("/console/me/download.json").get_data())["transcripts"]) == 8
    row = _last(store)
    assert (row["actor"], row["action"], row["rows"]) == (info.id, "export", 8)


def test_search_text_is_kept_only_as_a_keyed_hash(crowd, tmp_path):
    app, store, _, (_, key), _ = crowd
    app.test_client().get("/v1/transcripts?q=4155550100", headers={"Authorization": f"Bearer {key}"})
    kept = _last(store)["filters"]["q"]
    assert kept.startswith("q:") and "4155550100" not in kept
    # Not a plain hash anyone can recompute: another ledger keeps the same words differently.
    assert kept != hashlib.sha256(b"4155550100").hexdigest()[:16] and not kept.endswith(
        hashlib.sha256(b"4155550100").hexdigest()[:16])
    assert search_hash(TranscriptStore(tmp_path / "other.db"), "4155550100") != kept


def test_each_user_sees_who_read_searched_and_exported_their_rows(crowd, tmp_path):
    app, store, path, (info, key), (_, token) = crowd
    dev_http = {"Authorization": f"Bearer {key}"}
    c = app.test_client()
    c.get("/v1/transcripts?limit=5", headers=dev_http)  # 5 newest: Bob's 3, Alice's 2
    c.get("/v1/transcripts?q=alice", headers=dev_http)
    c.get("/v1/transcripts/export?user_id=" + BOB, headers=dev_http).get_data()  # none of Alice's
    c.get("/v1/transcripts/export", headers=dev_http).get_data()
    assert CliRunner().invoke(main, ["transcripts", "export", "--db", str(path)]).exit_code == 0
    c.get(f"/v1/users/{USER}/transcripts", headers={"Authorization": f"Bearer {token}"})  # her own: not listed

    resp = c.get(f"/v1/users/{USER}/access-log", headers={"Authorization": f"Bearer {token}"})

    assert resp.status_code == 200
    entries = [(a["by"], a.get("developer_id"), a["action"], a["rows"], a["searched"]) for a in resp.json["access"]]
    assert entries == [("operator", None, "export", 8, False), ("developer", "dev-a", "export", 8, False),
                       ("developer", "dev-a", "list", 7, True), ("developer", "dev-a", "list", 2, False)]
    assert "alice" not in resp.get_data(as_text=True)
    bob = [a["rows"] for a in store.access_log(BOB)]
    assert bob == [3, 3, 3, 3]


def test_a_users_access_log_is_theirs_alone_and_shown_on_my_data(crowd):
    app, store, _, (_, key), (_, token) = crowd
    c = app.test_client()
    bob_token = create_key(store, "user", BOB)[1]
    assert c.get(f"/v1/users/{USER}/access-log", headers={"Authorization": f"Bearer {bob_token}"}).status_code == 403
    assert c.get(f"/v1/users/{USER}/access-log").status_code == 401
    _sign_in(c, "/console/me/sign-in", "/console/me", "token", token)
    assert 'id="no-access"' in c.get("/console/me").get_data(as_text=True)
    c.get("/v1/transcripts/1", headers={"Authorization": f"Bearer {key}"})
    page = c.get("/console/me").get_data(as_text=True)
    assert page.count('class="access-entry"') == 1 and "developer <b>dev-a</b>" in page


def test_the_access_log_outlives_an_erasure_without_the_user_id(crowd):
    app, store, path, (_, key), (_, token) = crowd
    app.test_client().get("/v1/transcripts/export", headers={"Authorization": f"Bearer {key}"}).get_data()
    erase_user(store, USER)
    assert [a["rows"] for a in store.access_log(USER)] == [8]
    assert USER not in json.dumps(store.db.conn.execute("SELECT * FROM audit_access").fetchall())


@pytest.mark.parametrize("user_id", ["amzn1.ask.account.A", 'has "quotes"', "back\\slash", "é\u2028\x01", "x\\"])
def test_an_exports_tally_counts_each_lines_user_whatever_the_id_holds(user_id):
    from collections import Counter

    from skills_sdk.transcripts.audit import tally_jsonl

    lines = [json.dumps({"id": i, "developer_id": '"user_id":"decoy"', "user_id": user_id}, ensure_ascii=False,
                        separators=(",", ":")) for i in range(3)]
    lines.append(json.dumps({"id": 9, "user_id": ""}, separators=(",", ":")))
    users: Counter[str] = Counter()
    assert list(tally_jsonl(lines, users)) == lines
    assert users == Counter({user_id: 3})
