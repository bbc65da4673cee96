"""The device's audio player: ``ctx.audio_player`` read from real envelopes, bad ones refused, the test device's player."""

from __future__ import annotations

import copy
import json

import pytest
from _alexa_rules import REFUSED, corpus
from conftest import build_greeter, make_envelope
from test_envelope import LAUNCH

from skills_sdk import AudioPlayerState, EnvelopeError, Skill, empty, load_request, say
from skills_sdk.device_audio import DevicePlayer
from skills_sdk.testing import SkillClient

LOADABLE = [p for p in corpus() if p.name not in REFUSED]
WITH_PLAYER = [p for p in LOADABLE if "AudioPlayer" in (json.loads(p.read_bytes()).get("context") or {})]


def test_the_corpus_has_real_player_states_in_several_activities():
    activities = {json.loads(p.read_bytes())["context"]["AudioPlayer"].get("playerActivity") for p in WITH_PLAYER}
    assert len(WITH_PLAYER) >= 30 and {"IDLE", "PLAYING", "STOPPED", "FINISHED"} <= activities


@pytest.mark.parametrize("path", WITH_PLAYER, ids=lambda p: p.stem)
def test_every_real_player_state_reads_as_sent(path):
    sent = json.loads(path.read_bytes())["context"]["AudioPlayer"]
    state = load_request(json.loads(path.read_bytes())).audio_player
    assert state == AudioPlayerState(sent.get("token"), sent.get("offsetInMilliseconds", 0), sent.get("playerActivity"))


@pytest.mark.parametrize("path", [p for p in LOADABLE if p not in WITH_PLAYER], ids=lambda p: p.stem)
def test_a_real_envelope_without_a_player_reads_none(path):
    assert load_request(json.loads(path.read_bytes())).audio_player is None


@pytest.mark.parametrize(("player", "path"), [
    ({"token": "t1", "offsetInMilliseconds": "8940", "playerActivity": "STOPPED"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"offsetInMilliseconds": 8940.5, "playerActivity": "PLAYING"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"offsetInMilliseconds": True, "playerActivity": "PLAYING"}, "context.AudioPlayer.offsetInMilliseconds"),
    ({"token": 7, "playerActivity": "PLAYING"}, "context.AudioPlayer.token"),
    ({"playerActivity": ["PLAYING"]}, "context.AudioPlayer.playerActivity"),
    ("PLAYING", "context.AudioPlayer"),
])
def test_a_malformed_player_is_refused_naming_the_field(player, path):
    data = copy.deepcopy(LAUNCH)
    data["context"]["AudioPlayer"] = player
    with pytest.raises(EnvelopeError) as info:
        load_request(data)
    assert path in info.value.errors and path in str(info.value)


def test_a_malformed_player_gets_a_400_from_the_server():
    from skills_sdk.server import create_app
    from skills_sdk.transcripts import TranscriptStore

    store = TranscriptStore(":memory:")
    data = make_envelope("LaunchRequest")
    data["context"]["AudioPlayer"] = {"offsetInMilliseconds": "soon", "playerActivity": "PLAYING"}
    resp = create_app([build_greeter()], store=store).test_client().post("/alexa/greeter", json=data)
    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["code"] == "invalid_envelope"
    assert "context.AudioPlayer.offsetInMilliseconds" in json.dumps(error) and store.count() == 0


def test_unknown_player_fields_and_activities_are_kept_not_refused():
    data = copy.deepcopy(LAUNCH)
    data["context"]["AudioPlayer"] = {"token": "t", "offsetInMilliseconds": 5, "playerActivity": "LATER", "new": 1}
    env = load_request(data)
    assert env.audio_player == AudioPlayerState("t", 5, "LATER") and env.audio_player_raw["new"] == 1


# --- the test device's player --------------------------------------------------------------------------

URL = "https://cdn.example.com/ep{}.mp3"


@pytest.fixture
def podcast():
    """A skill that plays episode 1, and pauses and resumes by what the request says about the player."""
    skill = Skill("podcast", developer_id="dev-1", invocation_name="the podcast")
    seen: list[AudioPlayerState | None] = []

    @skill.launch
    def launch(ctx):
        seen.append(ctx.audio_player)
        return say("Episode one.").play(URL.format(1), token="ep1")

    @skill.intent("AMAZON.PauseIntent")
    def pause(ctx):
        seen.append(ctx.audio_player)
        ctx.state["paused"] = {"token": ctx.audio_player.token, "offset_ms": ctx.audio_player.offset_ms}
        return empty().stop_audio()

    @skill.intent("AMAZON.ResumeIntent")
    def resume(ctx):
        seen.append(ctx.audio_player)
        at = ctx.state["paused"]
        return empty().play(URL.format(at["token"][2:]), token=at["token"], offset_ms=at["offset_ms"])

    @skill.on("AudioPlayer.PlaybackNearlyFinished")
    def nearly(ctx):
        seen.append(ctx.audio_player)
        return empty().play(URL.format(2), token="ep2", behavior="ENQUEUE", expected_previous_token=ctx.request.raw["token"])

    @skill.intent("AMAZON.StopIntent")
    def stop(ctx):
        return say("Bye.").stop_audio().clear_queue().end()

    return skill, seen


def test_the_device_reports_its_player_in_every_request(podcast):
    skill, seen = podcast
    client = SkillClient(skill)
    client.launch()
    assert seen[-1] == AudioPlayerState(None, 0, "IDLE")
    assert client.audio.state == AudioPlayerState("ep1", 0, "PLAYING")
    client.audio.advance(61_000)
    client.intent("AMAZON.PauseIntent")
    assert seen[-1] == AudioPlayerState("ep1", 61_000, "PLAYING")
    assert client.audio.state == AudioPlayerState("ep1", 61_000, "STOPPED") and client.audio.state.stopped
    client.new_session()
    r = client.intent("AMAZON.ResumeIntent")
    assert seen[-1] == AudioPlayerState("ep1", 61_000, "STOPPED")
    assert r.directives[0]["audioItem"]["stream"]["offsetInMilliseconds"] == 61_000
    assert client.audio.state == AudioPlayerState("ep1", 61_000, "PLAYING")
    assert r.request["context"]["AudioPlayer"] == {"token": "ep1", "offsetInMilliseconds": 61_000,
                                                   "playerActivity": "STOPPED"}


def test_events_default_to_the_player_and_a_finished_stream_starts_the_enqueued_one(podcast):
    skill, seen = podcast
    client = SkillClient(skill)
    client.launch()
    client.audio.advance(1_000)
    r = client.request("AudioPlayer.PlaybackNearlyFinished")
    assert r.request["request"]["token"] == "ep1" and r.request["request"]["offsetInMilliseconds"] == 1_000
    assert client.audio.queue == ["ep2"] and client.audio.token == "ep1"
    r = client.audio.finish()
    assert r.request["request"]["type"] == "AudioPlayer.PlaybackStarted" and r.request["request"]["token"] == "ep2"
    assert client.audio.state == AudioPlayerState("ep2", 0, "PLAYING") and client.audio.queue == []
    client.audio.finish()
    assert client.audio.state == AudioPlayerState("ep2", 0, "FINISHED")
    with pytest.raises(AssertionError, match="Expected a stream playing to finish"):
        client.audio.finish()


def test_stop_and_clear_queue_stop_the_device_and_advance_refuses_then(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.request("AudioPlayer.PlaybackNearlyFinished")
    client.intent("AMAZON.StopIntent")
    assert client.audio.activity == "STOPPED" and client.audio.queue == []
    with pytest.raises(ValueError, match="Nothing is playing: the player is STOPPED"):
        client.audio.advance(10)


def test_the_device_stopping_on_its_own_reports_playback_stopped(podcast):
    skill, _ = podcast
    client = SkillClient(skill)
    client.launch()
    client.audio.advance(5_000)
    r = client.audio.stop()
    assert r.request["request"]["type"] == "AudioPlayer.PlaybackStopped"
    assert r.request["context"]["AudioPlayer"] == {"token": "ep1", "offsetInMilliseconds": 5_000,
                                                   "playerActivity": "STOPPED"}


def test_a_device_without_audio_reports_no_player(podcast):
    skill, seen = podcast
    client = SkillClient(skill, interfaces={})
    client.launch()
    assert seen[-1] is None and "AudioPlayer" not in client.last.request["context"]


@pytest.mark.parametrize(("directives", "after"), [
    ([{"type": "AudioPlayer.Stop"}], ("t1", 500, "STOPPED", ["t2"])),  # Stop leaves the queue as it is
    ([{"type": "AudioPlayer.ClearQueue", "clearBehavior": "CLEAR_ENQUEUED"}], ("t1", 500, "PLAYING", [])),
    ([{"type": "AudioPlayer.ClearQueue", "clearBehavior": "CLEAR_ALL"}], ("t1", 500, "STOPPED", [])),
    ([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ENQUEUED",
       "audioItem": {"stream": {"token": "t3", "url": "https://x/3", "offsetInMilliseconds": 0}}}],
     ("t1", 500, "PLAYING", ["t3"])),
    ([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
       "audioItem": {"stream": {"token": "t4", "url": "https://x/4", "offsetInMilliseconds": 70}}}],
     ("t4", 70, "PLAYING", [])),
])
def test_directives_change_the_player_as_alexa_documents(directives, after):
    player = DevicePlayer()
    player.apply([{"type": "AudioPlayer.Play", "playBehavior": "REPLACE_ALL",
                   "audioItem": {"stream": {"token": "t1", "url": "https://x/1", "offsetInMilliseconds": 0}}},
                  {"type": "AudioPlayer.Play", "playBehavior": "ENQUEUE",
                   "audioItem": {"stream": {"token": "t2", "url": "https://x/2", "offsetInMilliseconds": 0}}}])
    player.advance(500)
    player.apply(directives)
    assert (player.token, player.offset_ms, player.activity, [s["token"] for s in player.queue]) == after
