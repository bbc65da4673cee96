"""Every log line of a whole session, erasure included, against a real ``skills serve``: no user id, key, token or search."""

from __future__ import annotations

import json
import re

import pytest
import requests
from _server import free_port, start, stop
from conftest import make_envelope

from skills_sdk.transcripts import TranscriptStore
from skills_sdk.transcripts.audit import user_hash
from skills_sdk.transcripts.keys import create_key

USER = "amzn1.ask.account.AGZQ7LOGTESTUSER"
#: Words searched for: they may be a phone number or a name, so no log line may keep them.
SEARCH = "zebracrossing"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsb2d0ZXN0In0.c2lnbmF0dXJl"


def _session(base: str, dev_key: str, user_token: str) -> None:
    """What a skill, a developer and a user do in one day, erasure included; every call must answer."""
    env = make_envelope(intent="OrderPizzaIntent", slots={"size": "large"}, user_id=USER)
    env["context"]["System"]["apiAccessToken"] = TOKEN
    assert requests.post(f"{base}/alexa/pizza", json=env, timeout=10).status_code in (200, 400)
    dev = {"Authorization": f"Bearer {dev_key}"}
    me = {"Authorization": f"Bearer {user_token}"}
    for path, headers in [(f"/v1/transcripts?q={SEARCH}&user_id={USER}", dev),
                          (f"/v1/transcripts/export?q={SEARCH}", dev),
                          (f"/v1/users/{USER}/transcripts?q={SEARCH}", me),
                          (f"/v1/users/{USER}/transcripts", {"Authorization": "Bearer sk_user_not-a-real-one"}),
                          (f"/v1/users/{USER}/no-such-page", me)]:
        assert requests.get(base + path, headers=headers, timeout=10).status_code in (200, 401, 404)
    browser = requests.Session()

    def csrf(path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', browser.get(base + path, timeout=10).text).group(1)

    assert browser.post(f"{base}/console/sign-in", data={"key": dev_key, "csrf_token": csrf("/console/")},
                        timeout=10).ok
    assert browser.get(f"{base}/console/?q={SEARCH}&user_id={USER}", timeout=10).ok
    assert browser.get(f"{base}/console/export?format=jsonl&q={SEARCH}", timeout=10).ok
    assert browser.post(f"{base}/console/me/sign-in", data={"token": user_token, "csrf_token": csrf("/console/me")},
                        timeout=10).ok
    assert USER in browser.get(f"{base}/console/me", timeout=10).text
    assert browser.get(f"{base}/console/me/download.json", timeout=10).ok
    erased = requests.delete(f"{base}/v1/users/{USER}/transcripts", headers=me, timeout=10)
    assert erased.status_code == 200 and erased.json()["receipt"]["transcripts"] >= 1


@pytest.mark.parametrize("production", [False, True], ids=["local", "production"])
def test_no_log_line_of_a_whole_session_holds_a_user_id_key_token_or_search(tmp_path, production):
    db = tmp_path / "t.db"
    store = TranscriptStore(db)
    dev_key = create_key(store, "developer", "pronto-pizza-labs")[1]
    user_token = create_key(store, "user", USER)[1]
    store.record({"developer_id": "pronto-pizza-labs", "skill": "pizza", "user_id": USER,
                  "utterance": f"find {SEARCH}", "speech": "Found it."})
    hashed = user_hash(store, USER)
    store.close()
    port = free_port()
    args = ["serve", "--db", str(db), "--log-level", "DEBUG"]
    if production:
        args += ["--production", "--any-application"]
    proc = start(args, port)
    try:
        _session(f"http://127.0.0.1:{port}", dev_key, user_token)
    finally:
        stop(proc)
    out = proc.stdout.read().decode()
    lines = [line for line in out.splitlines() if line.strip()]
    requests_logged = [line for line in lines if "/v1/users/" in line]
    assert len(requests_logged) >= 4, out  # the access lines are there, with the path kept
    assert all(hashed in line for line in requests_logged), requests_logged
    for secret in (USER, USER.rsplit(".", 1)[1], dev_key, dev_key[7:], user_token, user_token[8:], TOKEN, SEARCH):
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"{secret!r} is in {len(leaked)} log line(s): {leaked[:3]}"
    assert not [line for line in lines if '" 200 -' in line or "HTTP/1.1\"" in line], "werkzeug's own access line"
    if production:
        assert all(json.loads(line) for line in lines if line.startswith("{"))


@pytest.mark.parametrize("json_format", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("mode", ["metadata", "redacted", "full"])
def test_a_failing_handlers_log_line_keeps_no_word_the_user_said_whatever_their_capture_mode(json_format, mode):
    import io

    from skills_sdk import Skill
    from skills_sdk.server import create_app
    from skills_sdk.server.ops import configure_logging

    skill = Skill("notes", developer_id="dev-a", invocation_name="note keeper")

    @skill.intent("NoteIntent", samples=["note {note}"], slots={"note": "AMAZON.SearchQuery"})
    def note(ctx, note=None):
        try:
            raise KeyError(note)
        except KeyError as exc:
            raise ValueError(f"cannot file the note {note!r} for card 4111 1111 1111 1111") from exc

    stream = io.StringIO()
    handler = configure_logging("INFO", stream=stream, json_format=json_format)
    store = TranscriptStore(":memory:")
    try:
        store.set_capture_mode(USER, mode)
        app = create_app(skills=[skill], store=store, test_config={"TESTING": True})
        env = make_envelope(intent="NoteIntent", slots={"note": "wombat diary entry"}, user_id=USER)
        assert app.test_client().post("/alexa/notes", json=env).status_code == 200
    finally:
        import logging

        logging.getLogger("skills_sdk").removeHandler(handler)
        logging.getLogger("werkzeug").removeHandler(handler)
    out = stream.getvalue()
    assert "wombat" not in out and "4111 1111 1111 1111" not in out, out
    assert "ValueError (its message is in the turn's transcript row, `error`, not in the log)" in out and env["request"]["requestId"] in out
    assert "KeyError (its message is in the turn's transcript row, `error`, not in the log)" in out  # what it was raised from, its words too
    row, = store.iter_transcripts()
    # The message is where the user's choice governs it, and an erasure reaches it: the row.
    expected = {"metadata": "ValueError", "redacted": "ValueError: cannot file the note 'wombat diary entry' for "
                "card [CARD]", "full": "ValueError: cannot file the note 'wombat diary entry' for card 4111 1111 "
                "1111 1111"}[mode]
    assert row["error"] == expected


@pytest.mark.parametrize("json_format", [False, True], ids=["text", "json"])
def test_a_warning_with_a_card_number_is_redacted_in_either_log_format(json_format):
    import io
    import logging

    from skills_sdk.server.ops import configure_logging

    stream = io.StringIO()
    handler = configure_logging("INFO", stream=stream, json_format=json_format)
    try:
        logging.getLogger("skills_sdk.test").warning("partner refused card %s", "4111 1111 1111 1111")
    finally:
        logging.getLogger("skills_sdk").removeHandler(handler)
        logging.getLogger("werkzeug").removeHandler(handler)
    assert "partner refused card [CARD]" in stream.getvalue() and "4111" not in stream.getvalue()
