"""Real Alexa request envelopes from other projects' test suites, posted to every example skill."""

from __future__ import annotations

import json
import re

import pytest
from _alexa_rules import REFUSED, check_answer, corpus
from conftest import example_app, ledger_host, make_envelope

from example_skills import SKILL_MODULES, all_skills
from skills_sdk import CanFulfill, Skill, ask, say
from skills_sdk.request_types import REQUEST_TYPES, reported
from skills_sdk.server import create_app
from skills_sdk.transcripts import TranscriptStore, open_ledger


def _sqlite_ledger(request):
    return TranscriptStore(":memory:")


def _postgres_ledger(request):
    """A ledger on a database of the run's throw-away cluster, made once for the module (dropped after it)."""
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(template=cluster.ledger_template())
    folder = request.getfixturevalue("tmp_path_factory").mktemp("real-traffic-pg")
    ledger = open_ledger(url, key_file=str(folder / "ledger.key"), spool_path=str(folder / "ledger.spool"))
    request.addfinalizer(lambda: cluster.drop_database(url))
    return ledger


@pytest.fixture(scope="module", params=[pytest.param(_sqlite_ledger, id="sqlite"),
                                        pytest.param(_postgres_ledger, id="postgres")])
def served(request):
    """The example skills served over each backend's ledger, started as ``skills serve`` starts it."""
    ledger = request.param(request)
    ledger.start()
    app = example_app(store=ledger)
    yield app.test_client(), ledger
    ledger.stop()


#: Each example skill's developer, and another developer, whose scope must never show its rows.
_DEVELOPERS = {skill.name: skill.developer_id for skill in all_skills()}
_OTHER = {name: list(_DEVELOPERS.values())[n - 1] for n, name in enumerate(_DEVELOPERS)}


def _ids(ledger, request_id, developer_id):
    """The ids of the rows with ``request_id`` that ``developer_id``'s scope shows, read through the ledger."""
    return {r["id"] for r in ledger.iter_query({"request_id": request_id}, developer_id=developer_id)}


def _searchable(ledger, row, developer_id):
    """Whether searching ``developer_id``'s rows for the first words of the row's speech finds it (None: no words)."""
    said = re.findall(r"[a-z0-9]+", (row["speech"] or "").lower())[:3]
    if not said:
        return None
    found, _ = ledger.search(" ".join(said), {"request_id": row["request_id"]}, developer_id=developer_id)
    return row["id"] in {r["id"] for r in found}


def test_the_corpus_is_large_and_covers_many_request_types():
    files = corpus()
    types = {json.loads(f.read_bytes())["request"]["type"] for f in files}
    assert len(files) >= 60 and len(types & set(REQUEST_TYPES)) >= 20
    sources = (files[0].parent / "SOURCES.md").read_text()
    assert all(f"`{f.name}`" in sources for f in files)


@pytest.mark.parametrize("skill", SKILL_MODULES)
@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.stem)
def test_every_real_envelope_gets_a_valid_answer_and_a_true_row(served, path, skill):
    client, ledger = served
    raw = path.read_bytes()
    request = json.loads(raw)
    rid, developer = request["request"].get("requestId"), _DEVELOPERS[skill]
    before = _ids(ledger, rid, developer) if rid else set()
    counted = ledger.count(request_id=rid) if rid else 0
    resp = client.post(f"/alexa/{skill}", data=raw, content_type="application/json")
    if path.name in REFUSED:
        assert resp.status_code == 400 and REFUSED[path.name] in resp.get_json()["error"]["fields"]
        assert not rid or ledger.count(request_id=rid) == counted
        return
    new = _ids(ledger, rid, developer) - before
    if request["request"]["type"] == "AlexaSkillEvent.SkillDisabled":
        # Disabling the skill erases the user's rows; the event itself leaves none.
        assert resp.status_code == 200 and resp.get_json()["response"] == {} and new == set()
        return
    # Exactly one row in the whole ledger, in the skill's developer's scope and in no other's.
    assert len(new) == 1 and ledger.count(request_id=rid) == counted + 1
    assert not _ids(ledger, rid, _OTHER[skill]) & new
    row = ledger.get(next(iter(new)))  # decrypted, on PostgreSQL
    assert check_answer(request, resp.status_code, resp.data, row) == []
    # The speech sent is found by its words, in its developer's scope only.
    assert _searchable(ledger, row, developer) in (True, None)
    assert not _searchable(ledger, row, _OTHER[skill])


def _host(skill, store=None):
    return ledger_host([skill], store or TranscriptStore(":memory:"))


def test_any_request_type_can_be_handled_with_on_and_its_twin():
    skill = Skill("demo", developer_id="d")

    @skill.on("SessionResumedRequest")
    def resumed(ctx):
        return ask("Your print job is done. Anything else?")

    skill.add_request_handler("Alexa.Presentation.APL.UserEvent", lambda ctx: say("Tapped."))
    host = _host(skill)
    out = host.handle("demo", make_envelope("SessionResumedRequest"))
    assert "print job" in out.envelope["response"]["outputSpeech"]["ssml"]
    assert out.envelope["response"]["shouldEndSession"] is False
    assert host.handle("demo", make_envelope("Alexa.Presentation.APL.UserEvent")).response.speech == "Tapped."


def test_session_resumed_without_a_handler_keeps_the_session_open():
    out = _host(Skill("demo", developer_id="d")).handle("demo", make_envelope("SessionResumedRequest"))
    assert out.envelope["response"]["shouldEndSession"] is False
    assert out.transcript["end_session"] == 0


def test_row_holds_no_speech_when_the_type_forbids_it():
    skill = Skill("demo", developer_id="d")
    skill.add_session_ended(lambda ctx: say("Bye now"))
    skill.add_request_handler("AudioPlayer.PlaybackStarted", lambda ctx: say("Playing").play(
        "https://example.com/a.mp3", token="t1"))
    host = _host(skill)
    ended = host.handle("demo", make_envelope("SessionEndedRequest", reason="USER_INITIATED"))
    assert ended.envelope["response"] == {}
    assert ended.transcript["speech"] is None and ended.transcript["end_session"] is None
    started = host.handle("demo", make_envelope("AudioPlayer.PlaybackStarted"))
    assert set(started.envelope["response"]) == {"directives"}
    assert started.transcript["speech"] is None and started.transcript["end_session"] is None
    assert started.transcript["directives"] == '["AudioPlayer.Play"]'


def test_can_fulfill_default_comes_from_the_interaction_model():
    skill = Skill("demo", developer_id="d")
    skill.slot_type("Size", ["small", "large"])
    skill.add_intent("OrderIntent", lambda ctx, size=None: say("ok"), samples=["a {size} pizza"],
                     slots={"size": "Size"})
    host = _host(skill)

    def asked(intent, slots):
        env = make_envelope(intent=intent, slots=slots)
        env["request"]["type"] = "CanFulfillIntentRequest"
        return host.handle("demo", env)

    known = asked("OrderIntent", {"size": "large"})
    assert known.envelope["response"] == {"canFulfillIntent": {
        "canFulfill": "MAYBE", "slots": {"size": {"canUnderstand": "YES", "canFulfill": "YES"}}}}
    odd = asked("OrderIntent", {"size": "gigantic"}).envelope["response"]["canFulfillIntent"]
    assert odd["slots"]["size"] == {"canUnderstand": "MAYBE", "canFulfill": "NO"}
    assert asked("OrderIntent", {"colour": "red"}).envelope["response"] == {"canFulfillIntent": {"canFulfill": "NO"}}
    assert asked("WeatherIntent", {}).envelope["response"] == {"canFulfillIntent": {"canFulfill": "NO"}}


def test_can_fulfill_handler_gets_slots_and_builds_the_answer():
    skill = Skill("demo", developer_id="d")
    skill.add_intent("PlayIntent", lambda ctx, song=None: say("ok"), samples=["play {song}"],
                     slots={"song": "AMAZON.MusicRecording"})

    @skill.can_fulfill
    def can(ctx, song=None):
        if song == "yesterday":
            return CanFulfill.yes().slot("song", understand="YES", fulfill="YES")
        return ctx.skill.default_can_fulfill(ctx)

    env = make_envelope(intent="PlayIntent", slots={"song": "yesterday"})
    env["request"]["type"] = "CanFulfillIntentRequest"
    out = _host(skill).handle("demo", env)
    assert out.envelope["response"]["canFulfillIntent"]["canFulfill"] == "YES"
    assert "sessionAttributes" in out.envelope and out.transcript["speech"] is None


def test_can_fulfill_builder_refuses_values_alexa_refuses():
    with pytest.raises(ValueError, match="YES, NO or MAYBE"):
        CanFulfill("PERHAPS")
    with pytest.raises(ValueError, match="must be YES or NO"):
        CanFulfill.maybe().slot("size", fulfill="MAYBE")


@pytest.mark.parametrize(
    ("request_type", "fields", "status", "needle"),
    [
        ("System.ExceptionEncountered",
         {"error": {"type": "INVALID_RESPONSE", "message": "An exception occurred"}, "cause": {"requestId": "r0"}},
         "alexa_error", "INVALID_RESPONSE: An exception occurred"),
        ("AudioPlayer.PlaybackFailed",
         {"token": "t", "error": {"type": "MEDIA_ERROR_SERVICE_UNAVAILABLE", "message": "503"}},
         "alexa_error", "MEDIA_ERROR_SERVICE_UNAVAILABLE: 503"),
        ("SessionEndedRequest", {"reason": "ERROR", "error": {"type": "INVALID_RESPONSE", "message": "bad SSML"}},
         "alexa_error", "reason ERROR; INVALID_RESPONSE: bad SSML"),
        ("SessionEndedRequest", {"reason": "EXCEEDED_MAX_REPROMPTS"}, "ok", "reason EXCEEDED_MAX_REPROMPTS"),
        ("SessionResumedRequest", {"cause": {"type": "ConnectionCompleted", "token": "1",
                                             "status": {"code": "500", "message": "INTERNAL ERROR"}}},
         "alexa_error", "cause ConnectionCompleted 500 INTERNAL ERROR"),
        ("Alexa.DataStore.Error", {"error": {"type": "DEVICE_UNAVAILABLE", "content": {}}},
         "alexa_error", "DEVICE_UNAVAILABLE"),
    ],
)
def test_errors_alexa_reports_are_stored_and_filterable(request_type, fields, status, needle):
    store = TranscriptStore(":memory:")
    out = _host(Skill("demo", developer_id="d"), store).handle("demo", make_envelope(request_type, **fields))
    assert out.transcript["status"] == status and out.transcript["error"] == needle
    assert store.count(status=status) == 1


def test_reported_names_nothing_for_a_plain_request():
    assert reported({"type": "LaunchRequest", "requestId": "r"}) == (False, None)


@pytest.mark.parametrize("request_type", sorted(REQUEST_TYPES))
def test_every_known_type_is_answered_without_a_handler(request_type):
    env = make_envelope(request_type)
    if request_type in ("IntentRequest", "CanFulfillIntentRequest"):
        env["request"]["intent"] = {"name": "SomeIntent", "slots": {}}
    out = _host(Skill("demo", developer_id="d")).handle("demo", env)
    if request_type == "AlexaSkillEvent.SkillDisabled":  # erases the user's rows, its own included
        assert out.transcript is None and out.envelope["response"] == {}
        return
    assert check_answer(env, 200, json.dumps(out.envelope).encode(), out.transcript) == []


def test_a_developer_finds_failed_playbacks_and_invalid_responses_with_one_filter():
    store = TranscriptStore(":memory:")
    skill = Skill("demo", developer_id="dev-d")
    app = create_app([skill], store=store)
    from skills_sdk.transcripts.keys import create_key

    key = create_key(store, "developer", "dev-d")[1]
    client = app.test_client()
    client.post("/alexa/demo", json=make_envelope("LaunchRequest"))
    client.post("/alexa/demo", json=make_envelope("AudioPlayer.PlaybackFailed", token="t",
                                                  error={"type": "MEDIA_ERROR_UNKNOWN", "message": "gone"}))
    client.post("/alexa/demo", json=make_envelope("System.ExceptionEncountered",
                                                  error={"type": "INVALID_RESPONSE", "message": "bad"}))
    rows = client.get("/v1/transcripts?status=alexa_error", headers={"Authorization": f"Bearer {key}"}).get_json()
    assert sorted(r["request_type"] for r in rows["transcripts"]) == [
        "AudioPlayer.PlaybackFailed", "System.ExceptionEncountered"]
    bad = client.get("/v1/transcripts?status=failed", headers={"Authorization": f"Bearer {key}"})
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "status"


def test_music_play_command_without_a_queue_is_recorded_as_the_empty_answer_it_sent():
    client = example_app(store=TranscriptStore(":memory:")).test_client()
    store = client.application.extensions["skills_sdk"]["store"]
    env = make_envelope("PlaybackController.PlayCommandIssued", user_id="amzn1.ask.account.NOQUEUE")
    del env["session"]  # PlaybackController commands arrive outside a session
    resp = client.post("/alexa/music", json=env)
    assert resp.status_code == 200 and resp.get_json()["response"] == {}
    row = store._rows("SELECT * FROM transcripts ORDER BY id DESC LIMIT 1")[0]
    assert row["request_type"] == "PlaybackController.PlayCommandIssued"
    assert row["speech"] is None and row["end_session"] is None and row["directives"] is None
